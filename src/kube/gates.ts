// Which controllers may run. A controller starts (on the leader) once every cache it reads has
// synced; caches are shared, so one cache the RBAC does not allow (its list or watch answered
// 403) holds back only the controllers that read it, never the others. Those are reported —
// an error log line and a Warning Event MissingPermission on the operator's own Pod naming the
// verb, resource, API group and scope and how to grant them, annotary_controller_ready 0 — and
// start by themselves once the cache syncs (the informer retries the refused request with
// backoff), with a Normal Event PermissionGranted. The operator is ready once every cache has
// synced or been refused and at least one controller can run.
import type { EventSink } from './events.js';
import type { Forbidden, Informer } from './informer.js';
import { FORBIDDEN_RETRY_MAX_MS } from './informer.js';
import type { KubeObject } from './types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

/** What a gate reads of an informer. */
export type Cache = Pick<Informer<KubeObject>, 'resourceName' | 'hasSynced' | 'forbidden' | 'onChange'>;

export interface Startable {
  start(): void;
}

export interface GatesOptions {
  log: Logger;
  metrics: Metrics;
  events: EventSink;
  /** what the operator's own Events are about (its Pod) */
  self: KubeObject;
}

type State = 'syncing' | 'ready' | 'forbidden';

const resourceOf = (f: Forbidden) => (f.resource.group ? `${f.resource.plural}.${f.resource.group}` : f.resource.plural);
const scopeOf = (f: Forbidden) => (f.namespace === undefined ? 'at the cluster scope' : `in namespace "${f.namespace}"`);

/** "list routes.route.openshift.io at the cluster scope", one per refused request. */
export function describeRefusals(refusals: Forbidden[]): string {
  return refusals.map((f) => `${f.verb} ${resourceOf(f)} ${scopeOf(f)}`).join(', ');
}

/**
 * How to grant what a cache needs (list and watch, whichever was refused): one RBAC rule per
 * API group in the operator's ClusterRole, bound cluster-wide, or only in the refused namespaces.
 */
export function grantHint(refusals: Forbidden[]): string {
  const byGroup = new Map<string, Set<string>>();
  for (const { resource: rt } of refusals) byGroup.set(rt.group, (byGroup.get(rt.group) ?? new Set()).add(rt.plural));
  const rules = [...byGroup].map(
    ([group, plurals]) => `{apiGroups: ["${group}"], resources: [${[...plurals].join(', ')}], verbs: [list, watch]}`,
  );
  const namespaces = [...new Set(refusals.map((f) => f.namespace))];
  const binding = namespaces.includes(undefined)
    ? 'a ClusterRoleBinding'
    : `a ClusterRoleBinding or a RoleBinding in ${namespaces.map((n) => `namespace "${n}"`).join(', ')}`;
  return (
    `add the rule${rules.length > 1 ? 's' : ''} ${rules.join(' ')} to the operator's ClusterRole, ` +
    `bound to its ServiceAccount by ${binding} (its writes need more verbs: see the shipped rules, ` +
    'manifests/base/rbac.yaml and manifests/overlays/openshift)'
  );
}

class Gate {
  readonly caches = new Set<Cache>();
  loops: Startable[] = [];
  started = false;
  /** the refusals last reported, '' when none are */
  reported = '';

  constructor(readonly name: string) {}

  refusals(): Forbidden[] {
    return [...this.caches].flatMap((c) => c.forbidden() ?? []);
  }

  state(): State {
    if (this.refusals().length) return 'forbidden';
    return [...this.caches].every((c) => c.hasSynced()) ? 'ready' : 'syncing';
  }
}

export class ControllerGates {
  private readonly gates = new Map<string, Gate>();
  private readonly observed = new Set<Cache>();
  private leading = false;
  private isSettled = false;
  private settledResolve!: () => void;
  /** Resolves once every cache read so far has synced or been refused. */
  readonly settled = new Promise<void>((r) => (this.settledResolve = r));

  constructor(private readonly opts: GatesOptions) {}

  /** A controller; its loops are given once its setup returned them (see `loops`). */
  add(name: string): void {
    this.gates.set(name, new Gate(name));
    this.opts.metrics.controllerReady.set({ controller: name }, 0);
  }

  /** The controller reads this cache: it runs only while the cache is synced (at any time, e.g. a cache made late). */
  reads(name: string, cache: Cache): void {
    const gate = this.gate(name);
    if (gate.caches.has(cache)) return;
    gate.caches.add(cache);
    if (!this.observed.has(cache)) {
      this.observed.add(cache);
      cache.onChange(() => this.update());
    }
    this.update();
  }

  loops(name: string, loops: Startable[]): void {
    this.gate(name).loops = loops;
    this.update();
  }

  /** This process reconciles from now on: the loops of every ready controller start, the others' when they become ready. */
  lead(): void {
    this.leading = true;
    this.update();
  }

  ready(): boolean {
    return this.isSettled && [...this.gates.values()].some((g) => g.state() === 'ready');
  }

  /** controller → state, for the startup log line. */
  states(): Record<string, State> {
    return Object.fromEntries([...this.gates.values()].map((g) => [g.name, g.state()]));
  }

  private gate(name: string): Gate {
    const gate = this.gates.get(name);
    if (!gate) throw new Error(`no controller "${name}"`);
    return gate;
  }

  private update(): void {
    for (const gate of this.gates.values()) {
      const state = gate.state();
      this.opts.metrics.controllerReady.set({ controller: gate.name }, state === 'ready' ? 1 : 0);
      if (state === 'forbidden') this.reportRefused(gate);
      else if (state === 'ready' && gate.reported) this.reportGranted(gate);
      if (state === 'ready' && this.leading && !gate.started) {
        gate.started = true;
        for (const loop of gate.loops) loop.start();
      }
    }
    if (!this.isSettled && [...this.observed].every((c) => c.hasSynced() || c.forbidden())) {
      this.isSettled = true;
      this.settledResolve();
    }
  }

  private reportRefused(gate: Gate): void {
    const refusals = gate.refusals();
    const what = describeRefusals(refusals);
    if (what === gate.reported) return;
    gate.reported = what;
    // a controller running already keeps its loops on the caches it has; one not started waits
    const [effect, after] = gate.started ? ['it does not see changes to those', 'it catches up'] : ['it does not run', 'it starts'];
    const message =
      `controller "${gate.name}" lacks permissions: the apiserver refuses ${what}; ${effect} until they are granted: ` +
      `${grantHint(refusals)}. Then ${after} by itself (the refused requests are retried at least every ` +
      `${FORBIDDEN_RETRY_MAX_MS / 1000} s).`;
    this.opts.log.error(message, {
      controller: gate.name,
      missing: refusals.map((f) => ({
        verb: f.verb,
        resource: f.resource.plural,
        group: f.resource.group,
        namespace: f.namespace ?? '(all)',
      })),
      apiserver: refusals.map((f) => f.message),
    });
    this.opts.events.emit(this.opts.self, 'Warning', 'MissingPermission', message);
  }

  private reportGranted(gate: Gate): void {
    const runs = this.leading ? 'it runs now' : 'it runs once this replica leads';
    const message = `controller "${gate.name}" has the permissions it lacked (${gate.reported}) and its caches are synced: ${runs}`;
    gate.reported = '';
    this.opts.events.emit(this.opts.self, 'Normal', 'PermissionGranted', message);
  }
}
