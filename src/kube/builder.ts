// A controller is a declaration: the objects it is for, what else it watches and how a
// watched object maps to the objects it affects, and reconcile. wire() turns a declaration
// into cache handlers, indexes and a work queue, in the spirit of controller-runtime's
// builder (For, Watches, IndexField): the handler triple and the index upkeep are written
// here once, for every controller, and the indexes belong to the caches (Informer.addIndex).
import type { ControllerLoop } from './controller.js';
import type { Informer, InformerHandlers } from './informer.js';
import type { Outcome } from './queue.js';
import type { KubeObject, ObjectRef } from './types.js';
import { refId, refOf } from './types.js';

export interface Watch<P extends KubeObject> {
  /** the cache of the watched kind */
  source: Informer<KubeObject>;
  /** the objects of that kind a primary object references (name ANY_NAME: any, by pattern) */
  refsOf(primary: P): ObjectRef[];
  /**
   * When a referrer is reconciled after a change of a watched object: at once (0, the
   * default), after that many ms, or not at all (undefined). `old` is undefined for an add
   * or a delete, and the same object as `cur` for a resync.
   */
  delayFor?(referrer: ObjectRef, old: KubeObject | undefined, cur: KubeObject): number | undefined;
}

export interface ControllerSpec<P extends KubeObject = KubeObject> {
  name: string;
  /** the caches of the objects it acts for; a promise for an API that may be served only later */
  for: Informer<P> | Promise<Informer<P>> | (Informer<P> | Promise<Informer<P>>)[];
  /** which of them are its business: the others are neither queued nor indexed */
  filter?(obj: P): boolean;
  /**
   * Whether an update of one of them is worth a reconcile (controller-runtime's predicates on
   * For, e.g. GenerationChangedPredicate). Without it every update is; adds, deletes and
   * resyncs (the same object as old and cur) always are.
   */
  changed?(old: P, cur: P): boolean;
  watches?: Watch<P>[];
  /** read caches → desired(observed) → write through the Writer; see src/controllers */
  reconcile(ref: ObjectRef): Promise<Outcome>;
}

/** Every kind of cache event as one function: old undefined for add and delete, the same object for a resync. */
function onEvery<T>(fn: (old: T | undefined, cur: T) => void): InformerHandlers<T> {
  return { add: (o) => fn(undefined, o), update: (o, n) => fn(o, n), delete: (o) => fn(undefined, o) };
}

export function wire<P extends KubeObject>(spec: ControllerSpec<P>, loop: ControllerLoop): void {
  const wanted = (o: P) => spec.filter?.(o) ?? true;
  const forPrimary = (primary: Informer<P>) => {
    const kind = primary.resource.kind;
    for (const w of spec.watches ?? []) {
      const index = primary.addIndex((o) => (wanted(o) ? w.refsOf(o) : []));
      const sourceKind = w.source.resource.kind;
      w.source.on(
        onEvery((old, cur) => {
          for (const r of index.referrers(refOf(sourceKind, cur))) {
            const delay = w.delayFor ? w.delayFor(r, old, cur) : 0;
            if (delay === undefined) continue;
            if (delay > 0) loop.enqueueAfter(refId(r), delay);
            else loop.enqueue(refId(r));
          }
        }),
      );
    }
    const enqueue = (o: P) => {
      if (wanted(o)) loop.enqueue(refId(refOf(kind, o)));
    };
    primary.on(
      onEvery((old, cur) => {
        if (old === undefined || old === cur || !spec.changed || spec.changed(old, cur)) enqueue(cur);
      }),
    );
    // a cache that started before this (an API served later) may hold objects already
    for (const o of primary.list()) enqueue(o);
  };
  for (const p of [spec.for].flat()) {
    if (p instanceof Promise) void p.then(forPrimary);
    else forPrimary(p);
  }
}
