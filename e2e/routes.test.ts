// Certificates into Routes, on the real local control plane (the Route CRD stands in for OpenShift).
import { Routes, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import {
  adminClient,
  apiserverWrites,
  deleteNamespace,
  eventsFor,
  newNamespace,
  sleep,
  startOperator,
  waitFor,
} from './harness/cluster.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Route } from '../test/gen.js';
import { route as routeOf, inNamespace, ofType, secret, tlsData, withAnnotations, withData, withRouteTLS, withTLS } from '../test/gen.js';

const client = adminClient();
const ec = chainFixture('p256');
const next = chainFixture('p256', 'rotated');
const rsa = chainFixture('rsa2048');
const CU = 'cert-utils-operator.redhat-cop.io/';
let ns: string;
let op: OperatorProcess;

const start = () => startOperator(['--namespaces', ns, '--controllers', 'routes', '--log-level', 'debug']);

/** creates a kubernetes.io/tls Secret of chain `f` */
async function tlsSecret(name: string, f = ec): Promise<void> {
  await client.create(Secrets, ns, secret(name, inNamespace(ns), ofType('kubernetes.io/tls'), withTLS(f)));
}

/** creates a Route; tls null: a Route without spec.tls */
async function route(
  name: string,
  annotations: Record<string, string>,
  tls: Record<string, string> | null = { termination: 'edge' },
): Promise<Route> {
  return client.create<Route>(Routes, ns, routeOf(name, inNamespace(ns), withAnnotations(annotations), withRouteTLS(tls)));
}

const getRoute = (name: string) => client.get<Route>(Routes, ns, name);
const tlsOf = async (name: string) => (await getRoute(name)).spec.tls ?? {};
const eventWith = (name: string, reason: string) =>
  waitFor(`${reason} on ${name}`, async () => (await eventsFor(client, ns, name)).find((e) => e.reason === reason));

beforeAll(async () => {
  ns = await newNamespace(client, 'routes');
  op = await start();
});

afterAll(async () => {
  await op?.stop();
  await deleteNamespace(client, ns);
});

describe('edge and reencrypt Routes get certificate, key and CA', () => {
  test.each(['edge', 'reencrypt'])('%s', async (termination) => {
    await tlsSecret(`cert-${termination}`);
    await route(`r-${termination}`, { 'annotary.io/certs-from-secret': `cert-${termination}` }, { termination });
    const tls = await waitFor('fields', async () => {
      const t = await tlsOf(`r-${termination}`);
      return t.certificate ? t : undefined;
    });
    expect(tls).toEqual({ termination, certificate: ec.certPem(2), key: ec.keyPkcs8, caCertificate: ec.ca });
    expect((await getRoute(`r-${termination}`)).metadata.annotations?.['annotary.io/managed-fields']).toBe('certificate,key,caCertificate');
    const ev = await eventWith(`r-${termination}`, 'RouteUpdated');
    expect(ev.type).toBe('Normal');
    expect(ev.message).not.toMatch(/BEGIN|MII/);
  });

  test('destination-ca-from-secret fills destinationCACertificate on a reencrypt Route', async () => {
    await client.create(Secrets, ns, secret('backend-ca', inNamespace(ns), withData({ 'ca.crt': rsa.ca })));
    await route('r-dest', { 'annotary.io/destination-ca-from-secret': 'backend-ca' }, { termination: 'reencrypt' });
    await waitFor('destination CA', async () => (await tlsOf('r-dest')).destinationCACertificate === rsa.ca);
  });

  test('a destination CA on an edge Route: what applies is set (as cert-utils does), the destination CA is not, with a Warning', async () => {
    await tlsSecret('edge-cert');
    await client.create(Secrets, ns, secret('edge-dest-ca', inNamespace(ns), withData({ 'ca.crt': rsa.ca })));
    await route('r-edge-dest', { 'annotary.io/certs-from-secret': 'edge-cert', 'annotary.io/destination-ca-from-secret': 'edge-dest-ca' });
    const tls = await waitFor('fields', async () => {
      const t = await tlsOf('r-edge-dest');
      return t.certificate ? t : undefined;
    });
    expect(tls).toEqual({ termination: 'edge', certificate: ec.certPem(2), key: ec.keyPkcs8, caCertificate: ec.ca });
    const ev = await eventWith('r-edge-dest', 'UnsupportedTermination');
    expect([ev.type, ev.message]).toEqual([
      'Warning',
      'a destination CA can only be set on reencrypt Routes, not on termination "edge": left unset; the certificate and key are set',
    ]);
  });
});

describe('one rotation updates every Route that shares the Secret', () => {
  test('three Routes, one Secret: each gets the new certificate, each is written once', async () => {
    await tlsSecret('shared');
    for (const n of ['s1', 's2', 's3']) await route(n, { 'annotary.io/certs-from-secret': 'shared' });
    await waitFor('initial fill', async () =>
      (await Promise.all(['s1', 's2', 's3'].map(tlsOf))).every((t) => t.certificate === ec.certPem(2)),
    );
    await waitFor('queue drained', async () => (await op.metric('annotary_queue_depth', { controller: 'routes' })) === 0);
    const writes0 = await op.metric('annotary_writes_total', { controller: 'routes', kind: 'Route' });
    const apiWrites0 = apiserverWrites('routes');
    await client.patch(Secrets, ns, 'shared', { data: tlsData(next) });
    await waitFor('all three rotated', async () =>
      (await Promise.all(['s1', 's2', 's3'].map(tlsOf))).every(
        (t) => t.certificate === next.certPem(2) && t.key === next.keyPkcs8 && t.caCertificate === next.ca,
      ),
    );
    await sleep(1500); // anything else the operator would do, it does now
    expect((await op.metric('annotary_writes_total', { controller: 'routes', kind: 'Route' })) - writes0).toBe(3);
    expect(apiserverWrites('routes') - apiWrites0).toBe(3); // the apiserver's own count (noisy if others run e2e concurrently)
  });
});

describe('Routes that cannot take certificates get a Warning and are not written', () => {
  test('passthrough → UnsupportedTermination', async () => {
    await tlsSecret('cert-pass');
    const created = await route('r-pass', { 'annotary.io/certs-from-secret': 'cert-pass' }, { termination: 'passthrough' });
    const ev = await eventWith('r-pass', 'UnsupportedTermination');
    expect(ev.type).toBe('Warning');
    expect((await getRoute('r-pass')).metadata.resourceVersion).toBe(created.metadata.resourceVersion);
  });

  test('no spec.tls → NoTLSSpec', async () => {
    await route('r-notls', { 'annotary.io/certs-from-secret': 'cert-pass' }, null);
    await eventWith('r-notls', 'NoTLSSpec');
  });

  test('missing Secret → SourceSecretMissing; invalid Secret → SourceSecretInvalid; both untouched', async () => {
    const a = await route('r-missing', { 'annotary.io/certs-from-secret': 'ghost' });
    await client.create(Secrets, ns, secret('mismatch', inNamespace(ns), withData({ 'tls.crt': ec.certPem(2), 'tls.key': rsa.keyPkcs8 })));
    const b = await route('r-invalid', { 'annotary.io/certs-from-secret': 'mismatch' });
    await eventWith('r-missing', 'SourceSecretMissing');
    const ev = await eventWith('r-invalid', 'SourceSecretInvalid');
    expect(ev.message).toMatch(/KeyMismatch/);
    expect(ev.message).not.toMatch(/BEGIN|MII/);
    expect((await getRoute('r-missing')).metadata.resourceVersion).toBe(a.metadata.resourceVersion);
    expect((await getRoute('r-invalid')).metadata.resourceVersion).toBe(b.metadata.resourceVersion);
    expect(await op.metric('annotary_invalid_input_total', { controller: 'routes', reason: 'SourceSecretInvalid' })).toBeGreaterThan(0);
    // the Secret created later is picked up: the index knows who waits for it
    await tlsSecret('ghost');
    await waitFor('fill after the Secret appears', async () => (await tlsOf('r-missing')).certificate === ec.certPem(2));
  });
});

describe('removing an annotation clears exactly the fields it filled', () => {
  test("the user's own destinationCACertificate stays", async () => {
    await tlsSecret('cert-rm');
    await route('r-rm', { 'annotary.io/certs-from-secret': 'cert-rm' }, { termination: 'reencrypt', destinationCACertificate: rsa.ca });
    await waitFor('fill', async () => (await tlsOf('r-rm')).certificate);
    await client.patch(Routes, ns, 'r-rm', { metadata: { annotations: { 'annotary.io/certs-from-secret': null } } });
    const r = await waitFor('cleared', async () => {
      const x = await getRoute('r-rm');
      return x.spec.tls?.certificate === undefined && x;
    });
    expect(r.spec.tls).toEqual({ termination: 'reencrypt', destinationCACertificate: rsa.ca });
    expect(r.metadata.annotations?.['annotary.io/managed-fields']).toBeUndefined();
  });
});

describe('cert-utils-operator keys behave as in cert-utils', () => {
  test('certs-from-secret without inject-CA: no caCertificate; with inject-CA: caCertificate', async () => {
    await tlsSecret('cu-cert');
    await route('cu-plain', { [`${CU}certs-from-secret`]: 'cu-cert' });
    await route('cu-ca', { [`${CU}certs-from-secret`]: 'cu-cert', [`${CU}inject-CA`]: 'true' });
    const plain = await waitFor('cu fill', async () => {
      const t = await tlsOf('cu-plain');
      return t.certificate ? t : undefined;
    });
    expect(plain.caCertificate).toBeUndefined();
    expect(plain.key).toBe(ec.keyPkcs8);
    await waitFor('cu ca', async () => (await tlsOf('cu-ca')).caCertificate === ec.ca);
  });

  test('destinationCA-from-secret fills destinationCACertificate', async () => {
    await route('cu-dest', { [`${CU}destinationCA-from-secret`]: 'backend-ca' }, { termination: 'reencrypt' });
    await waitFor('cu destination CA', async () => (await tlsOf('cu-dest')).destinationCACertificate === rsa.ca);
  });

  test('native keys win over cert-utils keys', async () => {
    await tlsSecret('native-cert', next);
    await route('cu-both', { [`${CU}certs-from-secret`]: 'cu-cert', 'annotary.io/certs-from-secret': 'native-cert' });
    await waitFor('native wins', async () => {
      const t = await tlsOf('cu-both');
      return t.certificate === next.certPem(2) && t.caCertificate === next.ca;
    });
  });
});

describe('unchanged input causes zero writes', () => {
  test('an operator restart and resyncs write no Route', async () => {
    await waitFor('queue drained', async () => (await op.metric('annotary_queue_depth', { controller: 'routes' })) === 0);
    await sleep(1000);
    const rvs = new Map((await client.list<Route>(Routes, ns)).items.map((r) => [r.metadata.name, r.metadata.resourceVersion]));
    const writes0 = apiserverWrites('routes');
    await op.stop();
    op = await startOperator(['--namespaces', ns, '--controllers', 'routes', '--resync', '1s']);
    await sleep(3000); // a start-up sync and at least two resyncs
    expect(await op.metric('annotary_reconcile_total', { controller: 'routes', result: 'ok' })).toBeGreaterThan(0);
    expect(await op.metric('annotary_writes_total', { controller: 'routes' })).toBe(0);
    expect(apiserverWrites('routes') - writes0).toBe(0); // the apiserver's own count (noisy if others run e2e concurrently)
    for (const r of (await client.list<Route>(Routes, ns)).items) expect(r.metadata.resourceVersion).toBe(rvs.get(r.metadata.name));
  });
});
