// Benchmark: annotary's in-process store builder vs. the usual shell pipeline
// (`openssl pkcs12 -export` + `keytool -importkeystore` + `keytool -importcert` x2) producing
// the same four files: keystore.jks, keystore.p12, truststore.jks, truststore.p12.
//
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/keystores.js [annotaryIterations] [pipelineIterations]
//   env: BENCH_REPEATS (3): repeats of the whole measurement, reported as min / median / max
//
// Prints a markdown table. Timing uses the monotonic clock; nothing here asserts on it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildStores } from '../src/pki/stores.js';
import { chainFixture, type KeyKind } from '../test/pki/fixtures.js';
import { median, mmm, ratios, report, type Row } from './lib.js';

const PASSWORD = 'bench-password';
const STORES_PER_SET = 4;
const annotaryIterations = Number(process.argv[2] ?? 100);
const pipelineIterations = Number(process.argv[3] ?? 10);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

function timeIt(iterations: number, fn: (i: number) => void): number {
  fn(-1); // warm-up: JIT for annotary, page cache and JVM CDS archive for the pipeline
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn(i);
  return (performance.now() - start) / 1000;
}

function pipeline(work: string, f: ReturnType<typeof chainFixture>, i: number): void {
  const out = mkdtempSync(path.join(work, `run${i}-`));
  const o = (n: string) => path.join(out, n);
  const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'ignore' });
  sh('openssl', [
    'pkcs12',
    '-export',
    '-in',
    path.join(f.dir, 'leaf.crt'),
    '-certfile',
    path.join(f.dir, 'int.crt'),
    '-inkey',
    path.join(f.dir, 'leaf.key'),
    '-name',
    'alias',
    '-passout',
    `pass:${PASSWORD}`,
    '-out',
    o('keystore.p12'),
  ]);
  sh('keytool', [
    '-importkeystore',
    '-noprompt',
    '-srckeystore',
    o('keystore.p12'),
    '-srcstoretype',
    'PKCS12',
    '-srcstorepass',
    PASSWORD,
    '-destkeystore',
    o('keystore.jks'),
    '-deststoretype',
    'JKS',
    '-deststorepass',
    PASSWORD,
  ]);
  for (const [file, type] of [
    ['truststore.jks', 'JKS'],
    ['truststore.p12', 'PKCS12'],
  ]) {
    sh('keytool', [
      '-importcert',
      '-noprompt',
      '-alias',
      'alias0',
      '-file',
      path.join(f.dir, 'root.crt'),
      '-keystore',
      o(file),
      '-storetype',
      type,
      '-storepass',
      PASSWORD,
    ]);
  }
}

function main(): void {
  const work = mkdtempSync(path.join(os.tmpdir(), 'annotary-bench-'));
  const rows: Row[] = [];
  try {
    for (const [label, kind] of [
      ['RSA 2048, chain of 2', 'rsa2048'],
      ['EC P-256, chain of 2', 'p256'],
    ] as [string, KeyKind][]) {
      const f = chainFixture(kind);
      const input = {
        certPem: f.certPem(2),
        keyPem: f.keyPkcs8,
        caPem: f.ca,
        password: PASSWORD,
        alias: 'alias',
        formats: ['jks', 'pkcs12'] as ('jks' | 'pkcs12')[],
      };
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const o = timeIt(annotaryIterations, () => {
          if (Object.keys(buildStores(input).files).length !== STORES_PER_SET) throw new Error('expected four stores');
        });
        const t = timeIt(pipelineIterations, (i) => pipeline(work, f, r * 1000 + i));
        ours.push((annotaryIterations * STORES_PER_SET) / o);
        theirs.push((pipelineIterations * STORES_PER_SET) / t);
      }
      const ratio = ratios(ours, theirs);
      rows.push({
        benchmark: `keystore build throughput (${label})`,
        measure: 'stores/s, in process vs. openssl + keytool',
        baseline: mmm(theirs, 2),
        annotary: mmm(ours, 1),
        result: mmm(ratio, 0, '×'),
        target: '≥ 50×',
        met: median(ratio) >= 50,
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  report(rows);
}

main();
