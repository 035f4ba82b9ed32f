// Shared pieces of the benchmarks: percentiles, parallel seeding, the watch observer, the
// bare watch→patch baseline client, and the one-table report. Nothing here asserts on timing.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { KubeClient } from '../src/kube/client.js';
import type { KubeObject, ResourceType } from '../src/kube/types.js';
import { Deployments, Secrets, resourcePath } from '../src/kube/types.js';
import { KUBECONFIG, kubectl, sumMetric, waitFor, type OperatorProcess } from '../e2e/harness/cluster.js';
import { chainFixture } from '../test/pki/fixtures.js';
import { tlsData } from '../test/gen.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const randomB64 = (bytes = 24) => randomBytes(bytes).toString('base64');
export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
export const MiB = 1048576;

// ---- statistics -----------------------------------------------------------------------------

/** Nearest-rank percentile. */
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
export const median = (xs: number[]) => pct(xs, 50);
/** "min / median / max" of repeated measurements. */
export const mmm = (xs: number[], digits = 0, unit = '') =>
  xs.length === 0 ? '—' : `${Math.min(...xs).toFixed(digits)} / ${median(xs).toFixed(digits)} / ${Math.max(...xs).toFixed(digits)}${unit}`;
export const ratios = (a: number[], b: number[]) => a.map((x, i) => x / b[i]);

// ---- seeding ----------------------------------------------------------------------------------

/** Runs `fn` over `items` with `width` requests in flight. */
export async function inParallel<T>(items: T[], width: number, fn: (x: T, i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/** Creates `count` objects made by `make(i)` (i from `from`), 32 in flight; returns seconds taken. */
export async function seed(
  client: KubeClient,
  rt: ResourceType,
  ns: string,
  from: number,
  count: number,
  make: (i: number) => KubeObject,
): Promise<number> {
  const t0 = performance.now();
  await inParallel(
    Array.from({ length: count }, (_, k) => from + k),
    32,
    (i) => client.create(rt, ns, make(i)),
  );
  return (performance.now() - t0) / 1000;
}

/** Three pre-made RSA 2048 chains (test/pki/fixtures.ts) a keystore Secret's PEM rotates between. */
export const CHAINS = ['main', 'bench-b', 'bench-c'].map((tag) => tlsData(chainFixture('rsa2048', tag)));

/** Keystore Secret s-i (`annotary.io/keystores: jks`) holding chain i mod 3: the keystore benchmarks' fixture. */
export const keystoreSecret = (ns: string, i: number): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'kubernetes.io/tls',
  metadata: { name: `s-${i}`, namespace: ns, annotations: { 'annotary.io/keystores': 'jks' } },
  data: CHAINS[i % CHAINS.length],
});

/**
 * Deployment d-i of the benchmarks: 0 replicas, mounting Secret `secret`; `reload`: annotated
 * `annotary.io/reload-on-secrets` on it; `paused`: the controller-manager writes its status once
 * and makes no ReplicaSet.
 */
export const benchDeployment = (ns: string, i: number, secret: string, opts: { reload: boolean; paused?: boolean }): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: `d-${i}`, namespace: ns, annotations: opts.reload ? { 'annotary.io/reload-on-secrets': secret } : {} },
  spec: {
    ...(opts.paused ? { paused: true } : {}),
    replicas: 0,
    selector: { matchLabels: { app: `d-${i}` } },
    template: {
      metadata: { labels: { app: `d-${i}` } },
      spec: {
        containers: [{ name: 'app', image: 'app:1', volumeMounts: [{ name: 's', mountPath: '/s' }] }],
        volumes: [{ name: 's', secret: { secretName: secret } }],
      },
    },
  },
});

/** Secret s-i of the scale benchmarks: a keystore Secret below `keystores`, else ~4 KiB of opaque data. */
export const scaleSecret = (ns: string, i: number, keystores: number): KubeObject =>
  i < keystores
    ? keystoreSecret(ns, i)
    : { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: `s-${i}`, namespace: ns }, data: { v: randomB64(3 * 1024) } };

/** Secrets s-0… and Deployments d-0…, d-i annotated to reload on s-i: the reload benchmarks' fixture. */
export async function seedReload(client: KubeClient, ns: string, n: number): Promise<void> {
  const ids = Array.from({ length: n }, (_, i) => i);
  await inParallel(ids, 16, (i) =>
    client.create(Secrets, ns, { apiVersion: 'v1', kind: 'Secret', metadata: { name: `s-${i}`, namespace: ns }, data: { v: randomB64() } }),
  );
  await inParallel(ids, 16, (i) => client.create(Deployments, ns, benchDeployment(ns, i, `s-${i}`, { reload: true })));
}

export type Deployment = KubeObject & { spec: { template: { metadata?: { annotations?: Record<string, string> } } } };
export const templateAnnotation = (key: string) => (o: KubeObject) => (o as Deployment).spec?.template?.metadata?.annotations?.[key];

// ---- observer and baseline ----------------------------------------------------------------------

/**
 * Watches one resource type in a namespace; when `valueOf(obj)` changes for an object with a
 * pending start time, records the latency. Both annotary and the baseline are measured by it.
 */
export class Observer {
  private readonly seen = new Map<string, string | undefined>();
  readonly pending = new Map<string, number>();
  readonly samples: number[] = [];
  private abort: AbortController | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly rt: ResourceType,
    private readonly ns: string,
    private readonly valueOf: (o: KubeObject) => string | undefined,
  ) {}

  async start(): Promise<void> {
    const list = await this.client.list(this.rt, this.ns);
    for (const o of list.items) this.seen.set(o.metadata.name, this.valueOf(o));
    this.abort = await this.client.watch(
      resourcePath(this.rt, this.ns),
      { resourceVersion: list.metadata.resourceVersion },
      (_type, obj) => {
        const name = obj.metadata.name;
        const v = this.valueOf(obj);
        if (v === this.seen.get(name)) return;
        this.seen.set(name, v);
        const t0 = this.pending.get(name);
        if (t0 !== undefined) {
          this.samples.push(performance.now() - t0);
          this.pending.delete(name);
        }
      },
      () => undefined,
    );
  }

  stop(): void {
    this.abort?.abort();
  }
}

export const annotation = (key: string) => (o: KubeObject) => o.metadata.annotations?.[key];

export interface BaselinePatch {
  rt: ResourceType;
  name: string;
  patch: unknown;
}

/**
 * The baseline client, the floor for any controller on this apiserver: a watch on the Secrets
 * of a namespace and, for each event `react` maps to a patch, that one PATCH. Same client
 * library as annotary (KubeClient); no cache, no queue, no retries.
 */
export async function baselineClient(
  client: KubeClient,
  ns: string,
  react: (type: string, obj: KubeObject) => BaselinePatch | undefined,
): Promise<() => void> {
  const list = await client.list(Secrets, ns);
  const abort = await client.watch(
    resourcePath(Secrets, ns),
    { resourceVersion: list.metadata.resourceVersion },
    (type, obj) => {
      const p = react(type, obj);
      if (p) void client.patch(p.rt, ns, p.name, p.patch).catch(() => undefined);
    },
    () => undefined,
  );
  return () => abort.abort();
}

/**
 * One round of rotations: for each name, start the clock, apply `rotate(name)`, wait `gapMs`;
 * then wait until the observer saw every one. Returns the latencies (ms).
 */
export async function rotationRound(
  observer: Observer,
  names: string[],
  key: (name: string) => string,
  rotate: (name: string) => Promise<unknown>,
  gapMs = 50,
): Promise<number[]> {
  observer.samples.length = 0;
  for (const n of names) {
    observer.pending.set(key(n), performance.now());
    await rotate(n);
    await sleep(gapMs);
  }
  const deadline = Date.now() + 120_000;
  while (observer.pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`${observer.pending.size} rotations never observed`);
    await sleep(20);
  }
  return [...observer.samples];
}

/** `count` distinct random indexes below `n`. */
export function picks(n: number, count: number): number[] {
  const s = new Set<number>();
  while (s.size < Math.min(n, count)) s.add(Math.floor(Math.random() * n));
  return [...s];
}

// ---- controller processes -----------------------------------------------------------------

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system) the process and its ended children (a kubeconfig plugin, say) have used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) "
  // utime, stime, cutime, cstime: fields 14 to 17 of proc(5)
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / TICKS;
}

/** Queues empty and the reconcile count unchanged over one second. */
export async function drained(op: OperatorProcess): Promise<void> {
  let last = -1;
  await waitFor(
    'queues drained',
    async () => {
      const text = await op.metrics();
      const depth = sumMetric(text, 'annotary_queue_depth');
      const done = sumMetric(text, 'annotary_reconcile_total');
      const ok = depth === 0 && done === last;
      last = done;
      return ok;
    },
    300_000,
    1000,
  );
}

/** Resident set size (VmRSS of /proc/<pid>/status), bytes: one reading for any process, Node's or Go's. */
export function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/**
 * Node flags of the operator's process, before the image's own: BENCH_CPU_PROF (a folder) makes it
 * write its CPU profiles there; BENCH_NODE_FLAGS (space-separated) adds any, e.g. V8 heap settings to try.
 */
export const NODE_FLAGS = [
  ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
  ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
];

export interface Controller {
  proc: ChildProcess;
  stop(): Promise<unknown>;
}

/**
 * The client-go controller of bench/clientgo/main.go (BENCH_CLIENTGO: its binary, from
 * `hack/cluster.sh baseline`) on one namespace; resolves once it printed "ready" (caches synced).
 */
export async function startClientGo(ns: string, mode: 'keystores' | 'reload'): Promise<Controller> {
  const binary = process.env.BENCH_CLIENTGO ?? '';
  const proc = spawn(binary, ['-kubeconfig', KUBECONFIG, '-namespace', ns, '-mode', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => proc.on('exit', r));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
    proc.on('exit', (code) => reject(new Error(`client-go baseline exited with ${code}`)));
  });
  return {
    proc,
    stop: () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

// ---- apiserver metrics ----------------------------------------------------------------------

/**
 * PATCH + PUT requests counted by the apiserver itself, on the main resource unless `subresource`
 * (e.g. 'status'); `code`: only those answered so.
 */
export function apiserverWrites(resources: string[], code?: string, subresource = ''): number {
  const text = kubectl('get', '--raw', '/metrics');
  let n = 0;
  for (const resource of resources)
    for (const verb of ['PATCH', 'PUT'])
      n += sumMetric(text, 'apiserver_request_total', { verb, resource, subresource, ...(code ? { code } : {}) });
  return n;
}

/** Runs a benchmark's main: exit 0 when it printed its table, 1 with the error otherwise. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

// ---- report -----------------------------------------------------------------------------------

export interface Row {
  benchmark: string;
  measure: string;
  baseline: string;
  annotary: string;
  result: string;
  target: string;
  met: boolean | undefined;
}

/**
 * Latency against the same-run baseline: the p50 and p99 of each round, per system, and the
 * two table rows with the issues' targets (by default p50 ≤ 1.5×, p99 ≤ 3× of the baseline, median ratio).
 */
export class LatencyResults {
  private readonly by = { baseline: { p50: [] as number[], p99: [] as number[] }, annotary: { p50: [] as number[], p99: [] as number[] } };

  add(system: 'baseline' | 'annotary', samples: number[]): void {
    this.by[system].p50.push(pct(samples, 50));
    this.by[system].p99.push(pct(samples, 99));
  }

  rows(benchmark: string, measure: (k: 'p50' | 'p99') => string, limits = { p50: 1.5, p99: 3 }): Row[] {
    return (['p50', 'p99'] as const).map((k) => {
      const r = ratios(this.by.annotary[k], this.by.baseline[k]);
      const limit = limits[k];
      return {
        benchmark,
        measure: measure(k),
        baseline: mmm(this.by.baseline[k]),
        annotary: mmm(this.by.annotary[k]),
        result: mmm(r, 2, '×'),
        target: `≤ ${limit}×`,
        met: pct(r, 50) <= limit,
      };
    });
  }
}

export const machine = () =>
  `${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores), Node ${process.version}`;

export const HEADER =
  '| benchmark | measure | baseline | annotary | ratio or count (min / median / max) | target | met? |\n|---|---|---|---|---|---|---|';
export const rowLine = (r: Row) => {
  const met = r.met === undefined ? '—' : r.met ? 'yes' : '**no**';
  return `| ${r.benchmark} | ${r.measure} | ${r.baseline} | ${r.annotary} | ${r.result} | ${r.target} | ${met} |`;
};

/** With BENCH_ROWS set (hack/bench.sh), appends JSON lines there for the one table; prints a table either way. */
export function report(rows: Row[]): void {
  if (process.env.BENCH_ROWS) for (const r of rows) appendFileSync(process.env.BENCH_ROWS, `${JSON.stringify(r)}\n`);
  console.log(`${machine()}\n\n${HEADER}`);
  for (const r of rows) console.log(rowLine(r));
}
