// What the caches keep of each object. Secrets and ConfigMaps are the bulk of a cluster's
// objects; the controllers mostly need to know *whether* their data changed, so the cache
// keeps a digest per data key and drops the data itself, except what a controller says it
// reads (the TLS inputs of annotated keystore Secrets; ConfigMaps whole). managedFields and kubectl's
// last-applied-configuration (which can hold a whole Secret in clear) are always dropped.
import { hexDigest } from '../pki/digest.js';
import type { KubeObject, ObjectMeta } from './types.js';

export interface SlimData extends KubeObject {
  type?: string;
  /** present only when the object was kept with data: all of it, or the keys a controller asked for */
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  /** sha256 (hex, 32 chars) of each data/binaryData value as stored (base64 or text) */
  digests: Record<string, string>;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Whether two string maps hold the same keys with the same values (per-key digests, annotations, labels). */
export function sameEntries(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/**
 * The one way annotary hashes several inputs into a digest (inputs of stores, watched data of
 * a workload): sha256 over the parts, each length-prefixed so ("ab","c") and ("a","bc") differ.
 */
export function digestOfParts(parts: Iterable<string>): string {
  let text = '';
  for (const s of parts) text += `${s.length}:${s}`;
  return valueDigest(text);
}

export function valueDigest(value: string): string {
  return hexDigest('sha256', value).slice(0, 32);
}

export function slimMeta(m: ObjectMeta): ObjectMeta {
  const annotations =
    m.annotations && LAST_APPLIED in m.annotations
      ? Object.fromEntries(Object.entries(m.annotations).filter(([k]) => k !== LAST_APPLIED))
      : m.annotations;
  return {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    generation: m.generation,
    creationTimestamp: m.creationTimestamp,
    deletionTimestamp: m.deletionTimestamp,
    labels: m.labels,
    annotations,
    ownerReferences: m.ownerReferences,
  };
}

/** Which data an object keeps: every key, these keys (when present), or none (digests only). */
export type KeepData = 'all' | readonly string[] | undefined;

/** Builds the transform for Secrets/ConfigMaps; `keepData` decides what data each object keeps. */
export function slimDataObject(kind: 'Secret' | 'ConfigMap', keepData: (meta: ObjectMeta) => KeepData) {
  return (obj: KubeObject): SlimData => {
    const data = obj.data as Record<string, string> | undefined;
    const binaryData = obj.binaryData as Record<string, string> | undefined;
    const digests: Record<string, string> = {};
    for (const [k, v] of Object.entries(data ?? {})) digests[k] = valueDigest(v);
    for (const [k, v] of Object.entries(binaryData ?? {})) digests[k] = valueDigest(v);
    const meta = slimMeta(obj.metadata);
    const slim: SlimData = { apiVersion: 'v1', kind, metadata: meta, type: obj.type as string | undefined, digests };
    const keep = keepData(meta);
    if (keep === 'all') {
      slim.data = data ?? {};
      if (binaryData) slim.binaryData = binaryData;
    } else if (keep) slim.data = Object.fromEntries(keep.filter((k) => data?.[k] !== undefined).map((k) => [k, data![k]]));
    return slim;
  };
}

/** Other kinds: drop managedFields and last-applied, keep spec. */
export function slimObject(obj: KubeObject): KubeObject {
  const { status: _status, ...rest } = obj;
  return { ...rest, metadata: slimMeta(obj.metadata) };
}

/**
 * Kinds whose status is what their controllers read (a CSR's approval and certificate): keep it,
 * and name the kind (list items carry none), as the Events about these objects need it.
 */
export function slimObjectWithStatus(apiVersion: string, kind: string) {
  return (obj: KubeObject): KubeObject => ({ ...obj, apiVersion, kind, metadata: slimMeta(obj.metadata) });
}
