// Certificates for Ingresses via owned copies, on the real local control plane, including
// the cross-namespace opt-in (a security boundary) and garbage collection of the copies.
import { Ingresses, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, eventsFor, newNamespace, sleep, startOperator, waitFor } from './harness/cluster.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Ingress, Mod, Secret } from '../test/gen.js';
import { b64, ingress, inNamespace, ofType, secret, tlsData, withAnnotations, withData, withIngressTLS, withTLS } from '../test/gen.js';

const client = adminClient();
const ec = chainFixture('p256');
const next = chainFixture('p256', 'rotated');
const rsa = chainFixture('rsa2048');
let ns: string; // the Ingresses' namespace (watched)
let src: string; // a second watched namespace holding shared sources
let far: string; // not watched: sources there are read with GET
let op: OperatorProcess;

/** a kubernetes.io/tls Secret of chain `f` in `namespace` */
const tlsSecret = (namespace: string, name: string, f = ec, ...mods: Mod<Secret>[]) =>
  secret(name, inNamespace(namespace), ofType('kubernetes.io/tls'), withTLS(f), ...mods);
/** an Ingress in ns for <name>.example */
const ingressIn = (name: string, annotations: Record<string, string>, ...mods: Mod<Ingress>[]) =>
  ingress(name, inNamespace(ns), withAnnotations(annotations), ...mods);

const copyOf = (name: string, suffix = 'tls') => client.tryGet<Secret>(Secrets, ns, `${name}-annotary-${suffix}`);
const getIngress = (name: string) => client.get<Ingress>(Ingresses, ns, name);
const eventWith = (name: string, reason: string) =>
  waitFor(`${reason} on ${name}`, async () => (await eventsFor(client, ns, name)).find((e) => e.reason === reason));

beforeAll(async () => {
  ns = await newNamespace(client, 'ing');
  src = await newNamespace(client, 'ing-src');
  far = await newNamespace(client, 'ing-far');
  op = await startOperator(['--namespaces', `${ns},${src}`, '--controllers', 'ingresses', '--log-level', 'debug']);
});

afterAll(async () => {
  await op?.stop();
  for (const n of [ns, src, far]) await deleteNamespace(client, n);
});

describe('same-namespace source', () => {
  test('an owned kubernetes.io/tls copy and a spec.tls entry for the rule hosts; user entries stay', async () => {
    await client.create(Secrets, ns, tlsSecret(ns, 'site'));
    const user = [{ hosts: ['user.example'], secretName: 'user-cert' }];
    const shop = ingressIn('shop', { 'annotary.io/certs-from-secret': 'site' }, withIngressTLS(user));
    const created = await client.create<Ingress>(Ingresses, ns, shop);
    const copy = await waitFor('copy', () => copyOf('shop'));
    expect(copy.type).toBe('kubernetes.io/tls');
    expect(copy.data).toEqual(tlsData(ec));
    expect(copy.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Ingress', name: 'shop', uid: created.metadata.uid, controller: true }),
    ]);
    const ing = await waitFor('entry', async () => {
      const i = await getIngress('shop');
      return (i.spec.tls?.length ?? 0) === 2 && i;
    });
    expect(ing.spec.tls).toEqual([...user, { hosts: ['shop.example'], secretName: 'shop-annotary-tls' }]);
    expect((await eventWith('shop', 'IngressTLSUpdated')).message).not.toMatch(/BEGIN|MII/);
  });

  test('rotation of the source updates the copy', async () => {
    await client.patch(Secrets, ns, 'site', { data: tlsData(next) });
    await waitFor('rotated copy', async () => (await copyOf('shop'))?.data?.['tls.crt'] === b64(next.certPem(2)));
  });

  test('destination-ca-from-secret: CA copy and the ingress-nginx proxy-ssl annotations', async () => {
    await client.create(Secrets, ns, secret('backend-ca', inNamespace(ns), withData({ 'ca.crt': rsa.ca })));
    await client.create(Ingresses, ns, ingressIn('api', { 'annotary.io/destination-ca-from-secret': 'backend-ca' }));
    const copy = await waitFor('ca copy', () => copyOf('api', 'ca'));
    expect(copy.data).toEqual({ 'ca.crt': b64(rsa.ca) });
    const ann = await waitFor('annotations', async () => {
      const a = (await getIngress('api')).metadata.annotations ?? {};
      return a['nginx.ingress.kubernetes.io/proxy-ssl-verify'] ? a : undefined;
    });
    expect(ann['nginx.ingress.kubernetes.io/proxy-ssl-secret']).toBe(`${ns}/api-annotary-ca`);
    expect(ann['nginx.ingress.kubernetes.io/backend-protocol']).toBe('HTTPS');
  });

  test("removing the annotation removes the copy and annotary's spec.tls entry only", async () => {
    await client.patch(Ingresses, ns, 'shop', { metadata: { annotations: { 'annotary.io/certs-from-secret': null } } });
    await waitFor('copy deleted', async () => (await copyOf('shop')) === undefined);
    const ing = await waitFor('entry removed', async () => {
      const i = await getIngress('shop');
      return i.spec.tls?.length === 1 && i;
    });
    expect(ing.spec.tls).toEqual([{ hosts: ['user.example'], secretName: 'user-cert' }]);
  });

  test('an invalid source is refused with an Event, nothing copied', async () => {
    await client.create(Secrets, ns, secret('broken', inNamespace(ns), withData({ 'tls.crt': 'not pem', 'tls.key': ec.keyPkcs8 })));
    await client.create(Ingresses, ns, ingressIn('bad', { 'annotary.io/certs-from-secret': 'broken' }));
    expect((await eventWith('bad', 'SourceSecretInvalid')).type).toBe('Warning');
    expect(await copyOf('bad')).toBeUndefined();
  });
});

describe("cross-namespace sources need the source's opt-in (security boundary)", () => {
  test('without share-with-namespaces: NotSharedWithNamespace, no copy', async () => {
    await client.create(Secrets, src, tlsSecret(src, 'private'));
    const created = await client.create<Ingress>(Ingresses, ns, ingressIn('sneaky', { 'annotary.io/certs-from-secret': `${src}/private` }));
    const ev = await eventWith('sneaky', 'NotSharedWithNamespace');
    expect(ev.type).toBe('Warning');
    expect(await copyOf('sneaky')).toBeUndefined();
    expect((await getIngress('sneaky')).metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(await op.metric('annotary_invalid_input_total', { controller: 'ingresses', reason: 'NotSharedWithNamespace' })).toBeGreaterThan(
      0,
    );
  });

  test('shared with another namespace only: still refused', async () => {
    const others = withAnnotations({ 'annotary.io/share-with-namespaces': 'someone-else' });
    await client.create(Secrets, src, tlsSecret(src, 'for-others', ec, others));
    await client.create(Ingresses, ns, ingressIn('sneaky2', { 'annotary.io/certs-from-secret': `${src}/for-others` }));
    await eventWith('sneaky2', 'NotSharedWithNamespace');
    expect(await copyOf('sneaky2')).toBeUndefined();
  });

  test('opted in: copied; withdrawing the opt-in removes the copy and the entry', async () => {
    const shared = withAnnotations({ 'annotary.io/share-with-namespaces': `other,${ns}` });
    await client.create(Secrets, src, tlsSecret(src, 'wildcard', ec, shared));
    await client.create(Ingresses, ns, ingressIn('shared', { 'annotary.io/certs-from-secret': `${src}/wildcard` }));
    await waitFor('copy', () => copyOf('shared'));
    await waitFor('entry', async () => (await getIngress('shared')).spec.tls?.[0]?.secretName === 'shared-annotary-tls');
    await client.patch(Secrets, src, 'wildcard', { metadata: { annotations: { 'annotary.io/share-with-namespaces': 'other' } } });
    await waitFor('copy removed', async () => (await copyOf('shared')) === undefined);
    await waitFor('entry removed', async () => (await getIngress('shared')).spec.tls === undefined);
    await eventWith('shared', 'NotSharedWithNamespace');
  });

  test('a source outside the watched namespaces is read with GET and shared with "*"', async () => {
    await client.create(Secrets, far, tlsSecret(far, 'public', next, withAnnotations({ 'annotary.io/share-with-namespaces': '*' })));
    await client.create(Ingresses, ns, ingressIn('faraway', { 'annotary.io/certs-from-secret': `${far}/public` }));
    const copy = await waitFor('copy from an unwatched namespace', () => copyOf('faraway'));
    expect(copy.data?.['tls.crt']).toBe(b64(next.certPem(2)));
  });
});

describe('deleting the Ingress garbage-collects its copies', () => {
  test('the kube-controller-manager removes the owned copy', async () => {
    await client.create(Secrets, ns, tlsSecret(ns, 'gc-src'));
    await client.create(Ingresses, ns, ingressIn('gone', { 'annotary.io/certs-from-secret': 'gc-src' }));
    await waitFor('copy', () => copyOf('gone'));
    await client.delete(Ingresses, ns, 'gone');
    await waitFor('copy garbage-collected', async () => (await copyOf('gone')) === undefined, 120_000, 500);
    expect(await client.tryGet(Secrets, ns, 'gc-src')).toBeDefined(); // the source is not owned
  });
});

describe('unchanged input causes zero writes', () => {
  test('an operator restart and resyncs write no Ingress and no Secret', async () => {
    await waitFor('queue drained', async () => (await op.metric('annotary_queue_depth', { controller: 'ingresses' })) === 0);
    const before = async () =>
      new Map([
        ...(await client.list<Ingress>(Ingresses, ns)).items.map((o) => [`i/${o.metadata.name}`, o.metadata.resourceVersion] as const),
        ...(await client.list<Secret>(Secrets, ns)).items.map((o) => [`s/${o.metadata.name}`, o.metadata.resourceVersion] as const),
      ]);
    const rvs = await before();
    await op.stop();
    op = await startOperator(['--namespaces', `${ns},${src}`, '--controllers', 'ingresses', '--resync', '1s']);
    await sleep(3000); // a start-up sync and at least two resyncs
    expect(await op.metric('annotary_reconcile_total', { controller: 'ingresses', result: 'ok' })).toBeGreaterThan(0);
    expect(await op.metric('annotary_writes_total', { controller: 'ingresses' })).toBe(0);
    expect(await before()).toEqual(rvs);
  });
});
