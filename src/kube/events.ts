// Kubernetes Events on the objects the operator acts on. Identical events for the same
// object are aggregated (count++) like client-go's recorder, and a repeat within
// `repeatMs` is not written at all, so a resync over a still-broken object is quiet.
// Messages are bounded: controllers name at most a few items of a list (listOf), and the
// recorder cuts whatever is still too long (a long name, a quoted annotation value).
import { hostname } from 'node:os';
import { hexDigest } from '../pki/digest.js';
import type { KubeClient } from './client.js';
import { ApiError } from './client.js';
import type { KubeObject } from './types.js';
import { Events } from './types.js';
import type { Logger } from '../log.js';
import { errorText } from '../log.js';
import type { Metrics } from '../metrics.js';

export type EventType = 'Normal' | 'Warning';

/**
 * The longest message written, in UTF-8 bytes: Kubernetes' limit for an Event's text
 * (NoteLengthLimit, enforced on events.k8s.io/v1 notes; core/v1 takes longer messages, but
 * they are read by no one and cost etcd space on every repeat).
 */
export const MESSAGE_LIMIT = 1024;
/** How many items of a list a message names, and how many characters they may take. */
export const LIST_ITEMS = 10;
const LIST_CHARS = 400;

/**
 * "a, b, c and 97 more": the first items, as many as fit in LIST_ITEMS and LIST_CHARS (at
 * least one), and the count of the others. Deterministic for the same list, so a repeated
 * Event is still aggregated.
 */
export function listOf(items: readonly string[]): string {
  let n = 0;
  let chars = 0;
  while (n < items.length && n < LIST_ITEMS && (n === 0 || chars + 2 + items[n].length <= LIST_CHARS)) {
    chars += (n ? 2 : 0) + items[n++].length;
  }
  const named = items.slice(0, n).join(', ');
  return n < items.length ? `${named} and ${items.length - n} more` : named;
}

/** The message cut to MESSAGE_LIMIT bytes (on a character boundary), marked with "…". */
export function boundMessage(message: string): string {
  if (Buffer.byteLength(message, 'utf8') <= MESSAGE_LIMIT) return message;
  let out = '';
  let bytes = Buffer.byteLength('…', 'utf8');
  for (const ch of message) {
    // by code point: a surrogate pair is not split
    bytes += Buffer.byteLength(ch, 'utf8');
    if (bytes > MESSAGE_LIMIT) break;
    out += ch;
  }
  return `${out}…`;
}

export interface EventSink {
  emit(obj: KubeObject, type: EventType, reason: string, message: string): void;
}

interface Seen {
  name: string;
  count: number;
  lastWritten: number;
}

export interface RecorderOptions {
  /** a repeat of an identical Event within this long is not written */
  repeatMs?: number;
  /**
   * 'warnings': Normal Events are logged and counted, not written (--events). Each is a request
   * and an etcd write per change: at a fleet's rate of changes, that is as much as the change itself.
   */
  written?: 'all' | 'warnings';
}

export class EventRecorder implements EventSink {
  private readonly seen = new Map<string, Seen>();
  private readonly instance = hostname();
  private readonly repeatMs: number;
  private readonly normalWritten: boolean;

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    opts: RecorderOptions = {},
  ) {
    this.repeatMs = opts.repeatMs ?? 10 * 60_000;
    this.normalWritten = (opts.written ?? 'all') === 'all';
  }

  /** Fire-and-forget: an Event that cannot be written is logged, never fails a reconcile. */
  emit(obj: KubeObject, type: EventType, reason: string, text: string): void {
    const message = boundMessage(text);
    this.metrics.eventsTotal.inc({ type, reason });
    this.log.log(type === 'Warning' ? 'warn' : 'info', message, {
      event: reason,
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
    });
    if (type === 'Normal' && !this.normalWritten) return;
    this.write(obj, type, reason, message).catch((err) =>
      this.log.warn('could not write event', { reason, name: obj.metadata.name, error: errorText(err) }),
    );
  }

  private async write(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    // a cluster-scoped object's Events live in namespace default, its involvedObject has no namespace (client-go's way:
    // what `kubectl describe` looks for)
    const ns = obj.metadata.namespace || 'default';
    const id = hexDigest('sha256', `${obj.metadata.uid}\0${type}\0${reason}\0${message}`).slice(0, 16);
    const now = Date.now();
    const seen = this.seen.get(id);
    if (seen) {
      seen.count++;
      if (now - seen.lastWritten < this.repeatMs) return;
      seen.lastWritten = now;
      try {
        await this.aggregate(ns, seen.name, { count: seen.count, lastTimestamp: new Date(now).toISOString() });
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
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace || undefined,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      type,
      reason,
      message,
      source: { component: 'annotary' },
      reportingComponent: 'annotary',
      reportingInstance: this.instance,
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
    };
    try {
      await this.client.create(Events, ns, event, 'metadata');
    } catch (err) {
      // written by an earlier run of the operator: aggregate into it
      if (err instanceof ApiError && err.isAlreadyExists) {
        await this.aggregate(ns, name, { lastTimestamp: ts, count: 2 });
        this.seen.get(id)!.count = 2;
      } else {
        this.seen.delete(id); // not written: the next identical emit must try again
        throw err;
      }
    }
  }

  /** Counts a repeat into the Event already written (its answer is not read: see Answer in client.ts). */
  private async aggregate(ns: string, name: string, patch: { count: number; lastTimestamp: string }): Promise<void> {
    await this.client.patch(Events, ns, name, patch, undefined, undefined, 'metadata');
  }
}
