// The issuing controller in process (reconcile-harness.ts): what it writes for a request, that
// it is quiet once issued and after a restart, its refusals (no write), a user's certificate
// replaced only with an Event, a generated CA, a CA rotation step by step, and the jitter.
import { describe, expect, jest, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { AnnotationReader } from '../../src/annotations.js';
import { ApiError } from '../../src/kube/client.js';
import { Secrets } from '../../src/kube/types.js';
import {
  issuingController,
  issuingDecision,
  parseIssueSpec,
  renewAtMs,
  specDigest,
  type IssuedRecord,
  type IssueSpec,
} from '../../src/controllers/issuing.js';
import { expiryController } from '../../src/controllers/expiry.js';
import { servingCertsController, servingNames } from '../../src/controllers/serving-certs.js';
import { generateKey, selfSignedCa } from '../../src/pki/x509.js';
import { inNamespace, ofType, secret, service, withAnnotations, withData, withUid, type Secret } from '../gen.js';
import { selfSigned } from '../pki/helpers.js';

/** Polls `cond` until it holds; crypto runs outside the event loop's turns, so this waits in time (5 s at most). */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 5))) if (cond()) return;
  throw new Error(`timed out waiting for: ${what}`);
}
import { FakeCluster, moduleRunner } from './reconcile-harness.js';

jest.setTimeout(60_000);
const NS = 'apps';
const NOW = new Date('2031-01-01T00:00:00Z');
const validity = { notBefore: NOW, notAfter: new Date(NOW.getTime() + 10 * 365 * 86_400_000) };
const reader = new AnnotationReader(true);

const run = moduleRunner();

async function caSecret(name: string, ns = NS, annotations: Record<string, string> = {}): Promise<Secret> {
  const keyPem = await generateKey('ec-p256');
  const certPem = await selfSignedCa(keyPem, name, validity);
  return secret(
    name,
    inNamespace(ns),
    ofType('kubernetes.io/tls'),
    withAnnotations(annotations),
    withData({ 'tls.crt': certPem, 'tls.key': keyPem }),
  );
}
const request = (name: string, annotations: Record<string, string>) => secret(name, inNamespace(NS), withAnnotations(annotations));
const text = (c: FakeCluster, name: string, key: string, ns = NS) => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- FakeCluster.get returns KubeObject; tsc needs the Secret's data
  const v = (c.get('Secret', ns, name) as Secret | undefined)?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
};
const certs = (pem: string) =>
  pem
    .split(/(?<=-----END CERTIFICATE-----\n)/)
    .filter((p) => p.includes('BEGIN'))
    .map((p) => new X509Certificate(p));
const writesTo = (c: FakeCluster, name: string) => c.writes.filter((w) => w.name === name && w.verb === 'patch');

describe('issuing from a ca issuer', () => {
  test('one write with tls.crt, tls.key, ca.crt and the record; quiet after, and after a restart', async () => {
    const ca = await caSecret('root');
    const cluster = new FakeCluster([
      ca,
      request('web', { 'annotary.io/issuer': 'root', 'annotary.io/dns-names': 'web.apps.svc', 'annotary.io/key-algorithm': 'ec-p256' }),
    ]);
    const r = await run(issuingController, cluster);
    await until(() => writesTo(cluster, 'web').length === 1, 'issued');
    await r.quiet();
    const leaf = certs(text(cluster, 'web', 'tls.crt')!)[0];
    const root = new X509Certificate(text(cluster, 'root', 'tls.crt')!);
    expect(leaf.checkIssued(root) && leaf.verify(root.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('DNS:web.apps.svc');
    expect(text(cluster, 'web', 'tls.key')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(new X509Certificate(text(cluster, 'web', 'ca.crt')!).fingerprint256).toBe(root.fingerprint256);
    const ann = cluster.get('Secret', NS, 'web')!.metadata.annotations!;
    expect(ann['annotary.io/serial']).toBe(leaf.serialNumber.toLowerCase());
    expect(ann['annotary.io/not-after']).toBe(new Date(leaf.validTo).toISOString());
    expect(ann['annotary.io/issued-by']).toBe('apps/root');
    expect(Date.parse(ann['annotary.io/renew-at'])).toBeLessThan(Date.parse(leaf.validTo));
    expect(r.events.map((e) => e.reason)).toEqual(['CertificateIssued']);
    await r.stop();
    const again = await run(issuingController, cluster);
    await again.quiet();
    expect(writesTo(cluster, 'web')).toHaveLength(1);
  });

  test('a key pair is new on every issuance: a changed request re-issues with a new key', async () => {
    const cluster = new FakeCluster([
      await caSecret('root'),
      request('web', { 'annotary.io/issuer': 'root', 'annotary.io/dns-names': 'a.test', 'annotary.io/key-algorithm': 'ec-p256' }),
    ]);
    const r = await run(issuingController, cluster);
    await until(() => writesTo(cluster, 'web').length === 1, 'issued');
    const key1 = text(cluster, 'web', 'tls.key');
    cluster.userPatch('Secret', NS, 'web', { metadata: { annotations: { 'annotary.io/dns-names': 'a.test,b.test' } } });
    await until(() => writesTo(cluster, 'web').length === 2, 're-issued');
    await r.quiet();
    expect(certs(text(cluster, 'web', 'tls.crt')!)[0].subjectAltName).toBe('DNS:a.test, DNS:b.test');
    expect(text(cluster, 'web', 'tls.key')).not.toBe(key1);
    const issued = (await r.metrics.certificatesIssued.get()).values.map((v) => [v.labels.why, v.value]);
    expect(issued).toEqual([
      ['new', 1],
      ['request_changed', 1],
    ]);
  });

  test.each([
    [{ 'annotary.io/issuer': 'nope' }, 'IssuerNotFound'],
    [{ 'annotary.io/issuer': 'vault:x' }, 'UnknownIssuer'],
    [{ 'annotary.io/issuer': 'other/root' }, 'NotSharedWithNamespace'],
    [{ 'annotary.io/issuer': 'leaf' }, 'IssuerNotCA'],
    [{ 'annotary.io/issuer': 'root', 'annotary.io/dns-names': 'bad_name.test' }, 'InvalidDNSName'],
    [{ 'annotary.io/issuer': 'root', 'annotary.io/ip-addresses': '10.0.0.300' }, 'InvalidIPAddress'],
    [{ 'annotary.io/issuer': 'root', 'annotary.io/duration': '1h', 'annotary.io/renew-before': '2h' }, 'InvalidDuration'],
    [{ 'annotary.io/issuer': 'root', 'annotary.io/key-algorithm': 'dsa' }, 'InvalidAnnotation'],
  ])('%j: a Warning %s, a metric, no write', async (annotations, reason) => {
    // a certificate without basicConstraints CA:TRUE, with its key
    const self = selfSigned('leaf', NOW, validity.notAfter);
    const notCa = secret('leaf', inNamespace(NS), withData({ 'tls.crt': self.certPem, 'tls.key': self.keyPem }));
    const cluster = new FakeCluster([
      await caSecret('root'),
      await caSecret('root', 'other'),
      notCa,
      request('web', { 'annotary.io/dns-names': 'web.test', ...annotations }),
    ]);
    const r = await run(issuingController, cluster);
    await until(() => r.events.length > 0, 'warned');
    await r.quiet();
    expect(writesTo(cluster, 'web')).toHaveLength(0);
    expect(r.events.map((e) => [e.type, e.reason])).toContainEqual(['Warning', reason]);
    const metric = await r.metrics.invalidInputTotal.get();
    expect(metric.values.find((v) => v.labels.reason === reason)?.value).toBeGreaterThan(0);
  });

  test('a CA of another namespace that opts in with share-with-namespaces issues', async () => {
    const cluster = new FakeCluster([
      await caSecret('root', 'pki', { 'annotary.io/share-with-namespaces': NS }),
      request('web', { 'annotary.io/issuer': 'pki/root', 'annotary.io/dns-names': 'web.test', 'annotary.io/key-algorithm': 'ec-p256' }),
    ]);
    const r = await run(issuingController, cluster);
    await until(() => writesTo(cluster, 'web').length === 1, 'issued');
    await r.quiet();
    expect(cluster.get('Secret', NS, 'web')!.metadata.annotations!['annotary.io/issued-by']).toBe('pki/root');
  });

  test('a renewal that is refused keeps the valid certificate, retries with backoff, and renews once the CA is back', async () => {
    const ca = await caSecret('root');
    const cluster = new FakeCluster([
      ca,
      request('web', {
        'annotary.io/issuer': 'root',
        'annotary.io/dns-names': 'web.test',
        'annotary.io/key-algorithm': 'ec-p256',
        'annotary.io/duration': '8s',
        'annotary.io/renew-before': '3s',
      }),
    ]);
    const r = await run(issuingController, cluster, ['--retry-base', '50ms', '--retry-max', '200ms']);
    await until(() => writesTo(cluster, 'web').length >= 1, 'issued');
    const issued = text(cluster, 'web', 'tls.crt');
    await cluster.delete(Secrets, NS, 'root');
    // renew-at is about 5 s after issuance (room for a slow machine before the CA goes): refused
    // (the CA is gone), asked again, each time a Warning
    await until(() => r.events.filter((e) => e.reason === 'IssuerNotFound').length >= 3, 'retried with backoff', 20_000);
    expect(writesTo(cluster, 'web')).toHaveLength(1);
    expect(text(cluster, 'web', 'tls.crt')).toBe(issued);
    expect((await r.metrics.issuanceFailures.get()).values[0]?.value).toBeGreaterThanOrEqual(3);
    await cluster.create(Secrets, NS, ca);
    await until(() => writesTo(cluster, 'web').length === 2, 'renewed', 20_000);
    expect(text(cluster, 'web', 'tls.crt')).not.toBe(issued);
  });

  test("a user's certificate is replaced once annotary.io/issuer is added, and an Event says so", async () => {
    const user = await caSecret('mine');
    const cluster = new FakeCluster([await caSecret('root'), user]);
    const r = await run(issuingController, cluster);
    expect(writesTo(cluster, 'mine')).toHaveLength(0);
    cluster.userPatch('Secret', NS, 'mine', {
      metadata: {
        annotations: { 'annotary.io/issuer': 'root', 'annotary.io/dns-names': 'm.test', 'annotary.io/key-algorithm': 'ec-p256' },
      },
    });
    await until(() => writesTo(cluster, 'mine').length === 1, 'replaced');
    await r.quiet();
    expect(r.events.map((e) => e.reason)).toEqual(['UserCertificateReplaced', 'CertificateIssued']);
  });
});

describe('generated CA and CA rotation', () => {
  test('generate-ca makes a self-signed root; its renewal rotates every leaf: trust both, re-issue, drop the old CA', async () => {
    const cluster = new FakeCluster([
      request('root', { 'annotary.io/generate-ca': 'true', 'annotary.io/key-algorithm': 'ec-p256' }),
      request('web', { 'annotary.io/issuer': 'root', 'annotary.io/dns-names': 'web.test', 'annotary.io/key-algorithm': 'ec-p256' }),
    ]);
    const r = await run(issuingController, cluster, ['--ca-rotation-grace', '300ms']);
    await until(() => writesTo(cluster, 'web').length === 1, 'leaf issued');
    await r.quiet();
    const oldCa = new X509Certificate(text(cluster, 'root', 'tls.crt')!);
    expect(oldCa.ca).toBe(true);
    expect(oldCa.checkIssued(oldCa)).toBe(true);
    const oldLeaf = text(cluster, 'web', 'tls.crt')!;
    // a new CA key: what a renewal of the generated CA does (here forced by a changed request)
    cluster.userPatch('Secret', NS, 'root', { metadata: { annotations: { 'annotary.io/key-algorithm': 'ec-p384' } } });
    await until(() => writesTo(cluster, 'web').length === 2, 'trust both');
    const newCa = new X509Certificate(text(cluster, 'root', 'tls.crt')!);
    expect(text(cluster, 'web', 'tls.crt')).toBe(oldLeaf);
    expect(
      certs(text(cluster, 'web', 'ca.crt')!)
        .map((c) => c.fingerprint256)
        .sort(),
    ).toEqual([oldCa.fingerprint256, newCa.fingerprint256].sort());
    await until(() => writesTo(cluster, 'web').length === 3, 're-issued', 30_000);
    const leaf = certs(text(cluster, 'web', 'tls.crt')!)[0];
    expect(leaf.checkIssued(newCa) && leaf.verify(newCa.publicKey)).toBe(true);
    expect(certs(text(cluster, 'web', 'ca.crt')!)).toHaveLength(2);
    await until(() => writesTo(cluster, 'web').length === 4, 'old CA dropped', 30_000);
    expect(certs(text(cluster, 'web', 'ca.crt')!).map((c) => c.fingerprint256)).toEqual([newCa.fingerprint256]);
    await r.quiet();
    expect(r.events.filter((e) => e.name === 'web' && e.reason !== 'IssuancePending').map((e) => e.reason)).toEqual([
      'CertificateIssued',
      'CARotation',
      'CARotation',
      'CertificateIssued',
      'CARotation',
    ]);
  });
});

describe('serving certificates and expiry of issued Secrets', () => {
  test('a Service gets a kubernetes.io/tls Secret from the serving CA, by the native and the OpenShift key', async () => {
    const cluster = new FakeCluster([
      await caSecret('serving', 'pki', { 'annotary.io/share-with-namespaces': '*' }),
      service('api', inNamespace(NS), withUid('svc-uid'), withAnnotations({ 'annotary.io/serving-cert-secret': 'api-tls' })),
      service(
        'os',
        inNamespace(NS),
        withUid('os-uid'),
        withAnnotations({ 'service.beta.openshift.io/serving-cert-secret-name': 'os-tls' }),
      ),
    ]);
    const r = await run(servingCertsController, cluster, ['--serving-ca', 'pki/serving']);
    await r.quiet();
    const api = cluster.get('Secret', NS, 'api-tls') as Secret;
    expect(api.type).toBe('kubernetes.io/tls');
    expect(api.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Service', name: 'api', uid: 'svc-uid' }]);
    expect(api.metadata.annotations).toMatchObject({
      'annotary.io/issuer': 'pki/serving',
      'annotary.io/dns-names': 'api.apps.svc,api.apps.svc.cluster.local',
    });
    expect(servingNames(service('h', inNamespace(NS), (s) => void (s.spec = { clusterIP: 'None' })))).toEqual([
      'h.apps.svc',
      'h.apps.svc.cluster.local',
      '*.h.apps.svc',
      '*.h.apps.svc.cluster.local',
    ]);
    expect(cluster.get('Secret', NS, 'os-tls')!.metadata.annotations).toMatchObject({
      'service.beta.openshift.io/originating-service-name': 'os',
      'service.beta.openshift.io/originating-service-uid': 'os-uid',
    });
    const issuing = await run(issuingController, cluster);
    await until(() => writesTo(cluster, 'api-tls').length === 1 && writesTo(cluster, 'os-tls').length === 1, 'issued');
    await issuing.quiet();
    expect(certs(text(cluster, 'api-tls', 'tls.crt')!)[0].subjectAltName).toBe('DNS:api.apps.svc, DNS:api.apps.svc.cluster.local');
  });

  test('where the install grants no Secret create (403): a ServingCertForbidden Warning on the Service, nothing written', async () => {
    const cluster = new FakeCluster([
      service('api', inNamespace(NS), withUid('svc-uid'), withAnnotations({ 'annotary.io/serving-cert-secret': 'api-tls' })),
    ]);
    cluster.create = () => Promise.reject(new ApiError(403, 'Forbidden', 'secrets is forbidden'));
    const r = await run(servingCertsController, cluster, ['--serving-ca', 'pki/serving']);
    await r.quiet();
    expect(cluster.writes).toEqual([]);
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'ServingCertForbidden', name: 'api' }));
  });

  test("a Secret of that name the Service does not own stays the user's: a Warning on the Service", async () => {
    const cluster = new FakeCluster([
      secret('api-tls', inNamespace(NS), withData({ x: 'y' })),
      service('api', inNamespace(NS), withUid('svc-uid'), withAnnotations({ 'annotary.io/serving-cert-secret': 'api-tls' })),
    ]);
    const r = await run(servingCertsController, cluster, ['--serving-ca-namespace', 'annotary']);
    await r.quiet();
    expect(writesTo(cluster, 'api-tls')).toHaveLength(0);
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'CertificateNotOwned', name: 'api' }));
    // the self-signed serving CA is made in its namespace, for the issuing controller to fill
    expect(cluster.get('Secret', 'annotary', 'annotary-serving-ca')!.metadata.annotations).toMatchObject({
      'annotary.io/generate-ca': 'true',
    });
  });

  test('expiry metrics cover an issued Secret that is not of type kubernetes.io/tls', async () => {
    const cluster = new FakeCluster([
      await caSecret('root'),
      request('web', { 'annotary.io/issuer': 'root', 'annotary.io/dns-names': 'web.test', 'annotary.io/key-algorithm': 'ec-p256' }),
    ]);
    const r = await run(issuingController, cluster);
    await until(() => writesTo(cluster, 'web').length === 1, 'issued');
    await r.quiet();
    const expiry = await run(expiryController, cluster);
    await expiry.quiet();
    const series = (await expiry.metrics.certNotAfter.get()).values.find((v) => v.labels.name === 'web');
    expect(series?.value).toBe(Date.parse(certs(text(cluster, 'web', 'tls.crt')!)[0].validTo) / 1000);
  });
});

describe('issuingDecision', () => {
  const spec = parseIssueSpec({ 'annotary.io/issuer': 'ca', 'annotary.io/dns-names': 'a.test' }, NS, 'x', reader) as IssueSpec;
  const digests = { 'tls.crt': 'd1', 'tls.key': 'd2', 'ca.crt': 'd3' };
  const record = (over: Partial<IssuedRecord>): IssuedRecord => ({
    uid: 'u',
    keys: digests,
    spec: specDigest(spec),
    ca: 'A',
    notAfterMs: 100_000,
    renewAtMs: 90_000,
    ...over,
  });
  const decide = (r: IssuedRecord, currentCa: string, nowMs: number, s: IssueSpec = spec) =>
    issuingDecision({ spec: s, uid: 'u', digests, record: r, currentCa, nowMs, graceMs: 1000 });
  const changed = { ...spec, dnsNames: ['b.test'] };

  test('a new CA comes before a changed request: trust both first, and the change waits out the grace period', () => {
    expect(decide(record({}), 'B', 0, changed)).toEqual({ bundle: 'trust-both' });
    expect(decide(record({ rotation: { stage: 'trust-both', sinceMs: 0 } }), 'B', 400, changed)).toEqual({ waitMs: 600 });
    expect(decide(record({ rotation: { stage: 'trust-both', sinceMs: 0 } }), 'B', 1000, changed)).toEqual({ issue: 'ca_rotation' });
  });

  test('after the re-issue a changed request or a renewal re-issues at once (the bundle keeps both CAs until dropped)', () => {
    const reissued = record({ ca: 'B', rotation: { stage: 'reissued', sinceMs: 0 } });
    expect(decide(reissued, 'B', 10, changed)).toEqual({ issue: 'request_changed' });
    expect(decide({ ...reissued, renewAtMs: 5 }, 'B', 10)).toEqual({ issue: 'renewal' });
    expect(decide(reissued, 'B', 10)).toEqual({ waitMs: 990 });
  });

  test("tls.crt edited by someone else (digests no longer annotary's) is re-issued as a user's certificate", () => {
    expect(
      issuingDecision({
        spec,
        uid: 'u',
        digests: { ...digests, 'tls.crt': 'x' },
        record: record({}),
        currentCa: 'A',
        nowMs: 0,
        graceMs: 1,
      }),
    ).toEqual({
      issue: 'replaced_user_certificate',
    });
  });
});

describe('renewAtMs (the jitter)', () => {
  const DAY = 86_400_000;
  test('1,000 certificates issued together renew spread over a tenth of renew-before, none later than renew-before', () => {
    const notBefore = Date.parse('2031-01-01T00:00:00Z');
    const notAfter = notBefore + 90 * DAY;
    const before = 30 * DAY;
    const times = Array.from({ length: 1000 }, (_, i) => renewAtMs(notBefore, notAfter, before, `uid-${i}/serial`));
    for (const t of times) {
      expect(t).toBeLessThanOrEqual(notAfter - before);
      expect(t).toBeGreaterThan(notAfter - before - before / 10);
    }
    const perSecond = new Map<number, number>();
    for (const t of times) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(2);
    // spread over (nearly) the whole window, not bunched: every tenth of it holds some
    const buckets = new Set(times.map((t) => Math.floor((notAfter - before - t) / (before / 100))));
    expect(buckets.size).toBe(10);
  });

  test('deterministic per certificate; a renew-before longer than the granted lifetime becomes a third of it', () => {
    expect(renewAtMs(0, 90 * DAY, 30 * DAY, 'a')).toBe(renewAtMs(0, 90 * DAY, 30 * DAY, 'a'));
    expect(renewAtMs(0, 90 * DAY, 30 * DAY, 'a')).not.toBe(renewAtMs(0, 90 * DAY, 30 * DAY, 'b'));
    const t = renewAtMs(0, 9 * DAY, 30 * DAY, 'a');
    expect(t).toBeLessThanOrEqual(6 * DAY);
    expect(t).toBeGreaterThan(6 * DAY - 0.3 * DAY);
  });

  test('parseIssueSpec defaults: rsa-2048, 90d, a third of it, both usages', () => {
    expect(parseIssueSpec({ 'annotary.io/issuer': 'ca', 'annotary.io/dns-names': 'A.test' }, NS, 'x', reader)).toEqual({
      issuer: { kind: 'ca', namespace: NS, name: 'ca' },
      dnsNames: ['a.test'],
      ipAddresses: [],
      keyAlgorithm: 'rsa-2048',
      durationMs: 90 * DAY,
      renewBeforeMs: 30 * DAY,
      usages: ['server', 'client'],
      isCA: false,
    });
  });
});
