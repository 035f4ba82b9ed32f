// Trust bundles on the real local control plane: a ConfigMap bundle of three sources in two
// namespaces (a Secret and a ConfigMap of another namespace that opt in, a key of its own),
// copied into the namespaces a label selects; a namespace labelled later gets its copy; a
// source rotation writes the bundle and each copy exactly once (the operator's write counter
// and the apiserver's own request counter agree); malformed PEM is refused with no write.
import { ConfigMaps, Namespaces, Secrets } from '../src/kube/types.js';
import type { KubeObject } from '../src/kube/types.js';
import { canonicalBundle } from '../src/pki/bundle.js';
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
import type { ConfigMap } from '../test/gen.js';
import { b64, configMap, inNamespace, secret, withAnnotations, withData } from '../test/gen.js';

const client = adminClient();
const a = chainFixture('p256');
const b = chainFixture('rsa2048');
const c = chainFixture('p384');
const rotated = chainFixture('p256', 'rotated');
const LABEL = `trust-e2e-${process.pid}`;
let pki: string; // the shared sources
let apps: string; // the bundle
let t1: string;
let t2: string;
let later: string; // labelled during the test
let op: OperatorProcess;

const bundle = (...pems: string[]) => canonicalBundle(pems.map((pem) => ({ pem, what: '' })));
const label = (ns: string) => client.patch(Namespaces, undefined, ns, { metadata: { labels: { [LABEL]: 'yes' } } });
const pemIn = async (ns: string) => (await client.tryGet<ConfigMap>(ConfigMaps, ns, 'trust'))?.data?.['ca-bundle.crt'];
const writes = () => op.metric('annotary_writes_total', { controller: 'trust-bundles', kind: 'ConfigMap' });

beforeAll(async () => {
  [pki, apps, t1, t2, later] = await Promise.all(['tb-pki', 'tb-apps', 'tb-t1', 'tb-t2', 'tb-later'].map((p) => newNamespace(client, p)));
  await Promise.all([label(t1), label(t2)]);
  const share = { 'annotary.io/share-with-namespaces': apps };
  await client.create(Secrets, pki, secret('issuer', inNamespace(pki), withAnnotations(share), withData({ 'ca.crt': a.root })));
  await client.create(ConfigMaps, pki, configMap('roots', inNamespace(pki), withAnnotations(share), withData({ 'ca-bundle.crt': b.root })));
  op = await startOperator(['--namespaces', [pki, apps, t1, t2, later].join(','), '--controllers', 'trust-bundles']);
});

afterAll(async () => {
  await op?.stop();
  for (const n of [pki, apps, t1, t2, later]) await deleteNamespace(client, n);
});

test('three sources in two namespaces, copied to the labelled namespaces, the same bytes everywhere', async () => {
  await client.create(
    ConfigMaps,
    apps,
    configMap(
      'trust',
      inNamespace(apps),
      withAnnotations({
        'annotary.io/trust-bundle': `secret/${pki}/issuer,configmap/${pki}/roots,inline:extra.pem`,
        'annotary.io/trust-bundle-namespaces': `${LABEL}=yes`,
      }),
      withData({ 'extra.pem': c.root }),
    ),
  );
  const want = bundle(a.root, b.root, c.root);
  await waitFor('bundle and copies', async () => (await Promise.all([apps, t1, t2].map(pemIn))).every((p) => p === want));
  expect(await pemIn(later)).toBeUndefined();
  expect(await pemIn(pki)).toBeUndefined();
  expect(await writes()).toBe(3); // the bundle's patch, two creates

  await label(later);
  await waitFor('copy in the namespace labelled later', async () => (await pemIn(later)) === want);
  expect(await writes()).toBe(4);
  const copy = await client.get<ConfigMap>(ConfigMaps, later, 'trust');
  expect(copy.metadata.annotations?.['annotary.io/trust-bundle-copy-of']).toBe(`${apps}/trust`);
});

test('a source rotation writes the bundle and every copy exactly once', async () => {
  const before = await writes();
  const apiserverBefore = apiserverWrites('configmaps');
  await client.patch(Secrets, pki, 'issuer', { data: { 'ca.crt': b64(a.root + rotated.root) } });
  const want = bundle(a.root, b.root, c.root, rotated.root);
  await waitFor('rotated everywhere', async () => (await Promise.all([apps, t1, t2, later].map(pemIn))).every((p) => p === want));
  await sleep(2000); // nothing more comes
  expect((await writes()) - before).toBe(4);
  expect(apiserverWrites('configmaps') - apiserverBefore).toBe(4); // the apiserver counted the same PATCHes
  const patches = await op.metric('annotary_writes_total', { controller: 'trust-bundles', kind: 'ConfigMap', verb: 'patch' });
  expect(patches).toBe(5); // the first bundle write, and these four
});

test('malformed PEM in a source: CaSourceInvalid, metric, and nothing written', async () => {
  const before = await writes();
  const rv = (await client.get<KubeObject>(ConfigMaps, apps, 'trust')).metadata.resourceVersion;
  await client.patch(ConfigMaps, pki, 'roots', { data: { 'ca-bundle.crt': b.root.slice(0, 150) } });
  await waitFor('CaSourceInvalid', async () => (await eventsFor(client, apps, 'trust')).some((e) => e.reason === 'CaSourceInvalid'));
  expect(await op.metric('annotary_invalid_input_total', { controller: 'trust-bundles', reason: 'CaSourceInvalid' })).toBeGreaterThan(0);
  expect(await writes()).toBe(before);
  expect((await client.get<KubeObject>(ConfigMaps, apps, 'trust')).metadata.resourceVersion).toBe(rv);
});
