// What the reload controller remembers of each workload between reconciles, as pure
// transitions (every one takes the time as an argument; nothing here reads a clock):
//   - the settle window: the first data change of a watched object opens a window of
//     --reload-settle; every change within it is applied by one rollout at its end. The
//     window starts at the first change and is never pushed back by later ones, so a steady
//     trickle of changes cannot postpone a rollout forever. A change that comes after the
//     window closed while the workload could not roll (blocked) opens a new one.
//   - the objects missing at the last look: their creation counts as a change;
//   - the per-object digests last confirmed: a digest that moved only because the SET of
//     watched objects changed is recorded without a rollout (see changeCause). They are kept
//     with the digest they add up to, and count only while the workload still records that
//     digest: a write whose answer was lost may have landed (the workload then records a digest
//     this process never confirmed), and data that went back to the confirmed values must
//     still roll. After a restart nothing is known, and any difference counts as a data change.
// Keys are workload ids (refId); the tracker forgets a workload when it is deleted.

/** Data changes seen since the workload's last write: when the first came, when the window closes. */
export interface Pending {
  firstSeen: number;
  windowEnd: number;
}

/** A digest recorded on a workload, and the per-object digests it is made of. */
export interface Recorded {
  digest: string;
  objects: Map<string, string>;
}

export type Begin = { waitMs: number } | { taken: Pending | undefined };

export class ReloadTracker {
  private readonly pending = new Map<string, Pending>();
  private readonly missing = new Map<string, Set<string>>();
  private readonly known = new Map<string, Recorded>();

  constructor(private readonly settleMs: number) {}

  /** A watched object's data changed at `now`; true when this opened a window (the flap guard counts those, reload-gates.ts). */
  dataChanged(workload: string, now: number): boolean {
    const p = this.pending.get(workload);
    if (!p) this.pending.set(workload, { firstSeen: now, windowEnd: now + this.settleMs });
    else if (p.windowEnd <= now)
      p.windowEnd = now + this.settleMs; // a blocked workload: a new window
    else return false;
    return true;
  }

  /**
   * A reconcile starts at `now`: wait while the window is open; otherwise the pending changes
   * are taken (changes from now on open a new window) and must be put back with `restore`
   * if the reconcile cannot act on them.
   */
  begin(workload: string, now: number): Begin {
    const p = this.pending.get(workload);
    if (p && now < p.windowEnd) return { waitMs: p.windowEnd - now };
    this.pending.delete(workload);
    return { taken: p };
  }

  /** Puts back changes a reconcile could not act on, merged with any that came meanwhile. */
  restore(workload: string, p: Pending | undefined): void {
    if (!p) return;
    const cur = this.pending.get(workload);
    if (!cur) this.pending.set(workload, p);
    else cur.firstSeen = Math.min(cur.firstSeen, p.firstSeen);
  }

  /** Objects found missing now, added to those missing since the last confirmed digest. */
  sawMissing(workload: string, ids: string[]): void {
    this.missing.set(workload, new Set([...(this.missing.get(workload) ?? []), ...ids]));
  }

  /** What the recorded digest now stands for: these per-object digests, and these objects still missing. */
  confirm(workload: string, recorded: Recorded | undefined, stillMissing: string[]): void {
    if (stillMissing.length) this.missing.set(workload, new Set(stillMissing));
    else this.missing.delete(workload);
    if (recorded) this.known.set(workload, recorded);
  }

  /** The per-object digests confirmed for `recordedDigest`, the digest the workload records now; undefined if unknown. */
  knownDigests(workload: string, recordedDigest: string | undefined): Map<string, string> | undefined {
    const k = this.known.get(workload);
    return k && k.digest === recordedDigest ? k.objects : undefined;
  }

  missingSince(workload: string): Set<string> {
    return this.missing.get(workload) ?? new Set();
  }

  forget(workload: string): void {
    this.pending.delete(workload);
    this.missing.delete(workload);
    this.known.delete(workload);
  }
}
