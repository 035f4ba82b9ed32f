// Benchmark: issuing a certificate in process (a new key, a leaf signed by a CA, src/pki/x509.ts)
// vs. the usual shell pipeline doing the same job (`openssl req -newkey` for the key and CSR,
// `openssl x509 -req` to sign it with the CA, with the same SANs and usages as an extension file).
// EC P-256 is the target (≥ 20×); RSA 2048 is stated, dominated by key generation (both sides
// search for primes, which no pipeline or library avoids).
//
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/issuance.js [annotaryIterations] [pipelineIterations]
//   env: BENCH_REPEATS (3): repeats of the whole measurement, reported as min / median / max
//
// Prints a markdown table. Timing uses the monotonic clock; nothing here asserts on it.
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import 'reflect-metadata';
import type { KeyAlgorithm } from '../src/pki/x509.js';
import { generateKey, issueCertificate, selfSignedCa } from '../src/pki/x509.js';
import { median, mmm, ratios, report, type Row } from './lib.js';

const annotaryIterations = Number(process.argv[2] ?? 200);
const pipelineIterations = Number(process.argv[3] ?? 20);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const DAY = 86_400_000;
const SUBJECT = { commonName: 'web.apps.svc', dnsNames: ['web.apps.svc', 'web.apps.svc.cluster.local'], ipAddresses: [] };

async function timeIt(iterations: number, fn: (i: number) => Promise<void> | void): Promise<number> {
  await fn(-1); // warm-up: JIT in process, page cache for the pipeline
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await fn(i);
  return (performance.now() - start) / 1000;
}

const OPENSSL_NEWKEY: Record<string, string[]> = {
  'ec-p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'rsa-2048': ['-newkey', 'rsa:2048'],
};

function pipeline(work: string, algorithm: string, i: number): void {
  const o = (n: string) => path.join(work, `${i}-${n}`);
  const sh = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  sh([
    'req',
    '-new',
    ...OPENSSL_NEWKEY[algorithm],
    '-nodes',
    '-keyout',
    o('tls.key'),
    '-subj',
    `/CN=${SUBJECT.commonName}`,
    '-out',
    o('req.csr'),
  ]);
  sh([
    'x509',
    '-req',
    '-in',
    o('req.csr'),
    '-CA',
    path.join(work, 'ca.crt'),
    '-CAkey',
    path.join(work, 'ca.key'),
    '-set_serial',
    String(1000 + i),
    '-days',
    '90',
    '-extfile',
    path.join(work, 'ext.cnf'),
    '-out',
    o('tls.crt'),
  ]);
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'annotary-bench-issue-'));
  const rows: Row[] = [];
  try {
    const now = Date.now();
    const caKey = await generateKey('ec-p256');
    const ca = {
      certPem: await selfSignedCa(caKey, 'bench CA', { notBefore: new Date(now), notAfter: new Date(now + 365 * DAY) }),
      keyPem: caKey,
    };
    writeFileSync(path.join(work, 'ca.crt'), ca.certPem);
    writeFileSync(path.join(work, 'ca.key'), caKey);
    writeFileSync(
      path.join(work, 'ext.cnf'),
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n` +
        `extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${SUBJECT.dnsNames.map((d) => `DNS:${d}`).join(',')}\n`,
    );
    for (const [label, algorithm, iterations, target] of [
      ['EC P-256', 'ec-p256', annotaryIterations, 20],
      ['RSA 2048', 'rsa-2048', Math.max(5, Math.round(annotaryIterations / 10)), undefined],
    ] as [string, KeyAlgorithm, number, number | undefined][]) {
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const o = await timeIt(iterations, async () => {
          const key = await generateKey(algorithm);
          const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
          const profile = {
            notBefore: new Date(now),
            notAfter: new Date(now + 90 * DAY),
            usages: ['server', 'client'] as ('server' | 'client')[],
          };
          await issueCertificate(spki, SUBJECT, profile, ca);
        });
        const t = await timeIt(pipelineIterations, (i) => pipeline(work, algorithm, r * 10_000 + i));
        ours.push(iterations / o);
        theirs.push(pipelineIterations / t);
      }
      const ratio = ratios(ours, theirs);
      rows.push({
        benchmark: `issuance throughput (${label} key + leaf signed by an EC CA)`,
        measure: 'certificates/s, in process vs. openssl req + openssl x509',
        baseline: mmm(theirs, 1),
        annotary: mmm(ours, 1),
        result: mmm(ratio, 1, '×'),
        target: target === undefined ? 'stated (key generation dominates)' : `≥ ${target}×`,
        met: target === undefined ? undefined : median(ratio) >= target,
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  report(rows);
}

await main();
