// Wires caches, controllers, the HTTP endpoints and shutdown together.
import type http from 'node:http';
import { hostname } from 'node:os';
import { AnnotationReader } from './annotations.js';
import type { Config, ControllerName } from './config.js';
import type { Caches, ControllerContext, ControllerModule } from './controllers/context.js';
import { KubeClient } from './kube/client.js';
import { ControllerLoop } from './kube/controller.js';
import { EventRecorder } from './kube/events.js';
import { Informer } from './kube/informer.js';
import { LeaderElector } from './kube/leader.js';
import type { SlimData } from './kube/slim.js';
import { slimDataObject, slimObject } from './kube/slim.js';
import type { KubeObject, ResourceType } from './kube/types.js';
import { ConfigMaps, Secrets } from './kube/types.js';
import { startHttpServer } from './http.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

class SharedCaches implements Caches {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly keepRules: { pred: (a: Record<string, string> | undefined) => boolean; keys: readonly string[] }[] = [];

  constructor(private readonly client: KubeClient, private readonly cfg: Config, private readonly log: Logger, private readonly metrics: Metrics) {}

  keepSecretData(pred: (annotations: Record<string, string> | undefined) => boolean, keys: readonly string[]): void { this.keepRules.push({ pred, keys }); }

  secrets(): Informer<SlimData> {
    // keys asked for twice are kept once: slimDataObject builds the kept data as a map
    return this.get(Secrets, slimDataObject('Secret', (m) => {
      const keys = this.keepRules.filter((r) => r.pred(m.annotations)).flatMap((r) => r.keys);
      return keys.length ? keys : undefined;
    })) as Informer<SlimData>;
  }

  configMaps(): Informer<SlimData> {
    // ConfigMaps are small and truststore controllers read bundles: keep them whole
    return this.get(ConfigMaps, slimDataObject('ConfigMap', () => 'all')) as Informer<SlimData>;
  }

  of(rt: ResourceType): Informer<KubeObject> { return this.get(rt, slimObject); }

  private get(rt: ResourceType, transform: (o: KubeObject) => KubeObject): Informer<KubeObject> {
    const id = `${rt.group}/${rt.plural}`;
    let inf = this.informers.get(id);
    if (!inf) {
      inf = new Informer<KubeObject>({
        client: this.client, resource: rt, namespaces: this.cfg.namespaces, transform,
        log: this.log.child({ component: `informer/${rt.plural}` }), metrics: this.metrics, resyncMs: this.cfg.resyncMs,
      });
      this.informers.set(id, inf);
    }
    return inf;
  }

  all(): Informer<KubeObject>[] { return [...this.informers.values()]; }
}

export class Operator {
  private readonly caches: SharedCaches;
  private loops: ControllerLoop[] = [];
  private server: http.Server | undefined;
  private ready = false;
  private elector: LeaderElector | undefined;
  private leadershipLostResolve!: () => void;
  /** Resolves when this process lost the Lease; the CLI then stops and exits non-zero. */
  readonly leadershipLost = new Promise<void>((r) => (this.leadershipLostResolve = r));
  readonly client: KubeClient;

  constructor(private readonly cfg: Config, private readonly log: Logger, private readonly metrics: Metrics, private readonly modules: Record<ControllerName, ControllerModule>) {
    this.client = KubeClient.fromOptions({ kubeconfig: cfg.kubeconfig || undefined, context: cfg.context || undefined });
    this.caches = new SharedCaches(this.client, cfg, log, metrics);
  }

  isReady(): boolean { return this.ready; }

  async start(): Promise<void> {
    const { cfg, log, metrics } = this;
    log.info('credentials resolved', { server: await this.client.connect() });
    if (cfg.metricsAddr !== '0') this.server = await startHttpServer(cfg.metricsAddr, metrics.registry, () => this.ready);
    const ctx: ControllerContext = {
      client: this.client, caches: this.caches, log, metrics, config: cfg,
      events: new EventRecorder(this.client, log.child({ component: 'events' }), metrics),
      annotations: new AnnotationReader(cfg.compat),
      loop: (r) => new ControllerLoop(r, log.child({ component: r.name }), metrics, { workers: cfg.workers, baseDelayMs: cfg.retryBaseMs, maxDelayMs: cfg.retryMaxMs }),
    };
    for (const name of cfg.controllers) this.loops.push(...(await this.modules[name].setup(ctx)));
    log.info('starting', { controllers: cfg.controllers, namespaces: cfg.namespaces.length ? cfg.namespaces : 'all', compat: cfg.compat });
    const t0 = Date.now();
    for (const inf of this.caches.all()) inf.start();
    await Promise.all(this.caches.all().map((i) => i.synced));
    // Ready = caches synced, leader or not: a standby with warm caches can take over at once,
    // and a rolling update must be able to wait for it without it holding the Lease.
    this.ready = true;
    log.info('caches synced, ready', { ms: Date.now() - t0, objects: Object.fromEntries(this.caches.all().map((i) => [i.resourceName, i.size])) });
    metrics.leader.set(0);
    if (!cfg.leaderElect) return this.startLoops();
    // handlers already queue keys on the standby: the new leader starts from a full queue
    this.elector = new LeaderElector({
      client: this.client,
      namespace: cfg.leaderElectionNamespace || process.env.POD_NAMESPACE || 'default',
      name: 'annotary',
      identity: `${hostname()}_${process.pid}`,
      durationMs: cfg.leaseDurationMs,
      log: log.child({ component: 'leader' }),
      onLeading: () => this.startLoops(),
      onLost: () => { metrics.leader.set(0); this.leadershipLostResolve(); },
    });
    this.elector.start();
  }

  private startLoops(): void {
    for (const loop of this.loops) loop.start();
    this.metrics.leader.set(1);
  }

  /** Graceful stop: no new work, in-flight reconciles finish (bounded by the timeout), watches close. */
  async stop(): Promise<void> {
    this.ready = false;
    const drained = Promise.all(this.loops.map((l) => l.stop()));
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), this.cfg.shutdownTimeoutMs).unref());
    if ((await Promise.race([drained, timeout])) === 'timeout') this.log.warn('shutdown timeout: abandoning in-flight work');
    this.metrics.leader.set(0);
    await this.elector?.stop(); // after the drain: the next leader never overlaps our writes
    await Promise.all(this.caches.all().map((i) => i.stop()));
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.log.info('stopped');
  }
}
