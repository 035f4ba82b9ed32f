// Every Prometheus metric the operator exposes, in one place so the docs/metrics.md catalogue
// and the code cannot drift. Label values are bounded: controller names, resource
// kinds, fixed reason strings — never object names except where documented.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'annotary_' });
  const registers = [registry];
  return {
    registry,
    reconcileTotal: new Counter({
      name: 'annotary_reconcile_total',
      help: 'Reconciles by controller and result (ok, error, invalid).',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileSeconds: new Histogram({
      name: 'annotary_reconcile_duration_seconds',
      help: 'Time spent in one reconcile.',
      labelNames: ['controller'],
      buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'annotary_queue_depth',
      help: 'Keys waiting in a controller work queue.',
      labelNames: ['controller'],
      registers,
    }),
    queueRetries: new Counter({
      name: 'annotary_queue_retries_total',
      help: 'Keys re-queued with backoff after a failure.',
      labelNames: ['controller'],
      registers,
    }),
    writesTotal: new Counter({
      name: 'annotary_writes_total',
      help: 'Writes (patch/create/delete) the operator made, by controller, kind and verb.',
      labelNames: ['controller', 'kind', 'verb'],
      registers,
    }),
    writesRejectedTotal: new Counter({
      name: 'annotary_writes_rejected_total',
      help: 'Writes the apiserver refused for good (400, 413, 422), by controller, kind and status; not retried until their inputs change.',
      labelNames: ['controller', 'kind', 'status'],
      registers,
    }),
    conflictsTotal: new Counter({
      name: 'annotary_write_conflicts_total',
      help: 'Writes refused with 409 Conflict and retried.',
      labelNames: ['controller', 'kind'],
      registers,
    }),
    invalidInputTotal: new Counter({
      name: 'annotary_invalid_input_total',
      help: 'Objects refused for bad input, by controller and reason.',
      labelNames: ['controller', 'reason'],
      registers,
    }),
    generatedTotal: new Counter({
      name: 'annotary_generated_total',
      help: 'Declared keys generated (a value and its companions, such as a key pair), by type; never a value.',
      labelNames: ['type'],
      registers,
    }),
    eventsTotal: new Counter({
      name: 'annotary_events_total',
      help: 'Kubernetes Events emitted, by type and reason.',
      labelNames: ['type', 'reason'],
      registers,
    }),
    watchRestarts: new Counter({
      name: 'annotary_watch_restarts_total',
      help: 'Watch streams re-opened, by resource and cause (timeout, error, gone).',
      labelNames: ['resource', 'cause'],
      registers,
    }),
    relistsTotal: new Counter({
      name: 'annotary_relists_total',
      help: 'Full lists of a resource (start, 410 Gone, errors).',
      labelNames: ['resource'],
      registers,
    }),
    leader: new Gauge({
      name: 'annotary_leader',
      help: '1 while this process reconciles (holds the Lease, or runs without --leader-elect), 0 on standby.',
      registers,
    }),
    // the one place object names are labels: one series pair per kubernetes.io/tls Secret,
    // removed with the Secret (the expiry controller), so bounded by the Secrets that exist
    certNotAfter: new Gauge({
      name: 'annotary_certificate_not_after_seconds',
      help: 'notAfter of the leaf certificate of a kubernetes.io/tls Secret (unix seconds).',
      labelNames: ['namespace', 'name', 'key'],
      registers,
    }),
    certNotBefore: new Gauge({
      name: 'annotary_certificate_not_before_seconds',
      help: 'notBefore of the leaf certificate of a kubernetes.io/tls Secret (unix seconds).',
      labelNames: ['namespace', 'name', 'key'],
      registers,
    }),
    controllerReady: new Gauge({
      name: 'annotary_controller_ready',
      help:
        '1 once every cache a controller reads has synced (it reconciles on the leader); ' +
        '0 while one syncs or is refused (403, see the MissingPermission Event).',
      labelNames: ['controller'],
      registers,
    }),
    cachedObjects: new Gauge({
      name: 'annotary_cached_objects',
      help: 'Objects held in the informer caches.',
      labelNames: ['resource'],
      registers,
    }),
    // the issuing controller (#14)
    certificatesIssued: new Counter({
      name: 'annotary_certificates_issued_total',
      help: `Certificates annotary issued into Secrets, by issuer kind (ca, csr, self) and why (${ISSUE_WHYS.join(', ')}).`,
      labelNames: ['issuer', 'why'],
      registers,
    }),
    issuanceFailures: new Counter({
      name: 'annotary_issuance_failures_total',
      help: 'Issuances or renewals that failed and are retried with backoff (the certificate in place stays), by issuer kind.',
      labelNames: ['issuer'],
      registers,
    }),
    // the reload controller
    rollouts: new Counter({
      name: 'annotary_rollouts_total',
      help: 'Rollouts triggered by a change of watched Secrets/ConfigMaps, by workload kind.',
      labelNames: ['kind'],
      registers,
    }),
    rolloutsSkipped: new Counter({
      name: 'annotary_rollouts_skipped_total',
      help: `Reconciles of a watched workload that did not roll, by reason (${RELOAD_SKIP_REASONS.join(', ')}).`,
      labelNames: ['reason'],
      registers,
    }),
    rolloutsInProgress: new Gauge({
      name: 'annotary_rollouts_in_progress',
      help: 'With --max-concurrent-rollouts: watched Deployments, StatefulSets and DaemonSets rolling at the last look (a rollout it admitted included).',
      registers,
    }),
    rolloutsForced: new Counter({
      name: 'annotary_rollouts_forced_total',
      help: 'Rollouts outside their reload-window because the certificate the pods serve would expire before the next window.',
      registers,
    }),
    rolloutLatency: new Histogram({
      name: 'annotary_rollout_latency_seconds',
      help: 'From the first observed change of a watched object to the rollout patch.',
      buckets: [0.5, 1, 2, 3, 5, 10, 30, 60, 300],
      registers,
    }),
  };
}

/** Why annotary issued a certificate (annotary_certificates_issued_total's why label). */
export const ISSUE_WHYS = ['new', 'request_changed', 'renewal', 'ca_rotation', 'replaced_user_certificate'] as const;
export type IssueWhy = (typeof ISSUE_WHYS)[number];

/** Why a reconcile of a watched workload did not roll (annotary_rollouts_skipped_total's reason label). */
export const RELOAD_SKIP_REASONS = [
  'invalid',
  'missing',
  'keystore_pending',
  'onboarding',
  'create_ignored',
  'watch_set_changed',
  'bad_material',
  // reload gates (#17): held by the flap guard, waiting for a place under --max-concurrent-rollouts, outside the reload-window
  'flapping',
  'rollout_budget',
  'window',
] as const;
export type ReloadSkipReason = (typeof RELOAD_SKIP_REASONS)[number];

export type Metrics = ReturnType<typeof createMetrics>;
