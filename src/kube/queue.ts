// A keyed work queue with client-go's guarantees:
// - a key is queued at most once however many events arrive for it (coalescing);
// - a key is never processed by two workers at once; an event during processing
//   re-queues it to run once more afterwards;
// - failures are retried with capped exponential backoff per key;
// - different keys run concurrently on a bounded number of workers.

export type Outcome = void | { requeueAfterMs: number };
export type Handler = (key: string) => Promise<Outcome>;

export interface QueueOptions {
  workers: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** called with the key and the error when a handler throws; the key is retried */
  onError?: (key: string, err: unknown, attempt: number) => void;
  onDepth?: (depth: number) => void;
}

export class WorkQueue {
  private readonly order: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private wake: (() => void) | undefined;
  private shuttingDown = false;
  private workers: Promise<void>[] = [];

  constructor(private readonly opts: QueueOptions) {}

  get depth(): number {
    return this.dirty.size;
  }
  get inFlight(): number {
    return this.processing.size;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // a key being processed is picked up again when its worker finishes (see done)
    if (!this.processing.has(key)) this.order.push(key);
    this.opts.onDepth?.(this.dirty.size);
    this.signal();
  }

  /** Adds the key after a delay; an earlier pending delayed add for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  /** Re-queues a failed key with exponential backoff: base·2^n, capped. */
  addRateLimited(key: string): number {
    const attempt = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, attempt);
    const delay = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (attempt - 1));
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  start(handler: Handler): void {
    for (let i = 0; i < this.opts.workers; i++) this.workers.push(this.work(handler));
  }

  /** Stops taking new keys, lets in-flight handlers finish, drops what is still queued. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.signal();
    await Promise.all(this.workers);
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async next(): Promise<string | undefined> {
    for (;;) {
      if (this.shuttingDown) return undefined;
      const key = this.order.shift();
      if (key !== undefined) return key;
      await new Promise<void>((resolve) => {
        const prev = this.wake;
        this.wake = () => {
          prev?.();
          resolve();
        };
      });
    }
  }

  private async work(handler: Handler): Promise<void> {
    for (;;) {
      const key = await this.next();
      if (key === undefined) return;
      this.dirty.delete(key);
      this.processing.add(key);
      this.opts.onDepth?.(this.dirty.size);
      try {
        const outcome = await handler(key);
        this.forget(key);
        if (outcome && outcome.requeueAfterMs >= 0) this.addAfter(key, outcome.requeueAfterMs);
      } catch (err) {
        this.opts.onError?.(key, err, this.failuresOf(key) + 1);
        this.addRateLimited(key);
      } finally {
        this.processing.delete(key);
        // an add() that came while processing left the key dirty but out of order: queue it now
        if (this.dirty.has(key) && !this.shuttingDown) {
          this.order.push(key);
          this.signal();
        }
      }
    }
  }
}
