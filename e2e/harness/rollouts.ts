// What the reload e2e files share: counting rollouts (on a control plane without a node each
// rollout of a Deployment leaves one more ReplicaSet) and "exactly N" (the expected count, then
// a quiet window in which no more come), and operators a file starts again after a stop.
import { afterAll, expect } from '@jest/globals';
import type { KubeObject } from '../../src/kube/types.js';
import { ReplicaSets } from '../../src/kube/types.js';
import type { OperatorProcess } from './cluster.js';
import { adminClient, sleep, startOperator, waitFor } from './cluster.js';

const client = adminClient();

/** The ReplicaSets Deployment `deploy` owns. */
export async function replicaSets(ns: string, deploy: string): Promise<number> {
  const list = await client.list<KubeObject>(ReplicaSets, ns);
  return list.items.filter((rs) => rs.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === deploy)).length;
}

/** Waits for these ReplicaSet counts by Deployment, then `quietMs` more, and checks they did not grow. */
export async function expectReplicaSets(ns: string, expected: Record<string, number>, quietMs: number, timeoutMs = 60_000): Promise<void> {
  const counts = async () =>
    Object.fromEntries(await Promise.all(Object.keys(expected).map(async (d) => [d, await replicaSets(ns, d)] as const)));
  await waitFor(
    `ReplicaSets ${JSON.stringify(expected)}`,
    async () => {
      const got = await counts();
      if (Object.entries(expected).some(([d, n]) => got[d] !== n)) throw new Error(`got ${JSON.stringify(got)}`);
      return true;
    },
    timeoutMs,
  );
  await sleep(quietMs);
  expect(await counts()).toEqual(expected);
}

/** Starts operators for one namespace with the file's flags, and stops them all after the file. */
export function restartable(flags: (extra?: string[]) => string[]): (ns: string, extra?: string[]) => Promise<OperatorProcess> {
  const started: OperatorProcess[] = [];
  afterAll(async () => {
    await Promise.all(started.map((op) => op.stop()));
  });
  return async (ns, extra = []) => {
    const op = await startOperator(['--namespaces', ns, ...flags(extra)]);
    started.push(op);
    return op;
  };
}
