// Benchmark: rotation of a Secret → pod template patched, at N Deployments (default 1,000),
// annotary's reload controller vs. a bare watch→patch baseline client built on the same
// client library (no cache, no digest, no queue: the floor for any controller on this
// apiserver). Both are measured in the same run, against the local control plane, by the
// same observer (a watch on the Deployments). Prints a markdown table; asserts nothing.
//
//   make cluster-up && npx tsc -p bench/tsconfig.json && node dist-bench/bench/reload.js
//   env: BENCH_WORKLOADS (1000), BENCH_ROTATIONS per round (100), BENCH_ROUNDS (3)
import { performance } from 'node:perf_hooks';
import type { KubeClient } from '../src/kube/client.js';
import { Deployments, Secrets } from '../src/kube/types.js';
import { adminClient, deleteNamespace, newNamespace, startOperator, waitFor } from '../e2e/harness/cluster.js';
import {
  LatencyResults,
  MiB,
  Observer,
  baselineClient,
  picks,
  randomB64 as b64,
  report,
  rotationRound,
  seedReload,
  type Deployment,
  templateAnnotation,
  runBench,
} from './lib.js';

const N = Number(process.env.BENCH_WORKLOADS ?? 1000);
const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BASELINE_KEY = 'bench.annotary.io/baseline-hash';
const ANNOTARY_KEY = 'annotary.io/config-hash';

/** One round: ROTATIONS distinct Secrets rotated 50 ms apart; latency per rotation. */
function round(client: KubeClient, ns: string, observer: Observer): Promise<number[]> {
  return rotationRound(
    observer,
    picks(N, ROTATIONS).map(String),
    (i) => `d-${i}`,
    (i) => client.patch(Secrets, ns, `s-${i}`, { data: { v: b64() } }),
  );
}

async function main(): Promise<void> {
  const client = adminClient();
  const ns = await newNamespace(client, 'bench-reload');
  const t0 = performance.now();
  await seedReload(client, ns, N);
  console.error(`seeded ${N} Secrets + ${N} Deployments in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const results = new LatencyResults();
  try {
    // baseline rounds
    // the baseline: on every Secret change, patch its Deployment's pod template
    const stopBaseline = await baselineClient(client, ns, (type, obj) =>
      type !== 'MODIFIED'
        ? undefined
        : {
            rt: Deployments,
            name: `d-${obj.metadata.name.slice(2)}`,
            patch: { spec: { template: { metadata: { annotations: { [BASELINE_KEY]: obj.metadata.resourceVersion } } } } },
          },
    );
    const obsB = new Observer(client, Deployments, ns, templateAnnotation(BASELINE_KEY));
    await obsB.start();
    for (let r = 0; r < ROUNDS; r++) {
      const s = await round(client, ns, obsB);
      results.add('baseline', s);
    }
    obsB.stop();
    stopBaseline();
    // annotary rounds: settle window 0 so both measure the same thing (the default 3 s window
    // exists to coalesce bursts and adds its length by design)
    const op = await startOperator(['--namespaces', ns, '--controllers', 'reload', '--reload-settle', '0s', '--log-level', 'warn']);
    try {
      await waitFor(
        'onboarding of every Deployment',
        async () => {
          const list = await client.list<Deployment>(Deployments, ns);
          return list.items.every((d) => d.metadata.annotations?.['annotary.io/observed-config-hash']);
        },
        300_000,
        500,
      );
      const obsA = new Observer(client, Deployments, ns, templateAnnotation(ANNOTARY_KEY));
      await obsA.start();
      for (let r = 0; r < ROUNDS; r++) {
        const s = await round(client, ns, obsA);
        results.add('annotary', s);
      }
      obsA.stop();
      const rss = await op.metric('annotary_process_resident_memory_bytes');
      console.error(`annotary RSS after the run: ${(rss / MiB).toFixed(0)} MiB`);
    } finally {
      await op.stop();
    }
  } finally {
    await deleteNamespace(client, ns);
  }
  report(results.rows(`reload latency (${N} Deployments)`, (k) => `Secret rotation → pod template, ${k} ms`));
}

runBench(main);
