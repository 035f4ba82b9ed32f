// The one write-and-report path of every controller: each write the operator makes, and each
// Warning it gives for bad input, goes through a Writer bound to the controller's name, so
// the metrics, the conflict handling and the mapping of refusals are the same everywhere.
//   - 409 Conflict: counted and rethrown; the work queue retries from the newer cache state
//     (every patch body carries the resourceVersion it was computed from).
//   - 400, 413, 422: the apiserver refuses the write for good; counted, and returned as a
//     WriteRejected refusal for the controller to report, not an error to retry.
//   - anything else (403 Forbidden included) is rethrown and retried with backoff; a caller
//     that knows what a 403 means (the Ingress copies' opt-in) catches it itself.
// No write's answer is read: each asks for the object's metadata only (Answer in client.ts).
import type { DeleteOptions, KubeClient, PatchType } from './client.js';
import { ApiError } from './client.js';
import type { EventSink } from './events.js';
import type { Refusal } from './refusal.js';
import { refuse } from './refusal.js';
import type { KubeObject, ResourceType } from './types.js';
import { errorText } from '../log.js';
import type { Metrics } from '../metrics.js';

export type WriteVerb = 'patch' | 'create' | 'delete';

export class Writer {
  constructor(
    private readonly client: KubeClient,
    private readonly metrics: Metrics,
    private readonly events: EventSink,
    readonly controller: string,
  ) {}

  /** Bad input: a Warning Event on the object and the invalid-input metric. Nothing is written. */
  warn(obj: KubeObject, r: Refusal): void {
    this.metrics.invalidInputTotal.inc({ controller: this.controller, reason: r.reason });
    this.events.emit(obj, 'Warning', r.reason, r.message);
  }

  /** What was done: a Normal Event on the object. */
  note(obj: KubeObject, reason: string, message: string): void {
    this.events.emit(obj, 'Normal', reason, message);
  }

  /** A merge patch (or `type`, of `subresource`); the body carries its resourceVersion precondition (see the pure *Patch functions). */
  patch(rt: ResourceType, obj: KubeObject, body: unknown, type?: PatchType, subresource?: string): Promise<Refusal | undefined> {
    return this.write('patch', rt, () =>
      this.client.patch(rt, obj.metadata.namespace, obj.metadata.name, body, type, subresource, 'metadata'),
    );
  }

  create(rt: ResourceType, namespace: string, obj: KubeObject): Promise<Refusal | undefined> {
    return this.write('create', rt, () => this.client.create(rt, namespace, obj, 'metadata'));
  }

  /** Deleting what is already gone is done. */
  delete(rt: ResourceType, namespace: string, name: string, options?: DeleteOptions): Promise<Refusal | undefined> {
    return this.write('delete', rt, () =>
      this.client.delete(rt, namespace, name, options).catch((err) => {
        if (!(err instanceof ApiError && err.isNotFound)) throw err;
      }),
    );
  }

  private async write(verb: WriteVerb, rt: ResourceType, send: () => Promise<unknown>): Promise<Refusal | undefined> {
    const labels = { controller: this.controller, kind: rt.kind };
    try {
      await send();
    } catch (err) {
      if (err instanceof ApiError && err.isConflict) this.metrics.conflictsTotal.inc(labels);
      if (err instanceof ApiError && err.isPermanent) {
        this.metrics.writesRejectedTotal.inc({ ...labels, status: String(err.status) });
        return refuse('WriteRejected', `the apiserver refused the ${verb} (${err.status} ${err.reason}): ${errorText(err).slice(0, 300)}`);
      }
      throw err;
    }
    this.metrics.writesTotal.inc({ ...labels, verb });
    return undefined;
  }
}
