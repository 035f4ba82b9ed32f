// One rolling restart of a workload per real change of the Secrets and ConfigMaps it watches
// (annotary keys or stakater Reloader keys, see reloader-rules.ts). The workloads are the kinds
// Reloader reloads, each the way Reloader does it (its internal/pkg/callbacks/rolling_upgrade.go
// and handler/upgrade.go, read at 655a2b3; see applyMode): Deployments, StatefulSets, DaemonSets,
// Argo Rollouts (once the cluster serves them), CronJobs (batch/v1, or batch/v1beta1 where that
// is what is served) and Jobs.
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
//     This needs the per-object digests last confirmed, kept in memory (ReloadTracker): after
//     a restart any difference counts as a data change (it may have happened while we were down).
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
//
// Gates (#17, reload-gating.ts): a flap guard, a cluster-wide budget of rollouts in progress and
// restart windows may hold a rollout; a held rollout is simply not written, so the recorded
// digest stays behind the data and the rollout happens later, after a restart as well.
import { A, type AnnotationReader, commaList } from '../annotations.js';
import type { ControllerSpec, Watch } from '../kube/builder.js';
import { listOf } from '../kube/events.js';
import type { Informer } from '../kube/informer.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import type { SlimData } from '../kube/slim.js';
import { digestOfParts, sameEntries } from '../kube/slim.js';
import type { KubeObject, ObjectRef, ResourceType } from '../kube/types.js';
import {
  CronJobs,
  CronJobsV1beta1,
  DaemonSets,
  Deployments,
  Jobs,
  Namespaces,
  Rollouts,
  StatefulSets,
  apiVersionOf,
  objectKey,
  refId,
  refOf,
} from '../kube/types.js';
import { ApiError } from '../kube/client.js';
import type { ReloadSkipReason } from '../metrics.js';
import type { ControllerContext, ControllerModule } from './context.js';
import { writtenKeysIntact } from './managed-keys.js';
import type { PodSpecLike, RefKind } from './pod-refs.js';
import { compareRefs, podTemplateRefs } from './pod-refs.js';
import { ReloadTracker } from './reload-tracker.js';
import { BUDGETED_KINDS } from './reload-gates.js';
import { pauseOnRollout, resumeDue, resumePatchBody } from './reload-pause.js';
import type { EnvPodSpec } from './reload-env.js';
import { withEnvVars } from './reload-env.js';
import { parseReloaderSelector } from '../kube/labels.js';
import type { Outcome } from '../kube/queue.js';
import type { WatchRef } from './reloader-rules.js';
import { REF_KINDS, candidateRefs, parseReloadPolicy, reloadOnCreateFor, selectWatched } from './reloader-rules.js';
import { cachedDigests, reconcileReader } from './cache-reads.js';
import { consumedData, consumedKeys, consumedKeysOnly, scopeToggled } from './reload-consumed.js';
import { heldRollout, secretsToValidate } from './reload-validate.js';
import { reloadGating } from './reload-gating.js';
import type { DigestLookup } from './store-specs.js';
import { keystoreAnnotated, keystoreInputsHash, parseKeystoreSpec } from './store-specs.js';
import { rfc3339 } from '../time.js';

export const CONTROLLER = 'reload';
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
// safety net while waiting for the keystore controller; its write re-triggers us sooner
const KEYSTORE_RECHECK_MS = 30_000;

// ---------------------------------------------------------------- pure part

export interface WatchedData extends WatchRef {
  digests: Record<string, string>;
}

/** Digest of the watched data: independent of the order objects and keys are listed in. */
export function configDigest(objects: WatchedData[]): string {
  return digestOfParts(
    [...objects].sort(compareRefs).flatMap((o) => {
      const keys = Object.keys(o.digests).sort();
      return [`${o.kind}/${o.name}`, String(keys.length), ...keys.flatMap((k) => [k, o.digests[k]])];
    }),
  );
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
  /** watched at the last look, deleted now */
  deleted: string[];
}

/**
 * Why the digest moved. `known`: the per-object digests last confirmed for this workload
 * (undefined when this process has not confirmed any yet: then every difference is real).
 */
export function changeCause(
  known: Map<string, string> | undefined,
  current: Map<string, string>,
  wasMissing: Set<string>,
  reloadOnCreate: boolean,
  /** the objects that do not exist (any more), and --reload-on-delete: Reloader rolls on a deletion only with it */
  deletion: { gone: (id: string) => boolean; reloadOnDelete: boolean } = { gone: () => false, reloadOnDelete: false },
): ChangeCause {
  const created = [...current.keys()].filter((id) => wasMissing.has(id));
  const changed = known
    ? [...current].filter(([id, d]) => !wasMissing.has(id) && known.has(id) && known.get(id) !== d).map(([id]) => id)
    : [];
  const deleted = known ? [...known.keys()].filter((id) => !current.has(id) && deletion.gone(id)) : [];
  const roll =
    changed.length > 0 || (deleted.length > 0 && deletion.reloadOnDelete) || (created.length > 0 ? reloadOnCreate : known === undefined);
  return { roll, changed, created, deleted };
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

/**
 * How a rollout is applied to a workload, as Reloader applies it:
 *  - template: the pod template changes (Deployments, StatefulSets, DaemonSets; Argo Rollouts by default);
 *  - restartAt: an Argo Rollout annotated reloader.stakater.com/rollout-strategy: restart gets
 *    spec.restartAt (Argo restarts its pods without a new revision), its template is left alone;
 *  - run: a CronJob: a Job is created from its jobTemplate now (Reloader's CreateJobFromCronjob,
 *    as `kubectl create job --from=cronjob/…`); the CronJob's own template is left alone;
 *  - recreate: a Job (whose pod template cannot change): deleted and created again with the same
 *    spec (Reloader's ReCreateJobFromjob).
 */
export type ApplyMode = 'template' | 'restartAt' | 'run' | 'recreate';

export function applyMode(kind: string, annotations: Record<string, string> | undefined, reader: AnnotationReader): ApplyMode {
  switch (kind) {
    case 'CronJob':
      return 'run';
    case 'Job':
      return 'recreate';
    case 'Rollout':
      // Reloader's ToArgoRolloutStrategy: exactly "restart", anything else (unset, "rollout") is a rollout
      return reader.get(annotations, A.rlRolloutStrategy) === 'restart' ? 'restartAt' : 'template';
    default:
      return 'template';
  }
}

export interface ReloadObserved {
  /** digest of the watched data; undefined when the workload asks for no reloads */
  digest: string | undefined;
  templateHash?: string;
  observedHash?: string;
  strategy: 'annotations' | 'restartedAt' | 'env-vars';
  mode?: ApplyMode;
  /** env-vars: the digest of each object whose change this rollout is for, by "Kind/name" (null: deleted) */
  envVars?: Record<string, string | null>;
  /** record a new digest without a rollout (see changeCause) */
  absorb: boolean;
  now: Date;
}

export interface ReloadChange {
  /** record: metadata of the gates alone (reload-gating.ts) */
  action: 'onboard' | 'rollout' | 'absorb' | 'forget' | 'record';
  from?: string;
  to?: string;
  /** annotations to merge into the workload's metadata (null removes) */
  metadata: Record<string, string | null>;
  /** annotations to merge into the pod template: present only for a rollout (not with restartAt) */
  template?: Record<string, string>;
  /** an Argo Rollout's spec.restartAt: present only for a rollout with mode restartAt */
  restartAt?: string;
  /** env-vars: the STAKATER_* variables to set, by "Kind/name" of their object (see reload-env.ts) */
  env?: Record<string, string | null>;
}

/** kubectl rollout restart's format: RFC 3339 without fractional seconds */
export const restartedAtValue = (now: Date) => rfc3339(now);

/** The digest a workload records: the observed one, or for a workload never onboarded the pod template's. */
export const recordedDigest = (o: Pick<ReloadObserved, 'observedHash' | 'templateHash'>) => o.observedHash ?? o.templateHash;

/** The heart of the controller: what to write on the workload, or undefined for nothing. */
export function desiredReload(o: ReloadObserved): ReloadChange | undefined {
  if (o.digest === undefined) {
    return o.observedHash === undefined ? undefined : { action: 'forget', metadata: { [A.observedConfigHash]: null } };
  }
  const base = recordedDigest(o);
  if (base === undefined) return { action: 'onboard', to: o.digest, metadata: { [A.observedConfigHash]: o.digest } };
  if (base === o.digest) return undefined;
  if (o.absorb) return { action: 'absorb', from: base, to: o.digest, metadata: { [A.observedConfigHash]: o.digest } };
  const rollout = { action: 'rollout' as const, from: base, to: o.digest, metadata: { [A.observedConfigHash]: o.digest } };
  if (o.mode === 'restartAt') return { ...rollout, restartAt: restartedAtValue(o.now) };
  if (o.strategy === 'env-vars') return { ...rollout, env: o.envVars ?? {} };
  return {
    ...rollout,
    template: o.strategy === 'annotations' ? { [A.configHash]: o.digest } : { [RESTARTED_AT]: restartedAtValue(o.now) },
  };
}

// ---------------------------------------------------------------- wiring

/** The kinds served by every cluster; CronJobs and Argo Rollouts are found by discovery (see declare). */
const ALWAYS_SERVED: Record<string, ResourceType> = {
  Deployment: Deployments,
  StatefulSet: StatefulSets,
  DaemonSet: DaemonSets,
  Job: Jobs,
};

type Labels = Record<string, string>;
interface PodTemplate {
  metadata?: { annotations?: Labels; labels?: Labels };
  spec?: PodSpecLike;
}
export interface Workload extends KubeObject {
  spec?: {
    template?: PodTemplate;
    /** CronJobs */
    jobTemplate?: { metadata?: { annotations?: Labels; labels?: Labels }; spec?: { template?: PodTemplate } & Record<string, unknown> };
    /** Jobs */
    selector?: unknown;
    manualSelector?: boolean;
  } & Record<string, unknown>;
}

/** The pod template of a workload: a CronJob's is in its jobTemplate (only CronJobs have one). */
export const podTemplateOf = (wl: Workload): PodTemplate | undefined => wl.spec?.jobTemplate?.spec?.template ?? wl.spec?.template;

/**
 * A Job a CronJob created is not a workload of its own: its CronJob is (it carries the CronJob's
 * pod-template annotations; recreating it would run it twice). Reloader does not tell them apart.
 */
const ownedByCronJob = (wl: Workload) => wl.metadata.ownerReferences?.some((o) => o.controller && o.kind === 'CronJob') ?? false;

/** The merge patch of a change, preconditioned on the workload it was computed from. */
export function reloadPatchBody(wl: Workload, change: ReloadChange): Record<string, unknown> {
  // env-vars: the whole list of containers (a merge patch replaces lists), safe under the resourceVersion precondition
  const containers = change.env && withEnvVars(podTemplateOf(wl)?.spec as EnvPodSpec, change.env);
  const spec = {
    ...(change.template ? { template: { metadata: { annotations: change.template } } } : {}),
    ...(containers ? { template: { spec: { containers } } } : {}),
    ...(change.restartAt ? { restartAt: change.restartAt } : {}),
  };
  return {
    metadata: { resourceVersion: wl.metadata.resourceVersion, annotations: change.metadata },
    ...(Object.keys(spec).length ? { spec } : {}),
  };
}

/** A pod template with the change applied: its annotations, or its env-vars variables. */
const changedTemplate = (t: PodTemplate | undefined, change: ReloadChange): PodTemplate => ({
  ...t,
  metadata: { ...t?.metadata, annotations: { ...t?.metadata?.annotations, ...change.template } },
  ...(change.env ? { spec: { ...t?.spec, containers: withEnvVars(t?.spec as EnvPodSpec, change.env) } } : {}),
});

/**
 * The Job a CronJob's rollout creates (Reloader's CreateJobFromCronjob: the jobTemplate, labels,
 * annotations plus cronjob.kubernetes.io/instantiate: manual, owned by the CronJob). Its name is
 * derived from the CronJob's uid and resourceVersion and the new digest: a retry after a lost
 * answer finds it (AlreadyExists: done), and the CronJob's patch that follows moves the
 * resourceVersion, so a later change that brings an earlier digest back still runs a Job.
 */
export function cronJobRun(cj: Workload, apiVersion: string, change: ReloadChange): Workload {
  const jt = cj.spec?.jobTemplate;
  const id = digestOfParts([cj.metadata.uid ?? '', cj.metadata.resourceVersion ?? '', change.to ?? '']).slice(0, 10);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      // CronJob names have at most 52 characters: 63 with the suffix, a valid Job name
      name: `${cj.metadata.name}-${id}`,
      namespace: cj.metadata.namespace,
      labels: jt?.metadata?.labels,
      annotations: { 'cronjob.kubernetes.io/instantiate': 'manual', ...jt?.metadata?.annotations },
      ownerReferences: [
        { apiVersion, kind: 'CronJob', name: cj.metadata.name, uid: cj.metadata.uid!, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: { ...jt?.spec, template: changedTemplate(jt?.spec?.template, change) },
  };
}

// labels the Job controller sets from the Job's uid and name: the new Job gets its own
const JOB_CONTROLLER_LABELS = ['controller-uid', 'job-name', 'batch.kubernetes.io/controller-uid', 'batch.kubernetes.io/job-name'];
const withoutJobLabels = (labels: Labels | undefined) =>
  labels && Object.fromEntries(Object.entries(labels).filter(([k]) => !JOB_CONTROLLER_LABELS.includes(k)));

/**
 * The Job that replaces a Job on a rollout (Reloader's ReCreateJobFromjob): the same name, labels
 * and spec, without what the apiserver and the Job controller set (uid, resourceVersion, the
 * generated selector and its labels), with the change's annotations.
 */
export function recreatedJob(job: Workload, change: ReloadChange): Workload {
  const {
    uid: _u,
    resourceVersion: _r,
    creationTimestamp: _c,
    generation: _g,
    selfLink: _s,
    ...meta
  } = job.metadata as Workload['metadata'] & Labels;
  const set = Object.fromEntries(Object.entries(change.metadata).filter((e): e is [string, string] => e[1] !== null));
  const annotations = { ...meta.annotations, ...set };
  for (const [k, v] of Object.entries(change.metadata)) if (v === null) delete annotations[k];
  const { selector, ...spec } = job.spec ?? {};
  const template = changedTemplate(job.spec?.template, change);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { ...meta, labels: withoutJobLabels(meta.labels), annotations },
    spec: {
      ...spec,
      // a manual selector is the user's: kept; the generated one is generated again for the new uid
      ...(job.spec?.manualSelector ? { selector } : {}),
      template: { ...template, metadata: { ...template.metadata, labels: withoutJobLabels(template.metadata?.labels) } },
    },
  };
}

/** What a workload can ever watch, from its annotations and pod template alone (its index entries). */
export function workloadRefs(wl: Workload, reader: AnnotationReader, autoReloadAll = false): ObjectRef[] {
  const template = podTemplateOf(wl);
  const policy = parseReloadPolicy(wl.metadata.annotations, template?.metadata?.annotations, reader, [], autoReloadAll);
  if (!policy || isRefusal(policy)) return [];
  const namespace = wl.metadata.namespace ?? '';
  return candidateRefs(policy, podTemplateRefs(template?.spec)).map((r) => ({ kind: r.kind, namespace, name: r.name }));
}

const refName = (r: WatchRef) => `${r.kind}/${r.name}`;

/** The declaration: annotated workloads of every kind above, and the Secrets and ConfigMaps they watch. */
export const reloadController: ControllerModule = {
  name: CONTROLLER,
  declare(ctx: ControllerContext) {
    const { caches, annotations: reader, metrics, config, log } = ctx;
    const write = ctx.writer(CONTROLLER);
    const data: Record<RefKind, ReturnType<typeof caches.secrets>> = { Secret: caches.secrets(), ConfigMap: caches.configMaps() };
    const informers: Record<string, Informer<Workload>> = Object.fromEntries(
      Object.entries(ALWAYS_SERVED).map(([k, rt]) => [k, caches.of(rt) as Informer<Workload>]),
    );
    // found by discovery, and watched once served; reconciles of them come only from their caches
    const discovered = [caches.whenServed(CronJobs, CronJobsV1beta1), caches.whenServed(Rollouts)].map((p) =>
      p.then((inf) => (informers[inf.resource.kind] = inf as Informer<Workload>)),
    );
    // Jobs deleted for a recreation whose creation has not succeeded yet: it is retried from here
    const recreating = new Map<string, Workload>();
    const tracker = new ReloadTracker(config.reloadSettleMs);
    const ignoredNamespaces = new Set(config.namespacesToIgnore);
    const selects = parseReloaderSelector(config.resourceLabelSelector);
    // --namespace-selector (Reloader's): only the workloads of the namespaces it selects reload. It is
    // checked at reconcile, not in the filter, so that the workloads of an unselected namespace stay
    // indexed: a relabelling that selects it reconciles them (namespaceWatch). The Namespace cache
    // (list/watch namespaces) is read only with a selector.
    const namespaceSelects = parseReloaderSelector(config.namespaceSelector);
    const namespaces = namespaceSelects && { selects: namespaceSelects, cache: caches.of(Namespaces) };
    const namespaceSelected = (name: string) => {
      const ns = namespaces?.cache.get(name);
      return !namespaces || (ns !== undefined && namespaces.selects(ns.metadata.labels));
    };
    const onCreateOff =
      config.reloadOnCreate === 'by-keys'
        ? "reloaded through Reloader's keys only, so Reloader's default --reload-on-create=false applies"
        : '--reload-on-create=false';
    // waiting for keystores only makes sense when this operator writes them
    const keystoresRunning = config.controllers.includes('keystores');
    const skip = (reason: ReloadSkipReason) => metrics.rolloutsSkipped.inc({ reason });
    const cached = (kind: RefKind, namespace: string, name: string) => data[kind].get(objectKey(namespace, name));
    // flap guard, rollout budget, restart windows (#17)
    const gates = reloadGating({
      reader,
      config,
      metrics,
      write,
      skip,
      hasCert: (namespace, name) => cached('Secret', namespace, name)?.digests['tls.crt'] !== undefined,
      budgeted: () =>
        BUDGETED_KINDS.flatMap((k) =>
          (informers[k]?.list() ?? []).filter((w) => spec.filter!(w)).map((wl) => ({ id: refId(refOf(k, wl)), kind: k, wl })),
        ),
    });

    const watch = (kind: RefKind): Watch<Workload> => ({
      source: data[kind],
      refsOf: (wl) => workloadRefs(wl, reader, config.autoReloadAll).filter((r) => r.kind === kind),
      delayFor(referrer, old, cur) {
        if (old === cur) return undefined; // a resync: nothing changed, the workloads' own resync covers them
        const dataChanged = !old || !sameEntries((old as SlimData).digests, (cur as SlimData).digests);
        const now = Date.now();
        if (dataChanged && tracker.dataChanged(refId(referrer), now)) gates.changed(refId(referrer), now);
        return config.reloadSettleMs;
      },
    });

    const namespaceWatch: Watch<Workload>[] = namespaces
      ? [
          {
            source: namespaces.cache,
            refsOf: (wl) => [{ kind: Namespaces.kind, namespace: '', name: wl.metadata.namespace ?? '' }],
            // a relabelling that makes the selector select the namespace; its other changes change nothing here
            delayFor: (_r, old, cur) =>
              old && !namespaces.selects(old.metadata.labels) && namespaces.selects(cur.metadata.labels) ? 0 : undefined,
          },
        ]
      : [];

    const spec: ControllerSpec<Workload> = {
      name: CONTROLLER,
      for: [...Object.values(informers), ...discovered],
      // workloads without any annotary/Reloader key (most of them) are not our business
      // (with --auto-reload-all every workload is); none in --namespaces-to-ignore
      filter: (w) =>
        (config.autoReloadAll || reader.hasAny(w.metadata.annotations) || reader.hasAny(podTemplateOf(w)?.metadata?.annotations)) &&
        !ownedByCronJob(w) &&
        !ignoredNamespaces.has(w.metadata.namespace ?? ''),
      // Most updates of a workload are its controller's progress reports (status). Reload reads
      // the workload's annotations, labels and spec (whose changes move metadata.generation);
      // the rollout budget reads status from the cache and rechecks on a timer. Status alone
      // queues nothing: at 2,000 Deployments that was a steady trickle of empty reconciles.
      changed: (old, cur) =>
        old.metadata.generation !== cur.metadata.generation ||
        !sameEntries(old.metadata.annotations ?? {}, cur.metadata.annotations ?? {}) ||
        !sameEntries(old.metadata.labels ?? {}, cur.metadata.labels ?? {}),
      watches: [...REF_KINDS.map(watch), ...namespaceWatch],
      reconcile: (ref) => withPause(ref, reloadStep),
    };

    /** The reload itself: digest, record, rollout. */
    async function reloadStep(ref: ObjectRef): Promise<Outcome> {
      const { kind, namespace, name } = ref;
      const key = refId(ref);
      const wl = informers[kind]?.get(objectKey(namespace, name));
      const replacement = recreating.get(key);
      if (replacement && (!wl || wl.metadata.uid === replacement.metadata.uid)) {
        const rejected = await createReplacement(key, replacement);
        return rejected && write.warn(replacement, rejected);
      }
      if (!wl || wl.metadata.deletionTimestamp) {
        gates.forget(key);
        return tracker.forget(key);
      }
      // --namespace-selector does not select its namespace: nothing happens, its record stays for when it does
      if (!namespaceSelected(namespace)) return;
      const now = Date.now();
      const begun = tracker.begin(key, now);
      if ('waitMs' in begun) return { requeueAfterMs: begun.waitMs };
      const pend = begun.taken;

      const meta = wl.metadata.annotations;
      const template = podTemplateOf(wl);
      const mode = applyMode(kind, meta, reader);
      const rt = informers[kind].resource;
      const ignored: Refusal[] = [];
      const policy = parseReloadPolicy(meta, template?.metadata?.annotations, reader, ignored, config.autoReloadAll);
      const keysOnly = consumedKeysOnly(meta, reader, config.reloadConsumedKeysOnly);
      if (isRefusal(policy) || isRefusal(keysOnly)) {
        tracker.forget(key);
        skip('invalid');
        return write.warn(wl, isRefusal(policy) ? policy : (keysOnly as Refusal));
      }
      for (const r of ignored) write.warn(wl, r); // Reloader's values it ignores itself: the rest applies
      const gated = gates.spec(meta);
      if (isRefusal(gated)) {
        tracker.restore(key, pend); // rolled once the value is fixed: nothing is recorded meanwhile
        skip('invalid');
        return write.warn(wl, gated);
      }
      let digest: string | undefined;
      let otherDigest: string | undefined; // under the other consumed-keys-only setting (reload-consumed.ts)
      let current = new Map<string, string>();
      let missing: WatchRef[] = [];
      if (policy) {
        const sel = selectWatched(
          policy,
          podTemplateRefs(template?.spec),
          {
            get: (k, n) => cached(k, namespace, n)?.metadata,
            names: (k) => data[k].list(namespace).map((o) => o.metadata.name),
          },
          reader,
          selects,
        );
        const watched = sel.watched;
        missing = sel.missing;
        if (missing.length) {
          // A missing object does not hold up the others (#17): the digest covers the objects
          // that exist, and the missing ones count as created when they appear.
          tracker.sawMissing(key, missing.map(refName));
          const many = missing.length > 1;
          const what = `${listOf(missing.map((r) => `${r.kind} "${r.name}"`))} ${many ? 'do' : 'does'} not exist`;
          const rest = watched.length === 1 ? 'the watched object that exists' : `the ${watched.length} watched objects that exist`;
          const effect = watched.length ? `changes to ${rest} still roll` : `nothing to roll for until ${many ? 'one does' : 'it does'}`;
          write.warn(wl, refuse('ReloadSourceMissing', `${what}; ${effect}`));
          if (!watched.length) {
            tracker.restore(key, pend);
            skip('missing');
            return;
          } // nothing to digest, nothing written
        }
        if (keystoresRunning) {
          const behind = watched.filter(
            (r) =>
              r.kind === 'Secret' &&
              keystorePending(cached('Secret', namespace, r.name)!, reader, config.defaultPassword, cachedDigests(caches, namespace)),
          );
          if (behind.length) {
            tracker.restore(key, pend);
            skip('keystore_pending');
            log.debug('waiting for the keystore controller', { key, secrets: behind.map((r) => r.name) });
            return { requeueAfterMs: KEYSTORE_RECHECK_MS };
          }
        }
        const watchedData = watched.map((r) => ({ ...r, digests: cached(r.kind, namespace, r.name)!.digests }));
        const consumed = configDigest(consumedData(watchedData, template?.spec));
        [digest, otherDigest] = keysOnly ? [consumed, configDigest(watchedData)] : [configDigest(watchedData), consumed];
        current = objectDigests(watchedData); // all keys: a change of the consumed ones only is not a data change
      } else tracker.forget(key);
      const templateHash = template?.metadata?.annotations?.[A.configHash];
      const observedHash = meta?.[A.observedConfigHash];
      const known = tracker.knownDigests(key, recordedDigest({ observedHash, templateHash }));
      const gone = (id: string) => {
        const [k, n] = [id.slice(0, id.indexOf('/')) as RefKind, id.slice(id.indexOf('/') + 1)];
        return !cached(k, namespace, n);
      };
      const onCreate = reloadOnCreateFor(config.reloadOnCreate, meta, reader);
      const cause = changeCause(known, current, tracker.missingSince(key), onCreate, {
        gone,
        reloadOnDelete: config.reloadOnDelete,
      });
      // what this workload's recorded digest stands for, once it is confirmed or written:
      // the objects it covers, and those still missing (their creation is a change)
      const confirm = () => tracker.confirm(key, digest === undefined ? undefined : { digest, objects: current }, missing.map(refName));
      const toggled = digest !== undefined && scopeToggled(recordedDigest({ observedHash, templateHash }), digest, otherDigest!);

      const wanted = desiredReload({
        digest,
        templateHash,
        observedHash,
        strategy: config.reloadStrategy,
        mode,
        // the objects this rollout is for; all of them when nothing is known of the last (after a restart)
        envVars: {
          ...Object.fromEntries(
            [...current].filter(
              ([id]) => !(cause.changed.length + cause.created.length) || [...cause.changed, ...cause.created].includes(id),
            ),
          ),
          // a deleted object's variable goes, as Reloader's delete handler removes it
          ...Object.fromEntries(cause.deleted.map((id) => [id, null])),
        },
        absorb: !cause.roll || toggled,
        now: new Date(now),
      });
      const secrets = [...current.keys()].filter((id) => id.startsWith('Secret/')).map((id) => id.slice('Secret/'.length));
      // validation and the restart window read the Secrets' data through one reader: each read once
      const read = reconcileReader(ctx, caches);
      // before the gates: a rollout held on bad material takes no place under --max-concurrent-rollouts
      if (wanted?.action === 'rollout' && config.reloadValidateTls) {
        const watchedSecrets = secrets.map((n) => cached('Secret', namespace, n)!);
        const base64 = (n: string, k: string) => read('Secret', namespace, n, k, (v) => v);
        const held = await heldRollout(secretsToValidate(watchedSecrets, consumedKeys(template?.spec)), base64, new Date(now));
        if (held) {
          tracker.restore(key, pend); // not confirmed: the fixed Secret's change rolls
          skip('bad_material');
          write.warn(wl, held.refusal);
          return held.requeueAfterMs === undefined ? undefined : { requeueAfterMs: held.requeueAfterMs };
        }
      }
      const admitted = await gates.admit<ReloadChange>(key, kind, wl, wanted, gated, secrets, now, read, (metadata) => ({
        action: 'record',
        metadata,
      }));
      if ('hold' in admitted) {
        tracker.restore(key, pend);
        return admitted.hold;
      }
      const change = admitted.change;
      if (!change) {
        if (missing.length) skip('missing'); // nothing else changed; the Warning above says what is missing
        return confirm();
      }
      let rejected: Refusal | undefined;
      try {
        rejected = await apply(key, rt, wl, mode, change);
      } catch (err) {
        tracker.restore(key, pend);
        gates.done(key, admitted, false);
        throw err; // retried with backoff from the newer cached workload
      }
      gates.done(key, admitted, !rejected);
      if (rejected) {
        tracker.restore(key, pend);
        return write.warn(wl, rejected);
      }
      confirm();
      const digests = `config digest ${change.from?.slice(0, 12) ?? '-'} → ${change.to?.slice(0, 12) ?? '-'}`;
      const all = [...current.keys()];
      const changed = [...cause.changed, ...cause.created, ...cause.deleted.map((id) => `${id} (deleted)`)];
      switch (change.action) {
        case 'rollout':
          metrics.rollouts.inc({ kind });
          if (pend) metrics.rolloutLatency.observe((Date.now() - pend.firstSeen) / 1000);
          write.note(
            wl,
            'Reloaded',
            `rolling restart for ${changed.length ? listOf(changed) : `watched ${listOf(all)}`}${admitted.why}: ${digests}`,
          );
          break;
        case 'onboard':
          skip('onboarding');
          write.note(wl, 'ReloadWatching', `watching ${listOf(all) || 'nothing yet'}; recorded ${digests} without a rollout`);
          break;
        case 'absorb':
          if (cause.created.length) {
            skip('create_ignored');
            write.note(wl, 'ReloadRecorded', `${listOf(cause.created)} appeared; ${onCreateOff}: recorded ${digests} without a rollout`);
          } else if (toggled) {
            skip('watch_set_changed');
            const keys = keysOnly ? 'only the keys the pod template reads' : 'every key';
            write.note(wl, 'ReloadRecorded', `the digest now covers ${keys} of ${listOf(all)}: recorded ${digests} without a rollout`);
          } else {
            skip('watch_set_changed');
            write.note(
              wl,
              'ReloadRecorded',
              `now watching ${listOf(all) || 'nothing'}; no watched data changed: recorded ${digests} without a rollout`,
            );
          }
          break;
        case 'forget':
          log.debug('reload annotations removed; forgot the observed digest', { key });
          break;
        case 'record':
          log.debug('recorded what the pods serve', { key, metadata: change.metadata });
      }
    }

    /**
     * Deployments paused by pause-period (reload-pause.ts): resumed when it has passed (nothing else
     * this time: the resume's own event brings the Deployment back), else looked at again then.
     */
    async function withPause(ref: ObjectRef, step: (ref: ObjectRef) => Promise<Outcome>): Promise<Outcome> {
      const wl = ref.kind === 'Deployment' ? informers.Deployment.get(objectKey(ref.namespace, ref.name)) : undefined;
      const due = wl && resumeDue({ annotations: wl.metadata.annotations, paused: wl.spec?.paused === true, now: Date.now() }, reader);
      if (wl && due === 'resume') {
        const rejected = await write.patch(Deployments, wl, resumePatchBody(wl.metadata.resourceVersion));
        if (rejected) return write.warn(wl, rejected);
        log.info('pause-period over: Deployment resumed', { key: refId(ref) });
        return;
      }
      const out = await step(ref);
      if (!due || due === 'resume') return out;
      return { requeueAfterMs: Math.min(due.waitMs, out?.requeueAfterMs ?? Infinity) };
    }

    /** Writes a change the way the workload's kind takes it (see ApplyMode). */
    async function apply(key: string, rt: ResourceType, wl: Workload, mode: ApplyMode, change: ReloadChange): Promise<Refusal | undefined> {
      if (change.action === 'rollout' && mode === 'recreate') {
        const namespace = wl.metadata.namespace ?? '';
        const replacement = recreatedJob(wl, change);
        // preconditioned: a Job changed since it was read is not deleted (409, retried from the cache)
        const preconditions = { uid: wl.metadata.uid, resourceVersion: wl.metadata.resourceVersion };
        const rejected = await write.delete(Jobs, namespace, wl.metadata.name, { preconditions, propagationPolicy: 'Background' });
        if (rejected) return rejected;
        const entry = { ...replacement, metadata: { ...replacement.metadata, uid: wl.metadata.uid } };
        recreating.set(key, entry);
        return createReplacement(key, entry);
      }
      if (change.action === 'rollout' && mode === 'run') {
        const job = cronJobRun(wl, apiVersionOf(rt), change);
        const rejected = await createJob(wl.metadata.namespace ?? '', job);
        if (rejected) return rejected;
        return write.patch(rt, wl, reloadPatchBody(wl, { ...change, template: undefined, env: undefined })); // the CronJob itself: the record only
      }
      const body = reloadPatchBody(wl, change);
      if (change.action === 'rollout' && rt.kind === 'Deployment') {
        const pause = pauseOnRollout({ annotations: wl.metadata.annotations, paused: wl.spec?.paused === true, now: Date.now() }, reader);
        if (isRefusal(pause)) return pause;
        // one patch: the template changes while the Deployment is paused, nothing rolls before the resume
        if (pause) {
          (body.metadata as { annotations: Record<string, string | null> }).annotations[A.rlPausedAt] = pause.pausedAt;
          body.spec = { ...(body.spec as object), paused: true };
        }
      }
      return write.patch(rt, wl, body);
    }

    /** A Job that already exists under that name is the one a lost answer created. */
    async function createJob(namespace: string, job: Workload): Promise<Refusal | undefined> {
      try {
        return await write.create(Jobs, namespace, job);
      } catch (err) {
        if (err instanceof ApiError && err.isAlreadyExists) return undefined;
        throw err;
      }
    }

    /**
     * The second half of a Job's recreation, until it succeeds (a failure is retried with backoff:
     * the Job is gone from the cache, this map is all that remembers it). The entry carries the
     * old Job's uid: while the cache still shows that Job (its deletion not seen yet), it is this.
     */
    async function createReplacement(key: string, replacement: Workload): Promise<Refusal | undefined> {
      const { uid: _old, ...metadata } = replacement.metadata;
      let rejected: Refusal | undefined;
      try {
        rejected = await write.create(Jobs, metadata.namespace ?? '', { ...replacement, metadata });
      } catch (err) {
        // the old Job is still being deleted (a finalizer): wait for it
        if (!(err instanceof ApiError && err.isAlreadyExists)) throw err;
        const cur = informers.Job.get(objectKey(metadata.namespace, metadata.name));
        if (!cur || cur.metadata.uid === replacement.metadata.uid) throw err;
      }
      recreating.delete(key); // created, or refused for good (reported by the caller)
      return rejected;
    }

    return [spec];
  },
};
