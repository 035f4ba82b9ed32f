// The chart installed, upgraded and uninstalled by the real Helm (v4, hack/helm.sh) on the local
// control plane, as a user does: `helm install` (Helm 4 applies server-side by default), the
// ServiceAccount's permissions asked of the apiserver's RBAC (SubjectAccessReview, what
// `kubectl auth can-i --as` asks), `helm upgrade` with other values, `helm uninstall`.
// What is checked here is what Helm and the apiserver do with the chart, node or not (with a node
// the Deployment's pods run, from the image when it is loaded; without one they stay Pending); the
// operator running in pods with the chart's RBAC is e2e/in-pod-helm.test.ts.
import { randomBytes } from 'node:crypto';
import { NAMESPACED_CONTROLLERS } from '../src/config.js';
import type { KubeObject, ResourceType } from '../src/kube/types.js';
import { Deployments, Namespaces } from '../src/kube/types.js';
import type { Doc } from '../test/ops/helpers.js';
import { CHART, helm, helmTemplate } from '../test/ops/helpers.js';
import { KUBECONFIG, adminClient, waitFor } from './harness/cluster.js';
import { releaseObjects } from './harness/node.js';

const client = adminClient();
const hex = randomBytes(3).toString('hex');
// cluster-scoped objects are named after the release: a name of this run only
const RELEASE = `annotary-${hex}`;
const NS = `helm-${hex}`;
const SA = `system:serviceaccount:${NS}:${RELEASE}`;
// annotary itself never reads these: no entry in src/kube/types.ts
const ClusterRoleBindings: ResourceType = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  plural: 'clusterrolebindings',
  kind: 'ClusterRoleBinding',
  clusterScoped: true,
};
// --namespaces: the release's own. With a node and the image loaded the pods run the operator,
// which then touches nothing of the other tests (the grants checked stay the chart's).
const INSTALL = ['--set', `namespaces={${NS}}`];
const UPGRADE = ['rbac.scope=namespaced', 'openshift=true'].flatMap((s) => ['--set', s]);

const helmHere = (...args: string[]) => helm('--kubeconfig', KUBECONFIG, ...args);

afterAll(async () => {
  // the last test uninstalls; after a failure before it, uninstall here
  if (helmHere('list', '-n', NS, '-q').split('\n').includes(RELEASE)) helmHere('uninstall', RELEASE, '-n', NS);
  await client.delete(Namespaces, undefined, NS).catch(() => undefined);
});

/** May the chart's ServiceAccount do this? The apiserver's answer for a token of it (its user and groups). */
async function saMay(verb: string, group: string, resource: string, namespace?: string): Promise<boolean> {
  const review = await client.request<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: SA,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'],
        resourceAttributes: { verb, group, resource, namespace },
      },
    },
  });
  return review.status.allowed;
}

/** What the release's ServiceAccount may do, as `verb resource@namespace` ('*': all namespaces). */
async function grants(): Promise<Record<string, boolean>> {
  const asks: [string, string, string, string | undefined][] = [
    ['list', '', 'secrets', undefined],
    ['list', '', 'secrets', NS],
    ['list', '', 'secrets', 'default'],
    ['patch', 'apps', 'deployments', 'default'],
    ['delete', 'apps', 'deployments', 'default'],
    ['create', '', 'secrets', NS],
    ['update', 'coordination.k8s.io', 'leases', NS],
    ['update', 'coordination.k8s.io', 'leases', 'default'],
    ['create', 'certificates.k8s.io', 'certificatesigningrequests', undefined],
    ['list', 'route.openshift.io', 'routes', NS],
  ];
  const answers = await Promise.all(asks.map(([v, g, r, n]) => saMay(v, g, r, n)));
  return Object.fromEntries(asks.map(([v, g, r, n], i) => [`${v} ${g ? `${r}.${g}` : r}@${n ?? '*'}`, answers[i]]));
}

const key = (d: Doc) => `${d.kind} ${d.metadata?.namespace ?? ''}/${d.metadata?.name}`;
/** The objects Helm manages for the release (its annotation on each), by kind, namespace and name. */
const managed = () =>
  releaseObjects(RELEASE).filter((k) => !/^(ReplicaSet|Pod|Endpoints|EndpointSlice|Secret) /.test(k) || /^Secret .*\/sh\.helm\./.test(k));
const rendered = (...args: string[]) => helmTemplate(RELEASE, NS, ...args).map(key);
const releaseSecrets = (...revisions: number[]) => revisions.map((n) => `Secret ${NS}/sh.helm.release.v1.${RELEASE}.v${n}`);

type Release = { version: number; info: { status: string } };
const status = () => JSON.parse(helmHere('status', RELEASE, '-n', NS, '-o', 'json')) as Release;
type Dep = { spec: { template: { spec: { serviceAccountName: string; containers: { args: string[] }[] } } } };

test("helm install creates exactly the rendered objects; the ServiceAccount may do what the manifests' RBAC grants, no more", async () => {
  helmHere('install', RELEASE, CHART, '-n', NS, '--create-namespace', ...INSTALL);
  expect(status()).toMatchObject({ version: 1, info: { status: 'deployed' } });
  expect(managed()).toEqual([...rendered(...INSTALL), ...releaseSecrets(1)].sort());
  const dep = await client.get<KubeObject & Dep>(Deployments, NS, RELEASE);
  expect(dep.spec.template.spec.serviceAccountName).toBe(RELEASE);
  expect(await grants()).toEqual({
    'list secrets@*': true,
    [`list secrets@${NS}`]: true,
    'list secrets@default': true,
    'patch deployments.apps@default': true,
    'delete deployments.apps@default': false,
    [`create secrets@${NS}`]: false, // Ingress copies and serving certificates: granted per namespace only
    [`update leases.coordination.k8s.io@${NS}`]: true,
    'update leases.coordination.k8s.io@default': false,
    'create certificatesigningrequests.certificates.k8s.io@*': true,
    [`list routes.route.openshift.io@${NS}`]: false,
  });
});

test('helm upgrade to rbac.scope namespaced and openshift: the cluster-wide bindings go, the grants are in its namespace only', async () => {
  helmHere('upgrade', RELEASE, CHART, '-n', NS, ...UPGRADE);
  expect(status()).toMatchObject({ version: 2, info: { status: 'deployed' } });
  // Helm keeps the last revisions' Secrets (history); the objects are revision 2's
  expect(managed()).toEqual([...rendered(...UPGRADE), ...releaseSecrets(1, 2)].sort());
  for (const name of [RELEASE, `${RELEASE}-csr`]) expect(await client.tryGet(ClusterRoleBindings, undefined, name)).toBeUndefined();
  const dep = await client.get<KubeObject & Dep>(Deployments, NS, RELEASE);
  expect(dep.spec.template.spec.containers[0].args).toEqual(
    expect.arrayContaining([`--namespaces=${NS}`, `--controllers=${NAMESPACED_CONTROLLERS.join(',')}`]),
  );
  expect(await grants()).toEqual({
    'list secrets@*': false,
    [`list secrets@${NS}`]: true,
    'list secrets@default': false,
    'patch deployments.apps@default': false,
    'delete deployments.apps@default': false,
    [`create secrets@${NS}`]: false,
    [`update leases.coordination.k8s.io@${NS}`]: true,
    'update leases.coordination.k8s.io@default': false,
    'create certificatesigningrequests.certificates.k8s.io@*': false,
    [`list routes.route.openshift.io@${NS}`]: true,
  });
});

test('helm uninstall leaves no object of the release behind, in any namespace, of any kind', async () => {
  expect(releaseObjects(RELEASE)).toEqual(expect.arrayContaining([`Deployment ${NS}/${RELEASE}`, `ClusterRole /${RELEASE}`]));
  helmHere('uninstall', RELEASE, '-n', NS, '--wait');
  // the garbage collector and the token controller remove ReplicaSets, Pods, Endpoints and token Secrets after;
  // with a node a Pod goes once the kubelet has stopped it
  await waitFor('no object of the release', () => releaseObjects(RELEASE).length === 0, 90_000, 250).catch(() => undefined);
  expect(releaseObjects(RELEASE)).toEqual([]);
  expect(helmHere('list', '-n', NS, '-q')).not.toContain(RELEASE);
});
