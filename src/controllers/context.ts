// What every controller is given: the shared caches, the client for writes, events,
// metrics, the annotation reader (with the --compat switch) and the config.
import type { AnnotationReader } from '../annotations.js';
import type { Config } from '../config.js';
import type { KubeClient } from '../kube/client.js';
import type { EventSink } from '../kube/events.js';
import type { Informer } from '../kube/informer.js';
import type { SlimData } from '../kube/slim.js';
import type { KubeObject, ResourceType } from '../kube/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ControllerLoop } from '../kube/controller.js';

export interface Caches {
  secrets(): Informer<SlimData>;
  configMaps(): Informer<SlimData>;
  /** one shared informer per resource type, created on first use */
  of(rt: ResourceType): Informer<KubeObject>;
  /** ask the Secret cache to keep these data keys of the Secrets the predicate selects */
  keepSecretData(pred: (annotations: Record<string, string> | undefined) => boolean, keys: readonly string[]): void;
}

export interface ControllerContext {
  client: KubeClient;
  caches: Caches;
  events: EventSink;
  log: Logger;
  metrics: Metrics;
  annotations: AnnotationReader;
  config: Config;
  /** builds a reconcile loop with the configured workers and backoff */
  loop(reconciler: { name: string; reconcile(key: string): Promise<void | { requeueAfterMs: number }> }): ControllerLoop;
}

export interface ControllerModule {
  name: string;
  /** registers cache handlers; the operator starts the returned loops once caches are synced */
  setup(ctx: ControllerContext): Promise<ControllerLoop[]>;
}
