// Benchmark (#20): annotary against a client-go controller doing the smallest version of the
// same job (bench/clientgo/main.go: SharedInformers + workqueue, one digest patch per change,
// no keystore built; built from the Debian kubernetes source by `hack/cluster.sh baseline`), in
// one run on the local control plane:
//   - keystores: N Secrets annotated `annotary.io/keystores: jks`; annotary builds real JKS stores,
//     client-go patches the PEM's digest onto the Secret. A rotation is a renewal, as cert-manager
//     makes them: a new EC P-256 key and leaf under the same CA (ca.crt unchanged), each one
//     distinct (made before the rounds), so no cache can answer a rotation from an earlier one;
//   - reload: N Deployments each reloading on its own Secret; both patch the pod template.
// Per system and job: time and CPU from process start until every object got its first write
// (onboarding), then ROUNDS rounds of ROTATIONS rotations: latency p50/p99 per round (the
// shared Observer of lib.ts) and CPU per 100 rotations (utime + stime from /proc/<pid>/stat,
// so only the controller's own process counts). Asserts nothing.
//
//   make cluster-up && npx tsc -p bench/tsconfig.json && BENCH_CLIENTGO=$(bash hack/cluster.sh baseline) \
//     node dist-bench/bench/vs-clientgo.js
//   env: BENCH_CLIENTGO (the baseline binary), BENCH_OBJECTS (1000), BENCH_ROTATIONS per round (100), BENCH_ROUNDS (3),
//   BENCH_JOBS (keystores,reload), BENCH_CPU_PROF (a folder: annotary runs with --cpu-prof, its profiles land there), BENCH_NODE_FLAGS (node
//   flags of annotary's process, e.g. V8 heap settings),
//   BENCH_ANNOTARY_FLAGS (more flags of annotary run, space-separated, e.g. --events=warnings)
import { createPublicKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { KubeClient } from '../src/kube/client.js';
import type { KubeObject, ResourceType } from '../src/kube/types.js';
import { Deployments, Secrets } from '../src/kube/types.js';
import { generateKey, issueCertificate, selfSignedCa } from '../src/pki/x509.js';
import { adminClient, deleteNamespace, newNamespace, startOperator, waitFor } from '../e2e/harness/cluster.js';
import {
  LatencyResults,
  NODE_FLAGS,
  Observer,
  annotation,
  cpuSeconds,
  keystoreSecret,
  mmm,
  pct,
  picks,
  randomB64,
  ratios,
  report,
  rotationRound,
  seed,
  seedReload,
  startClientGo,
  templateAnnotation,
  type Controller,
  type Row,
  runBench,
} from './lib.js';

const N = Number(process.env.BENCH_OBJECTS ?? 1000);
const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BASELINE_KEY = 'bench.annotary.io/baseline-hash';
const ONLY = (process.env.BENCH_JOBS ?? 'keystores,reload').split(',');
const FLAGS = (process.env.BENCH_ANNOTARY_FLAGS ?? '').split(' ').filter(Boolean);

interface Job {
  name: string;
  rt: ResourceType;
  /** the value each system writes, read by the observer */
  written: { annotary: (o: KubeObject) => string | undefined; clientgo: (o: KubeObject) => string | undefined };
  seed(client: KubeClient, ns: string): Promise<unknown>;
  /** rotation i: the object whose change is observed, and the change */
  rotate(client: KubeClient, ns: string, i: number): Promise<unknown>;
  observed: (i: number) => string;
  annotary: (ns: string) => Promise<Controller>;
}

const DAY = 86_400_000;
const CA = (async () => {
  const keyPem = await generateKey('ec-p256');
  const now = Date.now();
  return {
    keyPem,
    certPem: await selfSignedCa(keyPem, 'bench CA', { notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) }),
  };
})();
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A fresh key and leaf from CA: the data of a renewed TLS Secret. */
async function renewal(i: number): Promise<Record<string, string>> {
  const ca = await CA;
  const keyPem = await generateKey('ec-p256');
  const spki = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  const now = Date.now();
  const profile = { notBefore: new Date(now - DAY), notAfter: new Date(now + 90 * DAY), usages: ['server' as const] };
  const certPem = await issueCertificate(spki, { commonName: `s-${i}`, dnsNames: [`s-${i}.bench.svc`], ipAddresses: [] }, profile, ca);
  return { 'tls.crt': b64(certPem), 'tls.key': b64(keyPem), 'ca.crt': b64(ca.certPem) };
}
let renewals: Record<string, string>[] = [];
const JOBS: Job[] = [
  {
    name: 'keystores',
    rt: Secrets,
    written: { annotary: annotation('annotary.io/source-hash'), clientgo: annotation(BASELINE_KEY) },
    seed: async (client, ns) => {
      const initial = await Promise.all(Array.from({ length: N }, (_, i) => renewal(i)));
      renewals = await Promise.all(Array.from({ length: ROUNDS * ROTATIONS }, (_, i) => renewal(i)));
      return seed(client, Secrets, ns, 0, N, (i) => ({ ...keystoreSecret(ns, i), data: initial[i] }));
    },
    rotate: (client, ns, i) => client.patch(Secrets, ns, `s-${i}`, { data: renewals.pop() }),
    observed: (i) => `s-${i}`,
    annotary: (ns) =>
      startOperator(['--namespaces', ns, '--controllers', 'keystores', '--log-level', 'warn', ...FLAGS], {}, undefined, NODE_FLAGS),
  },
  {
    name: 'reload',
    rt: Deployments,
    written: { annotary: templateAnnotation('annotary.io/config-hash'), clientgo: templateAnnotation(BASELINE_KEY) },
    seed: (client, ns) => seedReload(client, ns, N),
    rotate: (client, ns, i) => client.patch(Secrets, ns, `s-${i}`, { data: { v: randomB64() } }),
    observed: (i) => `d-${i}`,
    // settle window 0 so both measure the same thing (the default window coalesces bursts by design)
    annotary: (ns) =>
      startOperator(
        ['--namespaces', ns, '--controllers', 'reload', '--reload-settle', '0s', '--log-level', 'warn', ...FLAGS],
        {},
        undefined,
        NODE_FLAGS,
      ),
  },
];

interface Measured {
  onboardS: number;
  onboardCpuS: number;
  /** CPU seconds per 100 rotations, per round */
  cpuPer100: number[];
}

/** Starts one system on fresh objects, waits for onboarding, runs the rounds. */
async function measure(client: KubeClient, job: Job, system: 'annotary' | 'clientgo', latency: LatencyResults): Promise<Measured> {
  const ns = await newNamespace(client, `bench-vs-${job.name}`);
  try {
    await job.seed(client, ns);
    const written = job.written[system];
    // onboarding is measured on the annotary side from an object written with the annotary
    // keys, once: the reload record is metadata, the pod template changes only on a rotation
    const onboarded = job.name === 'reload' && system === 'annotary' ? annotation('annotary.io/observed-config-hash') : written;
    const t0 = performance.now();
    const ctl = system === 'annotary' ? await job.annotary(ns) : await startClientGo(ns, job.name as 'keystores' | 'reload');
    try {
      await waitFor(
        `${system} onboarding every ${job.rt.kind}`,
        async () => (await client.list(job.rt, ns)).items.filter((o) => onboarded(o) !== undefined).length >= N,
        600_000,
        200,
      );
      const onboardS = (performance.now() - t0) / 1000;
      const onboardCpuS = cpuSeconds(ctl.proc.pid!);
      console.error(`${job.name}/${system}: onboarded ${N} in ${onboardS.toFixed(1)} s, ${onboardCpuS.toFixed(2)} CPU s`);
      const obs = new Observer(client, job.rt, ns, written);
      await obs.start();
      const cpuPer100: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const ids = picks(N, ROTATIONS);
        const before = cpuSeconds(ctl.proc.pid!);
        const samples = await rotationRound(
          obs,
          ids.map(String),
          (i) => job.observed(Number(i)),
          (i) => job.rotate(client, ns, Number(i)),
        );
        cpuPer100.push(((cpuSeconds(ctl.proc.pid!) - before) / ids.length) * 100);
        latency.add(system === 'annotary' ? 'annotary' : 'baseline', samples);
      }
      obs.stop();
      return { onboardS, onboardCpuS, cpuPer100 };
    } finally {
      await ctl.stop();
    }
  } finally {
    await deleteNamespace(client, ns);
  }
}

const row = (benchmark: string, measure: string, annotary: number[], clientgo: number[], limit: number, unit: string): Row => {
  const r = ratios(annotary, clientgo);
  return {
    benchmark,
    measure,
    baseline: mmm(clientgo, 2, unit),
    annotary: mmm(annotary, 2, unit),
    result: mmm(r, 2, '×'),
    target: `≤ ${limit}×`,
    met: pct(r, 50) <= limit,
  };
};

async function main(): Promise<void> {
  if (!process.env.BENCH_CLIENTGO)
    throw new Error('BENCH_CLIENTGO: the client-go baseline binary (bash hack/cluster.sh baseline prints it)');
  const client = adminClient();
  const rows: Row[] = [];
  for (const job of JOBS.filter((j) => ONLY.includes(j.name))) {
    const latency = new LatencyResults();
    const cg = await measure(client, job, 'clientgo', latency);
    const an = await measure(client, job, 'annotary', latency);
    const what = `${job.name} vs client-go (${N} ${job.rt.kind}s${FLAGS.length ? `, annotary ${FLAGS.join(' ')}` : ''})`;
    rows.push(...latency.rows(what, (k) => `rotation → written, ${k} ms`, { p50: 1.0, p99: 1.5 }));
    rows.push(row(what, 'controller CPU per 100 rotations, s', an.cpuPer100, cg.cpuPer100, 1.5, ' s'));
    rows.push(row(what, 'first start → every object written, s', [an.onboardS], [cg.onboardS], 1.2, ' s'));
    rows.push(row(what, 'controller CPU, first start → every object written, s', [an.onboardCpuS], [cg.onboardCpuS], 1.2, ' s'));
  }
  report(rows);
}

runBench(main);
