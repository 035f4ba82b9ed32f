// Two gates in front of a rollout of the reload controller (#17), as pure state and functions
// (the time is always an argument):
//
// Flap guard (annotary.io/reload-flap-guard on a workload, else --reload-flap-guard): when the
// watched objects of a workload change more than N times within M, its rollouts stop; it rolls
// once when it has settled: when a whole M has passed without a change. A "change" is what
// would otherwise be one rollout: changes within one --reload-settle window count once (a
// rotation that rewrites tls.crt and then the keystore in the same Secret is one). The count
// lives in memory (FlapHistory, fed where ReloadTracker opens a settle window); what is
// pending is not: it is the difference between the data and the digest the workload records,
// which a held workload keeps. A restarted operator knows no history, so a held rollout
// happens once at its start, and the guard counts again from there.
//
// Rollout budget (--max-concurrent-rollouts): at most that many rollouts of Deployments,
// StatefulSets and DaemonSets the reload controller watches may be in progress at once
// (Reloader #220, #1183: one ConfigMap change rolling thousands of workloads at once). In
// progress is what `kubectl rollout status` waits for (rolloutInProgress), read from the
// workloads' cached status, so it is level-triggered too; a rollout over the limit waits and
// starts when one completes.
import { A, parseGoDuration } from '../annotations.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import type { KubeObject } from '../kube/types.js';

// ---------------------------------------------------------------- flap guard

export interface FlapLimit {
  /** more than this many changes ... */
  changes: number;
  /** ... within this long is flapping; settled is this long without a change */
  withinMs: number;
  text: string;
}

/** The largest N and M a guard may take: the history keeps MAX_CHANGES + 1 changes per workload. */
export const MAX_CHANGES = 100;
const MAX_WITHIN_MS = 24 * 3_600_000;

/** `N/M` (N changes, M a Go duration: "5/10m"), or `off`; undefined for an empty value (no guard). */
export function parseFlapGuard(text: string): FlapLimit | 'off' | undefined | Refusal {
  const v = text.trim();
  if (v === '') return undefined;
  if (v.toLowerCase() === 'off') return 'off';
  const bad = (why: string) => refuse('InvalidAnnotation', `${A.reloadFlapGuard}: "${text}" ${why} (e.g. "5/10m", or "off")`);
  const m = /^(\d+)\/(\S+)$/.exec(v);
  if (!m) return bad('is not <changes>/<duration>');
  const changes = Number(m[1]);
  if (changes < 1 || changes > MAX_CHANGES) return bad(`allows 1 to ${MAX_CHANGES} changes`);
  const withinMs = parseGoDuration(m[2]);
  if (withinMs === undefined) return bad('has no Go duration after "/" (20s, 10m, 1h30m)');
  if (withinMs < 1000 || withinMs > MAX_WITHIN_MS) return bad('takes a duration from 1s to 24h');
  return { changes, withinMs, text: v };
}

/** The guard of a workload: its annotation, else the flag's (already parsed) value; undefined: none. */
export function flapLimit(annotation: string | undefined, flagDefault: FlapLimit | null): FlapLimit | undefined | Refusal {
  const own = annotation === undefined ? undefined : parseFlapGuard(annotation);
  if (isRefusal(own)) return own;
  return own === 'off' ? undefined : (own ?? flagDefault ?? undefined);
}

export type FlapVerdict =
  | { hold: false; /** when the rollout now released was first held */ heldSince?: number }
  | { hold: true; /** the hold began with this verdict: say so once */ entered: boolean; untilMs: number; count: number };

/** The change history of each workload (by refId) and which ones are held. */
export class FlapHistory {
  private readonly changes = new Map<string, number[]>();
  private readonly held = new Map<string, number>();

  /** A watched object of the workload changed at `now` (once per settle window). */
  changed(workload: string, now: number): void {
    const list = this.changes.get(workload) ?? [];
    list.push(now);
    if (list.length > MAX_CHANGES + 1) list.shift();
    this.changes.set(workload, list);
  }

  /** Whether a rollout due at `now` is held by `limit` (undefined: no guard, any hold ends). */
  verdict(workload: string, limit: FlapLimit | undefined, now: number): FlapVerdict {
    const since = this.held.get(workload);
    if (!limit) {
      this.held.delete(workload);
      return { hold: false, heldSince: since };
    }
    const recent = (this.changes.get(workload) ?? []).filter((t) => t > now - limit.withinMs);
    this.changes.set(workload, recent);
    if (since !== undefined && recent.length === 0) {
      this.held.delete(workload);
      return { hold: false, heldSince: since };
    }
    if (since === undefined && recent.length <= limit.changes) return { hold: false };
    if (since === undefined) this.held.set(workload, now);
    return { hold: true, entered: since === undefined, untilMs: recent[recent.length - 1] + limit.withinMs, count: recent.length };
  }

  forget(workload: string): void {
    this.changes.delete(workload);
    this.held.delete(workload);
  }
}

// ---------------------------------------------------------------- rollout budget

interface RolloutStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  readyReplicas?: number;
  currentRevision?: string;
  updateRevision?: string;
  desiredNumberScheduled?: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
  conditions?: { type: string; reason?: string }[];
}
interface RolloutSpec {
  replicas?: number;
  updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
}

/** The kinds whose rollouts the budget counts and gates. */
export const BUDGETED_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'];

/**
 * Whether a workload's rollout is still in progress: what `kubectl rollout status` waits for
 * (kubectl's polymorphichelpers/rollout_status.go). A Deployment past its progress deadline
 * has failed, not progressing: it frees its place, as kubectl stops waiting for it. A
 * StatefulSet or DaemonSet with the OnDelete strategy never completes by itself: not counted.
 */
export function rolloutInProgress(kind: string, wl: KubeObject): boolean {
  const spec = (wl.spec ?? {}) as RolloutSpec;
  const st = (wl.status ?? {}) as RolloutStatus;
  const generation = wl.metadata.generation ?? 0;
  const observed = st.observedGeneration ?? 0;
  const specReplicas = spec.replicas ?? 1; // the apiserver's default
  switch (kind) {
    case 'Deployment':
      if (generation > observed) return true;
      if (st.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')) return false;
      return (
        (st.updatedReplicas ?? 0) < specReplicas ||
        (st.replicas ?? 0) > (st.updatedReplicas ?? 0) ||
        (st.availableReplicas ?? 0) < (st.updatedReplicas ?? 0)
      );
    case 'DaemonSet':
      if ((spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return false;
      if (generation > observed) return true;
      return (
        (st.updatedNumberScheduled ?? 0) < (st.desiredNumberScheduled ?? 0) || (st.numberAvailable ?? 0) < (st.desiredNumberScheduled ?? 0)
      );
    case 'StatefulSet': {
      if ((spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return false;
      if (observed === 0 || generation > observed) return true;
      if ((st.readyReplicas ?? 0) < specReplicas) return true;
      const partition = spec.updateStrategy?.rollingUpdate?.partition;
      if (partition !== undefined) return (st.updatedReplicas ?? 0) < specReplicas - partition;
      return st.updateRevision !== st.currentRevision;
    }
    default:
      return false;
  }
}

/** A workload the budget counts: its refId, kind and cached object (with status). */
export interface Budgeted {
  id: string;
  kind: string;
  wl: KubeObject;
}

/**
 * Rollouts this process started whose write the cache has not shown yet (by refId, with the
 * generation they were started from): they count as in progress until the cached workload's
 * generation moves past it, so two rollouts decided in the same instant cannot both take the
 * last place.
 */
export class RolloutBudget {
  private readonly started = new Map<string, number>();

  constructor(readonly limit: number) {}

  /**
   * Whether `workload` may start a rollout now, given the cached workloads counted (in progress
   * or not); if so its place is taken until `release` or until the cache shows it.
   */
  take(workload: string, generation: number, counted: Budgeted[]): { ok: boolean; inProgress: number } {
    let inProgress = 0;
    for (const { id, kind, wl } of counted) {
      const from = this.started.get(id);
      if (from !== undefined && (wl.metadata.generation ?? 0) > from) this.started.delete(id);
      if (id !== workload && (this.started.has(id) || rolloutInProgress(kind, wl))) inProgress++;
    }
    const ok = this.limit === 0 || inProgress < this.limit;
    if (ok) this.started.set(workload, generation);
    return { ok, inProgress };
  }

  /** The rollout was not written after all. */
  release(workload: string): void {
    this.started.delete(workload);
  }
}
