import { describe, expect, test } from '@jest/globals';
import { Writable } from 'node:stream';
import type { EventSink, EventType } from '../../src/kube/events.js';
import { ControllerGates, describeRefusals, grantHint, type Cache } from '../../src/kube/gates.js';
import type { Forbidden } from '../../src/kube/informer.js';
import { Deployments, DaemonSets, Routes, Secrets, type KubeObject, type ResourceType } from '../../src/kube/types.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';

/** A cache whose state the test sets; listeners run on each change, as the Informer's do. */
class FakeCache implements Cache {
  private synced = false;
  private refusal: Forbidden | undefined;
  private readonly listeners: (() => void)[] = [];
  constructor(readonly rt: ResourceType) {}
  get resourceName(): string {
    return this.rt.plural;
  }
  hasSynced(): boolean {
    return this.synced;
  }
  forbidden(): Forbidden | undefined {
    return this.refusal;
  }
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }
  sync(): void {
    this.synced = true;
    this.refusal = undefined;
    this.listeners.forEach((f) => f());
  }
  refuse(verb: Forbidden['verb'] = 'list', namespace?: string): void {
    this.refusal = { verb, resource: this.rt, namespace, message: `${this.rt.plural} is forbidden` };
    this.listeners.forEach((f) => f());
  }
}

class Loop {
  started = 0;
  start(): void {
    this.started++;
  }
}

const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'annotary-7d9f', namespace: 'annotary-system', uid: 'u' } };

function setup() {
  const metrics = createMetrics();
  const events: { obj: KubeObject; type: EventType; reason: string; message: string }[] = [];
  const sink: EventSink = { emit: (obj, type, reason, message) => events.push({ obj, type, reason, message }) };
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(
    'debug',
    'json',
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const gates = new ControllerGates({ log, metrics, events: sink, self: pod });
  const ready = async (controller: string) =>
    (await metrics.controllerReady.get()).values.find((v) => v.labels.controller === controller)?.value;
  let settled = false;
  void gates.settled.then(() => {
    settled = true;
  });
  const flush = () => new Promise((r) => setImmediate(r));
  return {
    gates,
    events,
    lines,
    ready,
    isSettled: async () => {
      await flush();
      return settled;
    },
  };
}

describe('ControllerGates: a refused cache holds back only the controllers that read it', () => {
  test('Routes refused: keystores runs; routes waits, reported (Event on the Pod, error log, metric); granting starts it', async () => {
    const { gates, events, lines, ready, isSettled } = setup();
    const secrets = new FakeCache(Secrets);
    const routes = new FakeCache(Routes);
    const ks = new Loop();
    const rt = new Loop();
    gates.add('keystores');
    gates.reads('keystores', secrets);
    gates.loops('keystores', [ks]);
    gates.add('routes');
    gates.reads('routes', secrets);
    gates.reads('routes', routes);
    gates.loops('routes', [rt]);

    secrets.sync();
    expect(await isSettled()).toBe(false); // routes neither synced nor refused yet
    expect(gates.ready()).toBe(false);
    routes.refuse('list');
    expect(await isSettled()).toBe(true);
    expect(gates.ready()).toBe(true);
    expect(gates.states()).toEqual({ keystores: 'ready', routes: 'forbidden' });
    expect(await ready('keystores')).toBe(1);
    expect(await ready('routes')).toBe(0);

    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ obj: pod, type: 'Warning', reason: 'MissingPermission' });
    expect(events[0].message).toContain(
      'controller "routes" lacks permissions: the apiserver refuses list routes.route.openshift.io at the cluster scope',
    );
    expect(events[0].message).toContain('{apiGroups: ["route.openshift.io"], resources: [routes], verbs: [list, watch]}');
    expect(events[0].message).toContain('by a ClusterRoleBinding');
    const err = lines.find((l) => l.level === 'error');
    expect(err).toMatchObject({
      controller: 'routes',
      missing: [{ verb: 'list', resource: 'routes', group: 'route.openshift.io', namespace: '(all)' }],
      apiserver: ['routes is forbidden'],
    });

    expect(ks.started + rt.started).toBe(0); // nothing runs before this replica leads
    gates.lead();
    expect(ks.started).toBe(1);
    expect(rt.started).toBe(0);

    routes.refuse('list'); // retried and refused again: reported once
    expect(events).toHaveLength(1);

    routes.sync(); // the permission was granted
    expect(rt.started).toBe(1);
    expect(await ready('routes')).toBe(1);
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({ obj: pod, type: 'Normal', reason: 'PermissionGranted' });
    expect(events[1].message).toContain(
      'controller "routes" has the permissions it lacked (list routes.route.openshift.io at the cluster scope)',
    );
    secrets.sync();
    expect(ks.started).toBe(1); // each loop starts once
    expect(rt.started).toBe(1);
  });

  test('a cache every controller reads is refused: settled, but not ready (no controller can run)', async () => {
    const { gates, isSettled } = setup();
    const secrets = new FakeCache(Secrets);
    for (const name of ['keystores', 'expiry']) {
      gates.add(name);
      gates.reads(name, secrets);
      gates.loops(name, [new Loop()]);
    }
    secrets.refuse('list', 'team-a');
    expect(await isSettled()).toBe(true);
    expect(gates.ready()).toBe(false);
    secrets.sync();
    expect(gates.ready()).toBe(true);
  });

  test('a cache a running controller starts to read late (Routes served later) makes it not ready until it syncs', async () => {
    const { gates, ready, events } = setup();
    const secrets = new FakeCache(Secrets);
    const loop = new Loop();
    gates.add('routes');
    gates.reads('routes', secrets);
    gates.loops('routes', [loop]);
    secrets.sync();
    gates.lead();
    expect(loop.started).toBe(1);
    const routes = new FakeCache(Routes);
    gates.reads('routes', routes);
    expect(await ready('routes')).toBe(0);
    routes.refuse('watch');
    expect(events.map((e) => e.reason)).toEqual(['MissingPermission']);
    expect(events[0].message).toContain('refuses watch routes.route.openshift.io at the cluster scope; it does not see changes to those');
    routes.sync();
    expect(await ready('routes')).toBe(1);
    expect(loop.started).toBe(1);
  });
});

describe('the permission texts', () => {
  const f = (rt: ResourceType, verb: Forbidden['verb'], namespace?: string): Forbidden => ({ verb, resource: rt, namespace, message: '' });

  test('describeRefusals names verb, resource.group and scope', () => {
    expect(describeRefusals([f(Deployments, 'list', 'team-a'), f(Secrets, 'watch')])).toBe(
      'list deployments.apps in namespace "team-a", watch secrets at the cluster scope',
    );
  });

  test('grantHint: one rule per API group; a RoleBinding per namespace, or a ClusterRoleBinding for a cluster-wide refusal', () => {
    expect(grantHint([f(Deployments, 'list', 'a'), f(DaemonSets, 'list', 'b')])).toBe(
      'add the rule {apiGroups: ["apps"], resources: [deployments, daemonsets], verbs: [list, watch]} ' +
        "to the operator's ClusterRole, bound to its ServiceAccount by a ClusterRoleBinding or a RoleBinding in " +
        'namespace "a", namespace "b"' +
        ' (its writes need more verbs: see the shipped rules, manifests/base/rbac.yaml and manifests/overlays/openshift)',
    );
    expect(grantHint([f(Secrets, 'watch'), f(Routes, 'list')])).toContain(
      'add the rules {apiGroups: [""], resources: [secrets], verbs: [list, watch]} ' +
        '{apiGroups: ["route.openshift.io"], resources: [routes], verbs: [list, watch]} to the operator\'s ClusterRole, ' +
        'bound to its ServiceAccount by a ClusterRoleBinding (its writes need more verbs',
    );
  });
});
