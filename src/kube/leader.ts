// Leader election on a coordination.k8s.io/v1 Lease, so several replicas can run and only
// one reconciles. The protocol is client-go's, reduced to what annotary needs:
// - every round reads the Lease and asks decideLease() what to do;
// - writes are optimistic: a PUT carrying the resourceVersion that was read, so of two
//   candidates racing for an expired Lease exactly one wins (the other gets 409);
// - a holder renews every duration/3; a standby takes the Lease over only after
//   renewTime + leaseDurationSeconds has passed (clocks of the replicas are assumed to
//   agree within a fraction of the duration, as NTP gives);
// - a leader that could not renew for 2/3 of the duration, or sees another holder, has lost:
//   it stops before anyone else may have started (the remaining third is the margin).
import type { KubeClient } from './client.js';
import { ApiError } from './client.js';
import type { KubeObject } from './types.js';
import { Leases, apiVersionOf } from './types.js';
import type { Logger } from '../log.js';
import { errorText } from '../log.js';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export type LeaseDecision = 'acquire' | 'renew' | 'wait';

/** What a candidate does with the Lease it observed (undefined: there is none yet). */
export function decideLease(observed: Lease | undefined, nowMs: number, identity: string, durationMs: number): LeaseDecision {
  const spec = observed?.spec;
  if (!spec?.holderIdentity) return 'acquire'; // never held, or released by a clean shutdown
  if (spec.holderIdentity === identity) return 'renew';
  const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  if (Number.isNaN(renewed)) return 'acquire'; // a holder that never renewed holds nothing
  const heldMs = (spec.leaseDurationSeconds ?? durationMs / 1000) * 1000;
  return nowMs > renewed + heldMs ? 'acquire' : 'wait';
}

/** metav1.MicroTime: the apiserver parses exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The Lease a candidate writes for `decision`, built from the observed one (keeps its resourceVersion). */
export function leaseFor(
  decision: Exclude<LeaseDecision, 'wait'>,
  observed: Lease | undefined,
  meta: { name: string; namespace: string },
  identity: string,
  durationMs: number,
  nowMs: number,
): Lease {
  const prev = observed?.spec ?? {};
  const now = microTime(nowMs);
  const taking = decision === 'acquire';
  return {
    apiVersion: apiVersionOf(Leases),
    kind: 'Lease',
    // the PUT replaces the whole object: keep the labels and annotations of whoever made it (the
    // chart's and the manifests' Lease carries Helm's ownership, so that an uninstall removes it)
    metadata: {
      ...meta,
      labels: observed?.metadata.labels,
      annotations: observed?.metadata.annotations,
      resourceVersion: observed?.metadata.resourceVersion,
    },
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(durationMs / 1000)),
      acquireTime: taking ? now : (prev.acquireTime ?? now),
      renewTime: now,
      leaseTransitions: (prev.leaseTransitions ?? 0) + (taking && prev.holderIdentity && prev.holderIdentity !== identity ? 1 : 0),
    },
  };
}

export interface ElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  durationMs: number;
  log: Logger;
  onLeading: () => void;
  onLost: () => void;
  now?: () => number;
}

export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private lastRenewMs = 0;
  private stopped = false;
  /** the round in flight: stop() waits for it, so the release is never raced by our own renewal */
  private current: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly opts: ElectorOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.next();
  }

  private next(): void {
    this.current = this.round();
  }

  /** Stops campaigning; a leader gives the Lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // a renewal (or an acquisition) in flight would otherwise commit between our read of the
    // Lease and our release, whose precondition then fails: the Lease stays held until it expires
    await this.current;
    if (!this.leading) return;
    this.leading = false;
    const { client, namespace, name, identity, log } = this.opts;
    try {
      const lease = await client.tryGet<Lease>(Leases, namespace, name);
      if (lease?.spec?.holderIdentity !== identity) return;
      await client.replace(Leases, namespace, name, { ...lease, spec: { ...lease.spec, holderIdentity: '' } }, 'metadata');
      log.info('released the lease', { lease: `${namespace}/${name}` });
    } catch (err) {
      log.warn('could not release the lease; a standby takes over when it expires', { error: errorText(err) });
    }
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    const { client, namespace, name, identity, durationMs, log } = this.opts;
    try {
      const observed = await client.tryGet<Lease>(Leases, namespace, name);
      const decision = decideLease(observed, this.now(), identity, durationMs);
      if (decision === 'wait') {
        if (this.leading) return this.lose(`the lease is held by ${observed?.spec?.holderIdentity}`);
      } else {
        const body = leaseFor(decision, observed, { name, namespace }, identity, durationMs, this.now());
        if (observed) await client.replace(Leases, namespace, name, body, 'metadata');
        else await client.create(Leases, namespace, body, 'metadata');
        this.lastRenewMs = this.now();
        if (!this.leading) {
          // held now, even when stopping: stop() then releases it
          this.leading = true;
          log.info('became leader', { lease: `${namespace}/${name}`, identity });
          if (!this.stopped) this.opts.onLeading();
        }
        if (this.stopped) return;
      }
    } catch (err) {
      // 409: another candidate wrote first (its write wins); anything else: try again next round
      const raced = err instanceof ApiError && err.status === 409;
      log.log(raced ? 'debug' : 'warn', 'lease round failed', { error: errorText(err) });
    }
    if (this.leading && this.now() - this.lastRenewMs > (durationMs * 2) / 3) {
      return this.lose('could not renew the lease in time');
    }
    if (!this.stopped) this.timer = setTimeout(() => this.next(), durationMs / 3);
  }

  private lose(why: string): void {
    this.leading = false;
    this.stopped = true;
    this.opts.log.error('lost leadership', { reason: why });
    this.opts.onLost();
  }
}
