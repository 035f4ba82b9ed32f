// CA injection on the real local control plane: the kube-apiserver calls an admission webhook
// and a CRD conversion webhook served by HTTPS servers of this test on 127.0.0.1, whose
// certificates come from CAs only the injected bundle trusts. Before injection the apiserver's
// calls fail (failurePolicy Fail: the object is refused), after injection they succeed, and
// through a CA rotation (the source Secret's ca.crt: old, old+new, new; the server switching
// from the old to the new certificate in between) no call fails. An APIService gets its
// spec.caBundle (the aggregator cannot reach a Service here: no kube-proxy, no endpoints).
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../src/kube/client.js';
import type { KubeObject } from '../src/kube/types.js';
import { ApiServices, ConfigMaps, CrdVersions, Events, Namespaces, Secrets, ValidatingWebhooks } from '../src/kube/types.js';
import { canonicalBundle } from '../src/pki/bundle.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, eventsFor, newNamespace, sleep, startOperator, waitFor } from './harness/cluster.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Secret } from '../test/gen.js';
import {
  apiService,
  b64,
  configMap,
  conversionCrd,
  inNamespace,
  ofType,
  secret,
  webhookConfiguration,
  withAnnotations,
  withData,
} from '../test/gen.js';

const client = adminClient();
const oldCa = chainFixture('p256', 'webhook-old');
const newCa = chainFixture('p256', 'webhook-new');
const CRD_V1 = CrdVersions[0];
const hookName = `annotary-e2e-${process.pid}`;
let ns: string; // the source Secret
let guarded: string; // ConfigMaps created here go through the webhook
let op: OperatorProcess;
let server: Server;
let port: number;
const served = { admission: 0, conversion: 0 };

/** TLS material of a chain fixture as the server presents it: leaf + intermediate, signed under its root */
const tlsOf = (f: typeof oldCa) => ({ cert: f.certPem(2), key: f.keyPkcs8 });

type Review = { request: { uid: string; desiredAPIVersion?: string; objects?: KubeObject[] } };

beforeAll(async () => {
  server = createServer(tlsOf(oldCa), (req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(parts).toString()) as Review & { apiVersion: string; kind: string };
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/validate')) {
        // the apiserver adds ?timeout=5s
        served.admission++;
        res.end(JSON.stringify({ apiVersion: review.apiVersion, kind: review.kind, response: { uid: review.request.uid, allowed: true } }));
      } else {
        served.conversion++;
        const convertedObjects = (review.request.objects ?? []).map((o) => ({ ...o, apiVersion: review.request.desiredAPIVersion }));
        res.end(
          JSON.stringify({
            apiVersion: review.apiVersion,
            kind: review.kind,
            response: { uid: review.request.uid, result: { status: 'Success' }, convertedObjects },
          }),
        );
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  ns = await newNamespace(client, 'inject');
  guarded = await newNamespace(client, 'inject-guarded');
  await client.patch(Namespaces, undefined, guarded, { metadata: { labels: { 'webhook-test': hookName } } });
  await client.create(
    Secrets,
    ns,
    secret(
      'webhook-tls',
      inNamespace(ns),
      ofType('kubernetes.io/tls'),
      withAnnotations({ 'annotary.io/allow-ca-injection': 'true' }),
      withData({ 'tls.crt': oldCa.certPem(2), 'tls.key': oldCa.keyPkcs8, 'ca.crt': oldCa.root }),
    ),
  );
  op = await startOperator(['--namespaces', ns, '--controllers', 'ca-injection']);
});

afterAll(async () => {
  await op?.stop();
  await client.delete(ValidatingWebhooks, undefined, hookName).catch(() => undefined);
  await client.delete(CRD_V1, undefined, 'widgets.annotary.test').catch(() => undefined);
  await client.delete(ApiServices, undefined, 'v1.inject.annotary.test').catch(() => undefined);
  for (const n of [ns, guarded]) await deleteNamespace(client, n);
  await new Promise((r) => server.close(r));
});

let seq = 0;
/** Creates a ConfigMap in the guarded namespace: the apiserver calls the webhook first. The apiserver's error, or undefined. */
async function admitted(): Promise<string | undefined> {
  try {
    await client.create(ConfigMaps, guarded, configMap(`probe-${seq++}`, inNamespace(guarded), withData({ x: 'y' })));
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) return err.message;
    throw err;
  }
}

const caBundleOf = async (name: string) =>
  (
    await client.get<KubeObject & { webhooks: { clientConfig: { caBundle?: string } }[] }>(ValidatingWebhooks, undefined, name)
  ).webhooks.map((w) => (w.clientConfig.caBundle ? Buffer.from(w.clientConfig.caBundle, 'base64').toString() : undefined));
const bundle = (...pems: string[]) => canonicalBundle(pems.map((pem) => ({ pem, what: '' })));

test('the apiserver refuses through the failing webhook until annotary injects the CA, then admits; no failure through a rotation', async () => {
  await client.create(
    ValidatingWebhooks,
    undefined,
    webhookConfiguration('ValidatingWebhookConfiguration', hookName, [`https://127.0.0.1:${port}/validate`]),
  );
  // before injection: the apiserver cannot verify the server's certificate, and the policy is Fail
  const refused = await waitFor('refused by the failing webhook', admitted);
  expect(refused).toMatch(/failed calling webhook .*x509: certificate signed by unknown authority/);
  expect(served.admission).toBe(0);

  await client.patch(ValidatingWebhooks, undefined, hookName, {
    metadata: { annotations: { 'annotary.io/inject-ca-from': `${ns}/webhook-tls` } },
  });
  await waitFor('caBundle injected', async () => (await caBundleOf(hookName))[0] === bundle(oldCa.root));
  // the apiserver's webhook clients follow the configuration through an informer: admitted once it has the bundle
  await waitFor('admitted', async () => (await admitted()) === undefined);
  expect(served.admission).toBeGreaterThan(0);
  const writes = () => op.metric('annotary_writes_total', { controller: 'ca-injection', kind: 'ValidatingWebhookConfiguration' });
  // the apiserver may admit before the operator has counted its PATCH's response: wait for the count, then exactly one
  await waitFor('the injection counted', async () => (await writes()) >= 1);
  expect(await writes()).toBe(1);

  // rotation, with ConfigMaps created all along: every one must be admitted
  const failures: string[] = [];
  let running = true;
  const load = (async () => {
    while (running) {
      const err = await admitted();
      if (err) failures.push(err);
    }
  })();
  const setCa = (pem: string) => client.patch<Secret>(Secrets, ns, 'webhook-tls', { data: { 'ca.crt': b64(pem) } });
  const settle = () => sleep(2000); // the apiserver's webhook informer: a new caBundle is in use a moment after it is stored
  await setCa(oldCa.root + newCa.root);
  await waitFor('old+new injected', async () => (await caBundleOf(hookName))[0] === bundle(oldCa.root, newCa.root));
  await settle();
  server.setSecureContext(tlsOf(newCa)); // the webhook's certificate rotates to the new CA
  await settle();
  await setCa(newCa.root);
  await waitFor('new injected', async () => (await caBundleOf(hookName))[0] === bundle(newCa.root));
  await settle();
  running = false;
  await load;
  expect(failures).toEqual([]);
  expect(seq).toBeGreaterThan(10);
  expect(await writes()).toBe(3);
  // the CaInjected Events of a cluster-scoped object live in "default", about an object of no namespace
  const events = await client.list<KubeObject & { reason: string; involvedObject: { name: string; namespace?: string } }>(
    Events,
    'default',
  );
  const injected = events.items.filter((e) => e.involvedObject.name === hookName && e.reason === 'CaInjected');
  expect(injected.length).toBeGreaterThan(0);
  expect(injected[0].involvedObject.namespace).toBeUndefined();
});

test('removing the annotation leaves the last bundle: the webhook keeps working', async () => {
  const before = await caBundleOf(hookName);
  await client.patch(ValidatingWebhooks, undefined, hookName, { metadata: { annotations: { 'annotary.io/inject-ca-from': null } } });
  await client.patch<Secret>(Secrets, ns, 'webhook-tls', { data: { 'ca.crt': b64(oldCa.root) } });
  await sleep(1000);
  expect(await caBundleOf(hookName)).toEqual(before);
  expect(await admitted()).toBeUndefined();
});

test('a CRD conversion webhook: reading the other version fails until the CA is injected, then converts', async () => {
  // the server presents the new CA's certificate since the rotation
  await client.patch<Secret>(Secrets, ns, 'webhook-tls', { data: { 'ca.crt': b64(newCa.root) } });
  await client.create(CRD_V1, undefined, conversionCrd('widgets', 'Widget', `https://127.0.0.1:${port}/convert`));
  const widgets = (version: string) => ({ group: 'annotary.test', version, plural: 'widgets', kind: 'Widget' });
  await waitFor('CRD established', async () =>
    (
      await client.tryGet<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(
        CRD_V1,
        undefined,
        'widgets.annotary.test',
      )
    )?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'),
  );
  await waitFor('v1 served', () =>
    client.create(widgets('v1'), ns, { apiVersion: 'annotary.test/v1', kind: 'Widget', metadata: { name: 'w' } }),
  );
  const readV2 = () =>
    client.get(widgets('v2'), ns, 'w').then(
      (o) => o.apiVersion,
      (e: unknown) => (e instanceof ApiError ? e.message : String(e)),
    );
  expect(await readV2()).toMatch(/conversion webhook .*x509: certificate signed by unknown authority/);
  await client.patch(CRD_V1, undefined, 'widgets.annotary.test', {
    metadata: { annotations: { 'annotary.io/inject-ca-from': `${ns}/webhook-tls` } },
  });
  await waitFor('converted by the webhook', async () => (await readV2()) === 'annotary.test/v2', 60_000);
  expect(served.conversion).toBeGreaterThan(0);
});

test('an APIService gets spec.caBundle; a source that does not opt in is refused with CaSourceNotShared and nothing written', async () => {
  await client.create(
    ApiServices,
    undefined,
    apiService('inject.annotary.test', ns, 'nothing', withAnnotations({ 'annotary.io/inject-ca-from': `${ns}/webhook-tls` })),
  );
  const caBundle = await waitFor(
    'APIService caBundle',
    async () =>
      (await client.get<KubeObject & { spec: { caBundle?: string } }>(ApiServices, undefined, 'v1.inject.annotary.test')).spec.caBundle,
  );
  expect(Buffer.from(caBundle, 'base64').toString()).toBe(bundle(newCa.root));

  await client.create(Secrets, ns, secret('private-ca', inNamespace(ns), withData({ 'ca.crt': newCa.root })));
  const patched = await client.patch<KubeObject>(ApiServices, undefined, 'v1.inject.annotary.test', {
    metadata: { annotations: { 'annotary.io/inject-ca-from': `${ns}/private-ca` } },
  });
  await waitFor('CaSourceNotShared', async () =>
    (await eventsFor(client, 'default', 'v1.inject.annotary.test')).some((e) => e.reason === 'CaSourceNotShared'),
  );
  expect(await op.metric('annotary_invalid_input_total', { controller: 'ca-injection', reason: 'CaSourceNotShared' })).toBeGreaterThan(0);
  const after = await client.get<KubeObject & { spec: { caBundle?: string } }>(ApiServices, undefined, 'v1.inject.annotary.test');
  expect(after.metadata.resourceVersion).toBe(patched.metadata.resourceVersion); // nothing written after the user's patch
  expect(after.spec.caBundle).toBe(caBundle);
});
