// The image recipe: multi-stage, runs as non-root, copies no secrets, starts the bin of package.json.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers.js';

const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const lines = dockerfile
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = lines.reduce<string[][]>((acc, l) => (/^FROM\s/i.test(l) ? [...acc, [l]] : (acc.at(-1)?.push(l), acc)), []);
const finalStage = stages.at(-1)!;
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };

test('multi-stage: a build stage and a final stage that copies from it', () => {
  expect(stages.length).toBeGreaterThanOrEqual(2);
  expect(finalStage.some((l) => /^COPY\s+--from=/i.test(l))).toBe(true);
});

test('the final stage runs as a numeric non-root USER', () => {
  const user = finalStage.filter((l) => /^USER\s/i.test(l)).at(-1);
  expect(user).toBeDefined();
  const uid = user!.split(/\s+/)[1].split(':')[0];
  expect(uid).toMatch(/^\d+$/); // numeric, so runAsNonRoot can verify it
  expect(Number(uid)).toBeGreaterThan(0);
});

test('no COPY or ADD of secrets, keys, the local cluster state or the whole context', () => {
  for (const l of lines.filter((x) => /^(COPY|ADD)\s/i.test(x))) {
    const sources = l
      .split(/\s+/)
      .slice(1)
      .filter((a) => !a.startsWith('--'))
      .slice(0, -1);
    for (const s of sources) {
      expect(s).not.toMatch(/\.cluster|secret|\.key$|\.pem$|pki|kubeconfig|\.env/i);
      expect(s).not.toBe('.');
    }
  }
});

test('ENTRYPOINT runs the bin package.json declares, with the node flags of its shebang', () => {
  const entry = finalStage.filter((l) => /^ENTRYPOINT\s/i.test(l)).at(-1)!;
  const argv = JSON.parse(entry.replace(/^ENTRYPOINT\s+/i, '')) as string[];
  expect(argv[0]).toBe('node');
  expect(argv.at(-1)).toBe(pkg.bin.annotary);
  const shebang = readFileSync(path.join(ROOT, 'src/cli.ts'), 'utf8').split('\n')[0];
  expect(shebang).toBe(`#!/usr/bin/env -S node ${argv.slice(1, -1).join(' ')}`);
  // the memory figures of docs/benchmarks.md depend on the first, the CPU of a 100k sync on the second
  expect(argv).toEqual(expect.arrayContaining(['--optimize-for-size', '--heap-growing-percent=50']));
});
