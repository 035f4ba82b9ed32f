// What every controller is given: the shared caches, the client for reads that miss the
// caches, a Writer per controller (its one write-and-warn path), events, metrics, the
// annotation reader (with the --compat switch) and the config.
import type { AnnotationReader } from '../annotations.js';
import type { Config } from '../config.js';
import type { ControllerSpec } from '../kube/builder.js';
import type { Caches } from '../kube/caches.js';
import type { KubeClient } from '../kube/client.js';
import type { EventSink } from '../kube/events.js';
import type { KubeObject } from '../kube/types.js';
import type { Writer } from '../kube/writer.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

export interface ControllerContext {
  client: KubeClient;
  caches: Caches;
  events: EventSink;
  log: Logger;
  metrics: Metrics;
  annotations: AnnotationReader;
  config: Config;
  /** the write-and-warn path of the controller `name` (its metrics carry that label) */
  writer(name: string): Writer;
}

export interface ControllerModule {
  name: string;
  /** the controllers of this module, as declarations; the operator wires and starts them */
  declare(ctx: ControllerContext): ControllerSpec<KubeObject>[];
}
