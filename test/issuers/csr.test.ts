// The csr: issuer over the in-memory apiserver: the CSR it makes (name, labels, usages), the
// approval it tries and what a 403 means, the answers for each phase of the CSR, the key held
// while it waits, and the seam the issuing controller plugs in (csrIssuing).
import { jest } from '@jest/globals';
import { createPublicKey } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import type { CsrIssuerDeps } from '../../src/issuers/csr.js';
import { csrIssuer, csrIssuing, csrObjectName, issuedChain, kubeUsages } from '../../src/issuers/csr.js';
import type { IssueResult, SignRequest } from '../../src/issuers/issuer.js';
import { isIssued, isPending } from '../../src/issuers/issuer.js';
import { pendingKeys } from '../../src/issuers/pending-key.js';
import { SharedCaches } from '../../src/kube/caches.js';
import { ApiError } from '../../src/kube/client.js';
import type { KubeClient } from '../../src/kube/client.js';
import type { Csr } from '../../src/kube/csr.js';
import { isRefusal } from '../../src/kube/refusal.js';
import type { ResourceType } from '../../src/kube/types.js';
import { CertificateSigningRequests } from '../../src/kube/types.js';
import { Writer } from '../../src/kube/writer.js';
import { createMetrics } from '../../src/metrics.js';
import { createCsr, generateKey, parseCsr, selfSignedCa, signCsr } from '../../src/pki/x509.js';
import { FakeCluster } from '../controllers/reconcile-harness.js';
import { secret } from '../gen.js';
import { settle, silentLogger, until } from '../kube/helpers.js';

jest.setTimeout(60_000);
const SIGNER = 'example.com/signer';
const OWNER = { namespace: 'team-a', name: 'app-tls', uid: 'uid-1' };
const DAY = 86_400_000;

/** The in-memory apiserver, with a switch for whether annotary may approve (the CertificateApproval admission's 403). */
class Cluster extends FakeCluster {
  mayApprove = false;
  approvals = 0;
  async patch(rt: ResourceType, namespace: string | undefined, name: string, body: unknown, ...rest: unknown[]) {
    if (rest[1] === 'approval') {
      this.approvals++;
      if (!this.mayApprove) throw new ApiError(403, 'Forbidden', `user not permitted to approve requests with signerName "${SIGNER}"`);
    }
    return super.patch(rt, namespace, name, body);
  }
}

async function setup() {
  const cluster = new Cluster([]);
  const metrics = createMetrics();
  const caches = new SharedCaches({ client: cluster.client, namespaces: [], resyncMs: 0, log: silentLogger(), metrics });
  const csrs = caches.of(CertificateSigningRequests);
  caches.start();
  await csrs.synced;
  const deps: CsrIssuerDeps = { csrs, write: new Writer(cluster.client, metrics, { emit: () => undefined }, 'issuing') };
  return { cluster, caches, csrs, deps };
}

async function request(keyPem: string): Promise<SignRequest> {
  return {
    csr: await createCsr(keyPem, { commonName: 'app', dnsNames: [], ipAddresses: [] }),
    profile: { durationMs: DAY, usages: ['client'], isCA: false },
    now: new Date(),
  };
}

const pendingText = (r: IssueResult) => (isPending(r) ? r.pending : `not pending: ${JSON.stringify(r)}`);

describe('pure parts', () => {
  test('the CSR name: readable, the same for the same Secret and key, another for another key or Secret incarnation; always a valid name', async () => {
    const a = (await parseCsr((await request(await generateKey('ec-p256'))).csr)).publicKey;
    const b = (await parseCsr((await request(await generateKey('ec-p256'))).csr)).publicKey;
    expect(csrObjectName(OWNER, a)).toMatch(/^team-a\.app-tls-[0-9a-f]{16}$/);
    expect(csrObjectName(OWNER, a)).toBe(csrObjectName({ ...OWNER }, a));
    expect(csrObjectName(OWNER, a)).not.toBe(csrObjectName(OWNER, b));
    expect(csrObjectName(OWNER, a)).not.toBe(csrObjectName({ ...OWNER, uid: 'uid-2' }, a));
    const long = csrObjectName({ ...OWNER, name: `${'x'.repeat(240)}.y` }, a);
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/^team-a\.x+-[0-9a-f]{16}$/);
  });

  test('the usages: the TLS ones, digital signature, and key encipherment for RSA keys only', () => {
    expect(kubeUsages(['server', 'client'], 'rsa')).toEqual(['digital signature', 'key encipherment', 'server auth', 'client auth']);
    expect(kubeUsages(['client'], 'ec')).toEqual(['digital signature', 'client auth']);
  });

  test('the issued chain: leaf and intermediates; ca.crt the root when the signer sends it; a certificate for another key is not taken', async () => {
    const rootKey = await generateKey('ec-p256');
    const v = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 10 * DAY) };
    const root = await selfSignedCa(rootKey, 'root', v);
    const intKey = await generateKey('ec-p256');
    const int = await signCsr(
      await createCsr(intKey, { commonName: 'int', dnsNames: [], ipAddresses: [] }),
      { ...v, usages: [], isCA: true },
      { certPem: root, keyPem: rootKey },
    );
    const leafKey = await generateKey('ec-p256');
    const req = await request(leafKey);
    const leaf = await signCsr(req.csr, { ...v, usages: ['client'] }, { certPem: int, keyPem: intKey });
    const spki = new Uint8Array(createPublicKey(leafKey).export({ type: 'spki', format: 'der' }));
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    expect(issuedChain(b64(leaf + int + root), spki)).toEqual({
      chain: [leaf, int].map((p) => p.trimEnd() + '\n'),
      ca: root.trimEnd() + '\n',
    });
    expect(issuedChain(b64(leaf + int), spki)).toEqual({ chain: [leaf, int].map((p) => p.trimEnd() + '\n'), ca: '' });
    expect(issuedChain(b64(int + root), spki)).toBeUndefined();
  });
});

describe('csrIssuer', () => {
  test('creates the CSR once; waits for an approver on a 403, trying again only after a minute; signed: the chain', async () => {
    const { cluster, csrs, deps } = await setup();
    const keyPem = await generateKey('ec-p256');
    const req = await request(keyPem);
    const issuer = csrIssuer(SIGNER, OWNER, deps);
    const name = csrObjectName(OWNER, (await parseCsr(req.csr)).publicKey);

    expect(pendingText(await issuer.sign(req))).toBe(`CSR ${name} created for signer ${SIGNER}`);
    const made = cluster.get('CertificateSigningRequest', '', name) as Csr;
    expect(made.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'annotary', 'annotary.io/secret-uid': 'uid-1' });
    expect(made.metadata.annotations).toEqual({ 'annotary.io/secret': 'team-a/app-tls' });
    expect(made.spec).toMatchObject({ signerName: SIGNER, usages: ['digital signature', 'client auth'], expirationSeconds: 86_400 });
    expect(Buffer.from(made.spec.request, 'base64').toString()).toBe(req.csr);
    await until(() => csrs.get(name) !== undefined, 'CSR in the cache');

    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      expect(pendingText(await issuer.sign(req))).toContain(`waits for an approver (e.g. kubectl certificate approve ${name})`);
      expect(pendingText(await issuer.sign(req))).toContain('waits for an approver');
      expect(cluster.approvals).toBe(1); // the 403 is remembered
      cluster.mayApprove = true;
      jest.advanceTimersByTime(60_000);
      expect(pendingText(await issuer.sign(req))).toBe(`CSR ${name} approved by annotary; waiting for signer ${SIGNER}`);
      expect(cluster.approvals).toBe(2);
    } finally {
      jest.useRealTimers();
    }
    await until(() => (csrs.get(name) as Csr).status?.conditions?.length === 1, 'approval in the cache');
    expect((csrs.get(name) as Csr).status?.conditions?.[0]).toMatchObject({ type: 'Approved', status: 'True', reason: 'AnnotaryIssuer' });
    expect(pendingText(await issuer.sign(req))).toBe(`CSR ${name} is approved; waiting for signer ${SIGNER} to sign it`);

    // the signer
    const caKey = await generateKey('ec-p256');
    const v = { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 10 * DAY) };
    const ca = await selfSignedCa(caKey, 'signer', v);
    const leaf = await signCsr(req.csr, { ...v, usages: ['client'] }, { certPem: ca, keyPem: caKey });
    cluster.userPatch('CertificateSigningRequest', '', name, { status: { certificate: Buffer.from(leaf).toString('base64') } });
    await until(() => !!(csrs.get(name) as Csr).status?.certificate, 'certificate in the cache');
    const issued = await issuer.sign(req);
    expect(isIssued(issued) && issued.chain).toEqual([leaf.trimEnd() + '\n']);
    expect(cluster.writes.map((w) => [w.verb, w.kind])).toEqual([
      ['create', 'CertificateSigningRequest'],
      ['patch', 'CertificateSigningRequest'],
    ]);
  });

  test.each([
    ['Denied', 'CsrDenied', 'Denied (PolicyDenied: not for you)'],
    ['Failed', 'CsrFailed', 'Failed (SignerValidationFailure: bad usages)'],
  ])('a %s CSR is a refusal %s naming its reason and message', async (type, reason, text) => {
    const { cluster, csrs, deps } = await setup();
    const req = await request(await generateKey('ec-p256'));
    const issuer = csrIssuer(SIGNER, OWNER, deps);
    const name = csrObjectName(OWNER, (await parseCsr(req.csr)).publicKey);
    await issuer.sign(req);
    const [r, m] = text.slice(type.length + 2, -1).split(': ');
    cluster.userPatch('CertificateSigningRequest', '', name, { status: { conditions: [{ type, status: 'True', reason: r, message: m }] } });
    await until(() => !!(csrs.get(name) as Csr | undefined)?.status, 'condition in the cache');
    const res = await issuer.sign(req);
    expect(isRefusal(res) && [res.reason, res.message]).toEqual([
      reason,
      `CSR ${name} for signer ${SIGNER}: ${text}; delete it to ask again with the same key`,
    ]);
  });

  test('a certificate that is not for the requested key is refused (CsrFailed), not written', async () => {
    const { cluster, csrs, deps } = await setup();
    const req = await request(await generateKey('ec-p256'));
    const issuer = csrIssuer(SIGNER, OWNER, deps);
    const name = csrObjectName(OWNER, (await parseCsr(req.csr)).publicKey);
    await issuer.sign(req);
    const caKey = await generateKey('ec-p256');
    const other = await selfSignedCa(caKey, 'someone else', { notBefore: new Date(), notAfter: new Date(Date.now() + DAY) });
    cluster.userPatch('CertificateSigningRequest', '', name, { status: { certificate: Buffer.from(other).toString('base64') } });
    await until(() => !!(csrs.get(name) as Csr | undefined)?.status, 'certificate in the cache');
    const res = await issuer.sign(req);
    expect(isRefusal(res) && res.reason).toBe('CsrFailed');
  });
});

describe('pendingKeys', () => {
  test('the same key while the request waits; another for another algorithm or Secret incarnation, after release, or once pruned', async () => {
    const keys = pendingKeys();
    const o = { key: 'ns/s', uid: 'u1' };
    const k = await keys.keyFor(o, 'ec-p256');
    expect(await keys.keyFor(o, 'ec-p256')).toBe(k);
    expect(await keys.keyFor({ ...o, uid: 'u2' }, 'ec-p256')).not.toBe(k);
    const k2 = await keys.keyFor({ ...o, uid: 'u2' }, 'ec-p256');
    expect(await keys.keyFor({ ...o, uid: 'u2' }, 'ec-p384')).not.toBe(k2);
    keys.release({ ...o, uid: 'u2' });
    expect(keys.size).toBe(0);
    await keys.keyFor(o, 'ec-p256');
    keys.prune(() => true);
    expect(keys.size).toBe(1);
    keys.prune(() => false);
    expect(keys.size).toBe(0);
  });
});

describe('csrIssuing: the seam of the issuing controller', () => {
  const caches = () =>
    new SharedCaches({ client: {} as KubeClient, namespaces: [], resyncMs: 0, log: silentLogger(), metrics: createMetrics() });
  const write = () => new Writer({} as KubeClient, createMetrics(), { emit: () => undefined }, 'issuing');

  test('without the csr controller: no CSR cache is read, and csr: issuers are refused', () => {
    const c = caches();
    const seam = csrIssuing({ caches: c, config: loadConfig(['--controllers', 'keystores'], {}) }, write(), () => true);
    expect(seam.watches).toEqual([]);
    expect(c.all().map((i) => i.resourceName)).toEqual(['secrets']);
    const r = seam.resolve(SIGNER, { ...secret('s'), digests: {} });
    expect(isRefusal(r) && r.reason).toBe('UnknownIssuer');
  });

  test("csr:annotary.io/<namespace>.<secret> is refused: annotary would approve for its own signer, past the CA Secret's share opt-in", () => {
    const seam = csrIssuing({ caches: caches(), config: loadConfig([], {}) }, write(), () => true);
    const r = seam.resolve('annotary.io/other-team.ca', { ...secret('s'), digests: {} });
    expect(isRefusal(r) && [r.reason, r.message]).toEqual([
      'UnknownIssuer',
      "annotary.io/issuer: csr:annotary.io/other-team.ca is annotary's own signer of CA Secret other-team/ca: " +
        'name that Secret as the issuer (other-team/ca; annotary.io/share-with-namespaces applies)',
    ]);
    expect(isRefusal(seam.resolve(SIGNER, { ...secret('s'), digests: {} }))).toBe(false);
  });

  test('with it: the watch maps a CSR to the Secret its annotation names, and only that one', async () => {
    const c = caches();
    const seam = csrIssuing({ caches: c, config: loadConfig([], {}) }, write(), (s) => s.metadata.name === 'wants');
    const [w] = seam.watches;
    expect(w.source.resourceName).toBe('certificatesigningrequests');
    expect(w.refsOf({ ...secret('wants'), digests: {} })).toEqual([{ kind: 'CertificateSigningRequest', namespace: '', name: '*' }]);
    expect(w.refsOf({ ...secret('other'), digests: {} })).toEqual([]);
    const csrFor = (ref: string) => ({ metadata: { name: 'c', annotations: { 'annotary.io/secret': ref } } });
    expect(w.delayFor!({ kind: 'Secret', namespace: 'ns', name: 'wants' }, undefined, csrFor('ns/wants'))).toBe(0);
    expect(w.delayFor!({ kind: 'Secret', namespace: 'ns', name: 'wants' }, undefined, csrFor('ns/other'))).toBeUndefined();
    await settle();
  });
});
