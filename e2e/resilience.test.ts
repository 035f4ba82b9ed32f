// Resilience on the real local control plane (use your own control plane: this file stops
// and restarts the apiserver and etcd of the cluster in $ANNOTARY_CLUSTER_DIR).
//   1. Conflicts: a second writer patches other fields of the same Secrets and Routes while
//      annotary works; both end up with what they wrote.
//   2. Control-plane faults: a storm of rotations across keystore Secrets, Routes and
//      Deployments with the apiserver (then the apiserver and etcd) stopped and restarted
//      mid-storm; afterwards every output reflects the final input and the operator never exited.
//   3. 410 Gone: the operator is frozen (SIGSTOP) while the apiserver restarts with a fresh
//      watch cache, objects change and etcd is compacted; on SIGCONT its watches get 410, it
//      relists and misses nothing (a removal included).
// RESILIENCE=full runs longer storms (200 rotations instead of 40).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { configDigest } from '../src/controllers/reload.js';
import { valueDigest } from '../src/kube/slim.js';
import type { ResourceType } from '../src/kube/types.js';
import { Deployments, Routes, Secrets } from '../src/kube/types.js';
import { readJks } from '../src/pki/jks.js';
import type { OperatorProcess } from './harness/cluster.js';
import { ROOT, adminClient, deleteNamespace, newNamespace, sleep, startOperator, waitFor } from './harness/cluster.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Route, Secret, Workload as Deployment } from '../test/gen.js';
import {
  b64,
  deployment,
  inNamespace,
  ofType,
  route,
  secret,
  tlsData,
  withAnnotations,
  withRouteTLS,
  withSecretVolumes,
  withTLS,
} from '../test/gen.js';

const FULL = process.env.RESILIENCE === 'full';
const ROTATIONS = FULL ? 200 : 40;
const KEYSTORES = 10;
const ROUTES = 3; // on ks-0..ks-2
const DEPLOYMENTS = 3; // on ks-3..ks-5

const client = adminClient();
const fixtures = [chainFixture('p256'), chainFixture('p256', 'rotated'), chainFixture('rsa2048')];
const fixture = (i: number) => fixtures[i % fixtures.length];
const pemData = (i: number) => tlsData(fixture(i));
const certDer = (pem: string) => Buffer.from(pem.split('-----END CERTIFICATE-----')[0].replace(/-----[^-]+-----|\s/g, ''), 'base64');

const run = promisify(execFile);
/** hack/cluster.sh, asynchronously: the test keeps writing (and failing, and retrying) meanwhile. */
async function clusterAsync(cmd: string): Promise<void> {
  await run('bash', [path.join(ROOT, 'hack/cluster.sh'), cmd], { env: process.env, maxBuffer: 16 * 1024 * 1024 });
}
/** Retries a write until the control plane takes it (it may be down on purpose). */
async function retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return waitFor(what, async () => ({ v: await fn() }), 180_000, 250).then((r) => r.v);
}
const etcdRevision = async (): Promise<number> => {
  const res = await fetch(`http://127.0.0.1:${process.env.ETCD_PORT ?? 23790}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: b64('annotary') }),
  });
  return Number(((await res.json()) as { header: { revision: string } }).header.revision);
};
const etcdCompact = (revision: number) =>
  fetch(`http://127.0.0.1:${process.env.ETCD_PORT ?? 23790}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: String(revision), physical: true }),
  }).then((r) => r.json());

const namespaces: string[] = [];
const operators: OperatorProcess[] = [];
afterAll(async () => {
  for (const o of operators) {
    if (o.proc.signalCode === null) o.proc.kill('SIGCONT');
    await o.stop();
  }
  // the control plane is up again after every test; make sure even after a failure
  await clusterAsync('start-etcd').catch(() => undefined);
  await clusterAsync('start-apiserver').catch(() => undefined);
  for (const n of namespaces) await deleteNamespace(client, n);
});

async function setup(prefix: string, controllers: string): Promise<{ ns: string; op: OperatorProcess }> {
  const ns = await newNamespace(client, prefix);
  namespaces.push(ns);
  const op = await startOperator(['--namespaces', ns, '--controllers', controllers, '--reload-settle', '0s', '--retry-max', '5s']);
  operators.push(op);
  return { ns, op };
}

async function makeObjects(ns: string): Promise<void> {
  for (let i = 0; i < KEYSTORES; i++) {
    await client.create(
      Secrets,
      ns,
      secret(
        `ks-${i}`,
        inNamespace(ns),
        ofType('kubernetes.io/tls'),
        withTLS(fixture(0)),
        withAnnotations({ 'annotary.io/keystores': 'jks,pkcs12' }),
      ),
    );
  }
  for (let i = 0; i < ROUTES; i++) {
    await client.create(
      Routes,
      ns,
      route(
        `r-${i}`,
        inNamespace(ns),
        withRouteTLS({ termination: 'edge' }),
        withAnnotations({ 'annotary.io/certs-from-secret': `ks-${i}` }),
      ),
    );
  }
  for (let i = 0; i < DEPLOYMENTS; i++) {
    const s = `ks-${ROUTES + i}`;
    await client.create(
      Deployments,
      ns,
      deployment(`d-${i}`, inNamespace(ns), withSecretVolumes(s), withAnnotations({ 'annotary.io/reload-on-secrets': s })),
    );
  }
}

/** Every output reflects the final input: keystores (leaf from keystore.jks), Route certificates, Deployment digests. */
/**
 * Waits until every output reflects the final data. Deployments: `onboarded` are the digests
 * recorded at onboarding (index i for d-i); a Deployment has rolled onto the final digest, or
 * never rolled and the final data is its onboarding data. Without `onboarded` (onboarding
 * itself) no Deployment may have rolled. Returns each Deployment's recorded digest.
 */
async function expectConverged(
  ns: string,
  controllers: { routes?: boolean; deployments?: boolean; onboarded?: string[] } = { routes: true, deployments: true },
): Promise<string[]> {
  await waitFor(
    'every keystore holds its final certificate',
    async () => {
      for (let i = 0; i < KEYSTORES; i++) {
        const s = await client.get<Secret>(Secrets, ns, `ks-${i}`);
        const jks = s.data?.['keystore.jks'];
        if (!jks || !s.data?.['keystore.p12']) throw new Error(`ks-${i}: no stores`);
        const [entry] = readJks(Buffer.from(jks, 'base64'), 'changeit');
        const want = certDer(Buffer.from(s.data['tls.crt'], 'base64').toString());
        if (entry.kind !== 'key' || !entry.chain[0].equals(want)) throw new Error(`ks-${i}: keystore leaf is not the final tls.crt`);
      }
      return true;
    },
    120_000,
    500,
  );
  if (controllers.routes) {
    await waitFor(
      'every Route carries its final certificate',
      async () => {
        for (let i = 0; i < ROUTES; i++) {
          const s = await client.get<Secret>(Secrets, ns, `ks-${i}`);
          const r = await client.get<Route>(Routes, ns, `r-${i}`);
          if (
            r.spec.tls?.certificate !== Buffer.from(s.data!['tls.crt'], 'base64').toString() ||
            r.spec.tls?.key !== Buffer.from(s.data!['tls.key'], 'base64').toString()
          )
            throw new Error(`r-${i} is stale`);
        }
        return true;
      },
      120_000,
      500,
    );
  }
  const recorded: string[] = [];
  if (controllers.deployments) {
    await waitFor(
      "every Deployment's digest reflects the final data",
      async () => {
        for (let i = 0; i < DEPLOYMENTS; i++) {
          const name = `ks-${ROUTES + i}`;
          const s = await client.get<Secret>(Secrets, ns, name);
          const want = configDigest([
            { kind: 'Secret', name, digests: Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, valueDigest(v)])) },
          ]);
          const d = await client.get<Deployment>(Deployments, ns, `d-${i}`);
          if (d.metadata.annotations?.['annotary.io/observed-config-hash'] !== want)
            throw new Error(`d-${i}: observed digest is not the final one`);
          const tmpl = d.spec.template.metadata?.annotations?.['annotary.io/config-hash'];
          const { onboarded } = controllers;
          if (!onboarded && tmpl !== undefined) throw new Error(`d-${i}: rolled at onboarding`);
          // no template digest: never rolled, which is right only when the final data is the onboarding data
          if (onboarded && tmpl !== want && !(tmpl === undefined && want === onboarded[i]))
            throw new Error(`d-${i}: pod template digest ${tmpl ?? '(never rolled)'} is not the final one`);
          recorded[i] = want;
        }
        return true;
      },
      120_000,
      500,
    );
  }
  return recorded;
}

describe('conflicts: a second writer patches the same objects concurrently', () => {
  test("keystores and Routes end correct; the second writer's fields are intact", async () => {
    const { ns, op } = await setup('res-conf', 'keystores,routes');
    await makeObjects(ns);
    const targets: [ResourceType, string][] = [
      ...Array.from({ length: KEYSTORES }, (_, i): [ResourceType, string] => [Secrets, `ks-${i}`]),
      ...Array.from({ length: ROUTES }, (_, i): [ResourceType, string] => [Routes, `r-${i}`]),
    ];
    let stop = false;
    const written = new Map<string, number>();
    const writer = (async () => {
      for (let n = 0; !stop; n++) {
        await Promise.all(
          targets.map(async ([rt, name]) => {
            await client.patch(rt, ns, name, {
              metadata: { labels: { 'writer.example/n': String(n) }, annotations: { 'writer.example/note': `pass ${n}` } },
            });
            written.set(`${rt.kind}/${name}`, n);
          }),
        );
      }
    })();
    for (let k = 1; k <= ROTATIONS; k++) {
      await client.patch(Secrets, ns, `ks-${k % KEYSTORES}`, { data: pemData(k) });
      if (k % 10 === 0) await sleep(200); // let annotary's patches race the writer
    }
    await sleep(1000);
    stop = true;
    await writer;
    await expectConverged(ns, { routes: true, deployments: false });
    for (const [rt, name] of targets) {
      const o = await client.get(rt, ns, name);
      const n = written.get(`${rt.kind}/${name}`);
      expect([name, o.metadata.labels?.['writer.example/n'], o.metadata.annotations?.['writer.example/note']]).toEqual([
        name,
        String(n),
        `pass ${n}`,
      ]);
    }
    const conflicts = await op.metric('annotary_write_conflicts_total');
    console.log(`conflicts test: ${ROTATIONS} rotations, ${conflicts} write conflicts retried`);
    expect(op.proc.exitCode).toBeNull();
  });
});

describe('control-plane faults during a rotation storm', () => {
  async function storm(ns: string, fault: () => Promise<void>): Promise<void> {
    let k = 0;
    const faultAt = Math.floor(ROTATIONS / 3);
    let faulted: Promise<void> | undefined;
    for (k = 1; k <= ROTATIONS; k++) {
      if (k === faultAt) faulted = fault(); // not awaited: the storm goes on and its writes retry
      await retrying(`rotation ${k}`, () => client.patch(Secrets, ns, `ks-${k % KEYSTORES}`, { data: pemData(k) }));
      if (k % 5 === 0) await sleep(100);
    }
    await faulted;
  }

  test('the apiserver is stopped and restarted mid-storm', async () => {
    const { ns, op } = await setup('res-api', 'keystores,routes,reload');
    await makeObjects(ns);
    const onboarded = await expectConverged(ns, { routes: true, deployments: true }); // onboarded: no rollout yet
    const restarts0 = await op.metric('annotary_watch_restarts_total');
    await storm(ns, async () => {
      await clusterAsync('stop-apiserver');
      await sleep(2000);
      await clusterAsync('start-apiserver');
    });
    await expectConverged(ns, { routes: true, deployments: true, onboarded });
    expect(await op.metric('annotary_watch_restarts_total')).toBeGreaterThan(restarts0);
    expect(op.proc.exitCode).toBeNull();
  });

  test('the apiserver and etcd are stopped and restarted mid-storm', async () => {
    const { ns, op } = await setup('res-etcd', 'keystores,routes,reload');
    await makeObjects(ns);
    const onboarded = await expectConverged(ns, { routes: true, deployments: true }); // onboarded: no rollout yet
    await storm(ns, async () => {
      await clusterAsync('stop-apiserver');
      await clusterAsync('stop-etcd');
      await sleep(2000);
      await clusterAsync('start-etcd');
      await clusterAsync('start-apiserver');
    });
    await expectConverged(ns, { routes: true, deployments: true, onboarded });
    expect(op.proc.exitCode).toBeNull();
  });
});

describe('410 Gone: history compacted while the operator was away', () => {
  test('watches get 410, the operator relists and misses nothing', async () => {
    const { ns, op } = await setup('res-gone', 'keystores,routes');
    await makeObjects(ns);
    await expectConverged(ns, { routes: true, deployments: false });
    const relists0 = await op.metric('annotary_relists_total', { resource: 'secrets' });
    op.proc.kill('SIGSTOP'); // frozen: its watch connections die with the apiserver, it sees nothing
    try {
      await clusterAsync('stop-apiserver');
      await clusterAsync('start-apiserver');
      for (let k = 1; k <= KEYSTORES; k++)
        await retrying('rotation', () => client.patch(Secrets, ns, `ks-${k % KEYSTORES}`, { data: pemData(k + 1) }));
      // a removal the operator must notice too: annotary's keys go
      await client.patch(Secrets, ns, 'ks-9', { metadata: { annotations: { 'annotary.io/keystores': null } } });
      // pad the history, then compact it: the operator's resourceVersion is gone for good
      for (let i = 0; i < 20; i++) await client.patch(Secrets, ns, 'ks-8', { metadata: { labels: { pad: String(i) } } });
      await etcdCompact(await etcdRevision());
    } finally {
      op.proc.kill('SIGCONT');
    }
    await waitFor(
      'a relist after 410',
      async () => (await op.metric('annotary_relists_total', { resource: 'secrets' })) > relists0,
      120_000,
      250,
    );
    const gone = await op.metric('annotary_watch_restarts_total', { cause: 'gone' });
    const relists = await op.metric('annotary_relists_total', { resource: 'secrets' });
    console.log(`410 test: relists ${relists0} → ${relists}, watch restarts with cause=gone: ${gone}`);
    expect(gone).toBeGreaterThan(0);
    // ks-9 is no longer annotated: expectConverged's keystore check covers ks-0..ks-8 here
    await waitFor(
      "ks-9: annotary's keys removed",
      async () => {
        const s = await client.get<Secret>(Secrets, ns, 'ks-9');
        return !s.data?.['keystore.jks'] && !s.data?.['keystore.p12'] && s.metadata.annotations?.['annotary.io/managed-keys'] === undefined;
      },
      120_000,
      250,
    );
    await client.patch(Secrets, ns, 'ks-9', { metadata: { annotations: { 'annotary.io/keystores': 'jks,pkcs12' } } });
    await expectConverged(ns, { routes: true, deployments: false });
    expect(op.proc.exitCode).toBeNull();
  });
});
