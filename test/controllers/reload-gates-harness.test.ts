// The reload gates in process against the in-memory apiserver (reconcile-harness.ts): the writes
// the reload controller makes (or holds) under a flap guard, a rollout budget and a restart
// window, and none after a restart where nothing is due.
import { describe, expect, test } from '@jest/globals';
import { CONTROLLER_MODULES } from '../../src/controllers/index.js';
import { leafValidity } from '../../src/pki/chain.js';
import {
  b64,
  dailyWindow,
  deployment,
  inNamespace,
  ofType,
  secret as genSecret,
  tlsData,
  withAnnotations,
  withRolloutStatus,
  withSecretVolumes,
  withTLS,
} from '../gen.js';
import { ec, next } from './tls-fixtures.js';
import { FakeCluster, moduleRunner, writesOf } from './reconcile-harness.js';

const NS = 'apps';
const H = 3_600_000;
const secret = (name: string) => genSecret(name, inNamespace(NS), ofType('kubernetes.io/tls'), withTLS(ec));
const reasons = (events: { reason: string }[]) => events.map((e) => e.reason);
const annotationsOf = (c: FakeCluster, name: string) =>
  (c.get('Deployment', NS, name) as unknown as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
const templateHash = (c: FakeCluster, name: string) =>
  (c.get('Deployment', NS, name) as unknown as { spec: { template: { metadata: { annotations?: Record<string, string> } } } }).spec.template
    .metadata.annotations?.['annotary.io/config-hash'];
/** a distinct value of a watched Secret: a rotation */
const rotate = (c: FakeCluster, i: number) => c.userPatch('Secret', NS, 'tls', { data: { 'extra.txt': b64(`rotation ${i}`) } });

const run = moduleRunner();
const skipped = async (op: Awaited<ReturnType<typeof run>>, reason: string) =>
  (await op.metrics.rolloutsSkipped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe('the flap guard', () => {
  test('more than N changes within M: the next is held with one Warning; it rolls once after M without a change; a restart then writes nothing', async () => {
    const app = deployment(
      'app',
      inNamespace(NS),
      withAnnotations({ 'annotary.io/reload': 'auto', 'annotary.io/reload-flap-guard': '2/1s' }),
      withSecretVolumes('tls'),
    );
    const cluster = new FakeCluster([secret('tls'), app]);
    let op = await run(CONTROLLER_MODULES.reload, cluster);
    for (const i of [1, 2, 3, 4]) {
      rotate(cluster, i);
      await op.quiet();
    }
    // onboarding and two rollouts; the third and fourth changes are held (nothing written for them)
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app', 'patch Deployment app']);
    expect(reasons(op.events)).toEqual(['ReloadWatching', 'Reloaded', 'Reloaded', 'ReloadFlapping']);
    expect(op.events[3]).toMatchObject({
      type: 'Warning',
      message: expect.stringContaining('changed 3 times within 1s (flap guard 2/1s)'),
    });
    expect(await skipped(op, 'flapping')).toBe(2);
    expect((await op.metrics.invalidInputTotal.get()).values).toEqual([
      expect.objectContaining({ labels: { controller: 'reload', reason: 'ReloadFlapping' }, value: 1 }),
    ]);
    // settled: one rollout, for the data as it is now
    await new Promise((r) => setTimeout(r, 1200));
    await op.quiet();
    expect(writesOf(cluster)).toHaveLength(4);
    expect(op.events[4]).toMatchObject({ reason: 'Reloaded', message: expect.stringContaining('after flapping') });
    expect(templateHash(cluster, 'app')).toBe(annotationsOf(cluster, 'app')['annotary.io/observed-config-hash']);
    await op.stop();
    op = await run(CONTROLLER_MODULES.reload, cluster);
    expect(writesOf(cluster)).toHaveLength(4);
    expect(op.events).toEqual([]);
  });

  test('a rollout held when the operator stops happens once at the next start (the recorded digest is behind), then nothing more', async () => {
    const app = deployment('app', inNamespace(NS), withAnnotations({ 'annotary.io/reload': 'auto' }), withSecretVolumes('tls'));
    const cluster = new FakeCluster([secret('tls'), app]);
    let op = await run(CONTROLLER_MODULES.reload, cluster, ['--reload-flap-guard', '1/1h']);
    for (const i of [1, 2]) {
      rotate(cluster, i);
      await op.quiet();
    }
    expect(writesOf(cluster)).toHaveLength(2);
    expect(reasons(op.events)).toEqual(['ReloadWatching', 'Reloaded', 'ReloadFlapping']);
    await op.stop();
    op = await run(CONTROLLER_MODULES.reload, cluster, ['--reload-flap-guard', '1/1h']);
    expect(writesOf(cluster)).toHaveLength(3);
    expect(reasons(op.events)).toEqual(['Reloaded']);
    await op.stop();
    const again = await run(CONTROLLER_MODULES.reload, cluster, ['--reload-flap-guard', '1/1h']);
    expect(writesOf(cluster)).toHaveLength(3);
    expect(again.events).toEqual([]);
  });

  test('a bad guard is refused: a Warning, nothing written, not even the onboarding', async () => {
    const app = deployment(
      'app',
      inNamespace(NS),
      withAnnotations({ 'annotary.io/reload': 'auto', 'annotary.io/reload-flap-guard': 'often' }),
      withSecretVolumes('tls'),
    );
    const cluster = new FakeCluster([secret('tls'), app]);
    const op = await run(CONTROLLER_MODULES.reload, cluster);
    expect(cluster.writes).toEqual([]);
    expect(op.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'InvalidAnnotation', name: 'app' })]);
    expect(await skipped(op, 'invalid')).toBe(1);
  });
});

describe('the rollout budget', () => {
  test('at the limit rollouts wait (one Event each); when the rollout in progress completes, one starts', async () => {
    const watching = (name: string) =>
      deployment(
        name,
        inNamespace(NS),
        withAnnotations({ 'annotary.io/reload': 'auto' }),
        withSecretVolumes('tls'),
        withRolloutStatus(1, { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }),
      );
    // "busy" is rolling: its controller has not observed its last spec change
    const busy = deployment(
      'busy',
      inNamespace(NS),
      withAnnotations({ 'annotary.io/reload-on-secrets': 'other' }),
      withRolloutStatus(2, { observedGeneration: 1 }),
    );
    const cluster = new FakeCluster([secret('tls'), secret('other'), watching('a'), watching('b'), busy]);
    const op = await run(CONTROLLER_MODULES.reload, cluster, ['--max-concurrent-rollouts', '1']);
    expect(writesOf(cluster).sort()).toEqual(['patch Deployment a', 'patch Deployment b', 'patch Deployment busy']); // onboarding
    rotate(cluster, 1);
    await op.quiet();
    expect(cluster.writes).toHaveLength(3);
    expect(reasons(op.events).filter((r) => r === 'RolloutWaiting')).toHaveLength(2);
    expect(op.events.find((e) => e.reason === 'RolloutWaiting')?.message).toContain(
      '1 rollouts are in progress (--max-concurrent-rollouts=1)',
    );
    expect(await op.metrics.rolloutsInProgress.get()).toMatchObject({ values: [expect.objectContaining({ value: 1 })] });
    // busy completes: one of a and b takes its place (at the next look, within 5 s); the other waits for it
    cluster.userPatch('Deployment', NS, 'busy', {
      status: { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
    });
    await new Promise((r) => setTimeout(r, 5500));
    await op.quiet();
    expect(cluster.writes.slice(3).map((w) => w.name)).toHaveLength(1);
    expect(reasons(op.events).filter((r) => r === 'Reloaded')).toHaveLength(1);
    expect(reasons(op.events).filter((r) => r === 'RolloutWaiting')).toHaveLength(2); // said once per wait
  }, 20_000);
});

describe('restart windows', () => {
  const windowed = (window: string, extra: Record<string, string> = {}) =>
    deployment(
      'app',
      inNamespace(NS),
      withAnnotations({ 'annotary.io/reload': 'auto', 'annotary.io/reload-window': window, ...extra }),
      withSecretVolumes('tls'),
    );
  const servedOf = (f: typeof ec) => new Date(leafValidity(f.certPem(2)).notAfterMs).toISOString().replace(/\.\d{3}Z$/, 'Z');

  test('onboarding records what the pods serve; outside the window a change is deferred (one Event), nothing written, not after a restart either; inside it rolls', async () => {
    const now = Date.now();
    const cluster = new FakeCluster([secret('tls'), windowed(dailyWindow(now + 2 * H, now + 3 * H))]);
    let op = await run(CONTROLLER_MODULES.reload, cluster);
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
    expect(annotationsOf(cluster, 'app')['annotary.io/served-not-after']).toBe(servedOf(ec));
    cluster.userPatch('Secret', NS, 'tls', { data: tlsData(next) });
    await op.quiet();
    rotate(cluster, 1); // a second change while deferred: the same deferral, no second Event
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
    expect(reasons(op.events)).toEqual(['ReloadWatching', 'ReloadDeferred']);
    expect(op.events[1].message).toMatch(/rollout deferred to \d{4}-\d\d-\d\dT\d\d:\d\d:00Z/);
    expect(await skipped(op, 'window')).toBe(2);
    await op.stop();
    op = await run(CONTROLLER_MODULES.reload, cluster);
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
    expect(reasons(op.events)).toEqual(['ReloadDeferred']);
    // the window is moved to now: the deferred rollout happens, recording the certificate the new pods serve
    cluster.userPatch('Deployment', NS, 'app', {
      metadata: { annotations: { 'annotary.io/reload-window': dailyWindow(now - H, now + H) } },
    });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
    expect(reasons(op.events)).toEqual(['ReloadDeferred', 'Reloaded']);
    expect(annotationsOf(cluster, 'app')['annotary.io/served-not-after']).toBe(servedOf(next));
    expect(templateHash(cluster, 'app')).toBe(annotationsOf(cluster, 'app')['annotary.io/observed-config-hash']);
  });

  test('outside the window, a served certificate that expires before the next opening rolls now, and the Event says why', async () => {
    const now = Date.now();
    const cluster = new FakeCluster([secret('tls'), windowed(dailyWindow(now + 2 * H, now + 3 * H))]);
    const op = await run(CONTROLLER_MODULES.reload, cluster);
    // what the pods serve expires in an hour (as a workload rolled onto a short-lived certificate records it)
    const soon = new Date(now + H).toISOString().replace(/\.\d{3}Z$/, 'Z');
    cluster.userPatch('Deployment', NS, 'app', { metadata: { annotations: { 'annotary.io/served-not-after': soon } } });
    await op.quiet();
    cluster.userPatch('Secret', NS, 'tls', { data: tlsData(next) });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
    expect(op.events[1]).toMatchObject({
      reason: 'Reloaded',
      message: expect.stringContaining(`the certificate the pods serve expires at ${soon}`),
    });
    expect(annotationsOf(cluster, 'app')['annotary.io/served-not-after']).toBe(servedOf(next));
    expect((await op.metrics.rolloutsForced.get()).values[0].value).toBe(1);
  });

  test('a rollout under a window reads each watched Secret once: validation and what the pods will serve share the read', async () => {
    const now = Date.now();
    const cluster = new FakeCluster([secret('tls'), windowed(dailyWindow(now - H, now + H))]);
    const op = await run(CONTROLLER_MODULES.reload, cluster);
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
    cluster.gets.length = 0;
    cluster.userPatch('Secret', NS, 'tls', { data: tlsData(next) });
    await op.quiet();
    expect(reasons(op.events)).toEqual(['ReloadWatching', 'Reloaded']);
    expect(annotationsOf(cluster, 'app')['annotary.io/served-not-after']).toBe(servedOf(next));
    // the cache keeps digests only: one GET of the Secret for the rollout
    expect(cluster.gets).toEqual([`Secret/${NS}/tls`]);
  });

  test('a window added to a workload at rest records what its pods serve once; removed, the record goes', async () => {
    const app = deployment('app', inNamespace(NS), withAnnotations({ 'annotary.io/reload': 'auto' }), withSecretVolumes('tls'));
    const cluster = new FakeCluster([secret('tls'), app]);
    const op = await run(CONTROLLER_MODULES.reload, cluster);
    expect(annotationsOf(cluster, 'app')['annotary.io/served-not-after']).toBeUndefined();
    cluster.userPatch('Deployment', NS, 'app', { metadata: { annotations: { 'annotary.io/reload-window': '01:00-02:00' } } });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
    expect(annotationsOf(cluster, 'app')['annotary.io/served-not-after']).toBe(servedOf(ec));
    cluster.userPatch('Deployment', NS, 'app', { metadata: { annotations: { 'annotary.io/reload-window': null } } });
    await op.quiet();
    expect(writesOf(cluster)).toHaveLength(3);
    expect(annotationsOf(cluster, 'app')['annotary.io/served-not-after']).toBeUndefined();
    expect(templateHash(cluster, 'app')).toBeUndefined(); // no rollout in all this
  });

  test('a bad window is refused: a Warning naming it, nothing written', async () => {
    const cluster = new FakeCluster([secret('tls'), windowed('nights')]);
    const op = await run(CONTROLLER_MODULES.reload, cluster);
    expect(cluster.writes).toEqual([]);
    expect(op.events).toEqual([
      expect.objectContaining({
        type: 'Warning',
        reason: 'InvalidAnnotation',
        message: expect.stringContaining('annotary.io/reload-window: "nights"'),
      }),
    ]);
  });
});
