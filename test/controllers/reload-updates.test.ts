// Which updates of a workload queue a reload reconcile, in process against the in-memory
// apiserver (reconcile-harness.ts): its own annotations, labels and spec do; its status alone (its
// controller's progress reports, most of a workload's updates in a real cluster) does not.
import { describe, expect, test } from '@jest/globals';
import { CONTROLLER_MODULES } from '../../src/controllers/index.js';
import { deployment, inNamespace, ofType, secret, withAnnotations, withSecretVolumes, withTLS } from '../gen.js';
import { ec } from './tls-fixtures.js';
import { FakeCluster, moduleRunner, writesOf } from './reconcile-harness.js';

const NS = 'apps';
const run = moduleRunner();
const reconciles = async (op: Awaited<ReturnType<typeof run>>) =>
  (await op.metrics.reconcileTotal.get()).values.filter((v) => v.labels.controller === 'reload').reduce((n, v) => n + v.value, 0);

describe('updates of a reloaded workload', () => {
  test('status alone queues no reconcile; an annotation, a label or a spec change does, each once', async () => {
    const cluster = new FakeCluster([
      secret('tls', inNamespace(NS), ofType('kubernetes.io/tls'), withTLS(ec)),
      deployment('app', inNamespace(NS), withAnnotations({ 'annotary.io/reload': 'auto' }), withSecretVolumes('tls')),
    ]);
    const op = await run(CONTROLLER_MODULES.reload, cluster);
    expect(writesOf(cluster)).toEqual(['patch Deployment app']); // onboarding: the digest recorded
    const atStart = await reconciles(op);

    for (const replicas of [1, 2, 3]) {
      cluster.userPatch('Deployment', NS, 'app', { status: { observedGeneration: 2, replicas, updatedReplicas: replicas } });
      await op.quiet();
    }
    expect(await reconciles(op)).toBe(atStart);

    cluster.userPatch('Deployment', NS, 'app', { metadata: { annotations: { team: 'payments' } } });
    await op.quiet();
    expect(await reconciles(op)).toBe(atStart + 1);
    cluster.userPatch('Deployment', NS, 'app', { metadata: { labels: { tier: 'web' } } });
    await op.quiet();
    expect(await reconciles(op)).toBe(atStart + 2);
    cluster.userPatch('Deployment', NS, 'app', { spec: { replicas: 3 } });
    await op.quiet();
    expect(await reconciles(op)).toBe(atStart + 3);
    expect(writesOf(cluster)).toEqual(['patch Deployment app']); // none of them changed what the pods read
  });
});
