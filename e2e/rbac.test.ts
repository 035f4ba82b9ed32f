// The install manifests' RBAC is enough, and no more: the operator runs with the token of
// the `annotary` ServiceAccount from `kubectl kustomize manifests/` (the local control plane
// enforces RBAC), does its work, and that token cannot delete a Deployment, nor create or
// delete a Secret anywhere but where the installer allowed Ingress copies: namespace `ns`
// gets the RoleBinding of manifests/overlays/ingress-copies, `bare` does not.
// The local control plane serves the Route API (e2e/crds) and the base grants no Routes: the
// routes controller waits and says so while the others work, and starts once Routes are granted.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { ApiError, KubeClient } from '../src/kube/client.js';
import type { KubeObject } from '../src/kube/types.js';
import {
  ApiServices,
  ConfigMaps,
  CrdVersions,
  Deployments,
  Events,
  Ingresses,
  Namespaces,
  Pods,
  ReplicaSets,
  Routes,
  Secrets,
  ValidatingWebhooks,
} from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { applyWithoutPods } from './harness/kustomize.js';
import {
  ROOT,
  adminClient,
  deleteNamespace,
  eventsFor,
  kubectl,
  newNamespace,
  serviceAccountToken,
  startOperator,
  waitFor,
  writeKubeconfig,
} from './harness/cluster.js';
import { chainFixture, scratchDir } from '../test/pki/fixtures.js';
import type { ConfigMap, Route, Secret } from '../test/gen.js';
import {
  apiService,
  b64,
  configMap,
  deployment,
  ingress as ingressOf,
  inNamespace,
  ofType,
  route,
  secret,
  tlsData,
  webhookConfiguration,
  withAnnotations,
  withData,
  withRouteTLS,
  withTLS,
} from '../test/gen.js';

const INSTALL_NS = 'annotary-system';
const client = adminClient();
const first = chainFixture('p256');
const rotated = chainFixture('p256', 'rotated');
let ns: string; // Ingress copies allowed
let bare: string; // the base install only
let src: string; // a source Secret shared with every namespace
let saKubeconfig: string;
let op: OperatorProcess;
/** stands for the operator's Pod (no kubelet runs here): its Events go there, as in a cluster */
let pod: KubeObject;

/** a kubernetes.io/tls Secret of the first chain */
const tlsSecret = (name: string, annotations: Record<string, string> = {}, namespace = ns): Secret =>
  secret(name, inNamespace(namespace), ofType('kubernetes.io/tls'), withTLS(first), withAnnotations(annotations));

const ingress = (namespace: string, name: string, certs: string) =>
  client.create<KubeObject>(
    Ingresses,
    namespace,
    ingressOf(name, inNamespace(namespace), withAnnotations({ 'annotary.io/certs-from-secret': certs })),
  );

/** The overlay's RoleBinding, as an installer uses it: the same object in another namespace. */
function allowCopiesIn(namespace: string): void {
  const docs = yaml.loadAll(kubectl('kustomize', path.join(ROOT, 'manifests/overlays/ingress-copies'))) as KubeObject[];
  const rb = docs.find((d) => d.kind === 'RoleBinding' && d.metadata.name === 'annotary-ingress-copies')!;
  const file = path.join(scratchDir('e2e-rbac-copies'), 'rolebinding.yaml');
  writeFileSync(file, yaml.dump({ ...rb, metadata: { ...rb.metadata, namespace } }));
  kubectl('apply', '-f', file);
}

beforeAll(async () => {
  // server-side dry-run needs the namespace to exist (admission looks it up): create it first
  kubectl('apply', '-f', path.join(ROOT, 'manifests/base/namespace.yaml'));
  kubectl('apply', '--dry-run=server', '-k', path.join(ROOT, 'manifests'));
  applyWithoutPods('manifests');
  // the cluster of .cluster/kubeconfig with the ServiceAccount's token
  saKubeconfig = writeKubeconfig(path.join(scratchDir('e2e-rbac'), 'kubeconfig'), {
    token: await serviceAccountToken(INSTALL_NS, 'annotary'),
  });
  ns = await newNamespace(client, 'rbac');
  bare = await newNamespace(client, 'rbac-bare');
  src = await newNamespace(client, 'rbac-src');
  allowCopiesIn(ns);
  pod = await client.create(Pods, INSTALL_NS, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `annotary-${ns}`, namespace: INSTALL_NS },
    spec: { automountServiceAccountToken: false, containers: [{ name: 'annotary', image: 'example.invalid/annotary:0' }] },
  });
  // every controller (the default), as the manifests run it; startOperator waits for /readyz
  op = await startOperator(
    [
      '--namespaces',
      [ns, bare, src].join(','),
      '--leader-elect=true',
      '--leader-election-namespace',
      INSTALL_NS,
      '--lease-duration',
      '4s',
      '--reload-settle',
      '500ms',
    ],
    { POD_NAME: pod.metadata.name, POD_NAMESPACE: INSTALL_NS, POD_UID: pod.metadata.uid! },
    saKubeconfig,
  );
});

afterAll(async () => {
  await op?.stop(); // releases the Lease in annotary-system for the next run
  applyWithoutPods('manifests'); // the base rules again (the Route rule goes)
  if (pod) await client.delete(Pods, INSTALL_NS, pod.metadata.name).catch(() => undefined);
  for (const n of [ns, bare, src]) await deleteNamespace(client, n);
});

test('with only the ServiceAccount token the operator elects itself, writes stores, Ingress copies and rollouts, and reads certificates', async () => {
  await waitFor('leader', async () => (await op.metric('annotary_leader')) === 1, 30_000);

  // keystores: GET/patch Secrets, create Events
  await client.create(Secrets, ns, tlsSecret('web', { 'annotary.io/keystores': 'jks,pkcs12' }));
  await waitFor('stores', async () => (await client.get<Secret>(Secrets, ns, 'web')).data?.['keystore.p12']);
  await waitFor('StoresUpdated event', async () => (await eventsFor(client, ns, 'web')).some((e) => e.reason === 'StoresUpdated'));

  // ingresses: create the owned TLS copy (allowed in ns), patch the Ingress
  await ingress(ns, 'shop', 'web');
  await waitFor('Ingress TLS copy', () => client.tryGet(Secrets, ns, 'shop-annotary-tls'));

  // reload: patch the Deployment's pod template once per rotation
  await client.create(Deployments, ns, deployment('app', inNamespace(ns), withAnnotations({ 'annotary.io/reload-on-secrets': 'web' })));
  await waitFor(
    'onboarding',
    async () => (await client.get(Deployments, ns, 'app')).metadata.annotations?.['annotary.io/observed-config-hash'],
  );
  await client.patch(Secrets, ns, 'web', { data: tlsData(rotated) });
  await waitFor('rollout', async () => (await client.list(ReplicaSets, ns)).items.length === 2, 30_000);

  // expiry: reads every TLS Secret (GET)
  await waitFor(
    'expiry gauge',
    async () => (await op.metric('annotary_certificate_not_after_seconds', { namespace: ns, name: 'web' })) > 0,
  );

  // the apiserver refused nothing but the Routes the base does not grant
  const forbidden = op.logs.filter((l) => /is forbidden/i.test(l));
  expect(forbidden.length).toBeGreaterThan(0);
  expect(forbidden.filter((l) => !l.includes('route.openshift.io'))).toEqual([]);
});

test('the routes controller (no Routes in the base RBAC) waits, reported: error log line, Warning Event on the Pod, metric', async () => {
  const ready = (controller: string) => op.metric('annotary_controller_ready', { controller });
  expect(await ready('routes')).toBe(0);
  for (const c of ['keystores', 'ingresses', 'reload', 'expiry', 'generate']) expect(await ready(c)).toBe(1);

  const error = op.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 'error' && l.controller === 'routes');
  // the operator watches three namespaces: whichever of their Route lists is refused first is reported first
  const [refused] = (error as { missing: { namespace: string }[] }).missing;
  expect(refused).toMatchObject({ verb: 'list', resource: 'routes', group: 'route.openshift.io' });
  expect([ns, bare, src]).toContain(refused.namespace);
  expect(error!.message).toContain('{apiGroups: ["route.openshift.io"], resources: [routes], verbs: [list, watch]}');

  const warning = await waitFor('MissingPermission on the Pod', async () =>
    (await eventsFor(client, INSTALL_NS, pod.metadata.name)).find((e) => e.reason === 'MissingPermission'),
  );
  expect(warning.type).toBe('Warning');
  expect(warning.message).toMatch(
    new RegExp(
      `^controller "routes" lacks permissions: the apiserver refuses list routes.route.openshift.io in namespace "(${[ns, bare, src].join('|')})"`,
    ),
  );
  // `kubectl describe pod` finds Events by the Pod's uid (earlier runs' Events are on other Pods)
  const list = await client.list<KubeObject & { involvedObject: { uid?: string; kind: string; name: string } }>(Events, INSTALL_NS);
  expect(
    list.items.find((e) => e.reason === 'MissingPermission' && e.involvedObject.name === pod.metadata.name)?.involvedObject,
  ).toMatchObject({ kind: 'Pod', uid: pod.metadata.uid });
});

test('granting Routes (overlays/openshift) starts the routes controller without a restart', async () => {
  applyWithoutPods('manifests/overlays/openshift');
  // the refused list is retried at least every 30 s
  await waitFor(
    'routes controller ready',
    async () => (await op.metric('annotary_controller_ready', { controller: 'routes' })) === 1,
    60_000,
  );
  await waitFor('PermissionGranted on the Pod', async () =>
    (await eventsFor(client, INSTALL_NS, pod.metadata.name)).find(
      (e) => e.reason === 'PermissionGranted' && e.message.includes('"routes"'),
    ),
  );
  await client.create(
    Routes,
    ns,
    route('shop', inNamespace(ns), withRouteTLS({ termination: 'edge' }), withAnnotations({ 'annotary.io/certs-from-secret': 'web' })),
  );
  const certificate = await waitFor('Route certificate', async () => (await client.get<Route>(Routes, ns, 'shop')).spec.tls?.certificate);
  expect(certificate).toBe(rotated.certPem(2));
  expect(op.proc.exitCode).toBeNull();
});

test('the ServiceAccount token cannot delete a Deployment', async () => {
  const sa = KubeClient.fromOptions({ kubeconfig: saKubeconfig });
  const err = await sa.delete(Deployments, ns, 'app').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).status).toBe(403);
  expect(await client.tryGet(Deployments, ns, 'app')).toBeDefined();
});

test('the ServiceAccount token cannot create or delete Secrets where the installer did not allow Ingress copies', async () => {
  const sa = KubeClient.fromOptions({ kubeconfig: saKubeconfig });
  const status = (p: Promise<unknown>) =>
    p.then(
      () => 200,
      (e: unknown) => (e instanceof ApiError ? e.status : e),
    );
  const probe = (namespace: string): Secret => secret('probe', inNamespace(namespace), withData({ x: 'y' }));
  for (const namespace of [bare, 'kube-system', INSTALL_NS]) {
    expect([namespace, await status(sa.create(Secrets, namespace, probe(namespace)))]).toEqual([namespace, 403]);
  }
  await client.create(Secrets, bare, probe(bare));
  expect(await status(sa.delete(Secrets, bare, 'probe'))).toBe(403);
  expect(await client.tryGet(Secrets, bare, 'probe')).toBeDefined();
  // where the RoleBinding is, it can (and that is all the RoleBinding adds)
  expect(await status(sa.create(Secrets, ns, probe(ns)))).toBe(200);
  expect(await status(sa.delete(Secrets, ns, 'probe'))).toBe(200);
});

test('a cross-namespace Ingress: copied where copies are allowed; elsewhere a CopyForbidden Warning, and nothing written', async () => {
  await client.create(Secrets, src, tlsSecret('wildcard', { 'annotary.io/share-with-namespaces': '*' }, src));
  await ingress(ns, 'allowed', `${src}/wildcard`);
  const copy = await waitFor('cross-namespace copy', () => client.tryGet<Secret>(Secrets, ns, 'allowed-annotary-tls'));
  expect(copy.data?.['tls.crt']).toBe(b64(first.certPem(2)));

  const forbidden = () => op.metric('annotary_invalid_input_total', { controller: 'ingresses', reason: 'CopyForbidden' });
  const before = await forbidden();
  const created = await ingress(bare, 'denied', `${src}/wildcard`);
  const ev = await waitFor('CopyForbidden', async () =>
    (await eventsFor(client, bare, 'denied')).find((e) => e.reason === 'CopyForbidden'),
  );
  expect(ev.type).toBe('Warning');
  expect(ev.message).toBe(
    `annotary may not create Secrets in namespace "${bare}": its Ingress copies need create and delete on secrets ` +
      'there, from a RoleBinding to the ingress-copies ClusterRole (overlays/ingress-copies, Helm ingressCopies.namespaces)',
  );
  await waitFor('CopyForbidden metric', async () => (await forbidden()) > before);
  expect(await client.tryGet(Secrets, bare, 'denied-annotary-tls')).toBeUndefined();
  expect((await client.get(Ingresses, bare, 'denied')).metadata.resourceVersion).toBe(created.metadata.resourceVersion);
  expect(op.proc.exitCode).toBeNull();
});

test('CA injection with only the ServiceAccount token: the caBundle is patched; webhook configurations, APIServices and CRDs cannot be created or deleted', async () => {
  await client.create(
    Secrets,
    src,
    secret(
      'webhook-ca',
      inNamespace(src),
      withAnnotations({ 'annotary.io/allow-ca-injection': 'true' }),
      withData({ 'ca.crt': first.root }),
    ),
  );
  const name = `annotary-rbac-${src}`;
  const hook = webhookConfiguration(
    'ValidatingWebhookConfiguration',
    name,
    ['https://127.0.0.1:1/never'],
    withAnnotations({ 'annotary.io/inject-ca-from': `${src}/webhook-ca` }),
  );
  await client.create(ValidatingWebhooks, undefined, hook);
  try {
    await waitFor(
      'caBundle',
      async () =>
        (await client.get<KubeObject & { webhooks: { clientConfig: { caBundle?: string } }[] }>(ValidatingWebhooks, undefined, name))
          .webhooks[0].clientConfig.caBundle,
    );
    expect(await op.metric('annotary_controller_ready', { controller: 'ca-injection' })).toBe(1);
    const sa = KubeClient.fromOptions({ kubeconfig: saKubeconfig });
    const status = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: unknown) => (e instanceof ApiError ? e.status : e),
      );
    const other = webhookConfiguration('ValidatingWebhookConfiguration', `${name}-sa`, ['https://127.0.0.1:1/never']);
    expect(await status(sa.create(ValidatingWebhooks, undefined, other))).toBe(403);
    expect(await status(sa.delete(ValidatingWebhooks, undefined, name))).toBe(403);
    expect(await status(sa.delete(CrdVersions[0], undefined, 'routes.route.openshift.io'))).toBe(403);
    expect(await status(sa.create(ApiServices, undefined, apiService('rbac.annotary.test', src, 'svc')))).toBe(403);
  } finally {
    await client.delete(ValidatingWebhooks, undefined, name);
  }
});

test('trust-bundle copies: TrustBundleCopyForbidden with the base; made once overlays/trust-bundle-copies is applied', async () => {
  await client.patch(Namespaces, undefined, bare, { metadata: { labels: { 'rbac-trust': ns } } });
  await client.create(
    ConfigMaps,
    ns,
    configMap(
      'trust',
      inNamespace(ns),
      withAnnotations({ 'annotary.io/trust-bundle': 'inline:extra.pem', 'annotary.io/trust-bundle-namespaces': `rbac-trust=${ns}` }),
      withData({ 'extra.pem': first.root }),
    ),
  );
  try {
    const ev = await waitFor('TrustBundleCopyForbidden', async () =>
      (await eventsFor(client, ns, 'trust')).find((e) => e.reason === 'TrustBundleCopyForbidden'),
    );
    expect(ev.message).toContain(`namespace(s) ${bare}`);
    expect(await client.tryGet(ConfigMaps, bare, 'trust')).toBeUndefined();
    applyWithoutPods('manifests/overlays/trust-bundle-copies');
    // the forbidden bundle is looked at again every minute
    const copy = await waitFor('copy in bare', () => client.tryGet<ConfigMap>(ConfigMaps, bare, 'trust'), 90_000);
    expect(copy.data?.['ca-bundle.crt']).toBe((await client.get<ConfigMap>(ConfigMaps, ns, 'trust')).data?.['ca-bundle.crt']);
  } finally {
    kubectl('delete', 'clusterrolebinding', 'annotary-trust-bundle-copies', '--ignore-not-found');
  }
});
