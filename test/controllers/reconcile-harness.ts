// Controllers in process, end to end against an in-memory apiserver: the declarations of
// src/controllers wired by the real builder onto the real caches and work queues, and a fake
// cluster that lists, watches and applies the writes (merge patches with their
// resourceVersion preconditions, creates, deletes) as an apiserver does, recording each one
// (cert-manager's ExpectedActions idea). Tests assert on the writes a controller makes until
// it is quiet: one write per real change, none once converged or after a restart.
import { afterEach } from '@jest/globals';
import { AnnotationReader } from '../../src/annotations.js';
import type { Config } from '../../src/config.js';
import { loadConfig } from '../../src/config.js';
import type { ControllerModule } from '../../src/controllers/context.js';
import { wire } from '../../src/kube/builder.js';
import { SharedCaches } from '../../src/kube/caches.js';
import { ApiError } from '../../src/kube/client.js';
import type { KubeClient, Query } from '../../src/kube/client.js';
import { ControllerLoop } from '../../src/kube/controller.js';
import type { EventSink } from '../../src/kube/events.js';
import type { KubeObject, ObjectList, ResourceType } from '../../src/kube/types.js';
import { parseRefId } from '../../src/kube/types.js';
import { Writer } from '../../src/kube/writer.js';
import { createMetrics } from '../../src/metrics.js';
import { settle, silentLogger, until } from '../kube/helpers.js';
import { mergePatch } from '../merge-patch.js';

export interface Write {
  verb: 'patch' | 'create' | 'delete';
  kind: string;
  namespace: string;
  name: string;
  body?: unknown;
}
export interface RecordedEvent {
  type: string;
  reason: string;
  message: string;
  name: string;
}

type Watcher = { kind: string; namespace?: string; onEvent: (type: string, obj: KubeObject) => void };

const KIND_OF_PATH: Record<string, string> = {
  secrets: 'Secret',
  configmaps: 'ConfigMap',
  deployments: 'Deployment',
  statefulsets: 'StatefulSet',
  daemonsets: 'DaemonSet',
  ingresses: 'Ingress',
  routes: 'Route',
  services: 'Service',
  certificatesigningrequests: 'CertificateSigningRequest',
  namespaces: 'Namespace',
  validatingwebhookconfigurations: 'ValidatingWebhookConfiguration',
  mutatingwebhookconfigurations: 'MutatingWebhookConfiguration',
  apiservices: 'APIService',
  customresourcedefinitions: 'CustomResourceDefinition',
};

/** The in-memory apiserver. Objects carry their kind; uids and resourceVersions are made here. */
export class FakeCluster {
  readonly writes: Write[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private readonly watchers: Watcher[] = [];
  private rv = 100;
  private uids = 0;
  private lostResponses: ((written: KubeObject) => void)[] = [];

  constructor(
    objects: KubeObject[],
    private readonly servedGroups = ['route.openshift.io'],
  ) {
    for (const o of objects) this.put(o);
  }

  get client(): KubeClient {
    return this as unknown as KubeClient;
  }

  get(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(`${kind}/${namespace}/${name}`);
  }

  all(): KubeObject[] {
    return [...this.objects.values()];
  }

  /** A change made by someone else (a user, cert-manager): applied and watched, not recorded. */
  userPatch(kind: string, namespace: string, name: string, patch: unknown): void {
    const cur = this.get(kind, namespace, name);
    if (!cur) throw new Error(`no ${kind} ${namespace}/${name}`);
    this.put(mergePatch(cur, patch), 'MODIFIED');
  }

  /**
   * The next patch is applied and watched, but its caller gets a network error instead of the
   * answer (the apiserver stopped after committing it); `meanwhile` runs before the error.
   */
  loseNextResponse(meanwhile: (written: KubeObject) => void = () => undefined): void {
    this.lostResponses.push(meanwhile);
  }

  // ---- the KubeClient surface the operator uses
  /** the CA the fake apiserver is trusted with (cert-manager's inject-apiserver-ca) */
  apiserverCaPem: string | undefined;
  async apiserverCa(): Promise<Buffer | undefined> {
    return this.apiserverCaPem === undefined ? undefined : Buffer.from(this.apiserverCaPem);
  }

  async request(_method: string, path: string): Promise<unknown> {
    // discovery: a served group version lists every kind this fake knows
    if (this.servedGroups.some((g) => path.startsWith(`/apis/${g}/`)))
      return { resources: Object.keys(KIND_OF_PATH).map((name) => ({ name })) };
    throw new ApiError(404, 'NotFound', `${path} not served`);
  }

  async list(rt: ResourceType, namespace: string | undefined, _query: Query = {}): Promise<ObjectList<KubeObject>> {
    const items = this.all().filter((o) => o.kind === rt.kind && (namespace === undefined || o.metadata.namespace === namespace));
    return { metadata: { resourceVersion: String(this.rv) }, items: items.map((o) => structuredClone(o)) };
  }

  async watch(
    path: string,
    _query: Query,
    onEvent: (type: string, obj: KubeObject) => void,
    done: (err?: unknown) => void,
  ): Promise<AbortController> {
    const m = /(?:\/namespaces\/([^/]+))?\/([a-z]+)$/.exec(path)!;
    const w: Watcher = { kind: KIND_OF_PATH[m[2]], namespace: m[1], onEvent };
    this.watchers.push(w);
    const a = new AbortController();
    a.signal.addEventListener('abort', () => {
      this.watchers.splice(this.watchers.indexOf(w), 1);
      done(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    });
    return a;
  }

  /** every GET a controller made (kind/namespace/name): reads the caches do not answer */
  readonly gets: string[] = [];

  async tryGet<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    this.gets.push(`${rt.kind}/${namespace ?? ''}/${name}`);
    const o = this.get(rt.kind, namespace ?? '', name);
    return o && (structuredClone(o) as T);
  }

  async patch(rt: ResourceType, namespace: string | undefined, name: string, body: unknown): Promise<KubeObject> {
    const cur = this.get(rt.kind, namespace ?? '', name);
    if (!cur) throw new ApiError(404, 'NotFound', `${rt.kind} ${name} not found`);
    const precondition = (body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    if (precondition !== undefined && precondition !== cur.metadata.resourceVersion)
      throw new ApiError(409, 'Conflict', 'the object has been modified');
    this.writes.push({ verb: 'patch', kind: rt.kind, namespace: namespace ?? '', name, body });
    const { resourceVersion: _rv, ...meta } = (body as { metadata?: Record<string, unknown> }).metadata ?? {};
    const written = this.put(mergePatch(cur, { ...(body as object), metadata: meta }), 'MODIFIED');
    const lost = this.lostResponses.shift();
    if (!lost) return written;
    lost(written);
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  }

  async create(rt: ResourceType, namespace: string | undefined, body: KubeObject): Promise<KubeObject> {
    if (this.get(rt.kind, namespace ?? '', body.metadata.name)) throw new ApiError(409, 'AlreadyExists', 'exists');
    this.writes.push({ verb: 'create', kind: rt.kind, namespace: namespace ?? '', name: body.metadata.name, body });
    return this.put({ ...body, kind: rt.kind, metadata: { ...body.metadata, namespace } }, 'ADDED');
  }

  async delete(rt: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    const cur = this.get(rt.kind, namespace ?? '', name);
    if (!cur) throw new ApiError(404, 'NotFound', `${rt.kind} ${name} not found`);
    this.writes.push({ verb: 'delete', kind: rt.kind, namespace: namespace ?? '', name });
    this.objects.delete(`${rt.kind}/${namespace ?? ''}/${name}`);
    this.notify('DELETED', cur);
  }

  private put(o: KubeObject, type?: 'ADDED' | 'MODIFIED'): KubeObject {
    const obj = structuredClone(o);
    obj.metadata.uid ??= `uid-${++this.uids}`;
    const key = `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    // as the apiserver does for objects with a spec: a change of spec moves metadata.generation,
    // a change of status or metadata does not
    const before = this.objects.get(key);
    const spec = (x: KubeObject) => JSON.stringify((x as { spec?: unknown }).spec);
    if (!before) obj.metadata.generation ??= spec(obj) === undefined ? undefined : 1;
    else if (spec(obj) !== spec(before)) obj.metadata.generation = (before.metadata.generation ?? 1) + 1;
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key, obj);
    if (type) this.notify(type, obj);
    return structuredClone(obj);
  }

  private notify(type: string, obj: KubeObject): void {
    for (const w of [...this.watchers])
      if (w.kind === obj.kind && (!w.namespace || w.namespace === obj.metadata.namespace)) w.onEvent(type, structuredClone(obj));
  }
}

/** The operator's controllers of `module`, running in process against `cluster` until stopped. */
export async function runModule(module: ControllerModule, cluster: FakeCluster, flags: string[] = []) {
  const config: Config = loadConfig(['--reload-settle', '0s', ...flags], {});
  const log = silentLogger();
  const metrics = createMetrics();
  const events: RecordedEvent[] = [];
  const sink: EventSink = { emit: (obj, type, reason, message) => events.push({ type, reason, message, name: obj.metadata.name }) };
  const caches = new SharedCaches({ client: cluster.client, namespaces: config.namespaces, resyncMs: 0, log, metrics });
  const specs = module.declare({
    client: cluster.client,
    caches,
    events: sink,
    log,
    metrics,
    config,
    annotations: new AnnotationReader(config.compat),
    writer: (name) => new Writer(cluster.client, metrics, sink, name),
  });
  const loops = specs.map((spec) => {
    const loop = new ControllerLoop({ name: spec.name, reconcile: (key) => spec.reconcile(parseRefId(key)) }, log, metrics, {
      workers: 2,
      baseDelayMs: 1,
      maxDelayMs: 5,
    });
    wire(spec, loop);
    return loop;
  });
  caches.start();
  await settle(); // caches of APIs found by discovery are created a few turns later
  await until(() => caches.all().every((c) => c.hasSynced()), 'caches synced');
  for (const l of loops) l.start();
  // crypto (key generation, signing) runs on libuv's pool, outside the event-loop turns `until` counts: wait in time too
  const quiet = async () => {
    for (let i = 0; i < 100; i++) {
      if (loops.every((l) => l.depth === 0)) return;
      await until(() => loops.every((l) => l.depth === 0), 'controllers quiet', 50).catch(() => new Promise((r) => setTimeout(r, 20)));
    }
    await until(() => loops.every((l) => l.depth === 0), 'controllers quiet', 5000);
  };
  await quiet();
  return {
    events,
    metrics,
    /** waits until every queue is empty again (after a change the test made) */
    quiet,
    async stop() {
      await Promise.all(loops.map((l) => l.stop()));
      await caches.stop();
    },
  };
}

/** runModule for a test file or describe: every module it starts is stopped after each test. */
export function moduleRunner(): typeof runModule {
  let running: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(running.map((r) => r.stop()));
    running = [];
  });
  return async (...args) => {
    const r = await runModule(...args);
    running.push(r);
    return r;
  };
}

/** The writes a FakeCluster saw, as "verb Kind name". */
export const writesOf = (c: FakeCluster) => c.writes.map((w) => `${w.verb} ${w.kind} ${w.name}`);
