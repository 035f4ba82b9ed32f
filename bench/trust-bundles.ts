// Benchmark: one source change of a trust bundle fanned out to N namespaces (default 500):
// from the PATCH of the source Secret to every copy holding the new bundle, and the writes
// that took (the apiserver's own count of PATCHes on configmaps: exactly N copies + the
// bundle itself). The baseline, in the same run: a bare client that, on the source's watch
// event, PATCHes N ConfigMaps of its own with the new PEM (32 in flight; no parsing, sorting,
// cache or ownership checks): the floor for fanning one value out to N namespaces here.
// Both are measured by the same observer (a cluster-wide watch on ConfigMaps of one name).
//
//   make cluster-up && npx tsc -p bench/tsconfig.json && node dist-bench/bench/trust-bundles.js
//   env: BENCH_NAMESPACES (500), BENCH_REPEATS (3)
import { performance } from 'node:perf_hooks';
import type { KubeClient } from '../src/kube/client.js';
import type { KubeObject } from '../src/kube/types.js';
import { ConfigMaps, Namespaces, Secrets } from '../src/kube/types.js';
import { canonicalBundle } from '../src/pki/bundle.js';
import { adminClient, deleteNamespace, newNamespace, startOperator, waitFor } from '../e2e/harness/cluster.js';
import { chainFixture } from '../test/pki/fixtures.js';
import { apiserverWrites, inParallel, median, mmm, ratios, report, runBench } from './lib.js';

const N = Number(process.env.BENCH_NAMESPACES ?? 500);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const RUN = `${process.pid}`;
const LABEL = 'bench-trust';
const BUNDLE = 'trust';
const BASELINE = 'baseline-trust';
/** the CAs the source rotates through (each rotation: a new set of certificates) */
const CAS = ['p256', 'p384', 'rsa2048'].flatMap((k) => [chainFixture(k as 'p256', 'main').root, chainFixture(k as 'p256', 'rotated').root]);

type ConfigMap = KubeObject & { data?: Record<string, string> };

/** Resolves once every one of `namespaces` holds ConfigMap `name` with `key` = `value` (a cluster-wide watch). */
async function converged(
  client: KubeClient,
  name: string,
  key: string,
  value: string,
  namespaces: Set<string>,
): Promise<() => Promise<void>> {
  const done = new Set<string>();
  let resolve!: () => void;
  const all = new Promise<void>((r) => (resolve = r));
  const check = (o: ConfigMap) => {
    const ns = o.metadata.namespace ?? '';
    if (namespaces.has(ns) && o.data?.[key] === value) done.add(ns);
    else done.delete(ns);
    if (done.size === namespaces.size) resolve();
  };
  const list = await client.list<ConfigMap>(ConfigMaps, undefined, { fieldSelector: `metadata.name=${name}` });
  for (const o of list.items) check(o);
  const abort = await client.watch(
    '/api/v1/configmaps',
    { fieldSelector: `metadata.name=${name}`, resourceVersion: list.metadata.resourceVersion },
    (_t, o) => check(o),
    () => undefined,
  );
  return async () => {
    await all;
    abort.abort();
  };
}

async function main(): Promise<void> {
  const client = adminClient();
  const src = await newNamespace(client, 'bench-tb-src');
  const t0 = performance.now();
  const targets: string[] = [];
  await inParallel(
    Array.from({ length: N }, (_, i) => i),
    32,
    async () => {
      const ns = await newNamespace(client, 'bench-tb');
      await client.patch(Namespaces, undefined, ns, { metadata: { labels: { [LABEL]: RUN } } });
      targets.push(ns);
    },
  );
  const targetSet = new Set(targets);
  console.error(`created ${N} labelled namespaces in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const rotateTo = (i: number) =>
    client.patch(Secrets, src, 'issuer', { data: { 'ca.crt': Buffer.from(CAS[i % CAS.length]).toString('base64') } });
  const rows = {
    baselineS: [] as number[],
    annotaryS: [] as number[],
    writes: [] as number[],
    ok: [] as number[],
    baselineWrites: [] as number[],
  };
  try {
    await client.create(Secrets, src, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'issuer', namespace: src }, data: {} });

    // the baseline: the source's watch event → N PATCHes of its own ConfigMaps
    await inParallel(targets, 32, (ns) =>
      client.create(ConfigMaps, ns, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: BASELINE, namespace: ns }, data: {} }),
    );
    const list = await client.list(Secrets, src);
    const stopBaseline = await client.watch(
      `/api/v1/namespaces/${src}/secrets`,
      { resourceVersion: list.metadata.resourceVersion },
      (type, o) => {
        const pem = Buffer.from(((o as ConfigMap).data ?? {})['ca.crt'] ?? '', 'base64').toString();
        if (type !== 'MODIFIED' || !pem) return;
        void inParallel(targets, 32, (ns) => client.patch(ConfigMaps, ns, BASELINE, { data: { 'ca-bundle.crt': pem } }));
      },
      (err) => err && console.error('the baseline watch ended:', err),
    );
    for (let r = 0; r < REPEATS; r++) {
      const wait = await converged(client, BASELINE, 'ca-bundle.crt', CAS[r % CAS.length], targetSet);
      const w0 = apiserverWrites(['configmaps']);
      const start = performance.now();
      await rotateTo(r);
      await wait();
      rows.baselineS.push((performance.now() - start) / 1000);
      rows.baselineWrites.push(apiserverWrites(['configmaps']) - w0);
    }
    stopBaseline.abort();

    // annotary: the bundle in src, copies in every labelled namespace
    const op = await startOperator(['--controllers', 'trust-bundles', '--log-level', 'warn']);
    try {
      await rotateTo(REPEATS); // a value the bundle starts from
      const first = canonicalBundle([{ pem: CAS[REPEATS % CAS.length], what: '' }]);
      const onboarded = await converged(client, BUNDLE, 'ca-bundle.crt', first, targetSet);
      await client.create(ConfigMaps, src, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: BUNDLE,
          namespace: src,
          annotations: { 'annotary.io/trust-bundle': `secret/${src}/issuer`, 'annotary.io/trust-bundle-namespaces': `${LABEL}=${RUN}` },
        },
      });
      await onboarded();
      await waitFor('queues drained', async () => (await op.metric('annotary_queue_depth')) === 0, 60_000);
      for (let r = 0; r < REPEATS; r++) {
        const i = REPEATS + 1 + r;
        const wait = await converged(client, BUNDLE, 'ca-bundle.crt', canonicalBundle([{ pem: CAS[i % CAS.length], what: '' }]), targetSet);
        const w0 = apiserverWrites(['configmaps']);
        const ok0 = apiserverWrites(['configmaps'], '200');
        const start = performance.now();
        await rotateTo(i);
        await wait();
        rows.annotaryS.push((performance.now() - start) / 1000);
        await waitFor('queues drained', async () => (await op.metric('annotary_queue_depth')) === 0, 60_000);
        rows.writes.push(apiserverWrites(['configmaps']) - w0);
        rows.ok.push(apiserverWrites(['configmaps'], '200') - ok0);
      }
      const m = await op.metrics();
      console.error(
        m
          .split('\n')
          .filter((l) => /^annotary_(write_conflicts_total|writes_total|writes_rejected_total|queue_retries_total)/.test(l))
          .join('\n'),
      );
    } finally {
      await op.stop();
    }
  } finally {
    for (const ns of [src, ...targets]) await deleteNamespace(client, ns);
  }
  const copies = rows.ok.map((w) => w - 1); // the bundle's own patch is one of them
  const refused = rows.writes.map((w, i) => w - rows.ok[i]);
  report([
    {
      benchmark: `trust-bundle fan-out (${N} namespaces)`,
      measure: 'source Secret PATCH → every copy holds the new bundle, s (baseline: bare watch → N PATCHes)',
      baseline: mmm(rows.baselineS, 2),
      annotary: mmm(rows.annotaryS, 2),
      result: mmm(ratios(rows.annotaryS, rows.baselineS), 2, '×'),
      target: '≤ 2×',
      met: median(ratios(rows.annotaryS, rows.baselineS)) <= 2,
    },
    {
      benchmark: `trust-bundle fan-out (${N} namespaces)`,
      measure: "PATCH on configmaps answered 200 per source change (apiserver's count): the copies, besides the bundle's own",
      baseline: mmm(rows.baselineWrites),
      annotary: mmm(copies),
      result: mmm(copies),
      target: `${N} (1 per copy)`,
      met: copies.every((c) => c === N),
    },
    {
      benchmark: `trust-bundle fan-out (${N} namespaces)`,
      measure: '… answered otherwise (409 Conflict: a precondition met a newer object, retried)',
      baseline: '—',
      annotary: mmm(refused),
      result: mmm(refused),
      target: '—',
      met: undefined,
    },
  ]);
}

runBench(main);
