// Trust bundles: a ConfigMap or Secret annotated annotary.io/trust-bundle gets `ca-bundle.crt`,
// the certificates of its sources (Secrets and ConfigMaps of any namespace that opt in, another
// key of itself, the operator image's CA certificates) deduplicated and sorted, so the same set
// of certificates is the same bytes whatever the sources' order and formatting; with
// annotary.io/trust-bundle-truststores also truststore.jks / truststore.p12 of it (src/pki).
// Written with the managed-keys ownership rule: keys the user owns are never touched.
//
// Distribution (annotary.io/trust-bundle-namespaces: <label selector>): a ConfigMap of the same
// name in every other namespace whose labels match, created by annotary and marked
// annotary.io/trust-bundle-copy-of: <namespace>/<name>; only ConfigMaps so marked are ever
// updated or deleted (a namespace that stops matching loses its copy). A copy holds exactly the
// source's output keys, so a source change is one write per copy, and a converged bundle none.
import { readFileSync } from 'node:fs';
import type { AnnotationReader } from '../annotations.js';
import { A, commaList } from '../annotations.js';
import type { ControllerContext, ControllerModule } from './context.js';
import { pemText, resolvePassword, valueReader } from './cache-reads.js';
import type { SourceKind } from './cache-reads.js';
import { sharedWith } from './cert-sources.js';
import type { ManagedChange } from './managed-keys.js';
import {
  configMapSizes,
  diffManagedKeys,
  parseOwnerRecord,
  reportManagedChange,
  writeFingerprint,
  writeManagedChange,
  writtenKeysIntact,
} from './managed-keys.js';
import { parseFormats, parsePasswordRef } from './store-specs.js';
import type { PasswordRef } from './store-specs.js';
import type { ControllerSpec } from '../kube/builder.js';
import { ApiError } from '../kube/client.js';
import type { Informer } from '../kube/informer.js';
import type { Outcome } from '../kube/queue.js';
import { isDnsLabel, isDnsSubdomain } from '../kube/names.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import { RejectedWrites } from '../kube/rejections.js';
import type { LabelPredicate } from '../kube/labels.js';
import { parseLabelSelector } from '../kube/labels.js';
import type { SlimData } from '../kube/slim.js';
import { digestOfParts, sameEntries, valueDigest } from '../kube/slim.js';
import type { KubeObject, ObjectRef, ResourceType } from '../kube/types.js';
import { ANY_NAME, ConfigMaps, Namespaces, Secrets, keyOf, objectKey, splitKey } from '../kube/types.js';
import { canonicalBundle } from '../pki/bundle.js';
import { PkiError } from '../pki/errors.js';
import type { StoreFormat } from '../pki/stores.js';
import { buildTruststore } from '../pki/stores.js';

const CONTROLLER = 'trust-bundles';
/** A bundle whose copies were forbidden (403) is looked at again this often: a later grant sends no event. */
export const FORBIDDEN_RECHECK_MS = 60_000;
/** Copy writes of one bundle sent at once (a fan-out to hundreds of namespaces) */
const COPY_WRITES_IN_FLIGHT = 16;
export const BUNDLE_KEY = 'ca-bundle.crt';
/** truststore entries are ca0, ca1, … in the bundle's (sorted) order */
const ALIAS_PREFIX = 'ca';

export type TrustSource =
  { from: 'Secret' | 'ConfigMap'; namespace: string; name: string; key: string } | { from: 'inline'; key: string } | { from: 'system' };

export interface TrustBundleSpec {
  sources: TrustSource[];
  formats: StoreFormat[];
  password: PasswordRef;
  /** undefined: no distribution */
  namespaces: LabelPredicate | undefined;
}

const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

/** One source: secret/<ns>/<name>[:key] (ca.crt), configmap/<ns>/<name>[:key] (ca-bundle.crt), inline:<key>, system. */
export function parseTrustSource(item: string): TrustSource | Refusal {
  const bad = refuse(
    'InvalidAnnotation',
    `${A.trustBundle}: "${item}" is not secret/<ns>/<name>[:key], configmap/<ns>/<name>[:key], inline:<key> or system`,
  );
  if (item === 'system') return { from: 'system' };
  const colon = item.indexOf(':');
  const head = colon < 0 ? item : item.slice(0, colon);
  const key = colon < 0 ? undefined : item.slice(colon + 1);
  if (key !== undefined && !DATA_KEY.test(key)) return bad;
  if (head === 'inline') return key !== undefined && key !== BUNDLE_KEY ? { from: 'inline', key } : bad;
  const [kind, namespace, name, ...rest] = head.split('/');
  if (rest.length || !namespace || !name || !isDnsLabel(namespace) || !isDnsSubdomain(name)) return bad;
  if (kind === 'secret') return { from: 'Secret', namespace, name, key: key ?? 'ca.crt' };
  if (kind === 'configmap') return { from: 'ConfigMap', namespace, name, key: key ?? BUNDLE_KEY };
  return bad;
}

export function parseTrustBundleSpec(
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
  defaultPassword: string,
): TrustBundleSpec | Refusal | undefined {
  const value = reader.get(annotations, A.trustBundle);
  if (value === undefined) return undefined;
  const items = commaList(value);
  if (!items.length) return refuse('InvalidAnnotation', `${A.trustBundle} names no source`);
  const sources: TrustSource[] = [];
  for (const item of items) {
    const s = parseTrustSource(item);
    if (isRefusal(s)) return s;
    sources.push(s);
  }
  const formatsValue = reader.get(annotations, A.trustBundleTruststores);
  const formats = formatsValue === undefined ? [] : parseFormats(formatsValue, A.trustBundleTruststores);
  if (isRefusal(formats)) return formats;
  const password = parsePasswordRef(annotations, reader, defaultPassword);
  if (isRefusal(password)) return password;
  const selector = reader.get(annotations, A.trustBundleNamespaces);
  const namespaces = selector === undefined ? undefined : parseLabelSelector(selector, A.trustBundleNamespaces);
  if (isRefusal(namespaces)) return namespaces;
  return { sources, formats, password, namespaces };
}

const sourceName = (s: TrustSource) =>
  s.from === 'system' ? 'system' : s.from === 'inline' ? `inline:${s.key}` : `${s.from.toLowerCase()}/${s.namespace}/${s.name}:${s.key}`;

/**
 * What the bundle object should hold: ca-bundle.crt and the truststores asked for, in the form
 * the object stores them (`encode`: a ConfigMap's data is text, binaryData and Secrets base64).
 */
export function desiredTrustBundle(
  texts: { what: string; pem: string }[],
  formats: StoreFormat[],
  password: string,
): Record<string, Buffer> | Refusal {
  try {
    const bundle = canonicalBundle(texts);
    return { [BUNDLE_KEY]: Buffer.from(bundle), ...buildTruststore(bundle, password, formats, ALIAS_PREFIX) };
  } catch (err) {
    if (!(err instanceof PkiError)) throw err;
    if (err.reason === 'BundleTooLarge') return refuse('BundleTooLarge', err.message);
    return refuse('CaSourceInvalid', `${err.reason}: ${err.message}`);
  }
}

/** A ConfigMap keeps the PEM bundle as text in data, the stores in binaryData. */
export const configMapField = (k: string) => (k === BUNDLE_KEY ? 'data' : 'binaryData');

/** The stored form of each value for `kind`. */
export function storedValues(kind: 'ConfigMap' | 'Secret', files: Record<string, Buffer>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(files).map(([k, v]) => [
      k,
      kind === 'ConfigMap' && configMapField(k) === 'data' ? v.toString('latin1') : v.toString('base64'),
    ]),
  );
}

/** What a copy records of its own content (annotary.io/source-hash): an edited copy no longer matches it. */
export function copyContentHash(digests: Record<string, string>): string {
  return digestOfParts(
    Object.keys(digests)
      .sort()
      .flatMap((k) => [k, digests[k]]),
  );
}

/** Whether a copy holds exactly what annotary wrote into it. */
export const copyIntact = (cm: SlimData) => cm.metadata.annotations?.[A.sourceHash] === copyContentHash(cm.digests);

export type CopyAction =
  | { verb: 'create'; namespace: string; body: KubeObject }
  | { verb: 'patch'; namespace: string; obj: KubeObject; body: Record<string, unknown> }
  | { verb: 'delete'; namespace: string }
  | { verb: 'conflict'; namespace: string };

/**
 * The writes that make the copies of a bundle what it holds: `want` (ConfigMap form) in every
 * namespace of `targets`, no copy elsewhere. `existing`: the ConfigMaps of the bundle's name,
 * by namespace. Only ConfigMaps marked as copies of `sourceKey` are patched or deleted.
 */
export function desiredCopies(o: {
  sourceKey: string;
  name: string;
  want: Record<string, string>;
  targets: string[];
  existing: Map<string, SlimData>;
}): CopyAction[] {
  const wantDigests = Object.fromEntries(Object.entries(o.want).map(([k, v]) => [k, valueDigest(v)]));
  const contentHash = copyContentHash(wantDigests);
  const actions: CopyAction[] = [];
  const isCopy = (cm: SlimData) => cm.metadata.annotations?.[A.trustBundleCopyOf] === o.sourceKey;
  const data = (pick: 'data' | 'binaryData') => {
    const e = Object.entries(o.want).filter(([k]) => configMapField(k) === pick);
    return e.length ? Object.fromEntries(e) : undefined;
  };
  for (const namespace of o.targets) {
    const cm = o.existing.get(namespace);
    if (!cm) {
      actions.push({
        verb: 'create',
        namespace,
        body: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: o.name, namespace, annotations: { [A.trustBundleCopyOf]: o.sourceKey, [A.sourceHash]: contentHash } },
          ...(data('data') && { data: data('data') }),
          ...(data('binaryData') && { binaryData: data('binaryData') }),
        },
      });
    } else if (!isCopy(cm)) actions.push({ verb: 'conflict', namespace });
    else if (!sameEntries(cm.digests, wantDigests) || !copyIntact(cm)) {
      const drop = (field: 'data' | 'binaryData') =>
        Object.keys(cm[field] ?? {}).filter((k) => !Object.hasOwn(o.want, k) || configMapField(k) !== field);
      const body: Record<string, unknown> = {
        metadata: { resourceVersion: cm.metadata.resourceVersion, annotations: { [A.sourceHash]: contentHash } },
      };
      for (const field of ['data', 'binaryData'] as const) {
        const set = data(field) ?? {};
        const nulls = Object.fromEntries(drop(field).map((k) => [k, null]));
        if (Object.keys(set).length || Object.keys(nulls).length) body[field] = { ...set, ...nulls };
      }
      actions.push({ verb: 'patch', namespace, obj: cm, body });
    }
  }
  const wanted = new Set(o.targets);
  for (const [namespace, cm] of o.existing) if (!wanted.has(namespace) && isCopy(cm)) actions.push({ verb: 'delete', namespace });
  return actions;
}

export interface TrustBundleOptions {
  /** the PEM of the `system` source (--system-ca-bundle), read once; undefined when the file is unreadable */
  systemBundle?: string;
}

export const trustBundlesController: ControllerModule = {
  name: CONTROLLER,
  declare: (ctx) => declare(ctx, { systemBundle: readSystemBundle(ctx.config.systemCaBundle) }),
};

function readSystemBundle(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined; // reported as CaSourceMissing by the bundles that name `system`
  }
}

export function declare(ctx: ControllerContext, opts: TrustBundleOptions): ControllerSpec<KubeObject>[] {
  const { caches, annotations: reader, config } = ctx;
  const secrets = caches.secrets();
  const configMaps = caches.configMaps();
  const namespaces = caches.of(Namespaces);
  const read = valueReader(ctx, caches);
  const write = ctx.writer(CONTROLLER);
  const rejected = new RejectedWrites();
  /**
   * Copies written whose watch event has not reached the cache yet ("expectations", as Kubernetes'
   * ReplicaSet controller keeps them): copy key → the resourceVersion the write was made from
   * ('' for a create). A reconcile in between (a Namespace event) would otherwise write them
   * again from the stale entry and meet 409 Conflicts.
   */
  const inFlight = new Map<string, string>();
  // under --namespaces, copies go only where the ConfigMap cache sees them
  const watched = (ns: string) => config.namespaces.length === 0 || config.namespaces.includes(ns);
  const spec = (o: KubeObject) => parseTrustBundleSpec(o.metadata.annotations, reader, config.defaultPassword);

  const refsOf =
    (of: SourceKind) =>
    (o: KubeObject): ObjectRef[] => {
      const s = spec(o);
      if (!s || isRefusal(s)) return [];
      return s.sources.flatMap((src) => (src.from === of ? [{ kind: of, namespace: src.namespace, name: src.name }] : []));
    };

  /** Reads every source (or says why one cannot be read); cross-namespace sources need share-with-namespaces. */
  const sourceDigests = (obj: SlimData, s: TrustBundleSpec): string[] | Refusal => {
    const ns = obj.metadata.namespace ?? '';
    const out: string[] = [];
    for (const src of s.sources) {
      if (src.from === 'system') {
        if (opts.systemBundle === undefined)
          return refuse('CaSourceMissing', `the system CA bundle ${config.systemCaBundle} cannot be read in the operator's image`);
        out.push(valueDigest(opts.systemBundle));
        continue;
      }
      if (src.from === 'inline') {
        const d = obj.digests[src.key];
        if (d === undefined) return refuse('CaSourceMissing', `the object has no key "${src.key}" (${sourceName(src)})`);
        out.push(d);
        continue;
      }
      const cache: Informer<SlimData> = src.from === 'Secret' ? secrets : configMaps;
      const o = cache.get(objectKey(src.namespace, src.name));
      const foreign = src.namespace !== ns;
      if (!o || (foreign && !sharedWith(o.metadata.annotations?.[A.shareWithNamespaces], ns))) {
        return foreign
          ? refuse(
              'CaSourceNotShared',
              `${src.from} "${src.namespace}/${src.name}" does not exist or does not opt in (share-with-namespaces)`,
            )
          : refuse('CaSourceMissing', `${src.from} "${src.name}" does not exist`);
      }
      const d = o.digests[src.key];
      if (d === undefined) return refuse('CaSourceMissing', `${src.from} "${src.namespace}/${src.name}" has no key "${src.key}"`);
      out.push(d);
    }
    return out;
  };

  const texts = async (obj: SlimData, s: TrustBundleSpec): Promise<{ what: string; pem: string }[] | Refusal> => {
    const out: { what: string; pem: string }[] = [];
    for (const src of s.sources) {
      const what = sourceName(src);
      let pem: string | undefined;
      if (src.from === 'system') pem = opts.systemBundle;
      else if (src.from === 'inline') {
        const v = obj.data?.[src.key] ?? obj.binaryData?.[src.key];
        // a Secret's data and a ConfigMap's binaryData are base64
        pem =
          v === undefined
            ? await read(obj.kind as SourceKind, obj.metadata.namespace ?? '', obj.metadata.name, src.key, pemText)
            : obj.kind === 'ConfigMap' && obj.data?.[src.key] !== undefined
              ? v
              : pemText(v);
      } else pem = await read(src.from, src.namespace, src.name, src.key, pemText);
      if (pem === undefined) return refuse('CaSourceMissing', `${what} is gone`);
      out.push({ what, pem });
    }
    return out;
  };

  /**
   * Makes the copies of the bundle `sourceKey` what `obj` holds, in the namespaces its selector
   * matches (none when obj is undefined: the bundle was deleted, its copies go); one write per
   * copy that differs.
   */
  // the bundles' loop and the copies' loop both distribute: one bundle's distribution runs one at a time,
  // so the second sees what the first wrote (inFlight) instead of writing the same copies again
  const running = new Map<string, Promise<Outcome>>();
  const distribute = (kind: 'ConfigMap' | 'Secret', sourceKey: string): Promise<Outcome> => {
    const id = `${kind}/${sourceKey}`;
    const next = (running.get(id) ?? Promise.resolve(undefined)).catch(() => undefined).then(() => distributeNow(kind, sourceKey));
    running.set(id, next);
    const forget = () => {
      if (running.get(id) === next) running.delete(id);
    };
    next.then(forget, forget);
    return next;
  };
  /** From the cache as it is when it runs: a deleted bundle's copies go; one whose annotation went keeps them. */
  const distributeNow = async (kind: 'ConfigMap' | 'Secret', sourceKey: string): Promise<Outcome> => {
    const obj = (kind === 'ConfigMap' ? configMaps : secrets).get(sourceKey);
    const parsed = obj && spec(obj);
    if (obj && (!parsed || isRefusal(parsed))) return undefined;
    const s = parsed && !isRefusal(parsed) ? parsed : undefined;
    const { namespace: home, name } = splitKey(sourceKey);
    const existing = new Map<string, SlimData>();
    for (const cm of configMaps.list())
      if (cm.metadata.name === name && cm.metadata.namespace !== home) existing.set(cm.metadata.namespace ?? '', cm);
    const matcher = s?.namespaces;
    const targets = matcher
      ? namespaces
          .list()
          .filter(
            (n) => !n.metadata.deletionTimestamp && n.metadata.name !== home && watched(n.metadata.name) && matcher(n.metadata.labels),
          )
          .map((n) => n.metadata.name)
          .sort()
      : [];
    // the copies hold what the bundle holds (ConfigMap form), read from the bundle as written
    const want = obj && targets.length ? await copyValues(obj) : {};
    if (isRefusal(want)) return obj && write.warn(obj, want);
    // a copy written a moment ago whose watch event has not reached the cache: not written again from the stale entry
    const settled = (ns: string) => {
      const k = objectKey(ns, name);
      const from = inFlight.get(k);
      if (from === undefined) return true;
      if (from === (existing.get(ns)?.metadata.resourceVersion ?? '')) return false;
      inFlight.delete(k);
      return true;
    };
    const actions = desiredCopies({ sourceKey, name, want, targets, existing }).filter((a) => settled(a.namespace));
    const conflicts: string[] = [];
    const done = { create: 0, patch: 0, delete: 0 };
    const forbidden: string[] = [];
    const write1 = async (a: Exclude<CopyAction, { verb: 'conflict' }>) => {
      let refused: Refusal | undefined;
      try {
        if (a.verb === 'create') refused = await write.create(ConfigMaps, a.namespace, a.body);
        else if (a.verb === 'patch') refused = await write.patch(ConfigMaps, a.obj, a.body);
        else refused = await write.delete(ConfigMaps, a.namespace, name);
      } catch (err) {
        // the install grants no copies there (overlays/trust-bundle-copies): said once, looked at again later
        if (!(err instanceof ApiError && err.isForbidden)) throw err;
        forbidden.push(a.namespace);
        return;
      }
      if (refused && obj) return write.warn(obj, refused);
      if (refused) return;
      done[a.verb]++;
      inFlight.set(objectKey(a.namespace, name), existing.get(a.namespace)?.metadata.resourceVersion ?? '');
    };
    for (const a of actions) if (a.verb === 'conflict') conflicts.push(a.namespace);
    // one bundle's copies are independent writes: COPY_WRITES_IN_FLIGHT at a time, not one round trip after another
    const queue = actions.filter((a): a is Exclude<CopyAction, { verb: 'conflict' }> => a.verb !== 'conflict');
    const failed = (
      await Promise.allSettled(
        Array.from({ length: Math.min(COPY_WRITES_IN_FLIGHT, queue.length) }, async () => {
          for (let a = queue.shift(); a; a = queue.shift()) await write1(a);
        }),
      )
    ).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason; // a conflict or an apiserver error: retried from the newer cache (the rest are written)
    forbidden.sort();
    if (!obj) return forbidden.length ? { requeueAfterMs: FORBIDDEN_RECHECK_MS } : undefined;
    if (conflicts.length)
      write.warn(
        obj,
        refuse(
          'TrustBundleCopyConflict',
          `ConfigMap "${name}" exists and is not annotary's copy of this bundle in namespace(s) ${conflicts.join(', ')}`,
        ),
      );
    if (forbidden.length)
      write.warn(
        obj,
        refuse(
          'TrustBundleCopyForbidden',
          `annotary may not create or delete ConfigMaps in namespace(s) ${forbidden.join(', ')}: the copies need the ` +
            'annotary-trust-bundle-copies ClusterRole bound to it (overlays/trust-bundle-copies, Helm trustBundleCopies)',
        ),
      );
    if (done.create + done.patch + done.delete)
      write.note(obj, 'TrustBundleDistributed', `copies: ${done.create} created, ${done.patch} updated, ${done.delete} deleted`);
    return forbidden.length ? { requeueAfterMs: FORBIDDEN_RECHECK_MS } : undefined;
  };

  /** The bundle's output keys as a ConfigMap holds them (a Secret bundle's copies are ConfigMaps too). */
  const copyValues = async (obj: SlimData): Promise<Record<string, string> | Refusal> => {
    const record = parseOwnerRecord(obj.metadata.annotations?.[A.ownerRecord]);
    const keys = Object.keys(record?.keys ?? {}).sort();
    const out: Record<string, string> = {};
    for (const k of keys) {
      const stored = obj.kind === 'ConfigMap' ? (obj.data?.[k] ?? obj.binaryData?.[k]) : undefined;
      const isText = obj.kind === 'ConfigMap' && obj.data?.[k] !== undefined;
      let v: string | undefined = stored;
      if (v === undefined) v = await read(obj.kind as SourceKind, obj.metadata.namespace ?? '', obj.metadata.name, k, (b) => b); // base64 as stored
      if (v === undefined) return refuse('CaSourceMissing', `the bundle's key "${k}" is gone`);
      const b64 = isText ? Buffer.from(v, 'latin1').toString('base64') : v;
      out[k] = configMapField(k) === 'data' ? Buffer.from(b64, 'base64').toString('latin1') : b64;
    }
    return out;
  };

  const bundleSpec = (kind: 'ConfigMap' | 'Secret', cache: Informer<SlimData>, rt: ResourceType): ControllerSpec<SlimData> => ({
    name: `${CONTROLLER}/${kind}`,
    for: cache,
    filter: (o) => reader.get(o.metadata.annotations, A.trustBundle) !== undefined,
    watches: [
      { source: secrets, refsOf: refsOf('Secret') },
      { source: configMaps, refsOf: refsOf('ConfigMap') },
      // any Namespace event: a namespace that appears, goes or changes labels may gain or lose a copy
      {
        source: namespaces,
        refsOf: (o) => {
          const s = spec(o);
          return s && !isRefusal(s) && s.namespaces ? [{ kind: 'Namespace', namespace: '', name: ANY_NAME }] : [];
        },
      },
    ],
    async reconcile({ namespace, name }) {
      const key = objectKey(namespace, name);
      const obj = cache.get(key);
      if (!obj) {
        rejected.forget(key);
        return distribute(kind, key); // deleted: its copies go with it
      }
      if (obj.metadata.deletionTimestamp) return;
      const s = spec(obj);
      if (!s) return;
      if (isRefusal(s)) return write.warn(obj, s);
      const digests = sourceDigests(obj, s);
      if (isRefusal(digests)) return write.warn(obj, digests);
      const pwDigest =
        'literal' in s.password
          ? valueDigest(s.password.literal)
          : secrets.get(objectKey(namespace, s.password.secret))?.digests[s.password.key];
      const ann = obj.metadata.annotations;
      const hash = digestOfParts([ann?.[A.trustBundle] ?? '', s.formats.join(','), pwDigest ?? '-', ...digests]);
      const current = ann?.[A.sourceHash] === hash && writtenKeysIntact(obj.metadata, obj.digests);
      if (!current) {
        if (rejected.blocks(key, writeFingerprint(hash, obj.digests))) return;
        const t = await texts(obj, s);
        if (isRefusal(t)) return write.warn(obj, t);
        const password = await resolvePassword(s.password, namespace, read);
        if (isRefusal(password)) return write.warn(obj, password);
        const files = desiredTrustBundle(t, s.formats, password);
        if (isRefusal(files)) return write.warn(obj, files);
        const change: ManagedChange | Refusal | undefined = diffManagedKeys({
          uid: obj.metadata.uid,
          record: parseOwnerRecord(ann?.[A.ownerRecord]),
          currentDigests: obj.digests,
          want: storedValues(kind, files),
          managed: commaList(ann?.[A.managedKeys]),
          inputsHash: hash,
          currentHash: ann?.[A.sourceHash],
        });
        if (isRefusal(change)) return write.warn(obj, change);
        if (change) {
          const field = kind === 'ConfigMap' ? configMapField : 'data';
          const knownSizes = kind === 'ConfigMap' ? configMapSizes(obj) : {};
          if (!(await writeManagedChange(write, rejected, { rt, obj, field, knownSizes }, change))) return;
          reportManagedChange(write, obj, change, 'TrustBundleUpdated');
          return; // the copies follow from the written bundle (its watch event reconciles it again)
        }
      }
      return distribute(kind, key);
    },
  });

  // a copy edited or deleted by someone else: the bundles of that name are reconciled (they repair it)
  const copies: ControllerSpec<SlimData> = {
    name: `${CONTROLLER}/copies`,
    for: configMaps,
    filter: (o) => o.metadata.annotations?.[A.trustBundleCopyOf] !== undefined,
    async reconcile({ namespace, name }) {
      const copy = configMaps.get(objectKey(namespace, name));
      if (copy && copyIntact(copy)) return undefined; // as annotary wrote it: the bundle's own reconcile keeps it current
      const of = copy?.metadata.annotations?.[A.trustBundleCopyOf];
      const candidates = of
        ? [of]
        : [...configMaps.list(), ...secrets.list()]
            .filter((o) => o.metadata.name === name && reader.get(o.metadata.annotations, A.trustBundleNamespaces) !== undefined)
            .map(keyOf);
      for (const k of candidates)
        for (const kind of ['ConfigMap', 'Secret'] as const) {
          if (!(kind === 'ConfigMap' ? configMaps : secrets).get(k)) continue;
          const outcome = await distribute(kind, k);
          if (outcome) return outcome;
        }
      return undefined;
    },
  };

  return [bundleSpec('ConfigMap', configMaps, ConfigMaps), bundleSpec('Secret', secrets, Secrets), copies];
}
