// One builder for the Kubernetes objects that tests make, in the style of cert-manager's
// test/unit/gen: a kind's constructor takes the name and modifiers, and each modifier sets one
// thing, so a fixture reads as what differs from a plain object. Unit tests, e2e tests and the
// benchmarks build their objects here (no Jest imports: bench/ compiles it without Jest's types).
import type { Csr } from '../src/kube/csr.js';
import type { KubeObject, OwnerReference } from '../src/kube/types.js';
import type { ChainFixture } from './pki/fixtures.js';

export type Data = Record<string, string>;
export type Secret = KubeObject & { type?: string; data?: Data };
export type ConfigMap = KubeObject & { data?: Data; binaryData?: Data };
export type Route = KubeObject & { spec: { host?: string; to?: { kind: string; name: string }; tls?: Data } };
interface IngressTLS {
  hosts?: string[];
  secretName?: string;
}
interface IngressRule {
  host?: string;
  http?: unknown;
}
export type Ingress = KubeObject & { spec: { tls?: IngressTLS[]; rules?: IngressRule[] } };
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';
interface Container {
  name: string;
  image: string;
  envFrom?: ({ secretRef: { name: string } } | { configMapRef: { name: string } })[];
  env?: { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } | { configMapKeyRef: { name: string; key: string } } }[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; secret: { secretName: string; items?: { key: string; path: string }[] } }[];
}
export type Workload = KubeObject & {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Data };
    template: { metadata: { labels: Data; annotations?: Data }; spec: PodSpec };
  };
};

/** Sets one thing on the object being built (a fresh object: modifiers may change it in place). */
export type Mod<T extends KubeObject = KubeObject> = (o: T) => void;

export function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

/** Each value base64-encoded, as a Secret's data holds it. */
export function b64Values(values: Record<string, string | Buffer>): Data {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, b64(v)]));
}

/** tls.crt (leaf + intermediate), tls.key (PKCS#8) and ca.crt of a fixture chain, as PEM text. */
export function tlsPem(f: ChainFixture): Data {
  return { 'tls.crt': f.certPem(2), 'tls.key': f.keyPkcs8, 'ca.crt': f.ca };
}

/** The same keys as a kubernetes.io/tls Secret's data holds them (base64), e.g. for a rotation's patch. */
export function tlsData(f: ChainFixture): Data {
  return b64Values(tlsPem(f));
}

function build<T extends KubeObject>(o: T, mods: Mod<T>[]): T {
  for (const m of mods) m(o);
  return o;
}

export function secret(name: string, ...mods: Mod<Secret>[]): Secret {
  return build<Secret>({ apiVersion: 'v1', kind: 'Secret', metadata: { name } }, mods);
}

export type Service = KubeObject & { spec?: { clusterIP?: string } };
export function service(name: string, ...mods: Mod<Service>[]): Service {
  return build<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: {} }, mods);
}

export function configMap(name: string, ...mods: Mod<ConfigMap>[]): ConfigMap {
  return build<ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } }, mods);
}

/** A Route to Service "svc" at `<name>.example`, without spec.tls. */
export function route(name: string, ...mods: Mod<Route>[]): Route {
  return build<Route>(
    {
      apiVersion: 'route.openshift.io/v1',
      kind: 'Route',
      metadata: { name },
      spec: { host: `${name}.example`, to: { kind: 'Service', name: 'svc' } },
    },
    mods,
  );
}

/** An Ingress with one rule: `<name>.example`, path / to Service "svc" port 443. */
export function ingress(name: string, ...mods: Mod<Ingress>[]): Ingress {
  const backend = { service: { name: 'svc', port: { number: 443 } } };
  return build<Ingress>(
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name },
      spec: { rules: [{ host: `${name}.example`, http: { paths: [{ path: '/', pathType: 'Prefix', backend }] } }] },
    },
    mods,
  );
}

/** A workload with one container and label app=<name>; one replica (a DaemonSet has none), a StatefulSet's serviceName. */
export function workload(kind: WorkloadKind, name: string, ...mods: Mod<Workload>[]): Workload {
  const labels = { app: name };
  return build<Workload>(
    {
      apiVersion: 'apps/v1',
      kind,
      metadata: { name },
      spec: {
        ...(kind !== 'DaemonSet' ? { replicas: 1 } : {}),
        ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
        selector: { matchLabels: labels },
        template: { metadata: { labels: { ...labels } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
      },
    },
    mods,
  );
}

/**
 * The other kinds Reloader reloads: a Job, a CronJob (apiVersion: batch/v1 or batch/v1beta1; suspended,
 * so only a reload starts a Job) or an Argo Rollout, with the pod template workload() builds and the
 * modifiers applied to it (a CronJob's is moved into its jobTemplate).
 */
export function batchWorkload(kind: 'Job' | 'CronJob' | 'Rollout', name: string, apiVersion: string, ...mods: Mod<Workload>[]): KubeObject {
  const w = workload('Deployment', name, ...mods);
  const template = kind === 'Rollout' ? w.spec.template : { ...w.spec.template, spec: { ...w.spec.template.spec, restartPolicy: 'Never' } };
  const spec =
    kind === 'Job'
      ? { template }
      : kind === 'CronJob'
        ? { schedule: '0 0 1 1 *', suspend: true, jobTemplate: { spec: { template } } }
        : { replicas: 1, selector: w.spec.selector, template };
  return { apiVersion, kind, metadata: w.metadata, spec };
}

export function deployment(name: string, ...mods: Mod<Workload>[]): Workload {
  return workload('Deployment', name, ...mods);
}

/** A Namespace (cluster-scoped). */
export function namespace(name: string, ...mods: Mod[]): KubeObject {
  return build<KubeObject>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, mods);
}

export type WebhookKind = 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';
export type WebhookConfiguration = KubeObject & { webhooks: Record<string, unknown>[] };

/**
 * A webhook configuration with one webhook per url (clientConfig.url, no caBundle), each for
 * CREATE of ConfigMaps in namespaces labelled `webhook-test=<name>`, failurePolicy Fail.
 */
export function webhookConfiguration(kind: WebhookKind, name: string, urls: string[], ...mods: Mod[]): WebhookConfiguration {
  return build<WebhookConfiguration>(
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind,
      metadata: { name },
      webhooks: urls.map((url, i) => ({
        name: `w${i}.${name}.annotary.test`,
        clientConfig: { url },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
        namespaceSelector: { matchLabels: { 'webhook-test': name } },
        failurePolicy: 'Fail',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 5,
      })),
    },
    mods,
  );
}

/** A CRD (apiextensions v1) of kind <Kind> in group annotary.test with versions v1 and v2, converted by the webhook at `url`. */
export function conversionCrd(plural: string, kind: string, url: string, ...mods: Mod[]): KubeObject {
  const schema = { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } };
  return build<KubeObject>(
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${plural}.annotary.test` },
      spec: {
        group: 'annotary.test',
        scope: 'Namespaced',
        names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
        versions: [
          { name: 'v1', served: true, storage: true, schema },
          { name: 'v2', served: true, storage: false, schema },
        ],
        conversion: { strategy: 'Webhook', webhook: { clientConfig: { url }, conversionReviewVersions: ['v1'] } },
      },
    },
    mods,
  );
}

/** An APIService v1.<group>, served by Service <namespace>/<service> (a CRD's group has its own, made by the apiserver). */
export function apiService(group: string, namespace: string, service: string, ...mods: Mod[]): KubeObject {
  return build<KubeObject>(
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: `v1.${group}` },
      spec: {
        group,
        version: 'v1',
        groupPriorityMinimum: 1000,
        versionPriority: 15,
        service: { namespace, name: service },
      },
    },
    mods,
  );
}

/**
 * A CertificateSigningRequest (cluster-scoped) for `signerName` carrying the PKCS#10 PEM `request`,
 * asking for server auth, as the apiserver stores it (spec.username set: here a ServiceAccount of team-a).
 */
export function csr(name: string, signerName: string, request: string, ...mods: Mod<Csr>[]): Csr {
  return build<Csr>(
    {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name },
      spec: {
        request: b64(request),
        signerName,
        usages: ['digital signature', 'server auth'],
        username: 'system:serviceaccount:team-a:app',
      },
    },
    mods,
  );
}

// ---- modifiers of every kind

export const inNamespace =
  (namespace: string): Mod =>
  (o) => {
    o.metadata.namespace = namespace;
  };
/** Adds annotations; undefined leaves them as they are (none, on a fresh object). */
export const withAnnotations =
  (annotations: Data | undefined): Mod =>
  (o) => {
    if (annotations) o.metadata.annotations = { ...o.metadata.annotations, ...annotations };
  };
export const withLabels =
  (labels: Data): Mod =>
  (o) => {
    o.metadata.labels = { ...o.metadata.labels, ...labels };
  };
export const withUid =
  (uid: string): Mod =>
  (o) => {
    o.metadata.uid = uid;
  };
export const withResourceVersion =
  (resourceVersion: string): Mod =>
  (o) => {
    o.metadata.resourceVersion = resourceVersion;
  };
export const withOwners =
  (...owners: OwnerReference[]): Mod =>
  (o) => {
    o.metadata.ownerReferences = owners;
  };

// ---- Secrets and ConfigMaps

export const ofType =
  (type: string): Mod<Secret> =>
  (s) => {
    s.type = type;
  };

/** Values as a user writes them: a Secret stores them base64-encoded, a ConfigMap as text. Adds to the data already set. */
export const withData =
  (values: Record<string, string | Buffer>): Mod<Secret | ConfigMap> =>
  (o) => {
    const data = o.kind === 'Secret' ? b64Values(values) : Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.toString()]));
    o.data = { ...o.data, ...data };
  };

/** Values already base64-encoded (as read from the apiserver, or as a controller computed them), set as they are. */
export const withBase64Data =
  (data: Data): Mod<Secret> =>
  (s) => {
    s.data = { ...s.data, ...data };
  };

/** tls.crt, tls.key and ca.crt of a fixture chain (see tlsPem); the type stays what ofType sets. */
export const withTLS = (f: ChainFixture): Mod<Secret> => withData(tlsPem(f));

// ---- Routes

/** spec.tls, replacing what is there; null: no spec.tls. */
export const withRouteTLS =
  (tls: Data | null): Mod<Route> =>
  (r) => {
    if (tls) r.spec.tls = { ...tls };
    else delete r.spec.tls;
  };
export const withHost =
  (host: string): Mod<Route> =>
  (r) => {
    r.spec.host = host;
  };

// ---- Ingresses

export const withIngressTLS =
  (tls: IngressTLS[]): Mod<Ingress> =>
  (i) => {
    i.spec.tls = tls;
  };
export const withRules =
  (...rules: IngressRule[]): Mod<Ingress> =>
  (i) => {
    i.spec.rules = rules;
  };

// ---- CertificateSigningRequests

export const withUsages =
  (...usages: string[]): Mod<Csr> =>
  (c) => {
    c.spec.usages = usages;
  };
export const byUser =
  (username: string): Mod<Csr> =>
  (c) => {
    c.spec.username = username;
  };
export const withCondition =
  (type: 'Approved' | 'Denied' | 'Failed', reason = 'Test', message = ''): Mod<Csr> =>
  (c) => {
    c.status = { ...c.status, conditions: [...(c.status?.conditions ?? []), { type, status: 'True', reason, message }] };
  };

// ---- workloads

export const withTemplateAnnotations =
  (annotations: Data): Mod<Workload> =>
  (w) => {
    w.spec.template.metadata.annotations = { ...w.spec.template.metadata.annotations, ...annotations };
  };
/** Volumes of these Secrets, mounted at /etc/<name> in the container. */
export const withSecretVolumes =
  (...names: string[]): Mod<Workload> =>
  (w) => {
    const pod = w.spec.template.spec;
    const c = pod.containers[0];
    pod.volumes = [...(pod.volumes ?? []), ...names.map((s) => ({ name: s, secret: { secretName: s } }))];
    c.volumeMounts = [...(c.volumeMounts ?? []), ...names.map((s) => ({ name: s, mountPath: `/etc/${s}` }))];
  };
/** The container's environment from these Secrets (envFrom secretRef). */
export const withEnvFromSecrets =
  (...names: string[]): Mod<Workload> =>
  (w) => {
    const c = w.spec.template.spec.containers[0];
    c.envFrom = [...(c.envFrom ?? []), ...names.map((name) => ({ secretRef: { name } }))];
  };
/** The container's environment from these ConfigMaps (envFrom configMapRef). */
export const withEnvFromConfigMaps =
  (...names: string[]): Mod<Workload> =>
  (w) => {
    const c = w.spec.template.spec.containers[0];
    c.envFrom = [...(c.envFrom ?? []), ...names.map((name) => ({ configMapRef: { name } }))];
  };
/** Only these keys of a Secret, as a volume with items (mounted at /etc/<name>). */
export const withSecretItemsVolume =
  (name: string, ...keys: string[]): Mod<Workload> =>
  (w) => {
    const pod = w.spec.template.spec;
    const c = pod.containers[0];
    pod.volumes = [...(pod.volumes ?? []), { name, secret: { secretName: name, items: keys.map((key) => ({ key, path: key })) } }];
    c.volumeMounts = [...(c.volumeMounts ?? []), { name, mountPath: `/etc/${name}` }];
  };
/** One environment variable per key (valueFrom secretKeyRef or configMapKeyRef), named after the key. */
export const withKeyRefEnv =
  (kind: 'Secret' | 'ConfigMap', name: string, ...keys: string[]): Mod<Workload> =>
  (w) => {
    const c = w.spec.template.spec.containers[0];
    const ref = (key: string) => (kind === 'Secret' ? { secretKeyRef: { name, key } } : { configMapKeyRef: { name, key } });
    c.env = [...(c.env ?? []), ...keys.map((key) => ({ name: key.toUpperCase().replace(/[^A-Z0-9]/g, '_'), valueFrom: ref(key) }))];
  };
/** A workload's spec.replicas (on the local control plane, without a kubelet, 0 is the only count a rollout completes with). */
export const withReplicas =
  (replicas: number): Mod<Workload> =>
  (w) => {
    w.spec.replicas = replicas;
  };
/** A workload's metadata.generation and status, as its controller reports them (the rollout budget reads both). */
export const withRolloutStatus =
  (generation: number, status: Record<string, unknown>): Mod<Workload> =>
  (w) => {
    w.metadata.generation = generation;
    (w as Workload & { status?: unknown }).status = status;
  };

// ---- values

/**
 * An annotary.io/reload-window value for a daily window from `fromMs` to `toMs` (less than a day
 * apart; minutes rounded down), so tests place windows relative to the time they run at.
 */
export function dailyWindow(fromMs: number, toMs: number): string {
  const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  return `${hhmm(fromMs)}-${hhmm(toMs)} UTC`;
}
