// Benchmark: scale, memory and write amplification. One namespace with 2,000 Deployments
// (each `annotary.io/reload-on-secrets` one Secret) and first 5,000, then 10,000 Secrets of
// ~4 KiB (1,000 of them `annotary.io/keystores: jks` TLS Secrets), seeded with parallel
// requests outside the timed part. At each size the operator (all controllers) is started
// BENCH_REPEATS times:
//   - start → /readyz (spawn of dist/cli.js to the first 200), vs. the baseline process of
//     bench/baseline-list.ts (same client library, lists the same resources, spawn → lists held);
//   - RSS and heap after the sync (its /metrics), vs. the baseline process holding the lists;
//   - at 10,000 with `--resync 5s`: PATCH/PUT on secrets, deployments, routes counted by the
//     apiserver's /metrics across the restart (start → queues drained) and across two forced
//     resyncs afterwards. Target 0.
//   - the operator's CPU from start to ready (utime + stime of its process) and, with
//     BENCH_CLIENTGO set (the binary of `hack/cluster.sh baseline`), the client-go controller's
//     (`-mode reload`: informers on the same Secrets and Deployments) from start to synced;
//   - a restart's time from start to queues drained (queue depth 0 and the reconcile count still
//     over one 1 s poll, so up to ~2 s of it is the polling).
// Also, in fresh processes: RSS before and after importing annotary's client, and
// @kubernetes/client-node (which the operator process no longer loads).
// Asserts nothing.
//
//   make cluster-up && npx tsc -p bench/tsconfig.json && node dist-bench/bench/scale.js
//   env: BENCH_REPEATS (3), BENCH_SMALL (5000), BENCH_LARGE (10000), BENCH_ANNOTATED (1000), BENCH_DEPLOYMENTS (2000),
//   BENCH_CLIENTGO (optional: the client-go controller, for the CPU to ready), BENCH_CPU_PROF (a folder for annotary's CPU
//   profiles), BENCH_NODE_FLAGS (node flags of annotary's process)
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Deployments, Secrets } from '../src/kube/types.js';
import { KUBECONFIG, ROOT, adminClient, deleteNamespace, newNamespace, startOperator, waitFor } from '../e2e/harness/cluster.js';
import {
  MiB,
  NODE_FLAGS,
  apiserverWrites,
  cpuSeconds,
  drained,
  median,
  mmm,
  ratios,
  report,
  seed,
  sleep,
  startClientGo,
  type Row,
  benchDeployment,
  runBench,
  scaleSecret,
} from './lib.js';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const SMALL = Number(process.env.BENCH_SMALL ?? 5000);
const LARGE = Number(process.env.BENCH_LARGE ?? 10000);
const ANNOTATED = Number(process.env.BENCH_ANNOTATED ?? 1000);
const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 2000);
const WRITE_RESOURCES = ['secrets', 'deployments', 'routes'];
const RESYNC_S = 5;

const secret = (ns: string) => (i: number) => scaleSecret(ns, i, ANNOTATED);
const deployment = (ns: string) => (i: number) => benchDeployment(ns, i, `s-${ANNOTATED + i}`, { reload: true });

interface Baseline {
  ms: number;
  bareRss: number;
  importRss: number;
  rss: number;
  heap: number;
  objects: number;
}

/** Runs `node args` from the repository root; resolves with the JSON of its last stdout line. */
function nodeJson<T>(what: string, args: string[]): Promise<T> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  return new Promise((resolve, reject) =>
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${what} exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
    }),
  );
}

/** Spawns the baseline process; time from spawn to its report (lists held). */
async function baselineProcess(ns: string): Promise<Baseline> {
  const t0 = performance.now();
  const report = await nodeJson<Omit<Baseline, 'ms'>>('baseline process', [
    path.join(ROOT, 'dist-bench/bench/baseline-list.js'),
    KUBECONFIG,
    ns,
  ]);
  return { ms: performance.now() - t0, ...report };
}

/** RSS of a fresh Node process before and after importing `specifier` (resolved from the repository). */
function importRss(specifier: string): Promise<{ bare: number; after: number }> {
  const code =
    `const bare = process.memoryUsage().rss; await import(${JSON.stringify(specifier)}); ` +
    'console.log(JSON.stringify({ bare, after: process.memoryUsage().rss }));';
  return nodeJson(`import of ${specifier}`, ['--input-type=module', '-e', code]);
}

interface Sample {
  readyMs: number;
  /** the operator's CPU seconds from start to ready */
  readyCpuS: number;
  /** start → queues drained */
  drainedMs: number;
  /** the client-go controller on the same objects: CPU seconds from start to synced (BENCH_CLIENTGO) */
  clientGoReadyCpuS?: number;
  rss: number;
  heap: number;
  base: Baseline;
  restartWrites: number;
  okWrites: number;
  conflicts: number;
  resyncWrites?: number;
}

async function measure(ns: string, size: number, resync: boolean, first: boolean): Promise<Sample> {
  const client = adminClient();
  const before = apiserverWrites(WRITE_RESOURCES);
  const beforeCodes = { ok: apiserverWrites(WRITE_RESOURCES, '200'), conflict: apiserverWrites(WRITE_RESOURCES, '409') };
  const t0 = performance.now();
  const op = await startOperator(
    ['--namespaces', ns, '--log-level', 'warn', ...(resync ? ['--resync', `${RESYNC_S}s`] : [])],
    {},
    undefined,
    NODE_FLAGS,
  );
  const readyMs = performance.now() - t0;
  const readyCpuS = cpuSeconds(op.proc.pid!);
  try {
    if (first) {
      await waitFor(
        'keystores in every annotated Secret',
        async () =>
          (await client.list(Secrets, ns)).items.filter((s) => s.metadata.annotations?.['annotary.io/source-hash']).length >= ANNOTATED,
        600_000,
        2000,
      );
    }
    await drained(op);
    const drainedMs = performance.now() - t0;
    const afterSync = apiserverWrites(WRITE_RESOURCES);
    const okWrites = apiserverWrites(WRITE_RESOURCES, '200') - beforeCodes.ok;
    const conflicts = apiserverWrites(WRITE_RESOURCES, '409') - beforeCodes.conflict;
    let resyncWrites: number | undefined;
    if (resync) {
      await sleep((2 * RESYNC_S + 2) * 1000); // two forced resyncs
      await drained(op);
      resyncWrites = apiserverWrites(WRITE_RESOURCES) - afterSync;
    } else {
      await sleep(2000);
    }
    const rss = await op.metric('annotary_process_resident_memory_bytes');
    const heap = await op.metric('annotary_nodejs_heap_size_used_bytes');
    const base = await baselineProcess(ns);
    let clientGoReadyCpuS: number | undefined;
    if (process.env.BENCH_CLIENTGO) {
      const cg = await startClientGo(ns, 'reload');
      clientGoReadyCpuS = cpuSeconds(cg.proc.pid!);
      await cg.stop();
    }
    const s: Sample = {
      readyMs,
      readyCpuS,
      drainedMs,
      clientGoReadyCpuS,
      rss,
      heap,
      base,
      restartWrites: afterSync - before,
      okWrites,
      conflicts,
      resyncWrites,
    };
    console.error(
      `${size} Secrets: ready ${readyMs.toFixed(0)} ms (baseline lists ${base.ms.toFixed(0)} ms, ${base.objects} objects), ` +
        `RSS ${(rss / MiB).toFixed(0)} MiB, heap ${(heap / MiB).toFixed(0)} MiB ` +
        `(baseline ${(base.rss / MiB).toFixed(0)} / ${(base.heap / MiB).toFixed(0)}, import only ${(base.importRss / MiB).toFixed(0)}), ` +
        `writes start→drained ${s.restartWrites}${resync ? `, over 2 resyncs ${resyncWrites}` : ''}, ` +
        `CPU to ready ${readyCpuS.toFixed(2)} s${clientGoReadyCpuS === undefined ? '' : ` (client-go ${clientGoReadyCpuS.toFixed(2)} s)`}, ` +
        `drained after ${(drainedMs / 1000).toFixed(1)} s`,
    );
    return s;
  } finally {
    await op.stop();
  }
}

async function main(): Promise<void> {
  const client = adminClient();
  const ns = await newNamespace(client, 'bench-scale');
  const seedS: number[] = [];
  const small: Sample[] = [];
  const large: Sample[] = [];
  try {
    seedS.push(await seed(client, Deployments, ns, 0, DEPLOYMENTS, deployment(ns)));
    seedS.push(await seed(client, Secrets, ns, 0, SMALL, secret(ns)));
    console.error(`seeded ${DEPLOYMENTS} Deployments + ${SMALL} Secrets in ${(seedS[0] + seedS[1]).toFixed(1)} s`);
    for (let r = 0; r < REPEATS; r++) small.push(await measure(ns, SMALL, false, r === 0));
    seedS.push(await seed(client, Secrets, ns, SMALL, LARGE - SMALL, secret(ns)));
    console.error(`seeded ${LARGE - SMALL} more Secrets in ${seedS[2].toFixed(1)} s`);
    for (let r = 0; r < REPEATS; r++) large.push(await measure(ns, LARGE, true, false));
  } finally {
    await deleteNamespace(client, ns);
  }
  const imports = { client: [] as { bare: number; after: number }[], clientNode: [] as { bare: number; after: number }[] };
  for (let r = 0; r < REPEATS; r++) {
    imports.client.push(await importRss(path.join(ROOT, 'dist/kube/client.js')));
    imports.clientNode.push(await importRss('@kubernetes/client-node'));
  }
  const seedTotal = seedS.reduce((a, b) => a + b, 0);
  const objects = DEPLOYMENTS + LARGE;
  const first = small[0];
  const restarts = [...small.slice(1), ...large].map((s) => s.restartWrites);
  const resyncs = large.map((s) => s.resyncWrites ?? 0);
  const sz = `${LARGE / 1000}k Secrets, ${DEPLOYMENTS / 1000}k Deployments`;
  const pick = (xs: Sample[], fn: (s: Sample) => number) => xs.map(fn);
  const growth = (median(pick(large, (s) => s.rss)) - median(pick(small, (s) => s.rss))) / ((LARGE - SMALL) / 1000) / MiB;
  const baseGrowth = (median(pick(large, (s) => s.base.rss)) - median(pick(small, (s) => s.base.rss))) / ((LARGE - SMALL) / 1000) / MiB;
  const perK = (xs: Sample[], ys: Sample[], fn: (s: Sample) => number) =>
    (median(ys.map(fn)) - median(xs.map(fn))) / ((LARGE - SMALL) / 1000) / MiB;
  const heapGrowth = perK(small, large, (s) => s.heap);
  const baseHeapGrowth = perK(small, large, (s) => s.base.heap);
  const rows: Row[] = [
    {
      benchmark: 'scale: seeding',
      measure: `create ${objects.toLocaleString('en')} objects, 32 in flight, s (outside the timed parts)`,
      baseline: '—',
      annotary: '—',
      result: seedTotal.toFixed(0),
      target: '—',
      met: undefined,
    },
    {
      benchmark: `scale (${sz})`,
      measure: 'start → /readyz, s (baseline: bare client lists the same)',
      baseline: mmm(
        pick(large, (s) => s.base.ms / 1000),
        1,
      ),
      annotary: mmm(
        pick(large, (s) => s.readyMs / 1000),
        1,
      ),
      result: mmm(
        ratios(
          pick(large, (s) => s.readyMs),
          pick(large, (s) => s.base.ms),
        ),
        2,
        '×',
      ),
      target: '≤ 10 s',
      met: median(pick(large, (s) => s.readyMs)) <= 10_000,
    },
    {
      benchmark: `scale (${sz})`,
      measure: 'CPU from start to ready, s (baseline: the client-go controller, -mode reload, start → synced)',
      baseline:
        large[0].clientGoReadyCpuS === undefined
          ? '—'
          : mmm(
              pick(large, (s) => s.clientGoReadyCpuS ?? 0),
              2,
            ),
      annotary: mmm(
        pick(large, (s) => s.readyCpuS),
        2,
      ),
      result:
        large[0].clientGoReadyCpuS === undefined
          ? '—'
          : mmm(
              ratios(
                pick(large, (s) => s.readyCpuS),
                pick(large, (s) => s.clientGoReadyCpuS ?? 0),
              ),
              2,
              '×',
            ),
      target: '≤ 1.2×',
      met:
        large[0].clientGoReadyCpuS === undefined
          ? undefined
          : median(
              ratios(
                pick(large, (s) => s.readyCpuS),
                pick(large, (s) => s.clientGoReadyCpuS ?? 0),
              ),
            ) <= 1.2,
    },
    {
      benchmark: `scale (${sz})`,
      measure: 'a restart: start → queues drained, s (polled each second)',
      baseline: '—',
      annotary: mmm(
        pick(large, (s) => s.drainedMs / 1000),
        1,
      ),
      result: '—',
      target: 'seconds',
      met: undefined,
    },
    {
      benchmark: `scale (${sz})`,
      measure: 'RSS after sync, MiB (baseline: bare client holding the lists, default node flags)',
      baseline: mmm(pick(large, (s) => s.base.rss / MiB)),
      annotary: mmm(pick(large, (s) => s.rss / MiB)),
      result: mmm(
        ratios(
          pick(large, (s) => s.rss),
          pick(large, (s) => s.base.rss),
        ),
        2,
        '×',
      ),
      target: '≤ 100 MiB',
      met: median(pick(large, (s) => s.rss)) <= 100 * MiB,
    },
    {
      benchmark: `scale (${sz})`,
      measure: 'JS heap used after sync, MiB',
      baseline: mmm(pick(large, (s) => s.base.heap / MiB)),
      annotary: mmm(pick(large, (s) => s.heap / MiB)),
      result: mmm(
        ratios(
          pick(large, (s) => s.heap),
          pick(large, (s) => s.base.heap),
        ),
        2,
        '×',
      ),
      target: '—',
      met: undefined,
    },
    {
      benchmark: 'scale: import cost',
      measure: "RSS of a fresh Node process before → after importing annotary's client (src/kube/client.ts), MiB",
      baseline: '—',
      annotary: '—',
      result: `${mmm(imports.client.map((i) => i.bare / MiB))} → ${mmm(imports.client.map((i) => i.after / MiB))}`,
      target: '—',
      met: undefined,
    },
    {
      benchmark: 'scale: import cost',
      measure: '… importing @kubernetes/client-node instead (what resolving credentials in a child process keeps out of the operator), MiB',
      baseline: '—',
      annotary: '—',
      result: `${mmm(imports.clientNode.map((i) => i.bare / MiB))} → ${mmm(imports.clientNode.map((i) => i.after / MiB))}`,
      target: '—',
      met: undefined,
    },
    {
      benchmark: `scale (${SMALL / 1000}k → ${LARGE / 1000}k Secrets)`,
      measure: 'RSS growth per 1,000 Secrets, MiB (medians)',
      baseline: baseGrowth.toFixed(1),
      annotary: growth.toFixed(1),
      result: `${(growth / baseGrowth).toFixed(2)}×`,
      target: '—',
      met: undefined,
    },
    {
      benchmark: `scale (${SMALL / 1000}k → ${LARGE / 1000}k Secrets)`,
      measure: 'JS heap growth per 1,000 Secrets, MiB (medians)',
      baseline: baseHeapGrowth.toFixed(1),
      annotary: heapGrowth.toFixed(1),
      result: `${(heapGrowth / baseHeapGrowth).toFixed(2)}×`,
      target: '—',
      met: undefined,
    },
    {
      benchmark: `write amplification (${sz})`,
      measure: 'PATCH/PUT on secrets, deployments, routes answered 200: onboarding (first start)',
      baseline: '—',
      annotary: '—',
      result: String(first.okWrites),
      target: `${ANNOTATED + DEPLOYMENTS} (1 per object)`,
      met: first.okWrites === ANNOTATED + DEPLOYMENTS,
    },
    {
      benchmark: `write amplification (${sz})`,
      measure: `… answered 409 Conflict (a precondition met a newer object) and retried; all PATCH/PUT: ${first.restartWrites}`,
      baseline: '—',
      annotary: '—',
      result: String(first.conflicts),
      target: '—',
      met: undefined,
    },
    {
      benchmark: `write amplification (${sz})`,
      measure: `… on each restart (start → queues drained), ${restarts.length} restarts`,
      baseline: '—',
      annotary: '—',
      result: mmm(restarts),
      target: '0',
      met: restarts.every((n) => n === 0),
    },
    {
      benchmark: `write amplification (${sz})`,
      measure: `… over two forced resyncs (--resync ${RESYNC_S}s), ${resyncs.length} runs`,
      baseline: '—',
      annotary: '—',
      result: mmm(resyncs),
      target: '0',
      met: resyncs.every((n) => n === 0),
    },
  ];
  report(rows);
}

runBench(main);
