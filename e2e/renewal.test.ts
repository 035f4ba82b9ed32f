// Renewal on the real local control plane, with short durations: a certificate issued by a
// generated CA renews before it expires, each renewal with a new key and serial, and a
// Deployment that reloads on the Secret (its keystores included) rolls exactly once per renewal
// (ReplicaSets count rollouts; no kubelet, pods stay Pending). The reload settle window is 0s:
// the keystores written after each renewal must not make a second rollout.
import type { KubeObject } from '../src/kube/types.js';
import { Deployments, ReplicaSets, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, newNamespace, sleep, startOperator, waitFor } from './harness/cluster.js';
import type { Secret, Workload } from '../test/gen.js';
import { deployment, inNamespace, secret, withAnnotations, withSecretVolumes } from '../test/gen.js';

const client = adminClient();
let ns: string;
let op: OperatorProcess;

beforeAll(async () => {
  ns = await newNamespace(client, 'renew');
  op = await startOperator(['--namespaces', ns, '--controllers', 'keystores,issuing,reload', '--reload-settle', '0s']);
});

afterAll(async () => {
  await op?.stop();
  await deleteNamespace(client, ns);
});

const replicaSets = async () =>
  (await client.list<KubeObject>(ReplicaSets, ns)).items.filter((rs) => rs.metadata.ownerReferences?.some((o) => o.name === 'java')).length;

test('two renewals of a 30s certificate: two new keys and serials, exactly two rollouts', async () => {
  await client.create(
    Secrets,
    ns,
    secret('root', inNamespace(ns), withAnnotations({ 'annotary.io/generate-ca': 'true', 'annotary.io/key-algorithm': 'ec-p256' })),
  );
  await client.create(
    Secrets,
    ns,
    secret(
      'web',
      inNamespace(ns),
      withAnnotations({
        'annotary.io/issuer': 'root',
        'annotary.io/dns-names': 'web.test',
        'annotary.io/key-algorithm': 'ec-p256',
        'annotary.io/duration': '30s',
        'annotary.io/renew-before': '20s',
        'annotary.io/keystores': 'pkcs12',
      }),
    ),
  );
  const get = () => client.get<Secret>(Secrets, ns, 'web');
  const first = await waitFor('web issued with stores', async () => {
    const s = await get();
    return s.data?.['keystore.p12'] && s.metadata.annotations?.['annotary.io/serial'] ? s : undefined;
  });
  await client.create(
    Deployments,
    ns,
    deployment('java', inNamespace(ns), withAnnotations({ 'annotary.io/reload': 'auto' }), withSecretVolumes('web')),
  );
  await waitFor(
    'java onboarded',
    async () => (await client.get<Workload>(Deployments, ns, 'java')).metadata.annotations?.['annotary.io/observed-config-hash'],
  );
  const serials = [first.metadata.annotations!['annotary.io/serial']];
  const keys = [first.data!['tls.key']];
  // renew-at: 10s after issuance (less up to 2s of jitter); two renewals within ~25s
  await waitFor(
    'two renewals',
    async () => {
      const s = await get();
      const serial = s.metadata.annotations!['annotary.io/serial'];
      if (serial !== serials.at(-1)) {
        serials.push(serial);
        keys.push(s.data!['tls.key']);
      }
      return serials.length === 3;
    },
    60_000,
    200,
  );
  // no further renewal: the request goes (the certificate in place stays)
  await client.patch(Secrets, ns, 'web', { metadata: { annotations: { 'annotary.io/issuer': null } } });
  const last = await get();
  expect(last.metadata.annotations!['annotary.io/serial']).toBe(serials[2]);
  expect(new Set(keys).size).toBe(3);
  await waitFor('one rollout per renewal', async () => (await replicaSets()) === 3, 30_000);
  await sleep(3000); // a second rollout for a renewal (its keystores' write) would come within this
  expect(await replicaSets()).toBe(3);
  expect(await op.metric('annotary_certificates_issued_total', { why: 'renewal' })).toBe(2);
  expect(await op.metric('annotary_rollouts_total', { kind: 'Deployment' })).toBe(2);
});
