// The shared caches: one informer per resource type, created on first use and shared by every
// controller, slimmed to what the controllers read (see slim.ts). API discovery lives here
// too: a resource the cluster may serve only later (the Route CRD) is polled for, and its
// cache is created and started once it is served.
import type { KubeClient } from './client.js';
import { ApiError } from './client.js';
import { Informer } from './informer.js';
import type { SlimData } from './slim.js';
import { slimDataObject, slimObject, slimObjectWithStatus } from './slim.js';
import type { KubeObject, ResourceType } from './types.js';
import { ConfigMaps, Secrets, apiVersionOf } from './types.js';
import type { Logger } from '../log.js';
import { errorText } from '../log.js';
import type { Metrics } from '../metrics.js';

/** How often to look again for an API the cluster does not serve (yet). */
const API_POLL_MS = 30_000;

export interface Caches {
  secrets(): Informer<SlimData>;
  configMaps(): Informer<SlimData>;
  /** one shared informer per resource type, created on first use */
  of(rt: ResourceType): Informer<KubeObject>;
  /**
   * The cache of a resource the cluster may serve only later: resolves once it is served. With
   * alternatives (other versions of it), the first of them in order that the cluster serves.
   */
  whenServed(rt: ResourceType, ...alternatives: ResourceType[]): Promise<Informer<KubeObject>>;
  /** ask the Secret cache to keep these data keys of the Secrets the predicate selects */
  keepSecretData(pred: (annotations: Record<string, string> | undefined) => boolean, keys: readonly string[]): void;
}

export interface CacheOptions {
  client: KubeClient;
  namespaces: string[];
  resyncMs: number;
  log: Logger;
  metrics: Metrics;
}

export class SharedCaches implements Caches {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly keepRules: { pred: (a: Record<string, string> | undefined) => boolean; keys: readonly string[] }[] = [];
  private readonly pollers = new Set<NodeJS.Timeout>();
  private started = false;

  constructor(private readonly opts: CacheOptions) {}

  keepSecretData(pred: (annotations: Record<string, string> | undefined) => boolean, keys: readonly string[]): void {
    this.keepRules.push({ pred, keys });
  }

  secrets(): Informer<SlimData> {
    // keys asked for twice are kept once: slimDataObject builds the kept data as a map
    return this.get(
      Secrets,
      slimDataObject('Secret', (m) => {
        const keys = this.keepRules.filter((r) => r.pred(m.annotations)).flatMap((r) => r.keys);
        return keys.length ? keys : undefined;
      }),
    ) as Informer<SlimData>;
  }

  configMaps(): Informer<SlimData> {
    // ConfigMaps are small and truststore controllers read bundles: keep them whole
    return this.get(
      ConfigMaps,
      slimDataObject('ConfigMap', () => 'all'),
    ) as Informer<SlimData>;
  }

  of(rt: ResourceType): Informer<KubeObject> {
    return this.get(rt, rt.keepStatus ? slimObjectWithStatus(apiVersionOf(rt), rt.kind) : slimObject);
  }

  whenServed(rt: ResourceType, ...alternatives: ResourceType[]): Promise<Informer<KubeObject>> {
    return new Promise((resolve) => {
      const check = async () => {
        for (const candidate of [rt, ...alternatives]) {
          if (!(await this.served(candidate))) continue;
          resolve(this.of(candidate)); // started at once when the other caches already run
          return true;
        }
        return false;
      };
      void check().then((now) => {
        if (now) return;
        this.opts.log.info(`${rt.group}/${rt.version} ${rt.plural} is not served; checking again periodically`, { everyMs: API_POLL_MS });
        const timer = setInterval(
          () =>
            void check().then((done) => {
              if (!done) return;
              clearInterval(timer);
              this.pollers.delete(timer);
              this.opts.log.info(`${rt.group}/${rt.version} ${rt.plural} is served now; watching it`);
            }),
          API_POLL_MS,
        );
        timer.unref();
        this.pollers.add(timer);
      });
    });
  }

  /** Starts every cache; caches created later start at once. */
  start(): void {
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  async stop(): Promise<void> {
    for (const t of this.pollers) clearInterval(t);
    await Promise.all(this.all().map((i) => i.stop()));
  }

  all(): Informer<KubeObject>[] {
    return [...this.informers.values()];
  }

  /**
   * Whether the group version lists the resource: a group version can be served without it
   * (Kubernetes 1.20 serves batch/v1 with Jobs only, CronJobs are in batch/v1beta1).
   */
  private async served(rt: ResourceType): Promise<boolean> {
    try {
      const list = await this.opts.client.request<{ resources?: { name: string }[] }>('GET', `/apis/${rt.group}/${rt.version}`);
      return (list?.resources ?? []).some((r) => r.name === rt.plural);
    } catch (err) {
      if (!(err instanceof ApiError && err.isNotFound))
        this.opts.log.warn(`cannot tell whether ${rt.group}/${rt.version} is served`, { error: errorText(err) });
      return false;
    }
  }

  private get(rt: ResourceType, transform: (o: KubeObject) => KubeObject): Informer<KubeObject> {
    const id = `${rt.group}/${rt.plural}`;
    let inf = this.informers.get(id);
    if (!inf) {
      inf = new Informer<KubeObject>({
        client: this.opts.client,
        resource: rt,
        namespaces: rt.clusterScoped ? [] : this.opts.namespaces,
        transform,
        log: this.opts.log.child({ component: `informer/${rt.plural}` }),
        metrics: this.opts.metrics,
        resyncMs: this.opts.resyncMs,
      });
      this.informers.set(id, inf);
      if (this.started) inf.start();
    }
    return inf;
  }
}

/** The shared caches as one controller sees them: what it reads is what its start waits for. */
export class ControllerCaches implements Caches {
  constructor(
    private readonly shared: SharedCaches,
    private readonly read: (cache: Informer<KubeObject>) => void,
  ) {}

  secrets(): Informer<SlimData> {
    return this.use(this.shared.secrets());
  }
  configMaps(): Informer<SlimData> {
    return this.use(this.shared.configMaps());
  }
  of(rt: ResourceType): Informer<KubeObject> {
    return this.use(this.shared.of(rt));
  }
  whenServed(rt: ResourceType, ...alternatives: ResourceType[]): Promise<Informer<KubeObject>> {
    return this.shared.whenServed(rt, ...alternatives).then((inf) => this.use(inf));
  }
  keepSecretData(pred: (annotations: Record<string, string> | undefined) => boolean, keys: readonly string[]): void {
    this.shared.keepSecretData(pred, keys);
  }

  private use<T extends Informer<KubeObject>>(inf: T): T {
    this.read(inf);
    return inf;
  }
}
