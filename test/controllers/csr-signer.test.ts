// annotary as a CSR signer, in process against the in-memory apiserver: which CSRs it approves,
// signs, fails or leaves alone, with which writes and Events; converged, a restart writes nothing.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, webcrypto } from 'node:crypto';
import { afterEach, describe, expect, test } from '@jest/globals';
import { csrSignerController, signedDurationMs } from '../../src/controllers/csr-signer.js';
import { parseSignerName, signerNameOf } from '../../src/kube/csr.js';
import type { Csr } from '../../src/kube/csr.js';
import { createCsr, generateKey, selfSignedCa } from '../../src/pki/x509.js';
import { b64Values, byUser, csr, inNamespace, ofType, secret, withAnnotations, withBase64Data, withCondition, withUsages } from '../gen.js';
import { FakeCluster, runModule } from './reconcile-harness.js';

const NS = 'team-a';
const SIGNER = signerNameOf(NS, 'ca');
const DAY = 86_400_000;

async function caSecret(annotations: Record<string, string> = {}) {
  const keyPem = await generateKey('ec-p256');
  const certPem = await selfSignedCa(keyPem, 'team-a CA', {
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
  });
  const s = secret(
    'ca',
    inNamespace(NS),
    ofType('kubernetes.io/tls'),
    withAnnotations(annotations),
    withBase64Data(b64Values({ 'tls.crt': certPem, 'tls.key': keyPem })),
  );
  return { secret: s, certPem };
}

const request = async (dnsNames: string[], commonName?: string) =>
  createCsr(await generateKey('ec-p256'), { commonName, dnsNames, ipAddresses: [] });

/** A PKCS#10 request that asks for basicConstraints CA:TRUE (what an intermediate CA's request looks like). */
async function caRequest(): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=sub CA',
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return req.toString('pem');
}

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

async function run(cluster: FakeCluster) {
  const op = await runModule(csrSignerController, cluster);
  stop = () => op.stop();
  await op.quiet();
  return op;
}

const TEAM_A_POLICY = { 'annotary.io/csr-approve-namespaces': NS, 'annotary.io/csr-approve-dns-suffixes': 'team-a.svc' };

describe('signer names', () => {
  test('annotary.io/<namespace>.<secret>: the first dot ends the namespace (a Secret name may hold dots)', () => {
    expect(parseSignerName('annotary.io/team-a.ca.v2')).toEqual({ namespace: 'team-a', name: 'ca.v2' });
    expect(parseSignerName(signerNameOf('ns', 'x'))).toEqual({ namespace: 'ns', name: 'x' });
    for (const s of ['kubernetes.io/kube-apiserver-client', 'annotary.io/nodot', 'annotary.io/.x', 'annotary.io/ns.'])
      expect(parseSignerName(s)).toBeUndefined();
  });

  test('the validity: what the CSR asks for, at least 10 minutes, at most 90 days', () => {
    const c = (expirationSeconds?: number) =>
      ({ ...csr('x', SIGNER, ''), spec: { ...csr('x', SIGNER, '').spec, expirationSeconds } }) as Csr;
    expect(signedDurationMs(c())).toBe(90 * DAY);
    expect(signedDurationMs(c(3600))).toBe(3_600_000);
    expect(signedDurationMs(c(60))).toBe(600_000);
    expect(signedDurationMs(c(10 * 365 * 86_400))).toBe(90 * DAY);
  });
});

describe('the csr-signer controller', () => {
  test("approves what the CA Secret's policy covers, then signs it: status.certificate verifies against the CA", async () => {
    const ca = await caSecret(TEAM_A_POLICY);
    const cluster = new FakeCluster([ca.secret, csr('app', SIGNER, await request(['app.team-a.svc']))]);
    const op = await run(cluster);
    expect(cluster.writes.map((w) => [w.verb, w.kind, w.name])).toEqual([
      ['patch', 'CertificateSigningRequest', 'app'], // Approved (approval subresource)
      ['patch', 'CertificateSigningRequest', 'app'], // status.certificate
    ]);
    const got = cluster.get('CertificateSigningRequest', '', 'app') as Csr;
    expect(got.status?.conditions?.map((c) => [c.type, c.reason])).toEqual([['Approved', 'AnnotaryPolicy']]);
    const leaf = new X509Certificate(Buffer.from(got.status!.certificate!, 'base64'));
    expect(leaf.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('DNS:app.team-a.svc');
    expect(leaf.ca).toBe(false);
    expect(op.events.map((e) => [e.type, e.reason])).toEqual([
      ['Normal', 'CsrApproved'],
      ['Normal', 'CsrSigned'],
    ]);
  });

  test('leaves a CSR the policy does not cover pending (a human approves), and signs it once approved', async () => {
    const ca = await caSecret(TEAM_A_POLICY);
    const cluster = new FakeCluster([ca.secret, csr('other', SIGNER, await request(['app.team-b.svc']))]);
    const op = await run(cluster);
    expect(cluster.writes).toEqual([]);
    expect(op.events).toEqual([]);
    // kubectl certificate approve
    cluster.userPatch('CertificateSigningRequest', '', 'other', {
      status: { conditions: [{ type: 'Approved', status: 'True', reason: 'KubectlApprove' }] },
    });
    await op.quiet();
    expect(cluster.writes.map((w) => w.verb)).toEqual(['patch']);
    expect((cluster.get('CertificateSigningRequest', '', 'other') as Csr).status?.certificate).toBeDefined();
  });

  test.each([
    ['a request for a CA', caRequest, ['digital signature', 'cert sign', 'server auth'], 'CsrRequestsCA'],
    ['a usage annotary never signs', () => request(['x.team-a.svc']), ['digital signature', 'code signing'], 'CsrUsageNotAllowed'],
    [
      'a request that is no PKCS#10',
      () => Promise.resolve('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'),
      ['server auth'],
      'InvalidCSR',
    ],
  ])('%s, even approved, is marked Failed with a Warning and never signed', async (_what, make, usages, reason) => {
    const ca = await caSecret();
    const cluster = new FakeCluster([ca.secret, csr('bad', SIGNER, await make(), withUsages(...usages), withCondition('Approved'))]);
    const op = await run(cluster);
    const got = cluster.get('CertificateSigningRequest', '', 'bad') as Csr;
    expect(got.status?.certificate).toBeUndefined();
    expect(got.status?.conditions?.map((c) => [c.type, c.reason])).toEqual([
      ['Approved', 'Test'],
      ['Failed', reason],
    ]);
    expect(op.events.map((e) => [e.type, e.reason])).toEqual([['Warning', reason]]);
    expect(cluster.writes).toHaveLength(1);
  });

  test('a client usage the CA Secret does not allow is Failed, however the CSR was approved', async () => {
    const ca = await caSecret({ 'annotary.io/csr-usages': 'server' });
    const c = csr(
      'client',
      SIGNER,
      await request(['x.team-a.svc']),
      withUsages('digital signature', 'client auth'),
      withCondition('Approved'),
    );
    const cluster = new FakeCluster([ca.secret, c]);
    const op = await run(cluster);
    expect(op.events.map((e) => e.message)).toEqual(['client usage is not allowed by the CA Secret (annotary.io/csr-usages: server)']);
  });

  test('a signer whose CA Secret is missing, or holds no CA: a Warning, the CSR waits (no write); the CA appearing signs it', async () => {
    const ca = await caSecret();
    const notCa = secret('ca', inNamespace(NS), withBase64Data(b64Values({ 'tls.crt': 'x' })));
    const cluster = new FakeCluster([
      notCa,
      csr('missing', signerNameOf('team-b', 'ca'), await request(['a.team-b.svc']), withCondition('Approved')),
      csr('waits', SIGNER, await request(['a.team-a.svc']), withCondition('Approved')),
    ]);
    const op = await run(cluster);
    expect(cluster.writes).toEqual([]);
    expect(op.events.map((e) => [e.name, e.reason]).sort()).toEqual([
      ['missing', 'CsrSignerNotFound'],
      ['waits', 'CsrSignerNotCA'],
    ]);
    cluster.userPatch('Secret', NS, 'ca', { data: ca.secret.data });
    await op.quiet();
    expect((cluster.get('CertificateSigningRequest', '', 'waits') as Csr).status?.certificate).toBeDefined();
    expect((cluster.get('CertificateSigningRequest', '', 'missing') as Csr).status).toEqual({
      conditions: [{ type: 'Approved', status: 'True', reason: 'Test', message: '' }],
    });
  });

  test('CSRs of other signers, denied or already issued ones: no write; converged, a restart writes nothing', async () => {
    const ca = await caSecret(TEAM_A_POLICY);
    const cluster = new FakeCluster([
      ca.secret,
      csr('kube', 'kubernetes.io/kube-apiserver-client', await request(['a.team-a.svc'])),
      csr('denied', SIGNER, await request(['a.team-a.svc']), withCondition('Denied')),
      csr('mine', SIGNER, await request(['a.team-a.svc']), byUser('system:serviceaccount:team-a:other')),
    ]);
    await run(cluster);
    expect(cluster.writes.map((w) => w.name)).toEqual(['mine', 'mine']);
    await stop!();
    stop = undefined;
    const before = cluster.writes.length;
    await run(cluster);
    expect(cluster.writes).toHaveLength(before);
  });
});
