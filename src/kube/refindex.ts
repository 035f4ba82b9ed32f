// Reverse index "referenced object → objects that reference it", so that a change of a
// Secret re-queues every Route, Ingress, keystore Secret or workload that uses it — all
// of them, in one pass (cert-utils-operator once updated only one of several: its #83).
// Informers own their indexes and update them from the referring object on every cache
// event (Informer.addIndex), so an index is never staler than the cache.
import type { ObjectRef } from './types.js';
import { ANY_NAME, refId } from './types.js';

export class ReferenceIndex {
  private readonly forward = new Map<string, Set<string>>(); // referrer → targets
  private readonly reverse = new Map<string, Map<string, ObjectRef>>(); // target → referrers

  /** Replaces the set of targets `referrer` points at. */
  set(referrer: ObjectRef, targets: Iterable<ObjectRef>): void {
    this.remove(referrer);
    const ids = new Set([...targets].map(refId));
    if (ids.size === 0) return;
    const from = refId(referrer);
    this.forward.set(from, ids);
    for (const t of ids) {
      let r = this.reverse.get(t);
      if (!r) this.reverse.set(t, (r = new Map<string, ObjectRef>()));
      r.set(from, referrer);
    }
  }

  remove(referrer: ObjectRef): void {
    const from = refId(referrer);
    const old = this.forward.get(from);
    if (!old) return;
    this.forward.delete(from);
    for (const t of old) {
      const r = this.reverse.get(t)!;
      r.delete(from);
      if (r.size === 0) this.reverse.delete(t);
    }
  }

  /** Every object that references `target`, by name or by pattern (ANY_NAME) in its namespace. */
  referrers(target: ObjectRef): ObjectRef[] {
    const any = { ...target, name: ANY_NAME };
    return [...new Map([...(this.reverse.get(refId(target)) ?? []), ...(this.reverse.get(refId(any)) ?? [])]).values()];
  }
}
