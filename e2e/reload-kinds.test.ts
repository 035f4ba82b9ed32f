// The other kinds stakater Reloader reloads, on the real local control plane (Kubernetes 1.20:
// CronJobs are batch/v1beta1 there, found by discovery; the Rollout CRD is installed by
// hack/cluster.sh, no Argo controller runs), each reloaded the way Reloader does it
// (internal/pkg/callbacks/rolling_upgrade.go): a CronJob starts a Job from its jobTemplate, a Job
// is deleted and created again, an Argo Rollout gets a new pod template, or spec.restartAt with
// reloader.stakater.com/rollout-strategy: restart. "Exactly one" is asserted by waiting for the
// expected state, then a quiet window, and checking nothing more happened. No wall-clock assertions.
import type { KubeObject, ResourceType } from '../src/kube/types.js';
import { CronJobsV1beta1, Deployments, Jobs, Namespaces, ReplicaSets, Rollouts, Secrets } from '../src/kube/types.js';
import { adminClient, deleteNamespace, eventsFor, newNamespace, sleep, startOperator, waitFor, withOperator } from './harness/cluster.js';
import {
  b64Values,
  batchWorkload,
  deployment,
  inNamespace,
  secret as secretOf,
  withAnnotations,
  withData,
  withLabels,
  withSecretVolumes,
} from '../test/gen.js';

type Ann = Record<string, string>;
type Obj = KubeObject & { spec: Record<string, unknown> & { template?: { metadata?: { annotations?: Ann } } } };

const client = adminClient();
const SETTLE_MS = 2000;
const QUIET_MS = SETTLE_MS + 1500;
const flags = ['--controllers', 'reload', '--reload-settle', '2s', '--log-level', 'debug'];
const OBSERVED = 'annotary.io/observed-config-hash';

const secret = (ns: string, name: string, data: Ann) => client.create(Secrets, ns, secretOf(name, inNamespace(ns), withData(data)));
const rotate = (ns: string, name: string, data: Ann) => client.patch(Secrets, ns, name, { data: b64Values(data) });
const create = (rt: ResourceType, ns: string, kind: 'Job' | 'CronJob' | 'Rollout', name: string, annotations: Ann) =>
  client.create(
    rt,
    ns,
    batchWorkload(kind, name, `${rt.group}/${rt.version}`, inNamespace(ns), withAnnotations(annotations), withSecretVolumes('creds')),
  );
const get = (rt: ResourceType, ns: string, name: string) => client.get<Obj>(rt, ns, name);
const onboarded = (rt: ResourceType, ns: string, name: string) =>
  waitFor(`${name} onboarded`, async () => (await get(rt, ns, name)).metadata.annotations?.[OBSERVED]);
/** The ReplicaSets of Deployment `web` in `ns`. */
const rsOf = async (ns: string) =>
  (await client.list<KubeObject>(ReplicaSets, ns)).items.filter((r) => r.metadata.ownerReferences?.some((o) => o.name === 'web')).length;
/**
 * Secret `creds` changes in both namespaces: `web` rolls in `rolled` (a second ReplicaSet), and in
 * `untouched` nothing happens, not even a digest recorded.
 */
async function rollsOnlyIn(rolled: string, untouched: string, what: string): Promise<void> {
  for (const ns of [rolled, untouched]) await rotate(ns, 'creds', { v: '2' });
  await waitFor(what, async () => (await rsOf(rolled)) === 2);
  await sleep(QUIET_MS);
  expect(await rsOf(untouched)).toBe(1);
  expect((await get(Deployments, untouched, 'web')).metadata.annotations?.[OBSERVED]).toBeUndefined();
}
const jobsOf = async (ns: string, cronJob: string) =>
  (await client.list<Obj>(Jobs, ns)).items.filter((j) =>
    j.metadata.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === cronJob),
  );

describe('CronJobs (batch/v1beta1 on Kubernetes 1.20): a change starts exactly one Job from the jobTemplate', () => {
  test.concurrent(
    'onboarding starts none; a rotation starts one, owned by the CronJob and marked manual; the CronJob keeps its template',
    () =>
      withOperator('rl-cron', flags, async (ns, op) => {
        await secret(ns, 'creds', { v: '1' });
        await create(CronJobsV1beta1, ns, 'CronJob', 'nightly', { 'reloader.stakater.com/auto': 'true' });
        await onboarded(CronJobsV1beta1, ns, 'nightly');
        await sleep(QUIET_MS);
        expect(await jobsOf(ns, 'nightly')).toHaveLength(0);
        const before = await get(CronJobsV1beta1, ns, 'nightly');

        await rotate(ns, 'creds', { v: '2' });
        const [job] = await waitFor('one Job', async () => {
          const jobs = await jobsOf(ns, 'nightly');
          return jobs.length ? jobs : undefined;
        });
        await sleep(QUIET_MS);
        expect(await jobsOf(ns, 'nightly')).toHaveLength(1);
        expect(job.metadata.name).toMatch(/^nightly-[0-9a-f]{10}$/);
        expect(job.metadata.annotations?.['cronjob.kubernetes.io/instantiate']).toBe('manual');
        expect(job.metadata.ownerReferences?.[0]).toMatchObject({
          kind: 'CronJob',
          name: 'nightly',
          uid: before.metadata.uid,
          controller: true,
        });
        const after = await get(CronJobsV1beta1, ns, 'nightly');
        expect(after.metadata.generation).toBe(before.metadata.generation); // only the record changed
        expect(job.spec.template?.metadata?.annotations?.['annotary.io/config-hash']).toBe(after.metadata.annotations?.[OBSERVED]);
        expect(after.metadata.annotations?.[OBSERVED]).not.toBe(before.metadata.annotations?.[OBSERVED]);
        expect(await op.metric('annotary_rollouts_total', { kind: 'CronJob' })).toBe(1);
      }),
  );
});

describe('Jobs: a change deletes the Job and creates it again, once', () => {
  test.concurrent('same name and spec, a new uid and the new digest; the Job the first one created is gone', () =>
    withOperator('rl-job', flags, async (ns, op) => {
      await secret(ns, 'creds', { v: '1' });
      await create(Jobs, ns, 'Job', 'migrate', { 'secret.reloader.stakater.com/reload': 'creds' });
      const digest0 = await onboarded(Jobs, ns, 'migrate');
      const first = await get(Jobs, ns, 'migrate');

      await rotate(ns, 'creds', { v: '2' });
      const second = await waitFor('a new Job', async () => {
        const j = await client.tryGet<Obj>(Jobs, ns, 'migrate');
        return j && j.metadata.uid !== first.metadata.uid ? j : undefined;
      });
      await sleep(QUIET_MS);
      const now = await get(Jobs, ns, 'migrate');
      expect(now.metadata.uid).toBe(second.metadata.uid); // recreated once
      expect(now.metadata.annotations?.[OBSERVED]).toMatch(/^[0-9a-f]{32}$/);
      expect(now.metadata.annotations?.[OBSERVED]).not.toBe(digest0);
      expect(now.metadata.annotations?.['secret.reloader.stakater.com/reload']).toBe('creds');
      expect(now.spec.template?.metadata?.annotations?.['annotary.io/config-hash']).toBe(now.metadata.annotations?.[OBSERVED]);
      expect(await op.metric('annotary_rollouts_total', { kind: 'Job' })).toBe(1);
    }),
  );
});

describe('Argo Rollouts: reloader.stakater.com/rollout-strategy', () => {
  test.concurrent.each([
    ['unset: a new pod template', {}],
    ['restart: spec.restartAt, the pod template untouched', { 'reloader.stakater.com/rollout-strategy': 'restart' }],
  ])('%s', (_title, strategy: Ann) =>
    withOperator(`rl-argo-${Object.keys(strategy).length}`, flags, async (ns, op) => {
      await secret(ns, 'creds', { v: '1' });
      await create(Rollouts, ns, 'Rollout', 'web', { 'reloader.stakater.com/auto': 'true', ...strategy });
      await onboarded(Rollouts, ns, 'web');
      await sleep(QUIET_MS);
      const before = await get(Rollouts, ns, 'web');
      expect(before.metadata.generation).toBe(1);

      await rotate(ns, 'creds', { v: '2' });
      await waitFor('generation 2', async () => (await get(Rollouts, ns, 'web')).metadata.generation === 2);
      await sleep(QUIET_MS);
      const r = await get(Rollouts, ns, 'web');
      expect(r.metadata.generation).toBe(2);
      const hash = r.spec.template?.metadata?.annotations?.['annotary.io/config-hash'];
      if (strategy['reloader.stakater.com/rollout-strategy'] === 'restart') {
        expect(r.spec.restartAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(hash).toBeUndefined();
      } else {
        expect(r.spec.restartAt).toBeUndefined();
        expect(hash).toBe(r.metadata.annotations?.[OBSERVED]);
      }
      expect(await op.metric('annotary_rollouts_total', { kind: 'Rollout' })).toBe(1);
      expect((await eventsFor(client, ns, 'web')).some((e) => e.reason === 'Reloaded')).toBe(true);
    }),
  );
});

describe('deployment.reloader.stakater.com/pause-period', () => {
  test.concurrent('a rollout pauses the Deployment; a change within the period rolls with it, once, at the resume', () =>
    withOperator('rl-pause', flags, async (ns) => {
      const rs = async () =>
        (await client.list<KubeObject>(ReplicaSets, ns)).items.filter((r) => r.metadata.ownerReferences?.some((o) => o.name === 'web'))
          .length;
      const hash = (d: Obj) => d.spec.template?.metadata?.annotations?.['annotary.io/config-hash'];
      await secret(ns, 'creds', { v: '1' });
      await client.create(
        Deployments,
        ns,
        deployment(
          'web',
          inNamespace(ns),
          withAnnotations({ 'reloader.stakater.com/auto': 'true', 'deployment.reloader.stakater.com/pause-period': '15s' }),
          withSecretVolumes('creds'),
        ),
      );
      await onboarded(Deployments, ns, 'web');
      await waitFor('one ReplicaSet', async () => (await rs()) === 1);

      await rotate(ns, 'creds', { v: '2' });
      const paused = await waitFor('paused by the rollout', async () => {
        const d = await get(Deployments, ns, 'web');
        return d.spec.paused === true && d.metadata.annotations?.['deployment.reloader.stakater.com/paused-at'] ? d : undefined;
      });
      expect(hash(paused)).toMatch(/^[0-9a-f]{32}$/);
      await rotate(ns, 'creds', { v: '3' });
      const again = await waitFor('the second change recorded while paused', async () => {
        const d = await get(Deployments, ns, 'web');
        return hash(d) !== hash(paused) ? d : undefined;
      });
      expect(again.spec.paused).toBe(true); // still the first pause
      expect(await rs()).toBe(1); // nothing rolled while paused

      const resumed = await waitFor(
        'resumed',
        async () => {
          const d = await get(Deployments, ns, 'web');
          return d.spec.paused !== true ? d : undefined;
        },
        60_000,
      );
      expect(resumed.metadata.annotations?.['deployment.reloader.stakater.com/paused-at']).toBeUndefined();
      await waitFor('two ReplicaSets', async () => (await rs()) === 2);
      await sleep(QUIET_MS);
      expect(await rs()).toBe(2);
      expect((await get(Deployments, ns, 'web')).spec.paused).not.toBe(true);
    }),
  );
});

describe("--reload-strategy env-vars (Reloader's default)", () => {
  test.concurrent("a Reloader install's leftover STAKATER_* variable rolls nothing at onboarding; a change sets it, one rollout", () =>
    withOperator('rl-env', [...flags, '--reload-strategy', 'env-vars'], async (ns) => {
      const rs = async () =>
        (await client.list<KubeObject>(ReplicaSets, ns)).items.filter((r) => r.metadata.ownerReferences?.some((o) => o.name === 'web'))
          .length;
      type Env = { name: string; value: string }[];
      const envOf = async () =>
        ((await get(Deployments, ns, 'web')).spec as unknown as { template: { spec: { containers: { env?: Env }[] } } }).template.spec
          .containers[0].env;
      await secret(ns, 'creds', { v: '1' });
      const d = deployment('web', inNamespace(ns), withAnnotations({ 'reloader.stakater.com/auto': 'true' }), withSecretVolumes('creds'));
      // what Reloader's env-vars strategy left: its SHA-1 of the data
      Object.assign(d.spec.template.spec.containers[0], { env: [{ name: 'STAKATER_CREDS_SECRET', value: 'a'.repeat(40) }] });
      await client.create(Deployments, ns, d);
      await onboarded(Deployments, ns, 'web');
      await waitFor('one ReplicaSet', async () => (await rs()) === 1);
      await sleep(QUIET_MS);
      expect(await rs()).toBe(1);
      expect(await envOf()).toEqual([{ name: 'STAKATER_CREDS_SECRET', value: 'a'.repeat(40) }]);

      await rotate(ns, 'creds', { v: '2' });
      await waitFor('two ReplicaSets', async () => (await rs()) === 2);
      await sleep(QUIET_MS);
      expect(await rs()).toBe(2);
      const env = await envOf();
      expect(env?.map((e) => e.name)).toEqual(['STAKATER_CREDS_SECRET']);
      expect(env?.[0].value).toMatch(/^[0-9a-f]{32}$/);
      const after = await get(Deployments, ns, 'web');
      expect(after.spec.template?.metadata?.annotations?.['annotary.io/config-hash']).toBeUndefined();
    }),
  );
});

describe("Reloader's flags --auto-reload-all, --resource-label-selector, --namespaces-to-ignore", () => {
  const labelled = (ns: string, name: string, labels: Ann) =>
    client.create(Secrets, ns, secretOf(name, inNamespace(ns), withData({ v: '1' }), withLabels(labels)));

  test.concurrent('a workload without annotations reloads; only Secrets the selector selects trigger it', () =>
    withOperator('rl-all', [...flags, '--auto-reload-all', '--resource-label-selector', 'reload:yes'], async (ns) => {
      await labelled(ns, 'a', { reload: 'yes' });
      await labelled(ns, 'b', {});
      await client.create(Deployments, ns, deployment('web', inNamespace(ns), withSecretVolumes('a', 'b')));
      await onboarded(Deployments, ns, 'web');
      await rotate(ns, 'b', { v: '2' });
      await sleep(QUIET_MS);
      expect(await rsOf(ns)).toBe(1);
      await rotate(ns, 'a', { v: '2' });
      await waitFor('two ReplicaSets', async () => (await rsOf(ns)) === 2);
      await sleep(QUIET_MS);
      expect(await rsOf(ns)).toBe(2);
    }),
  );

  test.concurrent('in a namespace of --namespaces-to-ignore nothing is onboarded or rolled; in the others as before', async () => {
    const watchedNs = await newNamespace(client, 'rl-watch');
    const ignoredNs = await newNamespace(client, 'rl-ign');
    const op = await startOperator([
      '--namespaces',
      `${watchedNs},${ignoredNs}`,
      ...flags,
      '--auto-reload-all',
      '--namespaces-to-ignore',
      `other,${ignoredNs}`,
    ]);
    try {
      for (const ns of [watchedNs, ignoredNs]) {
        await secret(ns, 'creds', { v: '1' });
        await client.create(Deployments, ns, deployment('web', inNamespace(ns), withSecretVolumes('creds')));
      }
      await onboarded(Deployments, watchedNs, 'web');
      await rollsOnlyIn(watchedNs, ignoredNs, 'two ReplicaSets where it is not ignored');
    } finally {
      await op.stop();
      await Promise.all([watchedNs, ignoredNs].map((ns) => deleteNamespace(client, ns)));
    }
  });
});

describe('--reload-on-delete (off by default, as in Reloader)', () => {
  test.concurrent.each([
    ['off: the deletion of a watched Secret is recorded without a rollout', [], 1],
    ['on: it rolls once', ['--reload-on-delete'], 2],
  ])('%s', (_title, extra: string[], expected: number) =>
    withOperator(`rl-del-${expected}`, [...flags, ...extra], async (ns) => {
      const rs = async () =>
        (await client.list<KubeObject>(ReplicaSets, ns)).items.filter((r) => r.metadata.ownerReferences?.some((o) => o.name === 'web'))
          .length;
      // search/match: a deleted Secret is not required to exist (no ReloadSourceMissing), as with Reloader's search mode
      for (const n of ['a', 'b']) {
        await client.create(
          Secrets,
          ns,
          secretOf(n, inNamespace(ns), withData({ v: '1' }), withAnnotations({ 'reloader.stakater.com/match': 'true' })),
        );
      }
      await client.create(
        Deployments,
        ns,
        deployment('web', inNamespace(ns), withAnnotations({ 'reloader.stakater.com/search': 'true' }), withSecretVolumes('a', 'b')),
      );
      await onboarded(Deployments, ns, 'web');
      await waitFor('one ReplicaSet', async () => (await rs()) === 1);
      const before = (await get(Deployments, ns, 'web')).metadata.annotations?.[OBSERVED];
      await client.delete(Secrets, ns, 'b');
      await waitFor('the deletion recorded', async () => (await get(Deployments, ns, 'web')).metadata.annotations?.[OBSERVED] !== before);
      await waitFor(`${expected} ReplicaSets`, async () => (await rs()) === expected);
      await sleep(QUIET_MS);
      expect(await rs()).toBe(expected);
    }),
  );
});

describe("--namespace-selector (Reloader's): only workloads in the namespaces it selects reload", () => {
  test.concurrent(
    'a namespace relabelled to match starts reloading, one relabelled not to stops; a change made meanwhile rolls once on return',
    async () => {
      const [a, b] = [await newNamespace(client, 'rl-nsa'), await newNamespace(client, 'rl-nsb')];
      const label = (ns: string, team: string | null) => client.patch(Namespaces, undefined, ns, { metadata: { labels: { team } } });
      await label(a, 'a');
      // Reloader's grammar: a set requirement, and a legacy key:* item (any value)
      const op = await startOperator(['--namespaces', `${a},${b}`, ...flags, '--namespace-selector', 'team in (a,b),team:*']);
      try {
        for (const ns of [a, b]) {
          await secret(ns, 'creds', { v: '1' });
          await client.create(
            Deployments,
            ns,
            deployment('web', inNamespace(ns), withAnnotations({ 'reloader.stakater.com/auto': 'true' }), withSecretVolumes('creds')),
          );
        }
        await onboarded(Deployments, a, 'web');
        await rollsOnlyIn(a, b, 'a rollout where the namespace is selected');

        await label(b, 'b'); // now selected: onboarded (a change before it was selected rolls nothing, as in Reloader)
        await onboarded(Deployments, b, 'web');
        await rotate(b, 'creds', { v: '3' });
        await waitFor('a rollout in the relabelled namespace', async () => (await rsOf(b)) === 2);

        await label(a, 'c'); // no longer selected
        await rotate(a, 'creds', { v: '3' });
        await sleep(QUIET_MS);
        expect(await rsOf(a)).toBe(2);
        await label(a, 'a'); // selected again: the change made meanwhile is applied, once
        await waitFor('the change made while unselected rolls on return', async () => (await rsOf(a)) === 3);
        await sleep(QUIET_MS);
        expect([await rsOf(a), await rsOf(b)]).toEqual([3, 2]);
      } finally {
        await op.stop();
        await Promise.all([a, b].map((ns) => deleteNamespace(client, ns)));
      }
    },
  );
});
