// The minimal object shapes the operator reads. Kubernetes objects are open-ended JSON;
// controllers read the few fields they need through these types.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ResourceType {
  /** '' for the core group */
  group: string;
  version: string;
  plural: string;
  kind: string;
  /** objects of this type live outside namespaces (a CSR, a webhook configuration): their cache watches the cluster scope whatever --namespaces says */
  clusterScoped?: boolean;
  /** the cache keeps status (a CSR's conditions and certificate are its controllers' input) */
  keepStatus?: boolean;
}

export const Secrets: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret' };
export const ConfigMaps: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };
export const Events: ResourceType = { group: '', version: 'v1', plural: 'events', kind: 'Event' };
export const Namespaces: ResourceType = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', clusterScoped: true };
export const Services: ResourceType = { group: '', version: 'v1', plural: 'services', kind: 'Service' };
export const Pods: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };
// the status of workloads: the rollout budget reads it (controllers/reload-gates.ts, rolloutInProgress)
export const Deployments: ResourceType = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', keepStatus: true };
export const StatefulSets: ResourceType = { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', keepStatus: true };
export const DaemonSets: ResourceType = { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', keepStatus: true };
export const ReplicaSets: ResourceType = { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet' };
export const Ingresses: ResourceType = { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', kind: 'Ingress' };
export const Routes: ResourceType = { group: 'route.openshift.io', version: 'v1', plural: 'routes', kind: 'Route' };
// the targets of CA injection (cluster-scoped; served by every supported Kubernetes, but looked up by discovery)
const AR = 'admissionregistration.k8s.io';
export const ValidatingWebhooks: ResourceType = {
  group: AR,
  version: 'v1',
  plural: 'validatingwebhookconfigurations',
  kind: 'ValidatingWebhookConfiguration',
  clusterScoped: true,
};
export const MutatingWebhooks: ResourceType = {
  group: AR,
  version: 'v1',
  plural: 'mutatingwebhookconfigurations',
  kind: 'MutatingWebhookConfiguration',
  clusterScoped: true,
};
export const ApiServices: ResourceType = {
  group: 'apiregistration.k8s.io',
  version: 'v1',
  plural: 'apiservices',
  kind: 'APIService',
  clusterScoped: true,
};
const CRD = {
  group: 'apiextensions.k8s.io',
  plural: 'customresourcedefinitions',
  kind: 'CustomResourceDefinition',
  clusterScoped: true,
} as const;
/** v1 (Kubernetes ≥ 1.16) first; v1beta1 where only it is served (it keeps the CA bundle at another path) */
export const CrdVersions: ResourceType[] = [
  { ...CRD, version: 'v1' },
  { ...CRD, version: 'v1beta1' },
];
// reload (#17): the other kinds Reloader reloads. CronJobs are batch/v1 from Kubernetes 1.21 and
// batch/v1beta1 before (1.20 serves batch/v1 for Jobs only); discovery picks (caches.whenServed).
export const Jobs: ResourceType = { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job' };
export const CronJobs: ResourceType = { group: 'batch', version: 'v1', plural: 'cronjobs', kind: 'CronJob' };
export const CronJobsV1beta1: ResourceType = { group: 'batch', version: 'v1beta1', plural: 'cronjobs', kind: 'CronJob' };
export const Rollouts: ResourceType = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts', kind: 'Rollout' };
export const Leases: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' };
export const CertificateSigningRequests: ResourceType = {
  group: 'certificates.k8s.io',
  version: 'v1',
  plural: 'certificatesigningrequests',
  kind: 'CertificateSigningRequest',
  clusterScoped: true,
  keepStatus: true,
};

export function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** `subresource`: status, approval (a CSR's) … */
export function resourcePath(rt: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${rt.plural}${name ? `/${encodeURIComponent(name)}` : ''}${name && subresource ? `/${subresource}` : ''}`;
}

/** The cache and work-queue key of a namespaced object. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export function keyOf(obj: KubeObject): string {
  return objectKey(obj.metadata.namespace, obj.metadata.name);
}

/** A typed reference to one namespaced object: what indexes and work queues are keyed by. */
export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

/** Any object of `kind` in the namespace: a reference by pattern (Reloader's regexps). */
export const ANY_NAME = '*';

export function refOf(kind: string, obj: KubeObject): ObjectRef {
  return { kind, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name };
}

/** "Kind/namespace/name": no part can hold a "/" (kinds and DNS names cannot). */
export function refId(r: ObjectRef): string {
  return `${r.kind}/${r.namespace}/${r.name}`;
}

export function parseRefId(id: string): ObjectRef {
  const [kind = '', namespace = '', name = ''] = id.split('/');
  return { kind, namespace, name };
}
