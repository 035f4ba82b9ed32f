// Optimistic concurrency: writes carry the resourceVersion they were computed from, the
// apiserver answers 409 when someone wrote in between, and the caller recomputes from a
// fresh read. This helper is that loop.
import { ApiError } from './client.js';

export async function retryOnConflict<T>(attempt: (tryNo: number) => Promise<T>, onConflict?: () => void, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt(i);
    } catch (err) {
      if (!(err instanceof ApiError && err.isConflict && !err.isAlreadyExists) || i >= attempts) throw err;
      onConflict?.();
      await new Promise((r) => setTimeout(r, 10 * i + Math.random() * 20));
    }
  }
}
