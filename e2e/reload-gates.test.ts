// The reload gates (#17) on the real local control plane: the flap guard, the rollout budget
// and restart windows with their deadline. kube-controller-manager runs but no kubelet, so pods
// never become ready: a Deployment with replicas: 1 never completes a rollout, one with
// replicas: 0 completes at once. Rollouts of a Deployment are counted by its ReplicaSets. Windows
// and certificates are placed relative to the time the test runs; nothing asserts on time.
// Each test ends with an operator restart that writes nothing and rolls nothing.
import { Deployments, Secrets } from '../src/kube/types.js';
import { generateKey, selfSignedCa } from '../src/pki/x509.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, eventsFor, sleep, waitFor, withOperator } from './harness/cluster.js';
import { expectReplicaSets as expectRs, replicaSets, restartable } from './harness/rollouts.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Workload } from '../test/gen.js';
import {
  b64Values,
  dailyWindow,
  deployment as deploymentOf,
  inNamespace,
  ofType,
  secret as secretOf,
  tlsPem,
  withAnnotations,
  withData,
  withReplicas,
  withSecretVolumes,
} from '../test/gen.js';

type Ann = Record<string, string>;
const client = adminClient();
const H = 3_600_000;
const SETTLE = '1s';
const QUIET_MS = 3000;
const flags = (extra: string[] = []) => ['--controllers', 'reload', '--reload-settle', SETTLE, '--log-level', 'debug', ...extra];

const start = restartable(flags);

const rotate = (ns: string, name: string, data: Ann) => client.patch(Secrets, ns, name, { data: b64Values(data) });
const deployment = (ns: string, name: string, annotations: Ann, replicas = 1) =>
  client.create(
    Deployments,
    ns,
    deploymentOf(name, inNamespace(ns), withAnnotations(annotations), withSecretVolumes('creds'), withReplicas(replicas)),
  );
const getWl = (ns: string, name: string) => client.get<Workload>(Deployments, ns, name);
const ann = async (ns: string, name: string) => (await getWl(ns, name)).metadata.annotations ?? {};

const expectReplicaSets = (ns: string, expected: Record<string, number>, timeoutMs = 30_000) => expectRs(ns, expected, QUIET_MS, timeoutMs);
const event = (ns: string, name: string, reason: string) =>
  waitFor(`${reason} on ${name}`, async () => (await eventsFor(client, ns, name)).find((e) => e.reason === reason));

/** A restarted operator (a resync every second) writes nothing and rolls nothing. */
async function restartQuiet(ns: string, op: OperatorProcess, expected: Record<string, number>, extra: string[] = []): Promise<void> {
  await op.stop();
  const again = await start(ns, ['--resync', '1s', ...extra]);
  await waitFor('reconciles after the restart', async () => (await again.metric('annotary_reconcile_total', { controller: 'reload' })) > 0);
  await expectReplicaSets(ns, expected);
  expect(await again.metric('annotary_writes_total', { controller: 'reload' })).toBe(0);
  await again.stop();
}

describe('the flap guard', () => {
  test.concurrent(
    'more than 2 changes within 20s hold the rollouts (Warning, metric); one rollout follows 20s without a change; a restart writes nothing',
    () =>
      withOperator('rg-flap', flags(), async (ns, op) => {
        await client.create(Secrets, ns, secretOf('creds', inNamespace(ns), withData({ v: '0' })));
        await deployment(ns, 'web', { 'annotary.io/reload-on-secrets': 'creds', 'annotary.io/reload-flap-guard': '2/20s' });
        await waitFor('onboarded', async () => (await ann(ns, 'web'))['annotary.io/observed-config-hash']);
        for (const [v, rs] of [
          ['1', 2],
          ['2', 3],
        ] as const) {
          await rotate(ns, 'creds', { v });
          await waitFor(`rollout ${rs - 1}`, async () => (await replicaSets(ns, 'web')) === rs);
        }
        await rotate(ns, 'creds', { v: '3' });
        const warn = await event(ns, 'web', 'ReloadFlapping');
        expect(warn.type).toBe('Warning');
        expect(warn.message).toContain('changed 3 times within 20s (flap guard 2/20s)');
        await rotate(ns, 'creds', { v: '4' }); // still flapping: held too
        await sleep(2000);
        expect(await replicaSets(ns, 'web')).toBe(3);
        expect(await op.metric('annotary_rollouts_skipped_total', { reason: 'flapping' })).toBeGreaterThan(0);
        expect(await op.metric('annotary_invalid_input_total', { controller: 'reload', reason: 'ReloadFlapping' })).toBe(1);
        // settled: exactly one rollout, onto the last data
        await expectReplicaSets(ns, { web: 4 }, 45_000);
        const reloaded = (await eventsFor(client, ns, 'web')).filter((e) => e.reason === 'Reloaded');
        expect(reloaded.some((e) => e.message.includes('after flapping'))).toBe(true);
        const after = await getWl(ns, 'web');
        expect(after.spec.template.metadata.annotations?.['annotary.io/config-hash']).toBe(
          after.metadata.annotations?.['annotary.io/observed-config-hash'],
        );
        await restartQuiet(ns, op, { web: 4 });
      }),
  );
});

describe('the rollout budget', () => {
  test.concurrent(
    '--max-concurrent-rollouts=1: rollouts wait (Event, metric) while one is in progress, and start one by one once it completes',
    () =>
      withOperator('rg-budget', flags(['--max-concurrent-rollouts', '1']), async (ns, op) => {
        await client.create(Secrets, ns, secretOf('creds', inNamespace(ns), withData({ v: '0' })));
        const watch = { 'annotary.io/reload-on-secrets': 'creds' };
        await deployment(ns, 'stuck', watch, 1); // never completes: no kubelet
        await deployment(ns, 'a', watch, 0); // complete at once
        await deployment(ns, 'b', watch, 0);
        for (const d of ['stuck', 'a', 'b'])
          await waitFor(`${d} onboarded`, async () => (await ann(ns, d))['annotary.io/observed-config-hash']);
        await rotate(ns, 'creds', { v: '1' });
        // stuck is the only one the others do not wait for (its own rollout does not count against itself)
        await expectReplicaSets(ns, { stuck: 2, a: 1, b: 1 });
        for (const d of ['a', 'b']) expect((await event(ns, d, 'RolloutWaiting')).message).toContain('(--max-concurrent-rollouts=1)');
        expect(await op.metric('annotary_rollouts_skipped_total', { reason: 'rollout_budget' })).toBeGreaterThan(0);
        expect(await op.metric('annotary_rollouts_in_progress')).toBe(1);
        // stuck completes (scaled to 0): a and b roll, one at a time
        await client.patch(Deployments, ns, 'stuck', { spec: { replicas: 0 } });
        await expectReplicaSets(ns, { stuck: 2, a: 2, b: 2 });
        expect(await op.metric('annotary_rollouts_total', { kind: 'Deployment' })).toBe(3);
        await restartQuiet(ns, op, { stuck: 2, a: 2, b: 2 }, ['--max-concurrent-rollouts', '1']);
      }),
  );
});

describe('restart windows', () => {
  const long = chainFixture('p256');
  const rotated = chainFixture('p256', 'rotated');
  const tlsSecret = (ns: string, data: Ann) =>
    client.create(Secrets, ns, secretOf('creds', inNamespace(ns), ofType('kubernetes.io/tls'), withData(data)));

  test.concurrent(
    'outside the window a rotation is deferred (one Event), nothing written, not after a restart either; inside, it rolls',
    () =>
      withOperator('rg-window', flags(), async (ns, op) => {
        const now = Date.now();
        await tlsSecret(ns, tlsPem(long));
        await deployment(ns, 'web', {
          'annotary.io/reload-on-secrets': 'creds',
          'annotary.io/reload-window': dailyWindow(now + 2 * H, now + 3 * H),
        });
        const served0 = await waitFor('served-not-after', async () => (await ann(ns, 'web'))['annotary.io/served-not-after']);
        const digest0 = (await ann(ns, 'web'))['annotary.io/observed-config-hash'];
        await rotate(ns, 'creds', tlsPem(rotated));
        const deferred = await event(ns, 'web', 'ReloadDeferred');
        expect(deferred.message).toMatch(/rollout deferred to \d{4}-\d\d-\d\dT\d\d:\d\d:00Z/);
        await expectReplicaSets(ns, { web: 1 });
        expect((await ann(ns, 'web'))['annotary.io/observed-config-hash']).toBe(digest0);
        expect(await op.metric('annotary_rollouts_skipped_total', { reason: 'window' })).toBeGreaterThan(0);
        await restartQuiet(ns, op, { web: 1 });
        // the window moves to now: the deferred rollout happens once
        const op2 = await start(ns);
        await client.patch(Deployments, ns, 'web', {
          metadata: { annotations: { 'annotary.io/reload-window': dailyWindow(now - H, now + 2 * H) } },
        });
        await expectReplicaSets(ns, { web: 2 });
        expect((await ann(ns, 'web'))['annotary.io/served-not-after']).toBeDefined();
        expect(served0).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        await restartQuiet(ns, op2, { web: 2 });
      }),
  );

  test.concurrent('a served certificate expiring in an hour, a window opening in two: the rotation rolls now, and the Event says why', () =>
    withOperator('rg-deadline', flags(), async (ns, op) => {
      const now = Date.now();
      const keyPem = await generateKey('ec-p256');
      const short = await selfSignedCa(keyPem, 'short-lived', { notBefore: new Date(now - 60_000), notAfter: new Date(now + H) });
      await tlsSecret(ns, { 'tls.crt': short, 'tls.key': keyPem });
      await deployment(ns, 'web', {
        'annotary.io/reload-on-secrets': 'creds',
        'annotary.io/reload-window': dailyWindow(now + 2 * H, now + 3 * H),
      });
      const served = await waitFor('served-not-after', async () => (await ann(ns, 'web'))['annotary.io/served-not-after']);
      expect(Date.parse(served)).toBe(Math.floor((now + H) / 1000) * 1000);
      await rotate(ns, 'creds', tlsPem(long));
      await expectReplicaSets(ns, { web: 2 });
      const reloaded = await event(ns, 'web', 'Reloaded');
      expect(reloaded.message).toContain(`the certificate the pods serve expires at ${served}`);
      expect((await ann(ns, 'web'))['annotary.io/served-not-after']).not.toBe(served);
      expect(await op.metric('annotary_rollouts_forced_total')).toBe(1);
      await restartQuiet(ns, op, { web: 2 });
    }),
  );
});
