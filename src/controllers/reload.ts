// One rolling restart of a Deployment, StatefulSet or DaemonSet per real change of the
// Secrets and ConfigMaps it watches (annotary keys or stakater Reloader keys, see
// reloader-rules.ts).
//
// The state lives on the workload, so restarts and resyncs are idempotent: the pod-template
// annotation annotary.io/config-hash is a digest of the cached per-key data digests of every
// watched object; changing it is the rollout. annotary.io/observed-config-hash on the
// workload's metadata (a change there does not roll) is written in the same patch, and it is
// what the current digest is compared with (the pod-template value only when it is absent):
//   - onboarding records the digest there without touching the pod template;
//   - `kubectl rollout undo` (which restores an old pod template) is not fought;
//   - a digest that changed only because the SET of watched objects changed (reload
//     annotations edited, an object ignored or matched, a reference added to the pod
//     template — which rolls by itself) is recorded there too, as Reloader rolls only on
//     data changes; so is a missing object that appears, with --reload-on-create=false.
//     This needs the per-object digests last confirmed, kept in memory: after a restart
//     any difference counts as a data change (it may have happened while we were down).
//
// A watched object that is missing is left out of the digest, with a Warning: the objects that
// exist still roll on their changes, and its creation is a change (--reload-on-create). Only
// when none exists is nothing written.
//
// Settle window: the first change of a watched object opens a window of --reload-settle;
// every change within it is applied by one rollout at its end. Starting the window at the
// first change (the queue keeps the earliest delay) bounds the delay of a rollout; a window
// that restarts at every change could postpone it forever under a steady trickle of
// changes. A workload whose Secret is still being rewritten by the keystore controller
// (source-hash behind its inputs) waits for that write: one rollout per rotation.
import { createHash } from 'node:crypto';
import { Counter, Histogram, type Registry } from 'prom-client';
import { A, type AnnotationReader, commaList } from '../annotations.js';
import { ApiError } from '../kube/client.js';
import { listOf } from '../kube/events.js';
import { ReferenceIndex } from '../kube/refindex.js';
import type { SlimData } from '../kube/slim.js';
import type { KubeObject, ResourceType } from '../kube/types.js';
import { DaemonSets, Deployments, StatefulSets, objectKey, splitKey } from '../kube/types.js';
import type { ControllerContext, ControllerModule } from './context.js';
import type { DigestLookup } from './store-specs.js';
import { cachedDigests } from './sources.js';
import { keystoreAnnotated, keystoreInputsHash, parseKeystoreSpec, refKey } from './store-specs.js';
import type { PodSpecLike, RefKind } from './pod-refs.js';
import { compareRefs, podTemplateRefs } from './pod-refs.js';
import { writtenKeysIntact } from './managed-keys.js';
import { isRefusal } from './refusal.js';
import type { WatchRef } from './reloader-rules.js';
import { REF_KINDS, parseReloadPolicy, selectWatched } from './reloader-rules.js';

export const CONTROLLER = 'reload';
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
// safety net while waiting for the keystore controller; its write re-triggers us sooner
const KEYSTORE_RECHECK_MS = 30_000;

// ---------------------------------------------------------------- pure part

export interface WatchedData extends WatchRef { digests: Record<string, string> }

/** Digest of the watched data: independent of the order objects and keys are listed in. */
export function configDigest(objects: WatchedData[]): string {
  const h = createHash('sha256');
  const part = (s: string) => h.update(`${s.length}:${s}`);
  for (const o of [...objects].sort(compareRefs)) {
    part(`${o.kind}/${o.name}`);
    const keys = Object.keys(o.digests).sort();
    part(String(keys.length));
    for (const k of keys) { part(k); part(o.digests[k]); }
  }
  return h.digest('hex').slice(0, 32);
}

/** Each watched object's own digest, by "Kind/name". */
export function objectDigests(objects: WatchedData[]): Map<string, string> {
  return new Map(objects.map((o) => [`${o.kind}/${o.name}`, configDigest([o])]));
}

export interface ChangeCause {
  /** a real change: roll. Otherwise the new digest is recorded without a rollout. */
  roll: boolean;
  /** watched before and now, with different data */
  changed: string[];
  /** missing at the last look, present now */
  created: string[];
}

/**
 * Why the digest moved. `known`: the per-object digests last confirmed for this workload
 * (undefined when this process has not confirmed any yet: then every difference is real).
 */
export function changeCause(known: Map<string, string> | undefined, current: Map<string, string>, wasMissing: Set<string>, reloadOnCreate: boolean): ChangeCause {
  const created = [...current.keys()].filter((id) => wasMissing.has(id));
  const changed = known ? [...current].filter(([id, d]) => !wasMissing.has(id) && known.has(id) && known.get(id) !== d).map(([id]) => id) : [];
  const roll = changed.length > 0 || (created.length > 0 ? reloadOnCreate : known === undefined);
  return { roll, changed, created };
}

/**
 * Whether a watched Secret is still waiting for the keystore controller: its
 * annotary.io/source-hash is not the digest of its current inputs (or a generated key is
 * missing). Secrets whose keystore annotations are refused are not waited for: the keystore
 * controller will not write them, it reports them itself.
 */
export function keystorePending(secret: SlimData, reader: AnnotationReader, defaultPassword: string, lookup: DigestLookup): boolean {
  const ann = secret.metadata.annotations;
  if (!keystoreAnnotated(ann, reader)) return false;
  const wants = parseKeystoreSpec(ann, reader, defaultPassword);
  if (isRefusal(wants)) return false;
  const managed = commaList(ann?.[A.managedKeys]);
  if (!wants.stores && !wants.certInfo) return managed.length > 0; // generated keys still to be removed
  const inputs = keystoreInputsHash(wants, secret.digests, lookup);
  if (isRefusal(inputs)) return false;
  return ann?.[A.sourceHash] !== inputs || !writtenKeysIntact(secret.metadata, secret.digests);
}

export interface ReloadObserved {
  /** digest of the watched data; undefined when the workload asks for no reloads */
  digest: string | undefined;
  templateHash?: string;
  observedHash?: string;
  strategy: 'annotations' | 'restartedAt';
  /** record a new digest without a rollout (see changeCause) */
  absorb: boolean;
  now: Date;
}

export interface ReloadChange {
  action: 'onboard' | 'rollout' | 'absorb' | 'forget';
  from?: string;
  to?: string;
  /** annotations to merge into the workload's metadata (null removes) */
  metadata: Record<string, string | null>;
  /** annotations to merge into the pod template: present only for a rollout */
  template?: Record<string, string>;
}

/** kubectl rollout restart's format: RFC 3339 without fractional seconds */
export const restartedAtValue = (now: Date) => now.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The heart of the controller: what to write on the workload, or undefined for nothing. */
export function desiredReload(o: ReloadObserved): ReloadChange | undefined {
  if (o.digest === undefined) {
    return o.observedHash === undefined ? undefined : { action: 'forget', metadata: { [A.observedConfigHash]: null } };
  }
  const base = o.observedHash ?? o.templateHash;
  if (base === undefined) return { action: 'onboard', to: o.digest, metadata: { [A.observedConfigHash]: o.digest } };
  if (base === o.digest) return undefined;
  if (o.absorb) return { action: 'absorb', from: base, to: o.digest, metadata: { [A.observedConfigHash]: o.digest } };
  return {
    action: 'rollout', from: base, to: o.digest,
    metadata: { [A.observedConfigHash]: o.digest },
    template: o.strategy === 'annotations' ? { [A.configHash]: o.digest } : { [RESTARTED_AT]: restartedAtValue(o.now) },
  };
}

// ---------------------------------------------------------------- wiring

const WORKLOADS: Record<string, ResourceType> = { Deployment: Deployments, StatefulSet: StatefulSets, DaemonSet: DaemonSets };

interface Workload extends KubeObject {
  spec?: { template?: { metadata?: { annotations?: Record<string, string> }; spec?: PodSpecLike } };
}

/** Data changes seen since the workload's last write: when the first came, when the window closes. */
interface Pending { firstSeen: number; windowEnd: number }

const SKIP_REASONS = ['invalid', 'missing', 'keystore_pending', 'onboarding', 'create_ignored', 'watch_set_changed'] as const;
type SkipReason = (typeof SKIP_REASONS)[number];

/** Registered once per registry: a second setup (tests) reuses the same series. */
function reloadMetrics(registry: Registry) {
  const reuse = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    rollouts: reuse('annotary_rollouts_total', () => new Counter({ name: 'annotary_rollouts_total', help: 'Rollouts triggered by a change of watched Secrets/ConfigMaps, by workload kind.', labelNames: ['kind'], registers })),
    skipped: reuse('annotary_rollouts_skipped_total', () => new Counter({ name: 'annotary_rollouts_skipped_total', help: `Reconciles of a watched workload that did not roll, by reason (${SKIP_REASONS.join(', ')}).`, labelNames: ['reason'], registers })),
    latency: reuse('annotary_rollout_latency_seconds', () => new Histogram({ name: 'annotary_rollout_latency_seconds', help: 'From the first observed change of a watched object to the rollout patch.', buckets: [0.5, 1, 2, 3, 5, 10, 30, 60, 300], registers })),
  };
}

const workloadKey = (kind: string, namespace: string, name: string) => `${kind}:${objectKey(namespace, name)}`;
const refName = (r: WatchRef) => `${r.kind}/${r.name}`;

export const reloadController: ControllerModule = {
  name: CONTROLLER,
  async setup(ctx: ControllerContext) {
    const { caches, annotations: reader, client, events, metrics, config, log } = ctx;
    const m = reloadMetrics(metrics.registry);
    const data: Record<RefKind, ReturnType<typeof caches.secrets>> = { Secret: caches.secrets(), ConfigMap: caches.configMaps() };
    const informers = Object.fromEntries(Object.entries(WORKLOADS).map(([k, rt]) => [k, caches.of(rt)]));
    const refs = new ReferenceIndex();
    const pending = new Map<string, Pending>();
    const missingSeen = new Map<string, Set<string>>(); // workload → objects missing at its last look
    const known = new Map<string, Map<string, string>>(); // workload → per-object digests last confirmed
    // waiting for keystores only makes sense when this operator writes them
    const keystoresRunning = config.controllers.includes('keystores');
    const skip = (reason: SkipReason) => m.skipped.inc({ reason });
    const forget = (key: string) => { refs.remove(key); pending.delete(key); missingSeen.delete(key); known.delete(key); };
    /** Puts back changes a reconcile could not act on (merged with any that came meanwhile). */
    const restore = (key: string, p: Pending | undefined) => {
      if (!p) return;
      const cur = pending.get(key);
      if (!cur) return void pending.set(key, p);
      cur.firstSeen = Math.min(cur.firstSeen, p.firstSeen);
    };

    const cached = (kind: RefKind, namespace: string, name: string) => data[kind].get(objectKey(namespace, name));

    const loop = ctx.loop({
      name: CONTROLLER,
      async reconcile(key) {
        const sep = key.indexOf(':');
        const kind = key.slice(0, sep);
        const { namespace, name } = splitKey(key.slice(sep + 1));
        const wl = informers[kind].get(objectKey(namespace, name)) as Workload | undefined;
        if (!wl || wl.metadata.deletionTimestamp) return forget(key);
        const now = Date.now();
        const pend = pending.get(key);
        if (pend && now < pend.windowEnd) return { requeueAfterMs: pend.windowEnd - now };
        // changes from now on open a new window; `pend` is put back if we cannot act yet
        pending.delete(key);

        const meta = wl.metadata.annotations;
        const template = wl.spec?.template;
        const policy = parseReloadPolicy(meta, template?.metadata?.annotations, reader);
        if (isRefusal(policy)) {
          forget(key);
          metrics.invalidInputTotal.inc({ controller: CONTROLLER, reason: policy.reason });
          skip('invalid');
          return events.emit(wl, 'Warning', policy.reason, policy.message);
        }
        let digest: string | undefined;
        let current = new Map<string, string>();
        let missing: WatchRef[] = [];
        if (policy) {
          const podRefs = podTemplateRefs(template?.spec);
          const sel = selectWatched(policy, podRefs, {
            get: (k, n) => cached(k, namespace, n)?.metadata,
            names: (k) => data[k].list(namespace).map((o) => o.metadata.name),
          }, reader);
          const watched = sel.watched;
          refs.set(key, [
            ...[...podRefs, ...sel.watched, ...sel.missing].map((r) => refKey(r.kind, namespace, r.name)),
            ...REF_KINDS.flatMap((k) => policy[k].names.map((n) => refKey(k, namespace, n))),
            // regexps can match objects created later: any change of that kind here re-checks
            ...REF_KINDS.filter((k) => policy[k].patterns.length).map((k) => refKey(k, namespace, '*')),
          ]);
          missing = sel.missing;
          if (missing.length) {
            // A missing object does not hold up the others (#17): the digest covers the objects
            // that exist, and the missing ones count as created when they appear.
            missingSeen.set(key, new Set([...(missingSeen.get(key) ?? []), ...missing.map(refName)]));
            metrics.invalidInputTotal.inc({ controller: CONTROLLER, reason: 'ReloadSourceMissing' }); // every Warning counts (README)
            const many = missing.length > 1;
            const what = `${listOf(missing.map((r) => `${r.kind} "${r.name}"`))} ${many ? 'do' : 'does'} not exist`;
            const rest = watched.length === 1 ? 'the watched object that exists' : `the ${watched.length} watched objects that exist`;
            const effect = watched.length ? `changes to ${rest} still roll` : `nothing to roll for until ${many ? 'one does' : 'it does'}`;
            events.emit(wl, 'Warning', 'ReloadSourceMissing', `${what}; ${effect}`);
            if (!watched.length) { restore(key, pend); skip('missing'); return; } // nothing to digest, nothing written
          }
          if (keystoresRunning) {
            const behind = watched.filter((r) => r.kind === 'Secret' && keystorePending(cached('Secret', namespace, r.name)!, reader, config.defaultPassword, cachedDigests(caches, namespace)));
            if (behind.length) {
              restore(key, pend);
              skip('keystore_pending');
              log.debug('waiting for the keystore controller', { key, secrets: behind.map((r) => r.name) });
              return { requeueAfterMs: KEYSTORE_RECHECK_MS };
            }
          }
          const watchedData = watched.map((r) => ({ ...r, digests: cached(r.kind, namespace, r.name)!.digests }));
          digest = configDigest(watchedData);
          current = objectDigests(watchedData);
        } else forget(key);
        const cause = changeCause(known.get(key), current, missingSeen.get(key) ?? new Set(), config.reloadOnCreate);
        // what this workload's recorded digest stands for, once it is confirmed or written:
        // the objects it covers, and those still missing (their creation is a change)
        const confirm = () => {
          if (missing.length) missingSeen.set(key, new Set(missing.map(refName))); else missingSeen.delete(key);
          if (digest !== undefined) known.set(key, current);
        };

        const change = desiredReload({
          digest,
          templateHash: template?.metadata?.annotations?.[A.configHash],
          observedHash: meta?.[A.observedConfigHash],
          strategy: config.reloadStrategy,
          absorb: !cause.roll,
          now: new Date(now),
        });
        if (!change) {
          if (missing.length) skip('missing'); // nothing else changed; the Warning above says what is missing
          return confirm();
        }

        const patch = {
          metadata: { resourceVersion: wl.metadata.resourceVersion, annotations: change.metadata },
          ...(change.template ? { spec: { template: { metadata: { annotations: change.template } } } } : {}),
        };
        try {
          await client.patch(WORKLOADS[kind], namespace, name, patch);
        } catch (err) {
          if (err instanceof ApiError && err.isConflict) metrics.conflictsTotal.inc({ controller: CONTROLLER, kind });
          restore(key, pend);
          throw err; // retried with backoff from the newer cached workload
        }
        metrics.writesTotal.inc({ controller: CONTROLLER, kind, verb: 'patch' });
        confirm();
        const digests = `config digest ${change.from?.slice(0, 12) ?? '-'} → ${change.to?.slice(0, 12) ?? '-'}`;
        const all = [...current.keys()];
        const changed = [...cause.changed, ...cause.created];
        switch (change.action) {
          case 'rollout':
            m.rollouts.inc({ kind });
            if (pend) m.latency.observe((Date.now() - pend.firstSeen) / 1000);
            events.emit(wl, 'Normal', 'Reloaded', `rolling restart for ${changed.length ? listOf(changed) : `watched ${listOf(all)}`}: ${digests}`);
            break;
          case 'onboard':
            skip('onboarding');
            events.emit(wl, 'Normal', 'ReloadWatching', `watching ${listOf(all) || 'nothing yet'}; recorded ${digests} without a rollout`);
            break;
          case 'absorb':
            if (cause.created.length) {
              skip('create_ignored');
              events.emit(wl, 'Normal', 'ReloadRecorded', `${listOf(cause.created)} appeared; --reload-on-create=false: recorded ${digests} without a rollout`);
            } else {
              skip('watch_set_changed');
              events.emit(wl, 'Normal', 'ReloadRecorded', `now watching ${listOf(all) || 'nothing'}; no watched data changed: recorded ${digests} without a rollout`);
            }
            break;
          case 'forget':
            log.debug('reload annotations removed; forgot the observed digest', { key });
        }
      },
    });

    const enqueueWorkload = (kind: string) => (w: KubeObject) => {
      // workloads without any annotary/Reloader key (most of them) are not our business
      if (reader.hasAny(w.metadata.annotations) || reader.hasAny((w as Workload).spec?.template?.metadata?.annotations)) {
        loop.enqueue(workloadKey(kind, w.metadata.namespace!, w.metadata.name));
      }
    };
    for (const [kind, inf] of Object.entries(informers)) {
      const on = enqueueWorkload(kind);
      inf.on({ add: on, update: (_o, n) => on(n), delete: (o) => forget(workloadKey(kind, o.metadata.namespace!, o.metadata.name)) });
    }

    const onData = (kind: RefKind) => (old: SlimData | undefined, cur: SlimData) => {
      if (old === cur) return; // a resync: nothing changed, the workloads' own resync covers them
      const namespace = cur.metadata.namespace!;
      const dataChanged = !old || !sameDigests(old.digests, cur.digests);
      const now = Date.now();
      const targets = new Set([...refs.referrers(refKey(kind, namespace, cur.metadata.name)), ...refs.referrers(refKey(kind, namespace, '*'))]);
      for (const w of targets) {
        if (dataChanged) {
          const p = pending.get(w);
          if (!p) pending.set(w, { firstSeen: now, windowEnd: now + config.reloadSettleMs });
          else if (p.windowEnd <= now) p.windowEnd = now + config.reloadSettleMs; // a blocked workload: new window
        }
        loop.enqueueAfter(w, config.reloadSettleMs);
      }
    };
    for (const kind of REF_KINDS) {
      const on = onData(kind);
      data[kind].on({ add: (o) => on(undefined, o), update: on, delete: (o) => on(undefined, o) });
    }
    return [loop];
  },
};

function sameDigests(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
