// Reverse index "referenced object → objects that reference it", so that a change of a
// Secret re-queues every Route, Ingress, keystore Secret or workload that uses it — all
// of them, in one pass (cert-utils-operator once updated only one of several: its #83).
export class ReferenceIndex {
  private readonly forward = new Map<string, Set<string>>(); // referrer → targets
  private readonly reverse = new Map<string, Set<string>>(); // target → referrers

  /** Replaces the set of targets `referrer` points at. */
  set(referrer: string, targets: Iterable<string>): void {
    this.remove(referrer);
    const set = new Set(targets);
    if (set.size === 0) return;
    this.forward.set(referrer, set);
    for (const t of set) {
      let r = this.reverse.get(t);
      if (!r) this.reverse.set(t, (r = new Set()));
      r.add(referrer);
    }
  }

  remove(referrer: string): void {
    const old = this.forward.get(referrer);
    if (!old) return;
    this.forward.delete(referrer);
    for (const t of old) {
      const r = this.reverse.get(t)!;
      r.delete(referrer);
      if (r.size === 0) this.reverse.delete(t);
    }
  }

  referrers(target: string): string[] { return [...(this.reverse.get(target) ?? [])]; }

  targets(referrer: string): string[] { return [...(this.forward.get(referrer) ?? [])]; }
}
