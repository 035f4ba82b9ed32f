import { afterEach, describe, expect, jest, test } from '@jest/globals';
import fc from 'fast-check';
import { WorkQueue, type Handler, type QueueOptions } from '../../src/kube/queue.js';
import { deferred, settle, until, type Deferred } from './helpers.js';

const queues: WorkQueue[] = [];
function queue(opts: Partial<QueueOptions> = {}): WorkQueue {
  const q = new WorkQueue({ workers: 1, baseDelayMs: 100, maxDelayMs: 1000, ...opts });
  queues.push(q);
  return q;
}

afterEach(async () => {
  jest.useRealTimers();
  await Promise.all(queues.splice(0).map((q) => q.shutdown()));
});

/** A handler whose calls block until the test releases them, with bookkeeping. */
function gatedHandler() {
  const calls: string[] = [];
  const gates: { key: string; gate: Deferred }[] = [];
  const running = new Map<string, number>();
  let maxRunning = 0;
  let maxSameKey = 0;
  const handler: Handler = async (key) => {
    calls.push(key);
    running.set(key, (running.get(key) ?? 0) + 1);
    maxSameKey = Math.max(maxSameKey, running.get(key)!);
    maxRunning = Math.max(
      maxRunning,
      [...running.values()].reduce((a, b) => a + b, 0),
    );
    const gate = deferred();
    gates.push({ key, gate });
    try {
      await gate.promise;
    } finally {
      running.set(key, running.get(key)! - 1);
    }
  };
  /** releases the oldest blocked call (of `key` if given) */
  const release = (key?: string) => {
    const i = gates.findIndex((g) => key === undefined || g.key === key);
    if (i < 0) throw new Error(`no blocked call${key ? ` for ${key}` : ''}`);
    gates.splice(i, 1)[0].gate.resolve();
  };
  return {
    handler,
    calls,
    release,
    get blocked() {
      return gates.length;
    },
    get maxRunning() {
      return maxRunning;
    },
    get maxSameKey() {
      return maxSameKey;
    },
  };
}

const idle = (q: WorkQueue) => q.depth === 0 && q.inFlight === 0;

describe('WorkQueue coalesces events: a key is queued at most once', () => {
  test('many add() of one key before a worker is free give one handler call', async () => {
    const q = queue();
    for (let i = 0; i < 50; i++) q.add('ns/a');
    expect(q.depth).toBe(1);
    const calls: string[] = [];
    q.start(async (key) => {
      calls.push(key);
    });
    await until(() => calls.length > 0 && idle(q), 'queue drained');
    await settle();
    expect(calls).toEqual(['ns/a']);
  });

  test('depth reports distinct queued keys through onDepth', async () => {
    const depths: number[] = [];
    const q = queue({ onDepth: (d) => depths.push(d) });
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('c');
    expect(q.depth).toBe(3);
    expect(depths).toEqual([1, 2, 3]);
  });
});

describe('WorkQueue: a key added while it is processed runs exactly once more, afterwards', () => {
  test('adds during processing give one more run that starts after the first one ended', async () => {
    const h = gatedHandler();
    const q = queue({ workers: 4 });
    q.start(h.handler);
    q.add('k');
    await until(() => h.blocked === 1, 'first run started');
    for (let i = 0; i < 10; i++) q.add('k');
    await settle();
    expect(h.calls).toEqual(['k']); // not started again while the first run is in flight
    expect(q.inFlight).toBe(1);
    h.release('k');
    await until(() => h.blocked === 1 && h.calls.length === 2, 'second run started');
    h.release('k');
    await until(() => idle(q), 'idle');
    await settle();
    expect(h.calls).toEqual(['k', 'k']);
    expect(h.maxSameKey).toBe(1);
  });
});

describe('WorkQueue runs different keys concurrently, on at most `workers` workers', () => {
  test('10 blocked keys on 3 workers: exactly 3 run at once, all 10 eventually run', async () => {
    const h = gatedHandler();
    const q = queue({ workers: 3 });
    q.start(h.handler);
    const keys = Array.from({ length: 10 }, (_, i) => `ns/k${i}`);
    for (const k of keys) q.add(k);
    await until(() => h.blocked === 3, '3 running');
    await settle();
    expect(h.blocked).toBe(3);
    expect(q.inFlight).toBe(3);
    expect(q.depth).toBe(7);
    for (let completed = 1; completed <= 10; completed++) {
      h.release();
      await until(() => h.blocked === Math.min(3, 10 - completed), `refill after ${completed} done`);
    }
    await until(() => idle(q), 'idle');
    expect([...h.calls].sort()).toEqual(keys.sort());
    expect(h.maxRunning).toBe(3);
  });

  test('FIFO: keys are handed out in the order they were first added', async () => {
    const calls: string[] = [];
    const q = queue({ workers: 1 });
    for (const k of ['c', 'a', 'b', 'a', 'c']) q.add(k);
    q.start(async (k) => {
      calls.push(k);
    });
    await until(() => calls.length === 3 && idle(q), 'drained');
    expect(calls).toEqual(['c', 'a', 'b']);
  });
});

describe('WorkQueue retries failures with capped exponential backoff', () => {
  test('addRateLimited returns base·2^n capped at maxDelayMs, per key', () => {
    const q = queue({ baseDelayMs: 100, maxDelayMs: 1000 });
    jest.useFakeTimers();
    const delays = Array.from({ length: 7 }, () => q.addRateLimited('a'));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(q.failuresOf('a')).toBe(7);
    expect(q.addRateLimited('b')).toBe(100); // other keys have their own count
  });

  test('a failing handler is re-run after 100, 200, 400, 800, 1000, 1000 ms', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const at: number[] = [];
    const attempts: number[] = [];
    const q = queue({ baseDelayMs: 100, maxDelayMs: 1000, onError: (_k, _e, n) => attempts.push(n) });
    const t0 = Date.now();
    q.start(async () => {
      at.push(Date.now() - t0);
      throw new Error('boom');
    });
    q.add('a');
    await until(() => at.length === 1, 'first run');
    for (let i = 0; i < 6; i++) {
      await settle();
      await jest.advanceTimersByTimeAsync(1000);
    }
    await settle();
    expect(at.slice(0, 7)).toEqual([0, 100, 300, 700, 1500, 2500, 3500]);
    expect(attempts.slice(0, 7)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  test('no retry fires before its delay has elapsed', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    let runs = 0;
    const q = queue({ baseDelayMs: 100, maxDelayMs: 1000 });
    q.start(async () => {
      runs++;
      throw new Error('boom');
    });
    q.add('a');
    await until(() => runs === 1, 'first run');
    await jest.advanceTimersByTimeAsync(99);
    await settle();
    expect(runs).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    await until(() => runs === 2, 'retry');
  });
});

describe('WorkQueue: success or forget() resets the backoff', () => {
  test('forget() makes the next failure start from baseDelayMs again', () => {
    jest.useFakeTimers();
    const q = queue({ baseDelayMs: 50, maxDelayMs: 10_000 });
    q.addRateLimited('a');
    q.addRateLimited('a');
    q.addRateLimited('a');
    expect(q.failuresOf('a')).toBe(3);
    q.forget('a');
    expect(q.failuresOf('a')).toBe(0);
    expect(q.addRateLimited('a')).toBe(50);
  });

  test('a successful run forgets earlier failures', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    let runs = 0;
    const q = queue({ baseDelayMs: 100, maxDelayMs: 1000 });
    q.start(async () => {
      runs++;
      if (runs <= 2) throw new Error('boom');
    });
    q.add('a');
    await until(() => runs === 1, 'first');
    await settle();
    expect(q.failuresOf('a')).toBe(1);
    await jest.advanceTimersByTimeAsync(100);
    await until(() => runs === 2, 'second');
    await settle();
    expect(q.failuresOf('a')).toBe(2);
    await jest.advanceTimersByTimeAsync(200);
    await until(() => runs === 3 && idle(q), 'third');
    await settle();
    expect(q.failuresOf('a')).toBe(0);
  });
});

describe('WorkQueue.addAfter keeps the earliest pending delay', () => {
  test('a shorter delay replaces a longer one; a longer one does not replace a shorter one', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const runs: number[] = [];
    const q = queue();
    const t0 = Date.now();
    q.start(async () => {
      runs.push(Date.now() - t0);
    });
    q.addAfter('a', 1000);
    q.addAfter('a', 300); // earlier: wins
    q.addAfter('a', 800); // later: ignored
    await jest.advanceTimersByTimeAsync(299);
    await settle();
    expect(runs).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    await until(() => runs.length === 1, 'ran at 300');
    await jest.advanceTimersByTimeAsync(2000);
    await settle();
    expect(runs).toEqual([300]); // the replaced 1000 ms timer and the ignored 800 ms one never fire
  });

  test('addAfter with 0 or a negative delay adds at once', async () => {
    const calls: string[] = [];
    const q = queue();
    q.start(async (k) => {
      calls.push(k);
    });
    q.addAfter('a', 0);
    q.addAfter('b', -5);
    await until(() => calls.length === 2, 'both ran');
    expect(calls).toEqual(['a', 'b']);
  });
});

describe("WorkQueue honours a handler's { requeueAfterMs } outcome", () => {
  test('the key runs again after the requested delay, and not before', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const runs: number[] = [];
    const q = queue();
    const t0 = Date.now();
    q.start(async () => {
      runs.push(Date.now() - t0);
      return runs.length === 1 ? { requeueAfterMs: 5000 } : undefined;
    });
    q.add('a');
    await until(() => runs.length === 1, 'first');
    await jest.advanceTimersByTimeAsync(4999);
    await settle();
    expect(runs).toEqual([0]);
    await jest.advanceTimersByTimeAsync(1);
    await until(() => runs.length === 2, 'requeued');
    await jest.advanceTimersByTimeAsync(60_000);
    await settle();
    expect(runs).toEqual([0, 5000]);
  });

  test('requeueAfterMs: 0 runs the key once more right away', async () => {
    let runs = 0;
    const q = queue();
    q.start(async () => (++runs === 1 ? { requeueAfterMs: 0 } : undefined));
    q.add('a');
    await until(() => runs === 2 && idle(q), 'two runs');
    await settle();
    expect(runs).toBe(2);
  });
});

describe('WorkQueue.shutdown waits for in-flight handlers and drops queued keys', () => {
  test('in-flight run finishes before shutdown resolves; queued, delayed and later keys never run', async () => {
    const h = gatedHandler();
    const q = queue({ workers: 1 });
    q.start(h.handler);
    q.add('a');
    await until(() => h.blocked === 1, 'a running');
    q.add('b');
    q.add('c');
    q.addAfter('d', 10);
    q.addRateLimited('e');
    let done = false;
    const stopping = q.shutdown().then(() => {
      done = true;
    });
    await settle();
    expect(done).toBe(false); // 'a' is still running
    q.add('f');
    h.release('a');
    await stopping;
    expect(done).toBe(true);
    await settle(20);
    expect(h.calls).toEqual(['a']);
    expect(q.inFlight).toBe(0);
  });

  test('shutdown of an idle queue resolves', async () => {
    const q = queue({ workers: 3 });
    q.start(async () => undefined);
    await expect(q.shutdown()).resolves.toBeUndefined();
  });
});

describe('WorkQueue property: every add is followed by a run, a key never runs concurrently with itself', () => {
  test('random interleavings of adds and handler completions over 4 keys', async () => {
    const keys = ['a', 'b', 'c', 'd'];
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.constantFrom(...keys), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        async (s, adds, workers, failPattern) => {
          let clock = 0;
          const lastAdd = new Map<string, number>();
          const starts = new Map<string, number[]>();
          const running = new Map<string, number>();
          let overlap = false;
          let tooMany = false;
          let n = 0;
          const q = new WorkQueue({ workers, baseDelayMs: 0, maxDelayMs: 0 });
          q.start(async (key) => {
            starts.set(key, [...(starts.get(key) ?? []), ++clock]);
            running.set(key, (running.get(key) ?? 0) + 1);
            if (running.get(key)! > 1) overlap = true;
            if ([...running.values()].reduce((x, y) => x + y, 0) > workers) tooMany = true;
            try {
              await s.schedule(Promise.resolve(), `work ${key}`);
              // failures are retried (delay 0 here) and must not break the guarantees
              const i = n++;
              if (i < failPattern.length && failPattern[i]) throw new Error('transient');
            } finally {
              running.set(key, running.get(key)! - 1);
            }
          });
          s.scheduleSequence(
            adds.map((key) => ({
              label: `add ${key}`,
              builder: async () => {
                lastAdd.set(key, ++clock);
                q.add(key);
              },
            })),
          );
          for (let i = 0; i < 1000 && !(s.count() === 0 && idle(q) && n > 0); i++) {
            await s.waitIdle();
            await settle(2);
          }
          await q.shutdown();
          expect(overlap).toBe(false);
          expect(tooMany).toBe(false);
          for (const [key, at] of lastAdd) {
            expect((starts.get(key) ?? []).some((t) => t > at)).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
