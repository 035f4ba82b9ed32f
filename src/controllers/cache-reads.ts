// Reads of the objects a controller references, from the shared caches: values (password
// Secrets, CA bundles), digests, and what each store object reads (for the watches and the
// cycle check). The lean Secret cache holds data only for annotated Secrets; anything else is
// read from the apiserver when — and only when — a build needs it.
import type { Caches } from '../kube/caches.js';
import type { ControllerContext } from './context.js';
import type { Refusal } from '../kube/refusal.js';
import { refuse } from '../kube/refusal.js';
import type { AnnotationReader } from '../annotations.js';
import type { DigestLookup, PasswordRef, StoreDeps, StoreKind, StoreNode } from './store-specs.js';
import { storeDeps } from './store-specs.js';
import type { SlimData } from '../kube/slim.js';
import type { KubeObject, ObjectRef } from '../kube/types.js';
import { ConfigMaps, Secrets, objectKey } from '../kube/types.js';

export type SourceKind = 'Secret' | 'ConfigMap';

/** Base64 Secret data → text. utf8 for passwords; PEM uses pemText. */
export const utf8 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));
/** PEM is ASCII: latin1 keeps one char per byte, so size limits see the stored size. */
export const pemText = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('latin1'));

export type ValueReader = (
  kind: SourceKind,
  namespace: string,
  name: string,
  key: string,
  decode?: (b64: string) => string | undefined,
) => Promise<string | undefined>;

/** Reads one value of a Secret (decoded) or ConfigMap (data or binaryData), cache first. */
export function valueReader(ctx: Pick<ControllerContext, 'client'>, caches: Pick<Caches, 'secrets' | 'configMaps'>): ValueReader {
  return readerOver(caches, getter(ctx));
}

/** One GET of a Secret or ConfigMap, undefined when it is gone. */
const getter =
  (ctx: Pick<ControllerContext, 'client'>) =>
  (kind: SourceKind, namespace: string, name: string): Promise<SlimData | undefined> =>
    ctx.client.tryGet<SlimData>(kind === 'Secret' ? Secrets : ConfigMaps, namespace, name);

/**
 * A ValueReader for one reconcile: as valueReader, and an object the cache does not hold the value
 * of is read from the apiserver once, however many of its keys are read and by how many steps
 * (validate-before-rolling reads tls.crt and tls.key, a restart window tls.crt again). Made per
 * reconcile: the next one reads what is current then.
 */
export function reconcileReader(ctx: Pick<ControllerContext, 'client'>, caches: Pick<Caches, 'secrets' | 'configMaps'>): ValueReader {
  const get = getter(ctx);
  const fetched = new Map<string, Promise<SlimData | undefined>>();
  return readerOver(caches, (kind, namespace, name) => {
    const id = `${kind}/${namespace}/${name}`;
    let read = fetched.get(id);
    if (!read) fetched.set(id, (read = get(kind, namespace, name)));
    return read;
  });
}

function readerOver(
  caches: Pick<Caches, 'secrets' | 'configMaps'>,
  fetch: (kind: SourceKind, namespace: string, name: string) => Promise<SlimData | undefined>,
): ValueReader {
  return async (kind, namespace, name, key, decode = utf8) => {
    const cached = (kind === 'Secret' ? caches.secrets() : caches.configMaps()).get(objectKey(namespace, name));
    const fromObj = (o: SlimData | undefined): string | undefined => {
      const v = o?.data?.[key] ?? o?.binaryData?.[key];
      if (v === undefined) return undefined;
      return kind === 'Secret' || o?.binaryData?.[key] !== undefined ? decode(v) : v;
    };
    if (cached?.data && fromObj(cached) !== undefined) return fromObj(cached);
    return fromObj(await fetch(kind, namespace, name));
  };
}

/** The password a PasswordRef names, or a Refusal saying what is missing. */
export async function resolvePassword(ref: PasswordRef, namespace: string, read: ValueReader): Promise<string | Refusal> {
  if ('literal' in ref) return ref.literal;
  const pw = await read('Secret', namespace, ref.secret, ref.key);
  if (pw === undefined) return refuse('PasswordKeyMissing', `password Secret "${ref.secret}" has no key "${ref.key}"`);
  if (pw === '') return refuse('PasswordKeyMissing', `password in Secret "${ref.secret}" key "${ref.key}" is empty`);
  return pw;
}

/** A DigestLookup over the lean caches of one namespace (undefined: no such object; null: no such key). */
export function cachedDigests(caches: Pick<Caches, 'secrets' | 'configMaps'>, namespace: string): DigestLookup {
  return (kind, name, key) => {
    const obj = (kind === 'Secret' ? caches.secrets() : caches.configMaps()).get(objectKey(namespace, name));
    return obj ? (obj.digests[key] ?? null) : undefined;
  };
}

/** What each store object of one namespace writes and reads, from the lean caches' annotations (for findStoreCycle). */
export function cachedStoreDeps(
  caches: Pick<Caches, 'secrets' | 'configMaps'>,
  namespace: string,
  reader: AnnotationReader,
  defaultPassword: string,
): (n: StoreNode) => StoreDeps | undefined {
  return (n) => {
    const obj = (n.kind === 'Secret' ? caches.secrets() : caches.configMaps()).get(objectKey(namespace, n.name));
    return obj && storeDeps(n, obj.metadata.annotations, reader, defaultPassword);
  };
}

/**
 * The objects a store object reads, of one kind, as its watch's refsOf: what storeDeps says it
 * reads (one rule for the cycle check and the watches).
 */
export function storeRefs(kind: StoreKind, reader: AnnotationReader, defaultPassword: string) {
  return (of: StoreKind) =>
    (obj: KubeObject): ObjectRef[] => {
      const namespace = obj.metadata.namespace ?? '';
      const deps = storeDeps({ kind, name: obj.metadata.name }, obj.metadata.annotations, reader, defaultPassword);
      return deps.reads.filter((r) => r.kind === of).map((r) => ({ kind: r.kind, namespace, name: r.name }));
    };
}
