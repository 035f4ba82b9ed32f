// Leader election with two operator processes on the real control plane: exactly one
// reconciles; SIGKILL of the leader hands over within a bounded wait, and a Secret rotated
// during the hand-over rolls its Deployment exactly once.
import { hostname } from 'node:os';
import type { Lease } from '../src/kube/leader.js';
import { microTime } from '../src/kube/leader.js';
import { Deployments, Leases, ReplicaSets, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, newNamespace, sleep, startOperator, waitFor } from './harness/cluster.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Secret } from '../test/gen.js';
import { deployment, inNamespace, ofType, secret, tlsData, withAnnotations, withTLS } from '../test/gen.js';

const client = adminClient();
const first = chainFixture('p256');
const rotated = chainFixture('p256', 'rotated');
let ns: string;
let ops: OperatorProcess[] = [];

const identity = (op: OperatorProcess) => `${hostname()}_${op.proc.pid}`;
const lease = () => client.tryGet<Lease>(Leases, ns, 'annotary');
const writes = (op: OperatorProcess) => op.metric('annotary_writes_total', { controller: 'keystores' });

const keystoreSecret = (name: string) =>
  secret(name, inNamespace(ns), ofType('kubernetes.io/tls'), withTLS(first), withAnnotations({ 'annotary.io/keystores': 'jks' }));

async function replicaSets(): Promise<number> {
  return (await client.list(ReplicaSets, ns)).items.length;
}

/** The process the Lease names, and the other one. */
async function leaderAndStandby(): Promise<[OperatorProcess, OperatorProcess]> {
  const holder = await waitFor('a Lease holder', async () => (await lease())?.spec?.holderIdentity);
  const leader = ops.find((o) => identity(o) === holder);
  if (!leader) throw new Error(`Lease held by ${holder}, not by one of our processes`);
  return [leader, ops.find((o) => o !== leader)!];
}

const startPair = async () => {
  const args = [
    '--namespaces',
    ns,
    '--controllers',
    'keystores,reload',
    '--reload-settle',
    '500ms',
    '--leader-elect=true',
    '--leader-election-namespace',
    ns,
    '--lease-duration',
    '4s',
  ];
  ops = await Promise.all([startOperator(args), startOperator(args)]); // both ready: caches synced
};

beforeAll(async () => {
  ns = await newNamespace(client, 'leader');
  await startPair();
});

afterAll(async () => {
  await Promise.all(ops.map((o) => o.stop()));
  await deleteNamespace(client, ns);
});

test('exactly one process holds the Lease and reconciles; the standby is ready but writes nothing', async () => {
  const [leader, standby] = await leaderAndStandby();
  await waitFor('leader gauge', async () => (await leader.metric('annotary_leader')) === 1);
  expect(await standby.metric('annotary_leader')).toBe(0);

  await client.create(Secrets, ns, keystoreSecret('before'));
  await waitFor('stores', async () => (await client.get<Secret>(Secrets, ns, 'before')).data?.['keystore.jks']);
  expect(await writes(leader)).toBeGreaterThanOrEqual(1);
  expect(await writes(standby)).toBe(0);
  expect((await fetch(`http://127.0.0.1:${standby.port}/readyz`)).status).toBe(200);
});

test('SIGKILL of the leader: the standby takes over, writes new Secrets, and a rotation during the hand-over rolls once', async () => {
  const [leader, standby] = await leaderAndStandby();
  // a Deployment watching the keystore Secret, onboarded by the leader (no rollout)
  await client.create(Deployments, ns, deployment('app', inNamespace(ns), withAnnotations({ 'annotary.io/reload-on-secrets': 'before' })));
  await waitFor(
    'onboarding',
    async () => (await client.get(Deployments, ns, 'app')).metadata.annotations?.['annotary.io/observed-config-hash'],
  );
  await waitFor('first ReplicaSet', async () => (await replicaSets()) === 1);

  await leader.stop('SIGKILL'); // no release: the standby must wait for the Lease to expire
  await client.patch(Secrets, ns, 'before', { data: tlsData(rotated) });
  await client.create(Secrets, ns, keystoreSecret('after'));

  await waitFor('the standby holds the Lease', async () => (await lease())?.spec?.holderIdentity === identity(standby), 30_000, 250);
  expect(await standby.metric('annotary_leader')).toBe(1);
  await waitFor(
    'stores of the Secret created after the kill',
    async () => (await client.get<Secret>(Secrets, ns, 'after')).data?.['keystore.jks'],
    30_000,
  );
  await waitFor('one rollout', async () => (await replicaSets()) === 2, 30_000);
  await sleep(2000); // settle window + keystore write: a second rollout would happen now
  expect(await replicaSets()).toBe(2);
  expect(await writes(standby)).toBeGreaterThanOrEqual(2); // rotated stores + the new Secret
});

test('a leader that finds the Lease taken stops and exits non-zero', async () => {
  const [leader] = await leaderAndStandby();
  // another holder with a fresh renewTime: what a partitioned leader sees after a take-over. The
  // leader renews meanwhile, and a renewal between the read and the replace is a 409: read again.
  await waitFor('the intruder holds the Lease', async () => {
    const l = (await lease())!;
    await client.replace(Leases, ns, 'annotary', {
      ...l,
      spec: { ...l.spec, holderIdentity: 'intruder', renewTime: microTime(Date.now()), leaseDurationSeconds: 60 },
    });
    return true;
  });
  await waitFor('exit', () => leader.proc.exitCode !== null, 30_000);
  expect(leader.proc.exitCode).toBe(1);
  expect(leader.logs.join('\n')).toMatch(/lost leadership/);
});

test('SIGTERM of the leader releases the Lease (exit 0) instead of leaving it to expire', async () => {
  await Promise.all(ops.map((o) => o.stop('SIGKILL')));
  await client.delete(Leases, ns, 'annotary'); // the intruder's Lease from the test above
  await startPair();
  const [leader, standby] = await leaderAndStandby();
  expect(await leader.stop()).toBe(0);
  expect(leader.logs.join('\n')).toMatch(/released the lease/);
  expect([undefined, '', identity(standby)]).toContain((await lease())?.spec?.holderIdentity);
  await waitFor('the standby holds the Lease', async () => (await lease())?.spec?.holderIdentity === identity(standby), 30_000, 250);
});
