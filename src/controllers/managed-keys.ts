// The ownership rule shared by every controller that writes data keys into a user's
// object (keystores into Secrets, truststores into ConfigMaps): annotary changes or removes
// only keys it can prove it wrote, refuses to overwrite anyone else's key, and writes
// nothing when the object already holds exactly what it wants.
//
// Proof of authorship: annotary.io/owner-record, written in the same patch as the keys,
// holds the object's uid and the digest of every value annotary wrote. A record bound to
// this object's uid proves every key it lists (so a tampered store is restored). A record or
// an annotary.io/managed-keys list copied from another object (a GitOps tool, a manifest
// exported with its annotations) proves only keys whose current value is byte for byte what
// annotary recorded or would write now; anything else stays the user's: never removed,
// and a KeyConflict rather than an overwrite. (managed-keys stays, readable, and as the list
// earlier versions wrote; their stores are proven by the "would write now" rule, since
// stores are byte-stable.)
import { A } from '../annotations.js';
import type { Refusal } from '../kube/refusal.js';
import { refuse } from '../kube/refusal.js';
import { digestOfParts, valueDigest } from '../kube/slim.js';
import type { RejectedWrites } from '../kube/rejections.js';
import type { SlimData } from '../kube/slim.js';
import type { KubeObject, ResourceType } from '../kube/types.js';
import { keyOf } from '../kube/types.js';
import type { Writer } from '../kube/writer.js';

/** uid of the object annotary wrote, and the digest (valueDigest) of each value it wrote there */
export interface OwnerRecord {
  uid: string;
  keys: Record<string, string>;
}

export function parseOwnerRecord(value: string | undefined): OwnerRecord | undefined {
  if (value === undefined) return undefined;
  try {
    const r = JSON.parse(value) as Partial<OwnerRecord>;
    if (typeof r?.uid !== 'string' || typeof r.keys !== 'object' || r.keys === null) return undefined;
    const keys = Object.entries(r.keys).filter((e): e is [string, string] => typeof e[1] === 'string');
    return { uid: r.uid, keys: Object.fromEntries(keys) };
  } catch {
    return undefined; // unreadable: proves nothing
  }
}

/** Stable text (sorted keys): the same record is the same annotation value. */
export function ownerRecordValue(r: OwnerRecord): string {
  return JSON.stringify({ uid: r.uid, keys: Object.fromEntries(Object.entries(r.keys).sort(([a], [b]) => (a < b ? -1 : 1))) });
}

/**
 * Whether the object still holds exactly what annotary last wrote into it: a record bound
 * to this uid whose every key has its recorded digest. Controllers skip a rebuild only then,
 * so an edited or deleted store is rebuilt at the next event, not at the next resync.
 */
export function writtenKeysIntact(meta: KubeObject['metadata'], currentDigests: Record<string, string>): boolean {
  const r = parseOwnerRecord(meta.annotations?.[A.ownerRecord]);
  return r !== undefined && r.uid === meta.uid && Object.entries(r.keys).every(([k, d]) => at(currentDigests, k) === d);
}

export interface ManagedChange {
  set: Record<string, string>;
  remove: string[];
  managed: string[];
  inputsHash: string;
  /** the record to write with the change */
  record: OwnerRecord;
  /** keys an annotation claimed for annotary that it cannot prove it wrote: left to the user */
  released: string[];
}

export interface ManagedState {
  /** the object's uid: what a record must be bound to */
  uid: string | undefined;
  /**
   * digests (valueDigest) of the object's current values, per key: the lean caches keep
   * these for every key but not the values of the stores annotary wrote
   */
  currentDigests: Record<string, string>;
  /** what annotary wants there */
  want: Record<string, string>;
  /** annotary.io/managed-keys: keys claimed for annotary (a claim, not a proof) */
  managed: string[];
  /** annotary.io/owner-record, parsed */
  record: OwnerRecord | undefined;
  inputsHash: string;
  currentHash?: string;
  /** unmanaged keys the user hands over by annotation (cert-utils migration) */
  takeover?: string[];
}

/** A value of a per-key map, never one of Object's own properties (a data key may be "constructor"). */
const at = (m: Record<string, string> | undefined, k: string): string | undefined => (m && Object.hasOwn(m, k) ? m[k] : undefined);

export interface Claims {
  uid: string | undefined;
  record: OwnerRecord | undefined;
  /** what a bookkeeping list (managed-keys, managed-fields) claims for annotary */
  claimed: readonly string[];
  currentDigests: Record<string, string>;
  /** digest of what annotary would write now, per key it wants */
  wantDigests: Record<string, string>;
}

/**
 * The claimed keys (or fields) annotary can prove it wrote (see the file comment): the one
 * ownership rule of every controller that writes into objects users own.
 */
export function provenKeys(c: Claims): Set<string> {
  const r = c.record;
  if (r && c.uid !== undefined && r.uid === c.uid) return new Set(Object.keys(r.keys));
  const claimed = new Set([...c.claimed, ...Object.keys(r?.keys ?? {})]);
  return new Set(
    [...claimed].filter((k) => {
      const cur = at(c.currentDigests, k);
      return cur !== undefined && (cur === at(r?.keys, k) || cur === at(c.wantDigests, k));
    }),
  );
}

/** Claimed keys still present that annotary could not prove and does not want: left to the user, claim dropped. */
export function releasedKeys(c: Claims, proven: Set<string>): string[] {
  return [...new Set([...c.claimed, ...Object.keys(c.record?.keys ?? {})])]
    .filter((k) => !proven.has(k) && !Object.hasOwn(c.wantDigests, k) && at(c.currentDigests, k) !== undefined)
    .sort();
}

/** Whether the record on the object already says `next` (no record wanted and none there counts as the same). */
export function sameRecord(current: OwnerRecord | undefined, next: OwnerRecord): boolean {
  if (Object.keys(next.keys).length === 0) return current === undefined;
  return current !== undefined && ownerRecordValue(current) === ownerRecordValue(next);
}

export function diffManagedKeys(s: ManagedState): ManagedChange | Refusal | undefined {
  const wantDigests = Object.fromEntries(Object.entries(s.want).map(([k, v]) => [k, valueDigest(v)]));
  const claims: Claims = { uid: s.uid, record: s.record, claimed: s.managed, currentDigests: s.currentDigests, wantDigests };
  const proven = provenKeys(claims);
  const differs = (k: string) => at(s.currentDigests, k) !== wantDigests[k];
  for (const k of Object.keys(s.want)) {
    if (at(s.currentDigests, k) !== undefined && differs(k) && !proven.has(k) && !s.takeover?.includes(k)) {
      return refuse('KeyConflict', `key "${k}" exists and was not written by annotary; remove it or rename it`);
    }
  }
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.want)) if (differs(k)) set[k] = v;
  const remove = [...proven].filter((k) => !Object.hasOwn(s.want, k) && at(s.currentDigests, k) !== undefined).sort();
  const managed = Object.keys(s.want).sort();
  const record: OwnerRecord = { uid: s.uid ?? '', keys: Object.fromEntries(managed.map((k) => [k, wantDigests[k]])) };
  const sameManaged = managed.join(',') === [...s.managed].sort().join(',');
  if (!Object.keys(set).length && !remove.length && sameManaged && sameRecord(s.record, record) && s.currentHash === s.inputsHash)
    return undefined;
  return { set, remove, managed, inputsHash: s.inputsHash, record, released: releasedKeys(claims, proven) };
}

export type DataField = 'data' | 'binaryData';
/** Where a key's value goes: one field for every key, or per key (a ConfigMap's PEM text in data, its stores in binaryData). */
export type FieldOf = DataField | ((key: string) => DataField);

/** The merge patch of a change: preconditioned on the resourceVersion it was computed from. */
export function managedKeysPatch(obj: KubeObject, field: FieldOf, change: ManagedChange): Record<string, unknown> {
  const done = change.managed.length === 0;
  const fieldOf = typeof field === 'function' ? field : () => field;
  const body: Record<string, Record<string, string | null>> = {};
  const put = (k: string, v: string | null) => ((body[fieldOf(k)] ??= {})[k] = v);
  for (const [k, v] of Object.entries(change.set)) put(k, v);
  for (const k of change.remove) put(k, null);
  return {
    metadata: {
      resourceVersion: obj.metadata.resourceVersion,
      annotations: done
        ? { [A.sourceHash]: null, [A.managedKeys]: null, [A.ownerRecord]: null }
        : {
            [A.sourceHash]: change.inputsHash,
            [A.managedKeys]: change.managed.join(','),
            [A.ownerRecord]: ownerRecordValue(change.record),
          },
    },
    ...body,
  };
}

/** Decoded size of each value of a ConfigMap (cached whole): data holds text, binaryData base64. */
export function configMapSizes(cm: SlimData): Record<string, number> {
  return {
    ...Object.fromEntries(Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.byteLength(v)])),
    ...Object.fromEntries(Object.entries(cm.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').length])),
  };
}

/** Kubernetes refuses Secrets and ConfigMaps whose values add up to more than 1 MiB. */
export const MAX_OBJECT_DATA_BYTES = 1024 * 1024;

/**
 * Refuses a change that would take the object over the apiserver's size limit, counting the
 * values annotary knows the size of (`knownSizes`: decoded bytes per key, e.g. the cached
 * inputs) and those it writes. Keys of unknown size can still push it over: the apiserver's
 * rejection is then mapped to a refusal by applyManagedKeys.
 */
export function checkDataSize(
  knownSizes: Record<string, number>,
  change: ManagedChange,
  encoding: 'base64' | 'text' | ((key: string) => 'base64' | 'text'),
): Refusal | undefined {
  const sizes = { ...knownSizes };
  const encodingOf = typeof encoding === 'function' ? encoding : () => encoding;
  for (const [k, v] of Object.entries(change.set))
    sizes[k] = encodingOf(k) === 'base64' ? Buffer.from(v, 'base64').length : Buffer.byteLength(v);
  for (const k of change.remove) delete sizes[k];
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  if (total <= MAX_OBJECT_DATA_BYTES) return undefined;
  const written = Object.keys(change.set).join(', ');
  return refuse(
    'StoresTooLarge',
    `writing ${written} would make the object's data ${total} bytes, over the ${MAX_OBJECT_DATA_BYTES}-byte limit of Kubernetes`,
  );
}

/**
 * What a refused write was built from: the inputs and every value of the object. A write
 * refused for good is not rebuilt nor sent again while this stays the same (RejectedWrites).
 */
export function writeFingerprint(inputsHash: string, digests: Record<string, string>): string {
  const keys = Object.keys(digests).sort();
  return digestOfParts([inputsHash, ...keys.flatMap((k) => [k, digests[k]])]);
}

/**
 * Writes a change of managed keys as one merge patch: refused before sending when the object
 * would exceed the size limit (`knownSizes`: decoded bytes of the values annotary knows), and,
 * when refused for good, remembered under the object's fingerprint and reported. True when written.
 */
export async function writeManagedChange(
  write: Writer,
  rejected: RejectedWrites,
  target: { rt: ResourceType; obj: SlimData; field: FieldOf; knownSizes: Record<string, number> },
  change: ManagedChange,
): Promise<boolean> {
  const { rt, obj, field, knownSizes } = target;
  const key = keyOf(obj);
  // values are base64 except in a ConfigMap's data, which holds text
  const fieldOf = typeof field === 'function' ? field : () => field;
  const encoding = (k: string) => (rt.kind === 'ConfigMap' && fieldOf(k) === 'data' ? 'text' : 'base64');
  const rejection = checkDataSize(knownSizes, change, encoding) ?? (await write.patch(rt, obj, managedKeysPatch(obj, field, change)));
  if (rejection) {
    rejected.remember(key, writeFingerprint(change.inputsHash, obj.digests));
    write.warn(obj, rejection);
    return false;
  }
  rejected.forget(key);
  return true;
}

/** The Events of a written change: what was written or removed, and what was left to the user. */
export function reportManagedChange(write: Writer, obj: KubeObject, change: ManagedChange, writtenReason: string): void {
  const written = Object.keys(change.set);
  if (written.length) write.note(obj, writtenReason, `wrote ${written.join(', ')} (inputs ${change.inputsHash.slice(0, 12)})`);
  if (change.remove.length) write.note(obj, 'StoresRemoved', `removed ${change.remove.join(', ')}`);
  reportReleased(write, obj, A.managedKeys, change.released);
}

/** The Warning for claims annotary dropped because it could not prove them. */
export function reportReleased(write: Writer, obj: KubeObject, claimKey: string, released: string[]): void {
  if (!released.length) return;
  write.warn(
    obj,
    refuse(
      'OwnershipNotProven',
      `${claimKey} names ${released.join(', ')}, but annotary cannot prove it wrote them here (an annotation copied from another object?): left untouched and no longer claimed`,
    ),
  );
}
