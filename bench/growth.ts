// Benchmark: how the cost of holding the cluster grows (#20), at 1k, 10k and 100k Secrets with
// 200, 2k and 20k Deployments in one namespace (BENCH_GROWTH_SIZES). The annotated share is fixed
// (100 `annotary.io/keystores` TLS Secrets, 20 `annotary.io/reload-on-secrets` Deployments), so
// that what grows is what every operator pays for each object it watches and does nothing with;
// the other Secrets carry ~4 KiB of data like bench/scale.ts's, the Deployments are paused with 0
// replicas (the controller-manager writes each one's status once and makes no ReplicaSet).
// Seeding and the controller-manager's status writes are outside the timed part. At each size,
// BENCH_REPEATS restarts of
//   - annotary (all controllers): start → /readyz, CPU (utime + stime) from start to ready, RSS
//     (VmRSS) and JS heap once its queues drained;
//   - the client-go controller (`-mode reload`: informers on the same Secrets and Deployments,
//     BENCH_CLIENTGO): start → synced, its CPU and RSS then.
// Then the slope per 1,000 objects between sizes: flat when the one from 10k to 100k is not
// above the one from 1k to 10k (×1.25 for noise). Targets at 100k: RSS ≤ 250 MiB, ready ≤ 30 s.
// Asserts nothing.
//
//   make cluster-up && npx tsc -p bench/tsconfig.json && BENCH_CLIENTGO=$(bash hack/cluster.sh baseline) node dist-bench/bench/growth.js
//   env: BENCH_GROWTH_SIZES (1000,10000,100000), BENCH_REPEATS (3), BENCH_CLIENTGO (required),
//   BENCH_CPU_PROF (a folder for annotary's CPU profiles), BENCH_NODE_FLAGS (node flags of annotary's process)
import { performance } from 'node:perf_hooks';
import { Deployments, Secrets } from '../src/kube/types.js';
import { adminClient, deleteNamespace, newNamespace, startOperator, waitFor } from '../e2e/harness/cluster.js';
import {
  MiB,
  apiserverWrites,
  cpuSeconds,
  drained,
  NODE_FLAGS,
  median,
  mmm,
  ratios,
  report,
  rssBytes,
  seed,
  sleep,
  startClientGo,
  type Row,
  benchDeployment,
  runBench,
  scaleSecret,
} from './lib.js';

const SIZES = (process.env.BENCH_GROWTH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const KEYSTORES = 100;
const RELOADS = 20;
const deploymentsFor = (secrets: number) => secrets / 5;

const secret = (ns: string) => (i: number) => scaleSecret(ns, i, KEYSTORES);
const deployment = (ns: string) => (i: number) => benchDeployment(ns, i, `s-${KEYSTORES + i}`, { reload: i < RELOADS, paused: true });

/** Status writes of Deployments (the controller-manager's), counted by the apiserver. */
const statusWrites = () => apiserverWrites(['deployments'], undefined, 'status');

/** Waits for the controller-manager's status write of each of `deployments` new Deployments. */
async function controllerManagerCaughtUp(deployments: number, before: number): Promise<void> {
  await waitFor(
    'the controller-manager has written every Deployment status',
    () => statusWrites() - before >= deployments,
    1_800_000,
    2000,
  );
}

interface Sample {
  readyS: number;
  cpuS: number;
  rss: number;
  heap: number;
  goReadyS: number;
  goCpuS: number;
  goRss: number;
}

async function measure(ns: string, size: number): Promise<Sample> {
  const t0 = performance.now();
  const op = await startOperator(['--namespaces', ns, '--log-level', 'warn'], {}, undefined, NODE_FLAGS);
  const readyS = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(op.proc.pid!);
  let rss: number, heap: number;
  try {
    await drained(op);
    rss = rssBytes(op.proc.pid!);
    heap = await op.metric('annotary_nodejs_heap_size_used_bytes');
  } finally {
    await op.stop();
  }
  const g0 = performance.now();
  const cg = await startClientGo(ns, 'reload');
  const goReadyS = (performance.now() - g0) / 1000;
  const goCpuS = cpuSeconds(cg.proc.pid!);
  await sleep(2000); // its workers' first pass over the queued keys
  const goRss = rssBytes(cg.proc.pid!);
  await cg.stop();
  console.error(
    `${size} Secrets: annotary ready ${readyS.toFixed(1)} s, CPU ${cpuS.toFixed(2)} s, RSS ${(rss / MiB).toFixed(0)} MiB, ` +
      `heap ${(heap / MiB).toFixed(0)} MiB; client-go synced ${goReadyS.toFixed(1)} s, CPU ${goCpuS.toFixed(2)} s, ` +
      `RSS ${(goRss / MiB).toFixed(0)} MiB`,
  );
  return { readyS, cpuS, rss, heap, goReadyS, goCpuS, goRss };
}

/** Per 1,000 objects (Secrets + Deployments) between two sizes, of the medians of `fn`. */
function slope(a: { size: number; samples: Sample[] }, b: { size: number; samples: Sample[] }, fn: (s: Sample) => number): number {
  const objects = (n: number) => n + deploymentsFor(n);
  return (median(b.samples.map(fn)) - median(a.samples.map(fn))) / ((objects(b.size) - objects(a.size)) / 1000);
}

async function main(): Promise<void> {
  if (!process.env.BENCH_CLIENTGO) throw new Error('BENCH_CLIENTGO: the client-go controller (bash hack/cluster.sh baseline)');
  const client = adminClient();
  const ns = await newNamespace(client, 'bench-growth');
  const results: { size: number; samples: Sample[] }[] = [];
  try {
    let have = 0;
    for (const size of SIZES) {
      const before = statusWrites();
      const seedS =
        (await seed(client, Deployments, ns, deploymentsFor(have), deploymentsFor(size) - deploymentsFor(have), deployment(ns))) +
        (await seed(client, Secrets, ns, have, size - have, secret(ns)));
      await controllerManagerCaughtUp(deploymentsFor(size) - deploymentsFor(have), before);
      console.error(`seeded up to ${size} Secrets + ${deploymentsFor(size)} Deployments (${seedS.toFixed(0)} s of requests)`);
      if (have === 0) await measure(ns, size); // the first start writes the annotated objects' stores: untimed
      have = size;
      const samples: Sample[] = [];
      for (let r = 0; r < REPEATS; r++) samples.push(await measure(ns, size));
      results.push({ size, samples });
    }
  } finally {
    await deleteNamespace(client, ns);
  }
  const rows: Row[] = [];
  for (const { size, samples } of results) {
    const last = size === SIZES.at(-1);
    /** One figure at this size: annotary's and client-go's, min / median / max, and their ratios. */
    const figure = (measure: string, own: (s: Sample) => number, go: (s: Sample) => number, digits: number, unit = 1) => {
      const r = ratios(samples.map(own), samples.map(go));
      return {
        benchmark: `growth (${size / 1000}k Secrets, ${deploymentsFor(size) / 1000}k Deployments)`,
        measure,
        baseline: mmm(
          samples.map((s) => go(s) / unit),
          digits,
        ),
        annotary: mmm(
          samples.map((s) => own(s) / unit),
          digits,
        ),
        result: mmm(r, 2, '×'),
        ownMedian: median(samples.map(own)),
        ratioMedian: median(r),
      };
    };
    const ready = figure(
      'start → ready, s (baseline: the client-go controller, start → synced)',
      (s) => s.readyS,
      (s) => s.goReadyS,
      1,
    );
    const cpu = figure(
      'CPU from start to ready, s (baseline: client-go, start → synced)',
      (s) => s.cpuS,
      (s) => s.goCpuS,
      2,
    );
    const rss = figure(
      `RSS once synced (VmRSS), MiB (baseline: client-go); annotary's JS heap: ${mmm(samples.map((s) => s.heap / MiB))} MiB`,
      (s) => s.rss,
      (s) => s.goRss,
      0,
      MiB,
    );
    const row = ({ ownMedian: _o, ratioMedian: _r, ...f }: ReturnType<typeof figure>, target: string, met: boolean | undefined): Row => ({
      ...f,
      target,
      met,
    });
    rows.push(
      row(ready, last ? '≤ 30 s' : '—', last ? ready.ownMedian <= 30 : undefined),
      row(cpu, '≤ 1.2×', cpu.ratioMedian <= 1.2),
      row(rss, last ? '≤ 250 MiB' : '—', last ? rss.ownMedian <= 250 * MiB : undefined),
    );
  }
  for (let i = 1; i < results.length; i++) {
    const [a, b] = [results[i - 1], results[i]];
    const flatter = i > 1 ? results[i - 2] : undefined;
    const span = `growth ${a.size / 1000}k → ${b.size / 1000}k Secrets`;
    const per = (what: string, fn: (s: Sample) => number, go: (s: Sample) => number, unit: number, digits: number): Row => {
      const own = slope(a, b, fn) / unit;
      const before = flatter ? slope(flatter, a, fn) / unit : undefined;
      return {
        benchmark: span,
        measure: `${what} per 1,000 objects (slope of the medians; baseline: client-go's)`,
        baseline: (slope(a, b, go) / unit).toFixed(digits),
        annotary: own.toFixed(digits),
        result: `${(slope(a, b, fn) / slope(a, b, go)).toFixed(2)}×`,
        target: before === undefined ? '—' : `flat: ≤ 1.25 × ${before.toFixed(digits)} (the slope below)`,
        met: before === undefined ? undefined : own <= 1.25 * Math.max(before, 0),
      };
    };
    rows.push(
      per(
        'RSS, MiB',
        (s) => s.rss,
        (s) => s.goRss,
        MiB,
        2,
      ),
      per(
        'start → ready, s',
        (s) => s.readyS,
        (s) => s.goReadyS,
        1,
        3,
      ),
      per(
        'CPU to ready, s',
        (s) => s.cpuS,
        (s) => s.goCpuS,
        1,
        3,
      ),
    );
  }
  report(rows);
}

runBench(main);
