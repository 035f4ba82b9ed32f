// The reload controller's gates (reload-gates.ts: flap guard, rollout budget; reload-window.ts:
// restart windows with a deadline) wired to its caches, Events and metrics. reload.ts asks two
// things: whether a workload's gate annotations are valid (spec), and, for the change it wants
// to write, whether it may be written now and what it records with it (admit). A held change
// writes nothing: the digest the workload records stays behind its data, which is what makes
// the rollout happen later, after a restart as well.
import type { AnnotationReader } from '../annotations.js';
import { A } from '../annotations.js';
import type { Outcome } from '../kube/queue.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import type { Writer } from '../kube/writer.js';
import type { KubeObject } from '../kube/types.js';
import type { Config } from '../config.js';
import type { Metrics, ReloadSkipReason } from '../metrics.js';
import type { ValueReader } from './cache-reads.js';
import { pemText } from './cache-reads.js';
import { leafValidity } from '../pki/chain.js';
import type { Budgeted, FlapLimit } from './reload-gates.js';
import { BUDGETED_KINDS, FlapHistory, RolloutBudget, flapLimit } from './reload-gates.js';
import type { ReloadWindow } from './reload-window.js';
import { parseReloadWindow, parseServedNotAfter, servedNotAfterValue, windowVerdict } from './reload-window.js';
import { rfc3339 } from '../time.js';

/** How often a rollout waiting for a place under --max-concurrent-rollouts looks again. */
const SLOT_RECHECK_MS = 5_000;
// setTimeout holds at most ~24.8 days; a deferral is looked at again twice a day at least
const MAX_DEFER_MS = 12 * 3_600_000;
const CERT_KEY = 'tls.crt';

export interface GateSpec {
  window?: ReloadWindow;
  flap?: FlapLimit;
}

/** What reload.ts writes (a subset of its ReloadChange). */
export interface GatedChange {
  action: string;
  metadata: Record<string, string | null>;
}

export type Admission<C extends GatedChange> = { hold: Outcome } | { change: C | undefined; why: string; forced: boolean };

export interface GatingDeps {
  reader: AnnotationReader;
  config: Pick<Config, 'reloadFlapGuard' | 'maxConcurrentRollouts'>;
  metrics: Metrics;
  write: Writer;
  /** whether a Secret of the namespace holds a tls.crt (from the cache) */
  hasCert: (namespace: string, name: string) => boolean;
  /** the workloads of the budgeted kinds the controller watches */
  budgeted: () => Budgeted[];
  skip: (reason: ReloadSkipReason) => void;
}

export function reloadGating(deps: GatingDeps) {
  const { reader, config, metrics, write, skip } = deps;
  const flaps = new FlapHistory();
  const budget = new RolloutBudget(config.maxConcurrentRollouts);
  // what was said once per hold: the opening a deferral waits for, the workloads waiting for a place
  const deferred = new Map<string, number>();
  const waiting = new Set<string>();

  /** The earliest notAfter of the leaves in these Secrets' tls.crt (unreadable ones left out). */
  async function servedNotAfter(namespace: string, secrets: string[], read: ValueReader): Promise<number | undefined> {
    let earliest: number | undefined;
    for (const name of secrets.filter((n) => deps.hasCert(namespace, n))) {
      const pem = await read('Secret', namespace, name, CERT_KEY, pemText);
      try {
        if (pem !== undefined) earliest = Math.min(earliest ?? Infinity, leafValidity(pem).notAfterMs);
      } catch {
        // not a certificate: the keystore and expiry controllers report it; it serves nothing here
      }
    }
    return earliest;
  }

  /** The flap guard and the budget, for a rollout due now: held, or admitted (its place taken). */
  function flapOrBudget(key: string, kind: string, wl: KubeObject, gates: GateSpec, now: number): { hold: Outcome } | { why: string } {
    const f = flaps.verdict(key, gates.flap, now);
    if (f.hold) {
      if (f.entered) {
        const msg =
          `the watched objects changed ${f.count} times within ${gates.flap!.text.split('/')[1]} ` +
          `(flap guard ${gates.flap!.text}): rollouts held until they stay unchanged, at ${rfc3339(f.untilMs)} at the earliest`;
        write.warn(wl, refuse('ReloadFlapping', msg));
      }
      skip('flapping');
      return { hold: { requeueAfterMs: Math.max(1, f.untilMs - now) } };
    }
    const why = f.heldSince === undefined ? '' : ` after flapping (held since ${rfc3339(f.heldSince)})`;
    if (!budget.limit || !BUDGETED_KINDS.includes(kind)) return { why };
    const taken = budget.take(key, wl.metadata.generation ?? 0, deps.budgeted());
    metrics.rolloutsInProgress.set(taken.inProgress + (taken.ok ? 1 : 0)); // the one admitted is rolling now
    if (!taken.ok) {
      if (!waiting.has(key)) {
        waiting.add(key);
        const msg = `${taken.inProgress} rollouts are in progress (--max-concurrent-rollouts=${budget.limit}): waiting for one to complete`;
        write.note(wl, 'RolloutWaiting', msg);
      }
      skip('rollout_budget');
      return { hold: { requeueAfterMs: SLOT_RECHECK_MS } };
    }
    waiting.delete(key);
    return { why };
  }

  return {
    /** A watched object of the workload changed at `now`, opening a settle window. */
    changed: (workload: string, now: number) => flaps.changed(workload, now),

    forget(workload: string): void {
      flaps.forget(workload);
      budget.release(workload);
      deferred.delete(workload);
      waiting.delete(workload);
    },

    /** The gate annotations of a workload, or a Refusal (nothing is written for it then). */
    spec(annotations: Record<string, string> | undefined): GateSpec | Refusal {
      const flap = flapLimit(reader.get(annotations, A.reloadFlapGuard), config.reloadFlapGuard);
      if (isRefusal(flap)) return flap;
      const text = reader.get(annotations, A.reloadWindow);
      const window = text === undefined ? undefined : parseReloadWindow(text);
      if (isRefusal(window)) return window;
      return { window, flap };
    },

    /**
     * Whether `change` (undefined: none wanted) may be written at `now`, with what it records:
     * under a window, the certificate the pods will serve (annotary.io/served-not-after; written
     * on its own once when a window is added to a workload at rest); else why it is held.
     * A rollout admitted past the budget holds its place: `release` it if it is not written.
     * `read`: the reconcile's reader (reconcileReader), which validation may have read the Secrets with.
     */
    async admit<C extends GatedChange>(
      key: string,
      kind: string,
      wl: KubeObject,
      change: C | undefined,
      gates: GateSpec,
      secrets: string[],
      now: number,
      read: ValueReader,
      record: (metadata: Record<string, string | null>) => C,
    ): Promise<Admission<C>> {
      const recorded = wl.metadata.annotations?.[A.servedNotAfter];
      /** the change with served-not-after set to `value` (null: removed), or a change of that alone; none if it is so already */
      const withServed = (value: string | null): C | undefined => {
        if (value === (recorded ?? null)) return change;
        return change ? { ...change, metadata: { ...change.metadata, [A.servedNotAfter]: value } } : record({ [A.servedNotAfter]: value });
      };
      const served = async () => {
        const ms = await servedNotAfter(wl.metadata.namespace ?? '', secrets, read);
        return ms === undefined ? null : servedNotAfterValue(ms);
      };
      // no window, or no reloads: nothing to keep of what the pods serve
      if (!gates.window || change?.action === 'forget') {
        change = withServed(null);
        if (change?.action !== 'rollout') return { change, why: '', forced: false };
        const held = flapOrBudget(key, kind, wl, gates, now);
        return 'hold' in held ? held : { change, why: held.why, forced: false };
      }
      // onboarding, a digest recorded without a rollout, or a window added to a workload at rest (digest
      // recorded): the pods serve what the Secrets hold now; at rest this is read once, until it is recorded
      if (change?.action !== 'rollout') {
        return { change: change || recorded === undefined ? withServed(await served()) : change, why: '', forced: false };
      }
      const v = windowVerdict(gates.window, now, parseServedNotAfter(recorded));
      if (!v.roll) {
        if (deferred.get(key) !== v.opensAtMs) {
          deferred.set(key, v.opensAtMs);
          write.note(wl, 'ReloadDeferred', `outside ${A.reloadWindow} "${gates.window.text}": rollout deferred to ${rfc3339(v.opensAtMs)}`);
        }
        skip('window');
        return { hold: { requeueAfterMs: Math.max(1000, Math.min(MAX_DEFER_MS, v.opensAtMs - now)) } };
      }
      deferred.delete(key);
      const forced = v.forced
        ? ` outside ${A.reloadWindow}: the certificate the pods serve expires at ${rfc3339(v.forced.servedNotAfterMs)}, ` +
          `less than an hour after the next window opens (${rfc3339(v.forced.opensAtMs)})`
        : '';
      const held = flapOrBudget(key, kind, wl, gates, now);
      if ('hold' in held) return held;
      // the pods will serve what the Secrets hold now
      return { change: withServed(await served()), why: forced + held.why, forced: v.forced !== undefined };
    },

    /** A rollout admitted by `admit` was written (counted) or not (its place is given back). */
    done(key: string, admitted: { forced: boolean }, written: boolean): void {
      if (!written) return budget.release(key);
      if (admitted.forced) metrics.rolloutsForced.inc();
    },
  };
}
