// CA injection: the CA certificates of a Secret (or the apiserver's CA, or the service serving
// CA) written where the kube-apiserver or clients need them — every webhook's
// clientConfig.caBundle of a Validating/MutatingWebhookConfiguration, an APIService's
// spec.caBundle, a CRD's conversion webhook caBundle — or into a data key of a ConfigMap or
// Secret (managed-keys ownership: a key the user owns is never touched).
//
// Only certificates are injected, re-encoded from their DER (src/pki/bundle.ts): a key that
// names a private key by mistake (`:tls.key`) injects nothing. A source in another namespace,
// and any source of a cluster-scoped target, is read only with its opt-in (see sourceAllowed).
// Removing the annotation leaves the last bundle: the API server keeps calling the webhook,
// APIService or conversion webhook, and an empty caBundle would break those calls at once.
//
// Level-triggered: the target records (annotary.io/source-hash) a digest of the source's cached
// digest and the fields it holds; while both are unchanged nothing is read and nothing written.
import type { AnnotationKey, AnnotationReader } from '../annotations.js';
import { A, commaList } from '../annotations.js';
import type { ControllerContext, ControllerModule } from './context.js';
import { valueReader, pemText } from './cache-reads.js';
import { parseSecretRef, sharedWith } from './cert-sources.js';
import { servingCaRef } from './serving-certs.js';
import {
  configMapSizes,
  diffManagedKeys,
  parseOwnerRecord,
  reportManagedChange,
  writeFingerprint,
  writeManagedChange,
  writtenKeysIntact,
} from './managed-keys.js';
import type { ControllerSpec } from '../kube/builder.js';
import type { Informer } from '../kube/informer.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import { RejectedWrites } from '../kube/rejections.js';
import type { SlimData } from '../kube/slim.js';
import { digestOfParts, valueDigest } from '../kube/slim.js';
import type { KubeObject, ObjectRef, ResourceType } from '../kube/types.js';
import { ApiServices, ConfigMaps, CrdVersions, MutatingWebhooks, Secrets, ValidatingWebhooks, objectKey } from '../kube/types.js';
import { canonicalBundle } from '../pki/bundle.js';
import { PkiError } from '../pki/errors.js';

const CONTROLLER = 'ca-injection';

export type TargetKind =
  'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration' | 'APIService' | 'CustomResourceDefinition' | 'ConfigMap' | 'Secret';

const CLUSTER_KINDS: readonly TargetKind[] = [
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'APIService',
  'CustomResourceDefinition',
];

/** Whose rules a source follows: its annotation's tool decides the opt-in and the data key. */
export type SourceRule = 'annotary' | 'cert-utils' | 'cert-manager' | 'service-ca';

export type CaSource =
  | { from: 'secret'; namespace: string; name: string; key: string; explicitKey: boolean; rule: SourceRule; annotation: AnnotationKey }
  | { from: 'apiserver'; rule: SourceRule; annotation: AnnotationKey }
  | { from: 'serving-ca'; rule: SourceRule; annotation: AnnotationKey };

/**
 * The CA annotary recorded for an issued Secret, when its default key ca.crt is absent: the
 * `<namespace>/<ca-secret>` of annotary.io/issued-by, whose tls.crt is that CA. undefined for
 * other issuers (csr:, self) and for Secrets annotary did not issue.
 */
export function recordedIssuerRef(annotations: Record<string, string> | undefined): { namespace: string; name: string } | undefined {
  const by = annotations?.[A.issuedBy];
  const m = by === undefined ? null : /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(by);
  return m ? { namespace: m[1], name: m[2] } : undefined;
}

/** The injection annotations, in the order their values are read; two on one object are refused. */
const SOURCE_KEYS = [A.injectCaFrom, A.cuInjectCaFromSecret, A.cmInjectCaFromSecret, A.cmInjectApiserverCa, A.ocInjectCabundle] as const;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

/** Whether the object asks for injection (any value, so that a bad one is reported). */
export function wantsInjection(annotations: Record<string, string> | undefined, reader: AnnotationReader): boolean {
  return SOURCE_KEYS.some((k) => reader.get(annotations, k) !== undefined);
}

/** The CA source an object's annotations name; undefined when none does (a boolean key set to anything but true). */
export function parseCaSource(
  kind: TargetKind,
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
): CaSource | Refusal | undefined {
  // cert-manager compares with "true" exactly, service-ca case-insensitively (strings.EqualFold)
  const on = (k: AnnotationKey) => {
    const v = reader.get(annotations, k);
    if (k === A.cmInjectApiserverCa) return v === 'true';
    if (k === A.ocInjectCabundle) return v?.toLowerCase() === 'true';
    return v !== undefined;
  };
  const present = SOURCE_KEYS.filter(on);
  if (present.length === 0) return undefined;
  if (present.length > 1) return refuse('InvalidAnnotation', `more than one CA source annotation: ${present.join(', ')}; keep one`);
  const key = present[0];
  const value = reader.get(annotations, key)!;
  const cluster = CLUSTER_KINDS.includes(kind);
  if ((key === A.cmInjectCaFromSecret || key === A.cmInjectApiserverCa) && !cluster)
    return refuse('UnsupportedInjectionTarget', `${key} is honoured on webhook configurations, APIServices and CRDs, not on a ${kind}`);
  if (key === A.ocInjectCabundle && kind === 'Secret')
    return refuse(
      'UnsupportedInjectionTarget',
      `${key} is honoured on ConfigMaps, webhook configurations, APIServices and CRDs, not on a Secret`,
    );
  if (key === A.cmInjectApiserverCa) return { from: 'apiserver', rule: 'cert-manager', annotation: key };
  if (key === A.ocInjectCabundle) return { from: 'serving-ca', rule: 'service-ca', annotation: key };
  // <namespace>/<secret>, and for annotary's own key an optional :<key>
  const colon = key === A.injectCaFrom ? value.lastIndexOf(':') : -1;
  const ref = colon < 0 ? value : value.slice(0, colon);
  const dataKey = colon < 0 ? 'ca.crt' : value.slice(colon + 1).trim();
  const usage = key === A.injectCaFrom ? '<namespace>/<secret>[:<key>]' : '<namespace>/<secret>';
  if (!ref.includes('/') || !DATA_KEY.test(dataKey)) return refuse('InvalidAnnotation', `${key}: "${value}" is not ${usage}`);
  const parsed = parseSecretRef(ref, key, '', true);
  if (isRefusal(parsed)) return refuse('InvalidAnnotation', `${key}: "${value}" is not ${usage}`);
  const rule: SourceRule = key === A.injectCaFrom ? 'annotary' : key === A.cuInjectCaFromSecret ? 'cert-utils' : 'cert-manager';
  return { from: 'secret', ...parsed, key: dataKey, explicitKey: colon >= 0, rule, annotation: key };
}

/** The data key a ConfigMap or Secret target receives: the one the compat tool writes. */
export function injectedDataKey(source: CaSource): string {
  if (source.rule === 'cert-utils') return 'ca.crt';
  if (source.rule === 'service-ca') return 'service-ca.crt';
  return 'ca-bundle.crt';
}

/**
 * Whether a source Secret lets this target read it: cert-manager's rule for its key
 * (allow-direct-injection: "true", wherever the Secret is); otherwise the same namespace, or
 * share-with-namespaces naming the target's namespace (the rule Ingresses follow), or — for a
 * cluster-scoped target, which is in no namespace — allow-ca-injection: "true".
 */
export function sourceAllowed(
  source: CaSource & { from: 'secret' },
  targetNamespace: string | undefined,
  secretAnnotations: Record<string, string> | undefined,
  reader: AnnotationReader,
): boolean {
  if (source.rule === 'cert-manager') return reader.get(secretAnnotations, A.cmAllowDirectInjection) === 'true';
  // the serving CA's certificate is public and annotary's own to hand out, as service-ca injects it anywhere
  if (source.rule === 'service-ca') return true;
  if (!targetNamespace) return reader.isTrue(secretAnnotations, A.allowCaInjection);
  return source.namespace === targetNamespace || sharedWith(secretAnnotations?.[A.shareWithNamespaces], targetNamespace);
}

interface WebhookClientConfig {
  caBundle?: string;
  [f: string]: unknown;
}
type Webhooks = KubeObject & { webhooks?: { name: string; clientConfig?: WebhookClientConfig }[] };
type ApiService = KubeObject & { spec?: { caBundle?: string } };
type Crd = KubeObject & {
  spec?: {
    conversion?: {
      strategy?: string;
      webhook?: { clientConfig?: WebhookClientConfig }; // v1
      webhookClientConfig?: WebhookClientConfig; // v1beta1
    };
  };
};

/** The caBundle fields of a cluster-scoped target, in order (undefined where unset); a Refusal when it has none to fill. */
export function currentBundles(kind: TargetKind, obj: KubeObject): (string | undefined)[] | Refusal {
  if (kind === 'APIService') return [(obj as ApiService).spec?.caBundle];
  if (kind === 'CustomResourceDefinition') {
    const conv = (obj as Crd).spec?.conversion;
    if (conv?.strategy !== 'Webhook')
      return refuse('UnsupportedInjectionTarget', 'the CRD has no conversion webhook (spec.conversion.strategy is not Webhook)');
    return [obj.apiVersion?.endsWith('/v1beta1') ? conv.webhookClientConfig?.caBundle : conv.webhook?.clientConfig?.caBundle];
  }
  return ((obj as Webhooks).webhooks ?? []).map((w) => w.clientConfig?.caBundle);
}

/**
 * The merge patch that puts `caBundle` (base64 of the PEM bundle) into every field of a
 * cluster-scoped target and records `hash`; undefined when the target holds exactly that.
 * A webhook list is replaced whole (merge patches replace lists): the resourceVersion
 * precondition makes that safe against a concurrent edit.
 */
export function desiredInjectionPatch(
  kind: TargetKind,
  obj: KubeObject,
  caBundle: string,
  hash: string,
): Record<string, unknown> | undefined {
  const current = currentBundles(kind, obj);
  if (isRefusal(current)) return undefined;
  if (obj.metadata.annotations?.[A.sourceHash] === hash && current.every((b) => b === caBundle)) return undefined;
  const metadata = { resourceVersion: obj.metadata.resourceVersion, annotations: { [A.sourceHash]: hash } };
  if (kind === 'APIService') return { metadata, spec: { caBundle } };
  if (kind === 'CustomResourceDefinition') {
    const clientConfig = { caBundle };
    return obj.apiVersion?.endsWith('/v1beta1')
      ? { metadata, spec: { conversion: { webhookClientConfig: clientConfig } } }
      : { metadata, spec: { conversion: { webhook: { clientConfig } } } };
  }
  const webhooks = ((obj as Webhooks).webhooks ?? []).map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle } }));
  return { metadata, webhooks };
}

/** What a cluster-scoped target records: the source, its cached digest and the fields it holds. */
export function injectionHash(sourceId: string, sourceDigest: string, bundles: (string | undefined)[]): string {
  return digestOfParts([sourceId, sourceDigest, ...bundles.map((b) => b ?? '-')]);
}

const sourceId = (s: CaSource) => (s.from === 'secret' ? `secret/${s.namespace}/${s.name}:${s.key}` : s.from);

const pkiRefusal = (err: unknown, what: string): Refusal => {
  if (!(err instanceof PkiError)) throw err;
  if (err.reason === 'BundleTooLarge') return refuse('BundleTooLarge', err.message);
  return refuse('CaSourceInvalid', `${what}: ${err.reason}: ${err.message}`);
};

/** The canonical PEM bundle of a source's text, or the refusal naming what is wrong with it. */
export function bundleOf(pem: string, what: string): string | Refusal {
  try {
    return canonicalBundle([{ pem, what }]);
  } catch (err) {
    return pkiRefusal(err, what);
  }
}

interface Target {
  kind: TargetKind;
  rt: ResourceType | ResourceType[];
}

/** The versions of a target's resource, preferred first (whenServed takes the first served). */
const versionsOf = (t: Target): [ResourceType, ...ResourceType[]] => {
  const [first, ...rest] = [t.rt].flat();
  return [first, ...rest];
};

const TARGETS: Target[] = [
  { kind: 'ValidatingWebhookConfiguration', rt: ValidatingWebhooks },
  { kind: 'MutatingWebhookConfiguration', rt: MutatingWebhooks },
  { kind: 'APIService', rt: ApiServices },
  { kind: 'CustomResourceDefinition', rt: CrdVersions },
];

export const caInjectionController: ControllerModule = { name: CONTROLLER, declare };

function declare(ctx: ControllerContext): ControllerSpec<KubeObject>[] {
  const { caches, annotations: reader } = ctx;
  const secrets = caches.secrets();
  // service-ca's inject-cabundle: the serving CA the serving-certs controller issues with (its tls.crt)
  const servingCa = servingCaRef(ctx.config, process.env.POD_NAMESPACE);
  const resolve = (s: CaSource): CaSource =>
    s.from === 'serving-ca'
      ? {
          from: 'secret',
          namespace: servingCa.namespace,
          name: servingCa.name,
          key: 'tls.crt',
          explicitKey: true,
          rule: s.rule,
          annotation: s.annotation,
        }
      : s;
  /** the CA Secret annotary issued `s`'s Secret from, when the Secret has no ca.crt (recordedIssuerRef) */
  const issuerOf = (s: CaSource & { from: 'secret' }) => {
    const secret = secrets.get(objectKey(s.namespace, s.name));
    if (!secret || s.explicitKey || secret.digests[s.key] !== undefined) return undefined;
    return recordedIssuerRef(secret.metadata.annotations);
  };
  const configMaps = caches.configMaps();
  const read = valueReader(ctx, caches);
  const write = ctx.writer(CONTROLLER);
  const rejected = new RejectedWrites();

  const sourceRefs =
    (kind: TargetKind) =>
    (obj: KubeObject): ObjectRef[] => {
      const parsed = parseCaSource(kind, obj.metadata.annotations, reader);
      if (!parsed || isRefusal(parsed)) return [];
      const s = resolve(parsed);
      if (s.from !== 'secret') return [];
      const ca = issuerOf(s);
      return [{ kind: 'Secret', namespace: s.namespace, name: s.name }, ...(ca ? [{ kind: 'Secret' as const, ...ca }] : [])];
    };

  /** The source's cached digest (what the hash records), or the refusal saying why it cannot be read. */
  const sourceDigest = async (s: CaSource, targetNamespace: string | undefined): Promise<string | Refusal> => {
    if (s.from === 'apiserver') {
      const ca = await ctx.client.apiserverCa();
      return ca ? valueDigest(ca.toString('base64')) : refuse('CaSourceMissing', 'annotary has no CA for the kube-apiserver configured');
    }
    if (s.from === 'serving-ca') return sourceDigest(resolve(s), targetNamespace);
    const secret = secrets.get(objectKey(s.namespace, s.name));
    const foreign = !targetNamespace || s.namespace !== targetNamespace || s.rule === 'cert-manager';
    if (!secret || !sourceAllowed(s, targetNamespace, secret.metadata.annotations, reader)) {
      const ref = `Secret "${s.namespace}/${s.name}"`;
      if (!foreign) return refuse('CaSourceMissing', `${ref} does not exist (${s.annotation})`);
      return refuse('CaSourceNotShared', `${ref} does not exist or does not opt in (${s.annotation})`);
    }
    const d = secret.digests[s.key];
    if (d !== undefined) return d;
    const ca = issuerOf(s);
    const fallback = ca && secrets.get(objectKey(ca.namespace, ca.name))?.digests['tls.crt'];
    if (fallback !== undefined) return `issuer:${fallback}`;
    return refuse('CaSourceMissing', `Secret "${s.namespace}/${s.name}" has no key "${s.key}"`);
  };

  /** The source's PEM text (read only when a write may be needed). */
  const sourceText = async (s: CaSource): Promise<string | undefined> => {
    if (s.from === 'apiserver') return (await ctx.client.apiserverCa())?.toString('latin1');
    if (s.from === 'serving-ca') return sourceText(resolve(s));
    const ca = issuerOf(s); // asked before reading: the key is absent, the recorded issuer's CA stands in
    if (ca) return read('Secret', ca.namespace, ca.name, 'tls.crt', pemText);
    return read('Secret', s.namespace, s.name, s.key, pemText);
  };

  const what = (s: CaSource) => (s.from === 'secret' ? `Secret "${s.namespace}/${s.name}" key ${s.key}` : `the ${s.from} CA`);

  const clusterSpec = (t: Target, informer: Promise<Informer<KubeObject>>): ControllerSpec<KubeObject> => ({
    name: `${CONTROLLER}/${t.kind}`,
    for: informer,
    filter: (o) => wantsInjection(o.metadata.annotations, reader),
    watches: [{ source: secrets, refsOf: sourceRefs(t.kind) }],
    async reconcile({ name }) {
      const inf = await informer;
      const obj = inf.get(name);
      if (!obj || obj.metadata.deletionTimestamp) return;
      const source = parseCaSource(t.kind, obj.metadata.annotations, reader);
      if (!source) return; // annotation removed: the last bundle stays (see the file comment)
      if (isRefusal(source)) return write.warn(obj, source);
      const current = currentBundles(t.kind, obj);
      if (isRefusal(current)) return write.warn(obj, current);
      const digest = await sourceDigest(source, undefined);
      if (isRefusal(digest)) return write.warn(obj, digest);
      if (obj.metadata.annotations?.[A.sourceHash] === injectionHash(sourceId(source), digest, current)) return; // unchanged
      const text = await sourceText(source);
      if (text === undefined) return write.warn(obj, refuse('CaSourceMissing', `${what(source)} is gone`));
      const pem = bundleOf(text, what(source));
      if (isRefusal(pem)) return write.warn(obj, pem);
      const caBundle = Buffer.from(pem).toString('base64');
      const hash = injectionHash(
        sourceId(source),
        digest,
        current.map(() => caBundle),
      );
      const patch = desiredInjectionPatch(t.kind, obj, caBundle, hash);
      if (!patch) return;
      const rt = [t.rt].flat().find((v) => obj.apiVersion === `${v.group}/${v.version}`) ?? [t.rt].flat()[0];
      const refused = await write.patch(rt, obj, patch);
      if (refused) return write.warn(obj, refused);
      write.note(obj, 'CaInjected', `caBundle of ${current.length} field(s) from ${what(source)}`);
    },
  });

  // ConfigMaps and Secrets: a data key, with the ownership rule of managed-keys.ts
  const dataSpec = (kind: 'ConfigMap' | 'Secret', cache: Informer<SlimData>, rt: ResourceType): ControllerSpec<SlimData> => ({
    name: `${CONTROLLER}/${kind}`,
    for: cache,
    filter: (o) => wantsInjection(o.metadata.annotations, reader),
    watches: [{ source: secrets, refsOf: sourceRefs(kind) }],
    async reconcile({ namespace, name }) {
      const key = objectKey(namespace, name);
      const obj = cache.get(key);
      if (!obj || obj.metadata.deletionTimestamp) return rejected.forget(key);
      const ann = obj.metadata.annotations;
      const source = parseCaSource(kind, ann, reader);
      if (!source) return;
      if (isRefusal(source)) return write.warn(obj, source);
      const digest = await sourceDigest(source, namespace);
      if (isRefusal(digest)) return write.warn(obj, digest);
      const hash = digestOfParts([sourceId(source), digest]);
      if (ann?.[A.sourceHash] === hash && writtenKeysIntact(obj.metadata, obj.digests)) return;
      if (rejected.blocks(key, writeFingerprint(hash, obj.digests))) return;
      const text = await sourceText(source);
      if (text === undefined) return write.warn(obj, refuse('CaSourceMissing', `${what(source)} is gone`));
      const pem = bundleOf(text, what(source));
      if (isRefusal(pem)) return write.warn(obj, pem);
      const outKey = injectedDataKey(source);
      const change = diffManagedKeys({
        uid: obj.metadata.uid,
        record: parseOwnerRecord(ann?.[A.ownerRecord]),
        currentDigests: obj.digests,
        // a ConfigMap's data holds text, a Secret's base64
        want: { [outKey]: kind === 'ConfigMap' ? pem : Buffer.from(pem).toString('base64') },
        managed: commaList(ann?.[A.managedKeys]),
        inputsHash: hash,
        currentHash: ann?.[A.sourceHash],
      });
      if (change === undefined) return;
      if (isRefusal(change)) return write.warn(obj, change);
      // the other values' sizes are known for ConfigMaps (cached whole) only; the apiserver refuses the rest
      const knownSizes = kind === 'ConfigMap' ? configMapSizes(obj) : {};
      if (!(await writeManagedChange(write, rejected, { rt, obj, field: 'data', knownSizes }, change))) return;
      reportManagedChange(write, obj, change, 'CaInjected');
    },
  });

  return [
    ...TARGETS.map((t) => clusterSpec(t, caches.whenServed(...versionsOf(t)))),
    dataSpec('ConfigMap', configMaps, ConfigMaps),
    dataSpec('Secret', secrets, Secrets),
  ];
}
