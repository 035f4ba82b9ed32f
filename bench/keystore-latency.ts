// Benchmark: PEM rotation → keystore update observable, at N annotated Secrets (default 1,000,
// `annotary.io/keystores: jks`), annotary's keystores controller vs. the baseline client of
// bench/lib.ts (watch Secrets, PATCH one annotation on the same Secret when its PEM changed:
// the floor). The PEM rotates between three pre-made RSA 2048 chains (test/pki/fixtures.ts).
// Both are measured in the same run by the same observer (a watch on the Secrets, until
// `annotary.io/source-hash` resp. the baseline's annotation changes). Asserts nothing.
//
//   make cluster-up && npx tsc -p bench/tsconfig.json && node dist-bench/bench/keystore-latency.js
//   env: BENCH_SECRETS (1000), BENCH_ROTATIONS per round (100), BENCH_ROUNDS (3), BENCH_CPU_PROF (a folder for annotary's CPU profiles),
//   BENCH_NODE_FLAGS (node flags of annotary's process)
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../src/kube/types.js';
import { Secrets } from '../src/kube/types.js';
import { adminClient, deleteNamespace, newNamespace, startOperator, waitFor } from '../e2e/harness/cluster.js';
import {
  CHAINS,
  LatencyResults,
  Observer,
  annotation,
  baselineClient,
  keystoreSecret,
  picks,
  report,
  rotationRound,
  seed,
  sha256,
  runBench,
  NODE_FLAGS,
} from './lib.js';

const N = Number(process.env.BENCH_SECRETS ?? 1000);
const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BASELINE_KEY = 'bench.annotary.io/baseline-hash';
const SOURCE_HASH = 'annotary.io/source-hash';

const pemDigest = (o: KubeObject) => {
  const d = (o as KubeObject & { data?: Record<string, string> }).data ?? {};
  return sha256(`${d['tls.crt']}|${d['tls.key']}|${d['ca.crt']}`);
};

async function main(): Promise<void> {
  const client = adminClient();
  const ns = await newNamespace(client, 'bench-ks');
  const chainOf = new Map<string, number>();
  const seconds = await seed(client, Secrets, ns, 0, N, (i) => {
    chainOf.set(`s-${i}`, i % CHAINS.length);
    return keystoreSecret(ns, i);
  });
  console.error(`seeded ${N} annotated Secrets in ${seconds.toFixed(1)} s`);
  const rotate = (name: string) => {
    const next = (chainOf.get(name)! + 1) % CHAINS.length;
    chainOf.set(name, next);
    return client.patch(Secrets, ns, name, { data: CHAINS[next] });
  };
  const round = (obs: Observer) =>
    rotationRound(
      obs,
      picks(N, ROTATIONS).map((i) => `s-${i}`),
      (n) => n,
      rotate,
    );
  const results = new LatencyResults();
  try {
    // baseline rounds (no operator running)
    const stop = await baselineClient(client, ns, (type, obj) => {
      if (type !== 'MODIFIED' && type !== 'ADDED') return undefined;
      const h = pemDigest(obj);
      return obj.metadata.annotations?.[BASELINE_KEY] === h
        ? undefined
        : { rt: Secrets, name: obj.metadata.name, patch: { metadata: { annotations: { [BASELINE_KEY]: h } } } };
    });
    const obsB = new Observer(client, Secrets, ns, annotation(BASELINE_KEY));
    await obsB.start();
    for (let r = 0; r < ROUNDS; r++) {
      const s = await round(obsB);
      results.add('baseline', s);
    }
    obsB.stop();
    stop();
    // annotary rounds, after every Secret got its keystores
    const t0 = performance.now();
    const op = await startOperator(['--namespaces', ns, '--controllers', 'keystores', '--log-level', 'warn'], {}, undefined, NODE_FLAGS);
    try {
      await waitFor(
        'keystores in every Secret',
        async () => (await client.list(Secrets, ns)).items.filter((s) => s.metadata.annotations?.[SOURCE_HASH]).length >= N,
        300_000,
        500,
      );
      console.error(`annotary onboarded ${N} Secrets in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const obsA = new Observer(client, Secrets, ns, annotation(SOURCE_HASH));
      await obsA.start();
      for (let r = 0; r < ROUNDS; r++) {
        const s = await round(obsA);
        results.add('annotary', s);
      }
      obsA.stop();
    } finally {
      await op.stop();
    }
  } finally {
    await deleteNamespace(client, ns);
  }
  report(results.rows(`keystore latency (${N} Secrets)`, (k) => `PEM rotation → keystore observable, ${k} ms`));
}

runBench(main);
