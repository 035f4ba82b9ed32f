// Wires caches, controllers, the HTTP endpoints and shutdown together.
import type http from 'node:http';
import { AnnotationReader } from './annotations.js';
import type { Config, ControllerName } from './config.js';
import type { ControllerContext, ControllerModule } from './controllers/context.js';
import { wire } from './kube/builder.js';
import { ControllerCaches, SharedCaches } from './kube/caches.js';
import { KubeClient } from './kube/client.js';
import { ControllerLoop } from './kube/controller.js';
import { EventRecorder } from './kube/events.js';
import { ControllerGates } from './kube/gates.js';
import { LeaderElector } from './kube/leader.js';
import type { KubeObject } from './kube/types.js';
import { Leases, Pods, apiVersionOf, parseRefId } from './kube/types.js';
import { Writer } from './kube/writer.js';
import { startHttpServer } from './http.js';
import { processInstance, userAgent } from './identity.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

const LEASE_NAME = 'annotary';

/** Where the Lease is: --leader-election-namespace, else the Pod's namespace, else default. */
function operatorNamespace(cfg: Config, env: NodeJS.ProcessEnv): string {
  return cfg.leaderElectionNamespace || env.POD_NAMESPACE || 'default';
}

/**
 * What the operator's own Events (MissingPermission, PermissionGranted) are about: its Pod,
 * named by the downward API (POD_NAME, POD_NAMESPACE; POD_UID lets `kubectl describe pod` list
 * them). Outside a Pod: the Lease it elects itself with (`annotary` in the namespace above), the
 * object that stands for the operator there; it exists with --leader-elect.
 */
export function selfObject(cfg: Config, env: NodeJS.ProcessEnv = process.env): KubeObject {
  if (env.POD_NAME && env.POD_NAMESPACE) {
    const metadata = { name: env.POD_NAME, namespace: env.POD_NAMESPACE, uid: env.POD_UID || undefined };
    return { apiVersion: apiVersionOf(Pods), kind: Pods.kind, metadata };
  }
  return { apiVersion: apiVersionOf(Leases), kind: Leases.kind, metadata: { name: LEASE_NAME, namespace: operatorNamespace(cfg, env) } };
}

export class Operator {
  private readonly caches: SharedCaches;
  private loops: ControllerLoop[] = [];
  private gates: ControllerGates | undefined;
  private server: http.Server | undefined;
  private stopping = false;
  private elector: LeaderElector | undefined;
  private leadershipLostResolve!: () => void;
  /** Resolves when this process lost the Lease; the CLI then stops and exits non-zero. */
  readonly leadershipLost = new Promise<void>((r) => (this.leadershipLostResolve = r));
  readonly client: KubeClient;

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly modules: Record<ControllerName, ControllerModule>,
  ) {
    this.client = KubeClient.fromOptions({
      kubeconfig: cfg.kubeconfig || undefined,
      context: cfg.context || undefined,
      userAgent: userAgent(),
    });
    this.caches = new SharedCaches({ client: this.client, namespaces: cfg.namespaces, resyncMs: cfg.resyncMs, log, metrics });
  }

  /** Every cache synced or refused, and at least one controller can run (see ControllerGates). */
  isReady(): boolean {
    return !this.stopping && !!this.gates?.ready();
  }

  async start(): Promise<void> {
    const { cfg, log, metrics } = this;
    log.info('credentials resolved', { server: await this.client.connect() });
    if (cfg.metricsAddr !== '0') this.server = await startHttpServer(cfg.metricsAddr, metrics.registry, () => this.isReady());
    const events = new EventRecorder(this.client, log.child({ component: 'events' }), metrics, { written: cfg.events });
    const gates = (this.gates = new ControllerGates({ log: log.child({ component: 'gates' }), metrics, events, self: selfObject(cfg) }));
    const ctx: ControllerContext = {
      client: this.client,
      caches: this.caches,
      log,
      metrics,
      config: cfg,
      events,
      annotations: new AnnotationReader(cfg.compat),
      writer: (name) => new Writer(this.client, metrics, events, name),
    };
    const loopOptions = { workers: cfg.workers, baseDelayMs: cfg.retryBaseMs, maxDelayMs: cfg.retryMaxMs };
    for (const name of cfg.controllers) {
      gates.add(name);
      const specs = this.modules[name].declare({ ...ctx, caches: new ControllerCaches(this.caches, (c) => gates.reads(name, c)) });
      const loops = specs.map((spec) => {
        const loop = new ControllerLoop(
          { name: spec.name, reconcile: (key) => spec.reconcile(parseRefId(key)) },
          log.child({ component: spec.name }),
          metrics,
          loopOptions,
        );
        wire(spec, loop);
        return loop;
      });
      gates.loops(name, loops);
      this.loops.push(...loops);
    }
    log.info('starting', { controllers: cfg.controllers, namespaces: cfg.namespaces.length ? cfg.namespaces : 'all', compat: cfg.compat });
    const t0 = Date.now();
    this.caches.start();
    await gates.settled;
    // Ready = caches synced (or refused: the controllers reading those wait), leader or not: a
    // standby with warm caches can take over at once, and a rolling update must be able to wait
    // for it without it holding the Lease.
    const ready = gates.ready();
    log.log(ready ? 'info' : 'error', ready ? 'caches synced, ready' : 'caches synced or refused; no controller can run: not ready', {
      ms: Date.now() - t0,
      controllers: gates.states(),
      objects: Object.fromEntries(this.caches.all().map((i) => [i.resourceName, i.size])),
    });
    metrics.leader.set(0);
    if (!cfg.leaderElect) return this.startLoops();
    // handlers already queue keys on the standby: the new leader starts from a full queue
    this.elector = new LeaderElector({
      client: this.client,
      namespace: operatorNamespace(cfg, process.env),
      name: LEASE_NAME,
      identity: processInstance(),
      durationMs: cfg.leaseDurationMs,
      log: log.child({ component: 'leader' }),
      onLeading: () => this.startLoops(),
      onLost: () => {
        metrics.leader.set(0);
        this.leadershipLostResolve();
      },
    });
    this.elector.start();
  }

  private startLoops(): void {
    this.gates!.lead(); // the loops of each controller start once its caches are synced
    this.metrics.leader.set(1);
  }

  /** Graceful stop: no new work, in-flight reconciles finish (bounded by the timeout), watches close. */
  async stop(): Promise<void> {
    this.stopping = true;
    const drained = Promise.all(this.loops.map((l) => l.stop()));
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), this.cfg.shutdownTimeoutMs).unref());
    if ((await Promise.race([drained, timeout])) === 'timeout') this.log.warn('shutdown timeout: abandoning in-flight work');
    this.metrics.leader.set(0);
    await this.elector?.stop(); // after the drain: the next leader never overlaps our writes
    await this.caches.stop();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.log.info('stopped');
  }
}
