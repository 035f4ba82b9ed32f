// Benchmark: rotation of a Secret → pod template patched, at N Deployments (default 1,000),
// annotary's reload controller vs. a bare watch→patch baseline client built on the same
// client library (no cache, no digest, no queue: the floor for any controller on this
// apiserver). Both are measured in the same run, against the local control plane, by the
// same observer (a watch on the Deployments). Prints a markdown table; asserts nothing.
//
//   make cluster-up && npx tsc -p bench/tsconfig.json && node dist-bench/bench/reload.js
//   env: BENCH_WORKLOADS (1000), BENCH_ROTATIONS per round (100), BENCH_ROUNDS (3)
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { KubeClient } from '../src/kube/client.js';
import type { KubeObject } from '../src/kube/types.js';
import { Deployments, Secrets, resourcePath } from '../src/kube/types.js';
import { adminClient, deleteNamespace, newNamespace, startOperator, waitFor } from '../e2e/harness/cluster.js';

const N = Number(process.env.BENCH_WORKLOADS ?? 1000);
const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BASELINE_KEY = 'bench.annotary.io/baseline-hash';
const ANNOTARY_KEY = 'annotary.io/config-hash';

type Deployment = KubeObject & { spec: { template: { metadata?: { annotations?: Record<string, string> } } } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const b64 = () => randomBytes(24).toString('base64');

async function inParallel<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < items.length) await fn(items[next++]!); }));
}

async function seed(client: KubeClient, ns: string): Promise<void> {
  const ids = Array.from({ length: N }, (_, i) => i);
  await inParallel(ids, 16, (i) => client.create(Secrets, ns, { apiVersion: 'v1', kind: 'Secret', metadata: { name: `s-${i}`, namespace: ns }, data: { v: b64() } }));
  await inParallel(ids, 16, (i) => client.create(Deployments, ns, {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: `d-${i}`, namespace: ns, annotations: { 'annotary.io/reload-on-secrets': `s-${i}` } },
    spec: {
      replicas: 0, selector: { matchLabels: { app: `d-${i}` } },
      template: {
        metadata: { labels: { app: `d-${i}` } },
        spec: { containers: [{ name: 'app', image: 'app:1', volumeMounts: [{ name: 's', mountPath: '/s' }] }], volumes: [{ name: 's', secret: { secretName: `s-${i}` } }] },
      },
    },
  }));
}

/** Watches Deployments and resolves a pending rotation when its pod-template annotation changes. */
class Observer {
  private readonly seen = new Map<string, string | undefined>();
  readonly pending = new Map<string, number>();
  readonly samples: number[] = [];
  private abort: AbortController | undefined;

  constructor(private readonly client: KubeClient, private readonly ns: string, private readonly key: string) {}

  async start(): Promise<void> {
    const list = await this.client.list<Deployment>(Deployments, this.ns);
    for (const d of list.items) this.seen.set(d.metadata.name, d.spec.template.metadata?.annotations?.[this.key]);
    this.abort = await this.client.watch(resourcePath(Deployments, this.ns), { resourceVersion: list.metadata.resourceVersion }, (_type, obj) => {
      const name = obj.metadata.name;
      const v = (obj as Deployment).spec?.template?.metadata?.annotations?.[this.key];
      if (v === this.seen.get(name)) return;
      this.seen.set(name, v);
      const t0 = this.pending.get(name);
      if (t0 !== undefined) { this.samples.push(performance.now() - t0); this.pending.delete(name); }
    }, () => undefined);
  }

  stop(): void { this.abort?.abort(); }
}

/** The baseline: on every Secret change, patch its Deployment's pod template. Nothing else. */
async function baselineClient(client: KubeClient, ns: string): Promise<() => void> {
  const list = await client.list(Secrets, ns);
  const abort = await client.watch(resourcePath(Secrets, ns), { resourceVersion: list.metadata.resourceVersion }, (type, obj) => {
    if (type !== 'MODIFIED') return;
    const i = obj.metadata.name.slice(2);
    void client.patch(Deployments, ns, `d-${i}`, { spec: { template: { metadata: { annotations: { [BASELINE_KEY]: obj.metadata.resourceVersion } } } } }).catch(() => undefined);
  }, () => undefined);
  return () => abort.abort();
}

/** One round: ROTATIONS distinct Secrets rotated 50 ms apart; latency per rotation. */
async function round(client: KubeClient, ns: string, observer: Observer): Promise<number[]> {
  observer.samples.length = 0;
  const picks = new Set<number>();
  while (picks.size < Math.min(ROTATIONS, N)) picks.add(Math.floor(Math.random() * N));
  for (const i of picks) {
    observer.pending.set(`d-${i}`, performance.now());
    await client.patch(Secrets, ns, `s-${i}`, { data: { v: b64() } });
    await sleep(50);
  }
  await waitFor('all rotations observed', () => observer.pending.size === 0, 120_000, 50);
  return [...observer.samples];
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!; };
const median = (xs: number[]) => pct(xs, 50);
const fmt = (xs: number[]) => `${Math.min(...xs).toFixed(0)} / ${median(xs).toFixed(0)} / ${Math.max(...xs).toFixed(0)}`;

async function main(): Promise<void> {
  const client = adminClient();
  const ns = await newNamespace(client, 'bench-reload');
  const t0 = performance.now();
  await seed(client, ns);
  console.error(`seeded ${N} Secrets + ${N} Deployments in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const results: Record<'baseline' | 'annotary', { p50: number[]; p99: number[] }> = { baseline: { p50: [], p99: [] }, annotary: { p50: [], p99: [] } };
  try {
    // baseline rounds
    const stopBaseline = await baselineClient(client, ns);
    const obsB = new Observer(client, ns, BASELINE_KEY);
    await obsB.start();
    for (let r = 0; r < ROUNDS; r++) {
      const s = await round(client, ns, obsB);
      results.baseline.p50.push(pct(s, 50)); results.baseline.p99.push(pct(s, 99));
    }
    obsB.stop(); stopBaseline();
    // annotary rounds: settle window 0 so both measure the same thing (the default 3 s window
    // exists to coalesce bursts and adds its length by design)
    const op = await startOperator(['--namespaces', ns, '--controllers', 'reload', '--reload-settle', '0s', '--log-level', 'warn']);
    try {
      await waitFor('onboarding of every Deployment', async () => {
        const list = await client.list<Deployment>(Deployments, ns);
        return list.items.every((d) => d.metadata.annotations?.['annotary.io/observed-config-hash']);
      }, 300_000, 500);
      const obsA = new Observer(client, ns, ANNOTARY_KEY);
      await obsA.start();
      for (let r = 0; r < ROUNDS; r++) {
        const s = await round(client, ns, obsA);
        results.annotary.p50.push(pct(s, 50)); results.annotary.p99.push(pct(s, 99));
      }
      obsA.stop();
      const rss = await op.metric('annotary_process_resident_memory_bytes');
      console.error(`annotary RSS after the run: ${(rss / 1048576).toFixed(0)} MiB`);
    } finally {
      await op.stop();
    }
  } finally {
    await deleteNamespace(client, ns);
  }
  const ratio = (k: 'p50' | 'p99') => results.annotary[k].map((a, i) => a / results.baseline[k][i]!);
  console.log(`Reload latency: Secret rotation → pod template patched, ${N} Deployments, ${ROUNDS} rounds × ${ROTATIONS} rotations — ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model} (${os.cpus().length} cores), Node ${process.version}`);
  console.log('');
  console.log('| measure | baseline ms (min / median / max of rounds) | annotary ms (min / median / max) | ratio (min / median / max) | target |');
  console.log('|---|---|---|---|---|');
  for (const k of ['p50', 'p99'] as const) {
    const r = ratio(k);
    console.log(`| ${k} | ${fmt(results.baseline[k])} | ${fmt(results.annotary[k])} | ${Math.min(...r).toFixed(2)} / ${median(r).toFixed(2)} / ${Math.max(...r).toFixed(2)}× | ${k === 'p50' ? '≤ 1.5×' : '≤ 3×'} |`);
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
