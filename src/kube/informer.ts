// List+watch cache of one resource, the operator's only view of the cluster between writes.
// - Lists in pages (bounded memory during the initial sync of large clusters).
// - Watches from the list's resourceVersion with bookmarks; a dropped stream resumes from
//   the last resourceVersion seen; 410 Gone (history compacted) triggers a full relist that
//   is diffed against the cache, so deletions missed while disconnected are still delivered.
// - Each object passes through `transform` before it is cached, so the cache holds only what
//   the controllers need (e.g. digests instead of secret data).
// - A periodic resync re-delivers every cached object as an update (level-triggered safety net).
// - A list or watch the apiserver refuses (403: the RBAC lacks the verb) is retried with a
//   longer backoff, and reported through forbidden()/onChange so that the controllers reading
//   this cache wait (and say why) while the others run; it syncs once the permission is granted.
import type { KubeClient } from './client.js';
import { ApiError } from './client.js';
import type { KubeObject, ObjectRef, ResourceType } from './types.js';
import { keyOf, refOf, resourcePath } from './types.js';
import { ReferenceIndex } from './refindex.js';
import type { Logger } from '../log.js';
import { errorText } from '../log.js';
import type { Metrics } from '../metrics.js';

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(old: T, cur: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions<T> {
  client: KubeClient;
  resource: ResourceType;
  /** namespaces to watch; empty = all namespaces */
  namespaces: string[];
  transform: (obj: KubeObject) => T;
  log: Logger;
  metrics: Metrics;
  pageSize?: number;
  resyncMs?: number;
  labelSelector?: string;
}

// client-go caps reflector backoff at 30 s; 10 s recovers faster after a control-plane restart
const WATCH_RETRY_MAX_MS = 10_000;
// a 403 ends only when someone changes the RBAC: client-go's 30 s, so a refused cache costs one
// authorization check per scope every 30 s, and a grant is picked up within that time
export const FORBIDDEN_RETRY_MAX_MS = 30_000;

const backoff = (failures: number, maxMs: number) => Math.min(maxMs, 250 * 2 ** Math.min(failures, 7));

/** A request of the cache that the apiserver refused with 403: the permission it lacks. */
export interface Forbidden {
  verb: 'list' | 'watch';
  resource: ResourceType;
  /** undefined: all namespaces (a cluster-wide list) */
  namespace: string | undefined;
  /** the apiserver's message (it names the user) */
  message: string;
}

const isForbidden = (err: unknown): err is ApiError => err instanceof ApiError && err.isForbidden;

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  // refsOf as a method: bivariant, so an Informer<SlimData> is still an Informer<KubeObject>
  private readonly indexes: { index: ReferenceIndex; refsOf(obj: T): ObjectRef[] }[] = [];
  private readonly aborts = new Set<AbortController>();
  private stopped = false;
  private pendingScopes: number;
  private syncedResolve!: () => void;
  readonly synced: Promise<void>;
  private resyncTimer: NodeJS.Timeout | undefined;
  private loops: Promise<void>[] = [];
  private sleepers = new Set<() => void>();
  /** namespace scope ('' = all namespaces) → its refused request, until a watch of it is accepted */
  private readonly refused = new Map<string, Forbidden>();
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly opts: InformerOptions<T>) {
    this.pendingScopes = Math.max(1, opts.namespaces.length);
    this.synced = new Promise((resolve) => (this.syncedResolve = resolve));
  }

  get resourceName(): string {
    return this.opts.resource.plural;
  }

  get resource(): ResourceType {
    return this.opts.resource;
  }

  /**
   * An index of what each cached object references, kept by the cache itself: updated from
   * the object on every add, update and delete, before any handler runs, so it is never
   * staler than the cache (whatever a reconcile did or returned).
   */
  addIndex(refsOf: (obj: T) => ObjectRef[]): ReferenceIndex {
    const index = new ReferenceIndex();
    this.indexes.push({ index, refsOf });
    for (const obj of this.store.values()) index.set(refOf(this.opts.resource.kind, obj), refsOf(obj));
    return index;
  }

  on(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(namespace?: string): T[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  get size(): number {
    return this.store.size;
  }

  /** Every namespace scope was listed and its watch accepted once (stays true afterwards). */
  hasSynced(): boolean {
    return this.pendingScopes === 0;
  }

  /** The refused request of the first scope that is refused now; undefined once every scope's watch is accepted again. */
  forbidden(): Forbidden | undefined {
    return this.refused.values().next().value;
  }

  /** `fn` runs whenever hasSynced() or forbidden() changes. */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  start(): void {
    const scopes = this.opts.namespaces.length ? this.opts.namespaces : [undefined];
    this.loops = scopes.map((ns) => this.run(ns));
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const a of this.aborts) a.abort();
    for (const wake of this.sleepers) wake();
    await Promise.all(this.loops);
  }

  /** Re-delivers every cached object as an update, as client-go's resync does. */
  resync(): void {
    for (const obj of this.store.values()) this.emit('update', obj, obj);
  }

  private emit(kind: 'add' | 'update' | 'delete', a: T, b?: T): void {
    const ref = refOf(this.opts.resource.kind, a);
    for (const ix of this.indexes) {
      if (kind === 'delete') ix.index.remove(ref);
      else ix.index.set(ref, ix.refsOf(b ?? a));
    }
    for (const h of this.handlers) {
      try {
        if (kind === 'add') h.add?.(a);
        else if (kind === 'update') h.update?.(a, b!);
        else h.delete?.(a);
      } catch (err) {
        this.opts.log.error('event handler failed', { resource: this.resourceName, error: errorText(err) });
      }
    }
  }

  private async run(namespace: string | undefined): Promise<void> {
    let firstSync = true;
    let failures = 0;
    // the scope counts as synced once its watch is accepted too: a list-only grant would
    // otherwise give a cache that never changes, silently
    const accepted = () => {
      let changed = this.refused.delete(namespace ?? '');
      if (firstSync) {
        firstSync = false;
        changed = true;
        if (--this.pendingScopes === 0) this.syncedResolve();
      }
      if (changed) this.changed();
    };
    while (!this.stopped) {
      try {
        const rv = await this.relist(namespace);
        failures = 0;
        for (;;) {
          const end = await this.watchOnce(namespace, rv.value, rv, accepted);
          if (this.stopped) return;
          this.opts.metrics.watchRestarts.inc({ resource: this.resourceName, cause: end === 'gone' || end === 'timeout' ? end : 'error' });
          if (end === 'gone') break;
          if (end === 'timeout') {
            failures = 0;
            continue;
          }
          failures++;
          if (end !== 'error') this.refuse(namespace, 'watch', end);
          await this.sleep(backoff(failures, end === 'error' ? WATCH_RETRY_MAX_MS : FORBIDDEN_RETRY_MAX_MS));
        }
      } catch (err) {
        if (this.stopped) return;
        failures++;
        const delay = backoff(failures, isForbidden(err) ? FORBIDDEN_RETRY_MAX_MS : WATCH_RETRY_MAX_MS);
        if (isForbidden(err)) this.refuse(namespace, 'list', err, delay);
        else
          this.opts.log.warn('list failed, retrying', { resource: this.resourceName, namespace, error: errorText(err), retryInMs: delay });
        await this.sleep(delay);
      }
    }
  }

  /** Records a 403; the operator reports it (error log, Event, metric) for the controllers that read this cache. */
  private refuse(namespace: string | undefined, verb: Forbidden['verb'], err: ApiError, retryInMs?: number): void {
    this.opts.log.debug(`${verb} forbidden, retrying`, { resource: this.resourceName, namespace, error: errorText(err), retryInMs });
    const scope = namespace ?? '';
    const before = this.refused.get(scope);
    if (before?.verb === verb) return;
    this.refused.set(scope, { verb, resource: this.opts.resource, namespace, message: err.message });
    this.changed();
  }

  private changed(): void {
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (err) {
        this.opts.log.error('cache listener failed', { resource: this.resourceName, error: errorText(err) });
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private inScope(obj: T, namespace: string | undefined): boolean {
    return namespace === undefined || obj.metadata.namespace === namespace;
  }

  /** Lists in pages, then reconciles the cache with the list: adds, updates, deletes. */
  private async relist(namespace: string | undefined): Promise<{ value: string }> {
    this.opts.metrics.relistsTotal.inc({ resource: this.resourceName });
    const seen = new Set<string>();
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.opts.client.list(this.opts.resource, namespace, {
        limit: this.opts.pageSize ?? 500,
        continue: cont,
        labelSelector: this.opts.labelSelector,
      });
      resourceVersion = page.metadata.resourceVersion ?? resourceVersion;
      cont = page.metadata.continue || undefined;
      for (const raw of page.items) {
        const obj = this.opts.transform(raw);
        const key = keyOf(obj);
        seen.add(key);
        this.upsert(key, obj);
      }
    } while (cont && !this.stopped);
    for (const [key, obj] of this.store) {
      if (this.inScope(obj, namespace) && !seen.has(key)) {
        this.store.delete(key);
        this.emit('delete', obj);
      }
    }
    this.opts.metrics.cachedObjects.set({ resource: this.resourceName }, this.store.size);
    this.opts.log.debug('listed', { resource: this.resourceName, namespace, objects: seen.size, resourceVersion });
    return { value: resourceVersion };
  }

  private upsert(key: string, obj: T): void {
    const old = this.store.get(key);
    this.store.set(key, obj);
    if (!old) this.emit('add', obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', old, obj);
  }

  /**
   * One watch stream. Resolves with why it ended (the refusal itself when it was a 403); `rv`
   * is advanced as events arrive; `accepted` runs when the apiserver answered 200.
   */
  private watchOnce(
    namespace: string | undefined,
    from: string,
    rv: { value: string },
    accepted: () => void,
  ): Promise<'timeout' | 'error' | 'gone' | ApiError> {
    return new Promise((resolve) => {
      let ended = false;
      let gone = false;
      let failed = false; // an ERROR event other than 410: back off before re-watching
      const path = resourcePath(this.opts.resource, namespace);
      const query = {
        resourceVersion: from,
        allowWatchBookmarks: true,
        timeoutSeconds: 240 + Math.floor(Math.random() * 120),
        labelSelector: this.opts.labelSelector,
      };
      let abort: AbortController | undefined;
      const onEvent = (type: string, raw: KubeObject) => {
        if (type === 'ERROR') {
          const code = (raw as unknown as { code?: number }).code;
          if (code === 410) gone = true;
          else failed = true;
          abort?.abort();
          return;
        }
        const newRv = raw.metadata?.resourceVersion;
        if (newRv) rv.value = newRv;
        if (type === 'BOOKMARK') return;
        const obj = this.opts.transform(raw);
        const key = keyOf(obj);
        if (type === 'DELETED') {
          const old = this.store.get(key);
          this.store.delete(key);
          this.emit('delete', old ?? obj);
        } else {
          this.upsert(key, obj);
        }
        this.opts.metrics.cachedObjects.set({ resource: this.resourceName }, this.store.size);
      };
      const done = (err?: unknown) => {
        ended = true;
        if (abort) this.aborts.delete(abort);
        if (isForbidden(err)) return resolve(err);
        if (gone || (err instanceof ApiError && err.isGone) || (err as { statusCode?: number })?.statusCode === 410) return resolve('gone');
        if (failed) return resolve('error');
        if (!err || (err as { name?: string }).name === 'TimeoutError' || (err as { name?: string }).name === 'AbortError')
          return resolve('timeout');
        this.opts.log.debug('watch ended with an error', { resource: this.resourceName, namespace, error: errorText(err) });
        resolve('error');
      };
      this.opts.client.watch(path, query, onEvent, done).then(
        (a) => {
          abort = a;
          this.aborts.add(a);
          if (this.stopped) return a.abort();
          // the client ends a refused watch (non-200 answer) before it resolves: still open = accepted
          if (!ended) accepted();
        },
        (err) => done(err),
      );
    });
  }
}
