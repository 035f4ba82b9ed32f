// Reload only when what the pod consumes changed (#17; Reloader issue #137): with
// annotary.io/reload-consumed-keys-only (or --reload-consumed-keys-only), a workload's digest
// covers only the keys its pod template reads of each watched object, so a change to the
// other keys of a shared Secret/ConfigMap does not roll it. A key is consumed by an env
// valueFrom (secretKeyRef/configMapKeyRef .key) or a volume's items[].key (plain or projected);
// envFrom, a volume without items, or an object named by reload annotations that the pod
// template does not reference at all, consume every key.
//
// Turning it on or off changes what the digest covers, not the data: that is recorded without a
// rollout, as a change of the watched set is. It is recognised without memory (so also after an
// operator restart, e.g. one that changed the flag): the recorded digest is the digest the
// current data has under the other setting (scopeToggled).
import type { AnnotationReader } from '../annotations.js';
import { A, parseBoolValue } from '../annotations.js';
import type { Refusal } from '../kube/refusal.js';
import type { RefKind } from './pod-refs.js';

/** The keys of one object a pod template consumes: all of them, or these. */
export type Scope = 'all' | ReadonlySet<string>;

interface KeyRef {
  name?: string;
  key?: string;
}
interface Items {
  name?: string;
  secretName?: string;
  items?: { key?: string }[];
}
interface Container {
  env?: { valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef } }[];
  envFrom?: { secretRef?: { name?: string }; configMapRef?: { name?: string } }[];
}
export interface ConsumingPodSpec {
  volumes?: { secret?: Items; configMap?: Items; projected?: { sources?: { secret?: Items; configMap?: Items }[] } }[];
  containers?: Container[];
  initContainers?: Container[];
}

/** What the pod spec consumes of each Secret/ConfigMap it references, by "Kind/name". */
export function consumedKeys(spec: ConsumingPodSpec | undefined): Map<string, Scope> {
  const found = new Map<string, Scope>();
  const add = (kind: RefKind, name: string | undefined, keys: 'all' | (string | undefined)[]) => {
    if (!name) return;
    const id = `${kind}/${name}`;
    const seen = found.get(id);
    if (seen === 'all' || keys === 'all') return void found.set(id, 'all');
    found.set(id, new Set([...(seen ?? []), ...keys.filter((k): k is string => !!k)]));
  };
  // a volume without items projects every key; with items, exactly those
  const volume = (kind: RefKind, v: Items | undefined, name: string | undefined) =>
    v && add(kind, name, v.items?.length ? v.items.map((i) => i.key) : 'all');
  for (const v of spec?.volumes ?? []) {
    volume('Secret', v.secret, v.secret?.secretName);
    volume('ConfigMap', v.configMap, v.configMap?.name);
    for (const s of v.projected?.sources ?? []) {
      volume('Secret', s.secret, s.secret?.name);
      volume('ConfigMap', s.configMap, s.configMap?.name);
    }
  }
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef;
      const m = e.valueFrom?.configMapKeyRef;
      if (s) add('Secret', s.name, [s.key]);
      if (m) add('ConfigMap', m.name, [m.key]);
    }
    for (const e of c.envFrom ?? []) {
      add('Secret', e.secretRef?.name, 'all');
      add('ConfigMap', e.configMapRef?.name, 'all');
    }
  }
  return found;
}

/** The keys of `id` in `scopes` consume; an object the pod template does not reference consumes all. */
export const scopeOf = (scopes: Map<string, Scope>, id: string): Scope => scopes.get(id) ?? 'all';

/** Per-key digests restricted to a scope. */
export function scopedDigests(digests: Record<string, string>, scope: Scope): Record<string, string> {
  if (scope === 'all') return digests;
  return Object.fromEntries(Object.entries(digests).filter(([k]) => scope.has(k)));
}

/** Watched objects with only the data keys the pod template consumes. */
export function consumedData<T extends { kind: RefKind; name: string; digests: Record<string, string> }>(
  objects: T[],
  spec: ConsumingPodSpec | undefined,
): T[] {
  const scopes = consumedKeys(spec);
  return objects.map((o) => ({ ...o, digests: scopedDigests(o.digests, scopeOf(scopes, `${o.kind}/${o.name}`)) }));
}

/** Whether the workload asks for consumed keys only: its annotation, else the flag. Strict, as annotary's keys are. */
export function consumedKeysOnly(
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
  flag: boolean,
): boolean | Refusal {
  const v = reader.get(annotations, A.reloadConsumedKeysOnly);
  return v === undefined || v.trim() === '' ? flag : parseBoolValue(v, A.reloadConsumedKeysOnly);
}

/**
 * The digest moved only because the setting was turned on or off: the workload records
 * `otherDigest`, the digest of the current data under the other setting: nothing its pods read
 * changed since it was recorded, so it is recorded without a rollout.
 */
export const scopeToggled = (recorded: string | undefined, digest: string, otherDigest: string): boolean =>
  recorded !== undefined && digest !== otherDigest && recorded === otherDigest;
