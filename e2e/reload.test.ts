// One rolling restart per real change, on the real local control plane. kube-controller-
// manager runs, so a Deployment whose pod template changes gets a NEW ReplicaSet: counting
// ReplicaSets counts rollouts (pods stay Pending, no kubelet: fine). StatefulSets and
// DaemonSets are counted by metadata.generation, which only a spec change bumps.
// "Exactly one" is asserted by waiting for the expected state, then a further settle window
// and a little, and checking nothing more happened. No wall-clock assertions.
import type { KubeObject, ResourceType } from '../src/kube/types.js';
import { ConfigMaps, DaemonSets, Deployments, Secrets, StatefulSets } from '../src/kube/types.js';
import { adminClient, eventsFor, sleep, waitFor, withOperator } from './harness/cluster.js';
import { expectReplicaSets as expectRs, restartable } from './harness/rollouts.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Workload, WorkloadKind } from '../test/gen.js';
import {
  b64Values,
  configMap as configMapOf,
  inNamespace,
  secret as secretOf,
  tlsPem,
  withAnnotations,
  withData,
  withEnvFromConfigMaps,
  withSecretVolumes,
  withTemplateAnnotations,
  workload as workloadOf,
} from '../test/gen.js';

type Ann = Record<string, string>;

const client = adminClient();
const SETTLE_MS = 2000;
/** how long "nothing more happens" is watched after the expected state: a settle window and a margin */
const QUIET_MS = SETTLE_MS + 1500;
/** the flags of every operator here (withOperator adds --namespaces) */
const flags = (extra: string[] = [], settle = '2s') => [
  '--controllers',
  'reload,keystores',
  '--reload-settle',
  settle,
  '--log-level',
  'debug',
  ...extra,
];

/** operators a test starts again after stopping the one withOperator started */
const start = restartable(flags);

const secret = (ns: string, name: string, data: Ann, annotations: Ann = {}) =>
  client.create(Secrets, ns, secretOf(name, inNamespace(ns), withAnnotations(annotations), withData(data)));
const configMap = (ns: string, name: string, data: Ann, annotations: Ann = {}) =>
  client.create(ConfigMaps, ns, configMapOf(name, inNamespace(ns), withAnnotations(annotations), withData(data)));
const rotate = (ns: string, name: string, data: Ann) => client.patch(Secrets, ns, name, { data: b64Values(data) });

/** A workload that uses the given Secrets (volumes) and ConfigMaps (envFrom). */
function workload(
  rt: ResourceType,
  ns: string,
  name: string,
  opts: { annotations?: Ann; templateAnnotations?: Ann; secrets?: string[]; configMaps?: string[] },
) {
  return client.create(
    rt,
    ns,
    workloadOf(
      rt.kind as WorkloadKind,
      name,
      inNamespace(ns),
      withAnnotations(opts.annotations ?? {}),
      withTemplateAnnotations(opts.templateAnnotations ?? {}),
      withSecretVolumes(...(opts.secrets ?? [])),
      withEnvFromConfigMaps(...(opts.configMaps ?? [])),
    ),
  );
}
const deployment = (ns: string, name: string, opts: Parameters<typeof workload>[3]) => workload(Deployments, ns, name, opts);
const getWl = (rt: ResourceType, ns: string, name: string) => client.get<Workload>(rt, ns, name);

const expectReplicaSets = (ns: string, expected: Record<string, number>) => expectRs(ns, expected, QUIET_MS);

const observed = async (rt: ResourceType, ns: string, name: string) =>
  (await getWl(rt, ns, name)).metadata.annotations?.['annotary.io/observed-config-hash'];
const onboarded = (rt: ResourceType, ns: string, name: string) => waitFor(`${name} onboarded`, () => observed(rt, ns, name));

describe('Deployments: one new ReplicaSet per real change', () => {
  test.concurrent('adding the annotations creates none; rotating a referenced Secret creates exactly one', () =>
    withOperator('rl-basic', flags(), async (ns, op) => {
      await secret(ns, 'creds', { password: 'one' });
      await deployment(ns, 'web', { secrets: ['creds'] });
      await expectReplicaSets(ns, { web: 1 });

      await client.patch(Deployments, ns, 'web', { metadata: { annotations: { 'annotary.io/reload-on-secrets': 'creds' } } });
      const digest0 = await onboarded(Deployments, ns, 'web');
      await expectReplicaSets(ns, { web: 1 });
      expect((await getWl(Deployments, ns, 'web')).spec.template.metadata?.annotations?.['annotary.io/config-hash']).toBeUndefined();

      await rotate(ns, 'creds', { password: 'two' });
      await expectReplicaSets(ns, { web: 2 });
      const after = await getWl(Deployments, ns, 'web');
      const digest1 = after.spec.template.metadata.annotations!['annotary.io/config-hash'];
      expect(digest1).toMatch(/^[0-9a-f]{32}$/);
      expect(digest1).not.toBe(digest0);
      expect(after.metadata.annotations!['annotary.io/observed-config-hash']).toBe(digest1);
      const ev = await waitFor('Reloaded event', async () => (await eventsFor(client, ns, 'web')).find((e) => e.reason === 'Reloaded'));
      expect(ev.message).toContain('Secret/creds');
      expect(ev.message).toContain(`${digest0.slice(0, 12)} → ${digest1.slice(0, 12)}`);
      expect(await op.metric('annotary_rollouts_total', { kind: 'Deployment' })).toBe(1);
      expect(await op.metric('annotary_rollout_latency_seconds_count')).toBe(1);

      // a metadata-only change of the Secret (no data change) rolls nothing
      await client.patch(Secrets, ns, 'creds', { metadata: { labels: { touched: 'yes' } } });
      await expectReplicaSets(ns, { web: 2 });
    }),
  );

  test.concurrent('three Secrets changed within the settle window create one', () =>
    withOperator('rl-burst', flags(), async (ns) => {
      for (const s of ['a', 'b', 'c']) await secret(ns, s, { v: '1' });
      await deployment(ns, 'web', { annotations: { 'annotary.io/reload-on-secrets': 'a,b,c' } });
      await onboarded(Deployments, ns, 'web');
      await expectReplicaSets(ns, { web: 1 });
      await Promise.all(['a', 'b', 'c'].map((s) => rotate(ns, s, { v: '2' })));
      await expectReplicaSets(ns, { web: 2 });
      const ev = await waitFor('Reloaded event', async () => (await eventsFor(client, ns, 'web')).find((e) => e.reason === 'Reloaded'));
      expect(ev.message).toMatch(/Secret\/a, Secret\/b, Secret\/c/);
    }),
  );

  test.concurrent('an operator restart creates none; a change made while it is stopped creates exactly one after it starts', () =>
    withOperator('rl-restart', flags(), async (ns, op) => {
      await secret(ns, 'creds', { v: '1' });
      await configMap(ns, 'settings', { mode: 'a' });
      await deployment(ns, 'web', { annotations: { 'annotary.io/reload': 'auto' }, secrets: ['creds'], configMaps: ['settings'] });
      await onboarded(Deployments, ns, 'web');
      await rotate(ns, 'creds', { v: '2' });
      await expectReplicaSets(ns, { web: 2 });

      await op.stop();
      const op2 = await start(ns, ['--resync', '1s']);
      await expectReplicaSets(ns, { web: 2 }); // start-up sync and resyncs: nothing
      expect(await op2.metric('annotary_reconcile_total', { controller: 'reload', result: 'ok' })).toBeGreaterThan(0);

      await op2.stop();
      await client.patch(ConfigMaps, ns, 'settings', { data: { mode: 'b' } });
      await rotate(ns, 'creds', { v: '3' });
      await start(ns); // stopped after the file, with the other restarted operators
      await expectReplicaSets(ns, { web: 3 });
    }),
  );

  // (#17: before, one missing object held up every rollout of the workload until it existed)
  test.concurrent.each([true, false])(
    'a missing referenced object: Warning; the others still roll; its creation rolls once when --reload-on-create=%s',
    (onCreate) =>
      withOperator('rl-missing', flags(['--reload-on-create', String(onCreate)]), async (ns, op) => {
        await secret(ns, 'a', { v: '1' });
        await secret(ns, 'b', { v: '1' });
        await deployment(ns, 'web', { annotations: { 'annotary.io/reload-on-secrets': 'a,b' } });
        await onboarded(Deployments, ns, 'web');
        await client.delete(Secrets, ns, 'b');
        const warn = await waitFor('missing warning', async () =>
          (await eventsFor(client, ns, 'web')).find((e) => e.reason === 'ReloadSourceMissing'),
        );
        expect(warn.type).toBe('Warning');
        expect(warn.message).toBe('Secret "b" does not exist; changes to the watched object that exists still roll');
        await expectReplicaSets(ns, { web: 1 }); // a deletion is no data change
        await rotate(ns, 'a', { v: '2' });
        await expectReplicaSets(ns, { web: 2 });
        expect(await op.metric('annotary_rollouts_total', { kind: 'Deployment' })).toBe(1);
        const d1 = await observed(Deployments, ns, 'web');
        await secret(ns, 'b', { v: '2' });
        if (onCreate) return expectReplicaSets(ns, { web: 3 });
        await waitFor('new digest recorded', async () => (await observed(Deployments, ns, 'web')) !== d1);
        await expectReplicaSets(ns, { web: 2 });
        await rotate(ns, 'b', { v: '3' }); // later data changes of it roll
        await expectReplicaSets(ns, { web: 3 });
      }),
  );

  test.concurrent(
    '200 references of which 100 are missing: one bounded Warning naming some of them; a change of an existing one rolls',
    () =>
      withOperator('rl-many-missing', flags(), async (ns, op) => {
        const have = Array.from({ length: 100 }, (_, i) => `have-${String(i).padStart(3, '0')}`);
        const gone = Array.from({ length: 100 }, (_, i) => `gone-${String(i).padStart(3, '0')}`);
        for (let i = 0; i < have.length; i += 20) await Promise.all(have.slice(i, i + 20).map((n) => secret(ns, n, { v: '1' })));
        await deployment(ns, 'web', { annotations: { 'annotary.io/reload-on-secrets': [...have, ...gone].join(',') } });
        await onboarded(Deployments, ns, 'web');
        const warns = await waitFor('missing warning', async () => {
          const w = (await eventsFor(client, ns, 'web')).filter((e) => e.reason === 'ReloadSourceMissing');
          return w.length ? w : undefined;
        });
        expect(warns).toHaveLength(1);
        expect(Buffer.byteLength(warns[0].message)).toBeLessThanOrEqual(1024);
        expect(warns[0].message).toBe(
          `${gone
            .slice(0, 10)
            .map((n) => `Secret "${n}"`)
            .join(', ')} and 90 more do not exist; changes to the 100 watched objects that exist still roll`,
        );
        await rotate(ns, 'have-050', { v: '2' });
        await expectReplicaSets(ns, { web: 2 });
        const rolled = await waitFor('Reloaded event', async () =>
          (await eventsFor(client, ns, 'web')).find((e) => e.reason === 'Reloaded'),
        );
        expect(rolled.message).toContain('Secret/have-050');
        expect(await op.metric('annotary_rollouts_total', { kind: 'Deployment' })).toBe(1);
        // the reconciles that found nothing to do (after its own writes) still count the missing objects
        expect(await op.metric('annotary_rollouts_skipped_total', { reason: 'missing' })).toBeGreaterThan(0);
      }),
  );

  test.concurrent('editing what a workload watches records the new digest without a rollout; data changes still roll once', () =>
    withOperator('rl-edit', flags(), async (ns) => {
      await secret(ns, 'a', { v: '1' });
      await secret(ns, 'b', { v: '1' }, { 'reloader.stakater.com/match': 'false' });
      await deployment(ns, 'web', {
        annotations: { 'annotary.io/reload-on-secrets': 'a', 'reloader.stakater.com/search': 'true' },
        secrets: ['b'],
      });
      const d0 = await onboarded(Deployments, ns, 'web');
      await secret(ns, 'c', { v: '1' });
      await client.patch(Deployments, ns, 'web', { metadata: { annotations: { 'annotary.io/reload-on-secrets': 'a,c' } } });
      const d1 = await waitFor('digest with c', async () => {
        const d = await observed(Deployments, ns, 'web');
        return d !== d0 && d;
      });
      await client.patch(Secrets, ns, 'b', { metadata: { annotations: { 'reloader.stakater.com/match': 'true' } } });
      await waitFor('digest with b', async () => (await observed(Deployments, ns, 'web')) !== d1);
      await expectReplicaSets(ns, { web: 1 });
      await rotate(ns, 'b', { v: '2' });
      await expectReplicaSets(ns, { web: 2 });
    }),
  );

  test.concurrent(
    'an invalid annotary value: Warning, no rollout, nothing recorded; a Reloader item Reloader ignores: Warning, the others roll',
    () =>
      withOperator('rl-invalid', flags(), async (ns, op) => {
        await secret(ns, 'a', { v: '1' });
        await deployment(ns, 'bad-re', { annotations: { 'secret.reloader.stakater.com/reload': 'a,(oops' } });
        await deployment(ns, 'bad-mode', { annotations: { 'annotary.io/reload': 'sometimes' } });
        for (const [d, reason] of [
          ['bad-re', 'ReloaderValueIgnored'],
          ['bad-mode', 'InvalidAnnotation'],
        ]) {
          const ev = await waitFor(`${d} warning`, async () => (await eventsFor(client, ns, d)).find((e) => e.reason === reason));
          expect(ev.type).toBe('Warning');
          expect(ev.message).toContain(d === 'bad-re' ? '"(oops" is not a valid regular expression' : '"sometimes" is not auto');
        }
        await onboarded(Deployments, ns, 'bad-re'); // Reloader skips the bad item and matches "a"
        await rotate(ns, 'a', { v: '2' });
        await expectReplicaSets(ns, { 'bad-re': 2, 'bad-mode': 1 });
        expect(await observed(Deployments, ns, 'bad-mode')).toBeUndefined();
        expect(await op.metric('annotary_invalid_input_total', { controller: 'reload' })).toBeGreaterThanOrEqual(2);
      }),
  );

  test.concurrent("--reload-strategy restartedAt sets kubectl's restartedAt and still rolls once", () =>
    withOperator('rl-restarted', flags(['--reload-strategy', 'restartedAt']), async (ns) => {
      await secret(ns, 'creds', { v: '1' });
      await deployment(ns, 'web', { annotations: { 'annotary.io/reload-on-secrets': 'creds' } });
      const d0 = await onboarded(Deployments, ns, 'web');
      await rotate(ns, 'creds', { v: '2' });
      await expectReplicaSets(ns, { web: 2 });
      const w = await getWl(Deployments, ns, 'web');
      expect(w.spec.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(w.spec.template.metadata?.annotations?.['annotary.io/config-hash']).toBeUndefined();
      expect(w.metadata.annotations?.['annotary.io/observed-config-hash']).not.toBe(d0);
    }),
  );
});

describe('one rollout per keystore rotation', () => {
  // Settle 0s: without the consistency wait, the PEM change and the keystore controller's
  // write that follows it would be two rollouts; the window must not be what saves us.
  test.concurrent('rotating the PEM of a Secret with annotary.io/keystores: jks creates exactly one ReplicaSet', () =>
    withOperator('rl-ks', flags([], '0s'), async (ns) => {
      const [a, b] = [chainFixture('p256'), chainFixture('p256', 'rotated')];
      await secret(ns, 'tls', tlsPem(a), { 'annotary.io/keystores': 'jks' });
      const ks0 = await waitFor(
        'keystore',
        async () => (await client.get<KubeObject & { data: Ann }>(Secrets, ns, 'tls')).data['keystore.jks'],
      );
      await deployment(ns, 'java', { annotations: { 'annotary.io/reload': 'auto' }, secrets: ['tls'] });
      await onboarded(Deployments, ns, 'java');
      await expectReplicaSets(ns, { java: 1 });

      await rotate(ns, 'tls', tlsPem(b));
      await expectReplicaSets(ns, { java: 2 });
      const s = await client.get<KubeObject & { data: Ann }>(Secrets, ns, 'tls');
      expect(s.data['keystore.jks']).not.toBe(ks0); // the rollout came with the new keystore, not before it
    }),
  );
});

describe("Reloader annotations follow Reloader's precedence", () => {
  test.concurrent('ignore, search/match, exclude, auto, typed auto, named regexps, pod-template annotations', () =>
    withOperator('rl-compat', flags(), async (ns) => {
      await secret(ns, 's-ignored', { v: '1' }, { 'reloader.stakater.com/ignore': 'true' });
      await secret(ns, 's-match', { v: '1' }, { 'reloader.stakater.com/match': 'true' });
      await secret(ns, 's-plain', { v: '1' });
      await secret(ns, 's-excluded', { v: '1' });
      await configMap(ns, 'cm', { v: '1' });
      const uses = { secrets: ['s-ignored', 's-match', 's-plain', 's-excluded'], configMaps: ['cm'] };
      const deployments: Record<string, { annotations?: Ann; templateAnnotations?: Ann }> = {
        auto: { annotations: { 'reloader.stakater.com/auto': 'true' } },
        search: { annotations: { 'reloader.stakater.com/search': 'true' } },
        named: { annotations: { 'secret.reloader.stakater.com/reload': 's-pl.*,s-ignored' } },
        exclude: { annotations: { 'reloader.stakater.com/auto': 'true', 'secrets.exclude.reloader.stakater.com/reload': 's-excluded' } },
        typed: { annotations: { 'configmap.reloader.stakater.com/auto': 'true' } },
        template: { templateAnnotations: { 'reloader.stakater.com/auto': 'true' } },
      };
      for (const [name, a] of Object.entries(deployments)) await deployment(ns, name, { ...a, ...uses });
      for (const name of Object.keys(deployments)) await onboarded(Deployments, ns, name);
      const counts: Record<string, number> = Object.fromEntries(Object.keys(deployments).map((d) => [d, 1]));
      await expectReplicaSets(ns, counts);

      const steps: [string, () => Promise<unknown>, string[]][] = [
        ['s-ignored', () => rotate(ns, 's-ignored', { v: '2' }), []],
        ['s-match', () => rotate(ns, 's-match', { v: '2' }), ['auto', 'search', 'exclude', 'template']],
        ['s-plain', () => rotate(ns, 's-plain', { v: '2' }), ['auto', 'named', 'exclude', 'template']],
        ['s-excluded', () => rotate(ns, 's-excluded', { v: '2' }), ['auto', 'template']],
        ['cm', () => client.patch(ConfigMaps, ns, 'cm', { data: { v: '2' } }), ['auto', 'exclude', 'typed', 'template']],
      ];
      for (const [what, change, rolled] of steps) {
        await change();
        for (const d of rolled) counts[d]++;
        try {
          await expectReplicaSets(ns, counts);
        } catch (err) {
          throw new Error(`after changing ${what}: ${(err as Error).message}`, { cause: err });
        }
      }
    }),
  );
});

describe('StatefulSets and DaemonSets', () => {
  test.concurrent.each([
    ['StatefulSet', StatefulSets],
    ['DaemonSet', DaemonSets],
  ] as const)('%s: onboarding leaves the generation alone, a rotation bumps it exactly once', (_kind, rt) =>
    withOperator(`rl-${rt.plural.slice(0, 3)}`, flags(), async (ns, op) => {
      await secret(ns, 'creds', { v: '1' });
      await workload(rt, ns, 'app', { annotations: { 'annotary.io/reload-on-secrets': 'creds' }, secrets: ['creds'] });
      await onboarded(rt, ns, 'app');
      await sleep(QUIET_MS);
      expect((await getWl(rt, ns, 'app')).metadata.generation).toBe(1);

      await rotate(ns, 'creds', { v: '2' });
      await waitFor('generation 2', async () => (await getWl(rt, ns, 'app')).metadata.generation === 2);
      await sleep(QUIET_MS);
      const w = await getWl(rt, ns, 'app');
      expect(w.metadata.generation).toBe(2);
      expect(w.spec.template.metadata?.annotations?.['annotary.io/config-hash']).toBe(
        w.metadata.annotations?.['annotary.io/observed-config-hash'],
      );
      expect(await op.metric('annotary_rollouts_total', { kind: rt.kind })).toBe(1);
    }),
  );
});
