// The reconcile loop every controller shares: a work queue of object keys, a bounded
// pool of workers, retries with backoff, and the metrics that show what happened.
// A controller supplies only `reconcile(key)`, which reads caches, asks its pure
// `desired…()` function what should change, and applies that change (or nothing).
import type { Outcome } from './queue.js';
import { WorkQueue } from './queue.js';
import { ApiError } from './client.js';
import type { Logger } from '../log.js';
import { errorText } from '../log.js';
import type { Metrics } from '../metrics.js';

export interface Reconciler {
  readonly name: string;
  reconcile(key: string): Promise<Outcome>;
}

export interface LoopOptions {
  workers: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export class ControllerLoop {
  private readonly queue: WorkQueue;
  private readonly stopHooks: (() => void)[] = [];

  constructor(
    private readonly reconciler: Reconciler,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    opts: LoopOptions,
  ) {
    const controller = reconciler.name;
    this.queue = new WorkQueue({
      ...opts,
      onDepth: (depth) => metrics.queueDepth.set({ controller }, depth),
      onError: (key, err, attempt) => {
        metrics.queueRetries.inc({ controller });
        metrics.reconcileTotal.inc({ controller, result: 'error' });
        const conflict = err instanceof ApiError && err.isConflict;
        // conflicts are expected under concurrent writers: retried quietly
        log.log(conflict ? 'debug' : 'warn', 'reconcile failed, will retry', { controller, key, attempt, error: errorText(err) });
      },
    });
  }

  get name(): string {
    return this.reconciler.name;
  }
  get depth(): number {
    return this.queue.depth + this.queue.inFlight;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }
  enqueueAfter(key: string, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  start(): void {
    const controller = this.reconciler.name;
    this.queue.start(async (key) => {
      const end = this.metrics.reconcileSeconds.startTimer({ controller });
      try {
        const outcome = await this.reconciler.reconcile(key);
        this.metrics.reconcileTotal.inc({ controller, result: 'ok' });
        return outcome;
      } finally {
        end();
      }
    });
    this.log.debug('controller started', { controller });
  }

  /** Runs `fn` when the loop stops (timers and pollers a controller owns). */
  onStop(fn: () => void): void {
    this.stopHooks.push(fn);
  }

  stop(): Promise<void> {
    for (const fn of this.stopHooks) fn();
    return this.queue.shutdown();
  }
}
