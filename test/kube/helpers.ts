// Shared helpers for the engine tests: hand-driven promises, a silent logger, polling
// that counts event-loop turns instead of milliseconds.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One turn of the event loop (setImmediate must not be faked where this is used). */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Lets every pending promise chain settle. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await turn();
}

/** Polls `cond` once per event-loop turn; fails with `what` after `maxTurns` turns. */
export async function until(cond: () => boolean, what: string, maxTurns = 500): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await turn();
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/** A logger that writes nowhere. */
export function silentLogger(): Logger {
  return createLogger(
    'error',
    'json',
    new Writable({
      write(_chunk, _enc, cb) {
        cb();
      },
    }),
  );
}
