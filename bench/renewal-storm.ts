// Benchmark: a renewal storm. N certificates (default 1,000, EC P-256) issued together by one
// generated CA, then renewed by annotary: Secret writes per issuance and per renewal (the target
// is 1 each), counted by the apiserver itself, and how the deterministic jitter spreads the
// renewals that issuance bunched together (renew-at = notAfter − renew-before − up to a tenth
// of renew-before). Absolute counts, no baseline; prints a markdown table; asserts nothing.
//
//   make cluster-up && npx tsc -p bench/tsconfig.json && node dist-bench/bench/renewal-storm.js
//   env: BENCH_CERTIFICATES (1000), BENCH_RENEW_BEFORE (60s: each renews about a minute after issuance)
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../src/kube/types.js';
import { Secrets } from '../src/kube/types.js';
import { adminClient, deleteNamespace, newNamespace, startOperator, waitFor } from '../e2e/harness/cluster.js';
import { apiserverWrites, median, report, seed, type Row } from './lib.js';

const N = Number(process.env.BENCH_CERTIFICATES ?? 1000);
const RENEW_BEFORE_S = Number((process.env.BENCH_RENEW_BEFORE ?? '60s').replace(/s$/, ''));
const DURATION_S = RENEW_BEFORE_S + 60;
type Annotated = KubeObject & { data?: Record<string, string> };

async function main(): Promise<void> {
  const client = adminClient();
  const ns = await newNamespace(client, 'bench-renew');
  const op = await startOperator(['--namespaces', ns, '--controllers', 'issuing']);
  const rows: Row[] = [];
  try {
    await client.create(Secrets, ns, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'ca', namespace: ns, annotations: { 'annotary.io/generate-ca': 'true', 'annotary.io/key-algorithm': 'ec-p256' } },
    });
    await waitFor('the generated CA', async () => (await client.get<Annotated>(Secrets, ns, 'ca')).data?.['tls.crt'], 60_000);
    const list = async () => (await client.list<Annotated>(Secrets, ns)).items.filter((s) => s.metadata.name.startsWith('c-'));
    const serials = (items: Annotated[]) => new Map(items.map((s) => [s.metadata.name, s.metadata.annotations?.['annotary.io/serial']]));

    const w0 = apiserverWrites(['secrets'], '200');
    const t0 = performance.now();
    await seed(client, Secrets, ns, 0, N, (i) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: `c-${i}`,
        namespace: ns,
        annotations: {
          'annotary.io/issuer': 'ca',
          'annotary.io/dns-names': `c-${i}.${ns}.svc`,
          'annotary.io/key-algorithm': 'ec-p256',
          'annotary.io/duration': `${DURATION_S}s`,
          'annotary.io/renew-before': `${RENEW_BEFORE_S}s`,
        },
      },
    }));
    const issued = await waitFor(
      `${N} certificates issued`,
      async () => {
        const items = await list();
        return items.length === N && items.every((s) => s.metadata.annotations?.['annotary.io/serial']) ? items : undefined;
      },
      600_000,
      1000,
    );
    const issueS = (performance.now() - t0) / 1000;
    const w1 = apiserverWrites(['secrets'], '200');
    const first = serials(issued);
    const renewAt = issued.map((s) => Date.parse(s.metadata.annotations!['annotary.io/renew-at']));
    const notAfter = issued.map((s) => Date.parse(s.metadata.annotations!['annotary.io/not-after']));
    await waitFor(
      `${N} certificates renewed`,
      async () => {
        const now = serials(await list());
        return [...first].every(([name, serial]) => now.get(name) && now.get(name) !== serial);
      },
      (RENEW_BEFORE_S + 600) * 1000,
      1000,
    );
    await new Promise((r) => setTimeout(r, 5000)); // anything else annotary would write, it writes now
    const w2 = apiserverWrites(['secrets'], '200');

    // the jitter: renew-at relative to notAfter − renew-before, and renewals per second
    const offsets = renewAt.map((r, i) => (notAfter[i] - RENEW_BEFORE_S * 1000 - r) / 1000);
    const perSecond = new Map<number, number>();
    for (const r of renewAt) perSecond.set(Math.floor(r / 1000), (perSecond.get(Math.floor(r / 1000)) ?? 0) + 1);
    const issuedPerSecond = new Map<number, number>();
    for (const n of notAfter) issuedPerSecond.set(Math.floor(n / 1000), (issuedPerSecond.get(Math.floor(n / 1000)) ?? 0) + 1);
    const maxOf = (m: Map<number, number>) => Math.max(...m.values());
    rows.push(
      {
        benchmark: `issuance of ${N} certificates (EC P-256, one generated CA)`,
        measure: 'Secret writes (PATCH/PUT, apiserver count; the creates are the seed) per certificate · time to all issued',
        baseline: '—',
        annotary: `${w1 - w0} writes for ${N} issuances · ${issueS.toFixed(1)} s`,
        result: ((w1 - w0) / N).toFixed(2),
        target: '1 write each',
        met: w1 - w0 === N,
      },
      {
        benchmark: `renewal storm (${N} certificates renewing together)`,
        measure: 'Secret writes per renewal (apiserver count)',
        baseline: '—',
        annotary: `${w2 - w1} writes for ${N} renewals`,
        result: ((w2 - w1) / N).toFixed(2),
        target: '1 write each',
        met: w2 - w1 === N,
      },
      {
        benchmark: `renewal storm (${N} certificates renewing together)`,
        measure: `jitter: renew-at before notAfter − renew-before (s, min / median / max); most in one second, issued vs renewing`,
        baseline: `${maxOf(issuedPerSecond)} notAfter in one second`,
        annotary: `${Math.min(...offsets).toFixed(1)} / ${median(offsets).toFixed(1)} / ${Math.max(...offsets).toFixed(1)} s`,
        result: `${maxOf(perSecond)} renewals in one second, over ${perSecond.size} seconds`,
        target: '— (spread ≤ a tenth of renew-before)',
        met: undefined,
      },
    );
  } finally {
    await op.stop();
    await deleteNamespace(client, ns);
  }
  report(rows);
}

await main();
