// Kubernetes Events on the objects the operator acts on. Identical events for the same
// object are aggregated (count++) like client-go's recorder, and a repeat within
// `repeatMs` is not written at all, so a resync over a still-broken object is quiet.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeClient } from './client.js';
import { ApiError } from './client.js';
import type { KubeObject } from './types.js';
import { Events } from './types.js';
import type { Logger } from '../log.js';
import { errorText } from '../log.js';
import type { Metrics } from '../metrics.js';

export type EventType = 'Normal' | 'Warning';

export interface EventSink {
  emit(obj: KubeObject, type: EventType, reason: string, message: string): void;
}

interface Seen { name: string; count: number; lastWritten: number }

export class EventRecorder implements EventSink {
  private readonly seen = new Map<string, Seen>();
  private readonly instance = hostname();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly repeatMs = 10 * 60_000,
  ) {}

  /** Fire-and-forget: an Event that cannot be written is logged, never fails a reconcile. */
  emit(obj: KubeObject, type: EventType, reason: string, message: string): void {
    this.metrics.eventsTotal.inc({ type, reason });
    this.log.log(type === 'Warning' ? 'warn' : 'info', message, {
      event: reason, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name,
    });
    this.write(obj, type, reason, message).catch((err) =>
      this.log.warn('could not write event', { reason, name: obj.metadata.name, error: errorText(err) }));
  }

  private async write(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const id = createHash('sha256').update(`${obj.metadata.uid}\0${type}\0${reason}\0${message}`).digest('hex').slice(0, 16);
    const now = Date.now();
    const seen = this.seen.get(id);
    if (seen) {
      seen.count++;
      if (now - seen.lastWritten < this.repeatMs) return;
      seen.lastWritten = now;
      try {
        await this.client.patch(Events, ns, seen.name, { count: seen.count, lastTimestamp: new Date(now).toISOString() });
        return;
      } catch (err) {
        // the apiserver expires Events (1 h by default): a warning that persists is re-created
        if (!(err instanceof ApiError && err.isNotFound)) throw err;
        this.seen.delete(id);
      }
    }
    const name = `${obj.metadata.name}.${id}`;
    const ts = new Date(now).toISOString();
    this.seen.set(id, { name, count: 1, lastWritten: now });
    if (this.seen.size > 10_000) this.seen.delete(this.seen.keys().next().value!);
    try {
      await this.client.create(Events, ns, {
        apiVersion: 'v1', kind: 'Event',
        metadata: { name, namespace: ns },
        involvedObject: {
          apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: ns,
          uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion,
        },
        type, reason, message,
        source: { component: 'annotary' },
        reportingComponent: 'annotary', reportingInstance: this.instance,
        firstTimestamp: ts, lastTimestamp: ts, count: 1,
      });
    } catch (err) {
      // written by an earlier run of the operator: aggregate into it
      if (err instanceof ApiError && err.isAlreadyExists) {
        await this.client.patch(Events, ns, name, { lastTimestamp: ts, count: 2 });
        this.seen.get(id)!.count = 2;
      } else {
        this.seen.delete(id); // not written: the next identical emit must try again
        throw err;
      }
    }
  }
}
