// A hand-driven stand-in for KubeClient's list and watch: tests decide what each list
// returns and push watch events and stream ends themselves.
import type { KubeClient, Query } from '../../src/kube/client.js';
import type { KubeObject, ObjectList, ResourceType } from '../../src/kube/types.js';
import { configMap, inNamespace, withResourceVersion, withUid } from '../gen.js';

export interface ListCall {
  rt: ResourceType;
  namespace: string | undefined;
  query: Query;
}

export class FakeWatch {
  ended = false;
  readonly controller = new AbortController();
  constructor(
    readonly path: string,
    readonly query: Query,
    private readonly onEvent: (type: string, obj: KubeObject) => void,
    private readonly done: (err?: unknown) => void,
  ) {
    // like client-node's Watch: aborting the stream ends it with an AbortError
    this.controller.signal.addEventListener('abort', () => {
      const err = new Error('The operation was aborted.');
      err.name = 'AbortError';
      this.end(err);
    });
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  event(type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK', obj: KubeObject): void {
    if (this.ended) throw new Error('event on an ended watch');
    this.onEvent(type, obj);
  }

  error(code: number, message = 'too old resource version'): void {
    if (this.ended) throw new Error('event on an ended watch');
    this.onEvent('ERROR', { kind: 'Status', code, message, metadata: {} } as unknown as KubeObject);
  }

  /** the stream ends: no argument = a normal close (server timeout) */
  end(err?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.done(err);
  }
}

export class FakeKube {
  readonly lists: ListCall[] = [];
  readonly watches: FakeWatch[] = [];
  /** answers list calls; replace per test */
  listImpl: (call: ListCall) => Promise<ObjectList<KubeObject>> | ObjectList<KubeObject> = () => ({
    metadata: { resourceVersion: '1' },
    items: [],
  });
  /** an error to refuse a watch of this path with (e.g. a 403), as the client does for a non-200 answer; undefined: accepted */
  watchRefusal: (path: string) => unknown = () => undefined;

  list(rt: ResourceType, namespace: string | undefined, query: Query = {}): Promise<ObjectList<KubeObject>> {
    const call = { rt, namespace, query };
    this.lists.push(call);
    return Promise.resolve(this.listImpl(call));
  }

  watch(
    path: string,
    query: Query,
    onEvent: (type: string, obj: KubeObject) => void,
    done: (err?: unknown) => void,
  ): Promise<AbortController> {
    const w = new FakeWatch(path, query, onEvent, done);
    this.watches.push(w);
    // like KubeClient.watch: a refused watch has ended before the promise resolves
    const refusal = this.watchRefusal(path);
    if (refusal !== undefined) w.end(refusal);
    return Promise.resolve(w.controller);
  }

  get client(): KubeClient {
    return this as unknown as KubeClient;
  }

  /** the newest watch, or of one path */
  lastWatch(path?: string): FakeWatch {
    const ws = path ? this.watches.filter((w) => w.path === path) : this.watches;
    const w = ws[ws.length - 1];
    if (!w) throw new Error('no watch yet');
    return w;
  }

  openWatches(): FakeWatch[] {
    return this.watches.filter((w) => !w.ended);
  }
}

/** A ConfigMap with a uid of its namespace and name, at resourceVersion `rv`; `extra`: more top-level fields. */
export function obj(namespace: string, name: string, rv: string, extra: Record<string, unknown> = {}): KubeObject {
  return { ...configMap(name, inNamespace(namespace), withUid(`uid-${namespace}-${name}`), withResourceVersion(rv)), ...extra };
}

export function page(items: KubeObject[], resourceVersion?: string, cont?: string): ObjectList<KubeObject> {
  return { metadata: { resourceVersion, continue: cont }, items };
}
