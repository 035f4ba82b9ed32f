// hack/test.sh and hack/bench.sh run in a sandbox: the real script, copied, next to stubs of
// hack/cluster.sh, jest, npx, kubectl and sleep that record how they were called. The stubs
// print more than a pipe holds (64 KiB), so a `… | grep -q` under `set -o pipefail` fails
// every time (grep exits at the first match, the writer gets SIGPIPE) instead of only when
// the scheduler happens to let grep win: the case where a running control plane looked
// stopped and the script stopped a control plane it had not started.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './helpers.js';

/** The benchmarks hack/bench.sh runs (its `run <name>` lines), each a compiled dist-bench/bench/<name>.js. */
const BENCHMARKS = [...readFileSync(path.join(ROOT, 'hack/bench.sh'), 'utf8').matchAll(/^run (\S+)$/gm)].map((m) => m[1]);

/** Lines a stub prints after the ones that matter: far more than a pipe buffer. */
const FILLER = 'printf "filler %d\\n" $(seq 1 100000)';

function exe(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, 0o755);
}

interface Sandbox {
  dir: string;
  calls(tool: string): string[];
}

const sandboxes: string[] = [];
afterAll(() => {
  for (const d of sandboxes) rmSync(d, { recursive: true, force: true });
});

interface Options {
  /** what `cluster.sh status` reports */
  apiserverRunning: boolean;
  /** `cluster.sh status` reports a Ready node (hack/test.sh then builds the image and runs the in-pod files) */
  node?: boolean;
  /** the host-state snapshot after `down` has a link more than the one before `up` */
  leftover?: boolean;
  /** `cluster.sh status` reports another cluster's node on this machine */
  otherNode?: boolean;
  /** `hack/image.sh java` (the walkthrough's Java image) fails */
  javaImageFails?: boolean;
}

/** A copy of `script` with stubs around it. */
function sandbox(script: string, opts: Options | boolean): Sandbox {
  const {
    apiserverRunning,
    node = false,
    leftover = false,
    otherNode = false,
    javaImageFails = false,
  } = typeof opts === 'boolean' ? { apiserverRunning: opts } : opts;
  const dir = mkdtempSync(path.join(tmpdir(), 'annotary-hack-'));
  sandboxes.push(dir);
  mkdirSync(path.join(dir, 'hack'));
  copyFileSync(path.join(ROOT, 'hack', script), path.join(dir, 'hack', script));
  const log = (tool: string) => `echo "$*" >> "${dir}/${tool}.calls"`;
  exe(
    path.join(dir, 'hack/cluster.sh'),
    `#!/usr/bin/env bash
${log('cluster')}
case "$1" in
  status) echo "etcd running (pid 1)"; echo "apiserver ${apiserverRunning ? 'running (pid 2)' : 'stopped'}"; ${node ? 'echo "node annotary-node ready";' : ''} ${otherNode ? `echo "another cluster's node runs on this machine: /x/node";` : ''} ${FILLER} ;;
  up) mkdir -p "${dir}/.cluster" ;;
  baseline) echo "${dir}/bin/clientgo-baseline" ;;
esac
`,
  );
  exe(
    path.join(dir, 'hack/image.sh'),
    `#!/usr/bin/env bash\necho "image.sh $*" >> "${dir}/image.calls"\n${javaImageFails ? '[ "$1" != java ] || { echo "debootstrap failed"; exit 1; }' : ''}\n`,
  );
  // snapshots of the host: the second (after down) with a bridge more when \`leftover\`; the comparison is the real one
  exe(
    path.join(dir, 'hack/host-state.sh'),
    `#!/usr/bin/env bash
${log('host')}
case "$1" in
  snapshot) echo "link eth0"; if [ "$(grep -c snapshot "${dir}/host.calls")" = 2 ] && ${leftover}; then echo "link cninode0"; fi ;;
  compare) exec bash "${path.join(ROOT, 'hack/host-state.sh')}" "$@" ;;
esac
`,
  );
  // hack/test.sh: jest writes the summary line of its run (the unit run's differs, to see them summed)
  exe(
    path.join(dir, 'node_modules/jest/bin/jest.js'),
    'const a = process.argv, unit = a.includes("unit");\n' +
      `require("node:fs").appendFileSync("${dir}/jest.calls", a.slice(2).join(" ") + "\\n");\n` +
      'const line = unit ? "3 passed, 1 failed, 2 skipped" : "1 passed, 0 failed";\n' +
      'require("node:fs").writeFileSync(process.env.ANNOTARY_SUMMARY_FILE, line + "\\n");\n',
  );
  writeFileSync(path.join(dir, 'package.json'), '{}\n'); // CommonJS for the stub above
  // hack/bench.sh: the compiled benchmarks, tsc, and kubectl listing namespaces still terminating
  for (const b of [...BENCHMARKS, 'table']) exe(path.join(dir, `dist-bench/bench/${b}.js`), '');
  exe(path.join(dir, 'bin/npx'), `#!/usr/bin/env bash\n${log('npx')}\n`);
  exe(path.join(dir, 'bin/sleep'), `#!/usr/bin/env bash\n${log('sleep')}\n`);
  // each benchmark's first look finds a bench namespace (then filler), the second none
  exe(
    path.join(dir, 'bin/kubectl'),
    `#!/usr/bin/env bash
${log('kubectl')}
if [ $(( $(wc -l < "${dir}/kubectl.calls") % 2 )) = 1 ]; then echo namespace/bench-1; ${FILLER}; else echo namespace/default; fi
`,
  );
  return {
    dir,
    calls: (tool) => {
      try {
        return readFileSync(path.join(dir, `${tool}.calls`), 'utf8')
          .split('\n')
          .filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}

const run = (sb: Sandbox, script: string) => runWith(sb, script, []);

function runWith(sb: Sandbox, script: string, args: string[]): string {
  const env = { PATH: `${path.join(sb.dir, 'bin')}:${process.env.PATH}`, HOME: sb.dir, TMPDIR: sb.dir };
  return execFileSync('bash', [path.join(sb.dir, 'hack', script), ...args], {
    cwd: sb.dir,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

// test.sh asks for the status again after up (is there a node?); bench.sh for the client-go baseline's binary
describe.each([
  ['test.sh', ['status']],
  ['bench.sh', ['baseline']],
])('hack/%s', (script, extra) => {
  test('leaves a control plane it found running alone, however much `cluster.sh status` prints', () => {
    const sb = sandbox(script, true);
    run(sb, script);
    expect(sb.calls('cluster')).toEqual(['status', 'up', ...extra]);
  });

  test('stops the control plane it started', () => {
    const sb = sandbox(script, false);
    run(sb, script);
    expect(sb.calls('cluster')).toEqual(['status', 'up', ...extra, 'down']);
  });
});

test('hack/test.sh runs the unit and e2e projects side by side and prints the sum of their summary lines last', () => {
  const sb = sandbox('test.sh', true);
  // the host check is skipped (counted so) around a control plane it did not start
  expect(run(sb, 'test.sh').trimEnd().split('\n').at(-1)).toBe('4 passed, 1 failed, 3 skipped');
  expect(sb.calls('host')).toEqual([]);
});

test('hack/test.sh without a node neither builds the image nor runs the in-pod files', () => {
  const sb = sandbox('test.sh', { apiserverRunning: false });
  run(sb, 'test.sh');
  expect(sb.calls('image')).toEqual([]);
  // one e2e run of every file, in band (the in-pod files skip themselves)
  expect(sb.calls('jest').filter((c) => !c.includes('unit'))).toEqual(['--selectProjects e2e --runInBand']);
});

test('hack/test.sh with a node builds the image and runs the e2e files in three phases, each file once, and sums them', () => {
  const sb = sandbox('test.sh', { apiserverRunning: true, node: true });
  expect(run(sb, 'test.sh').trimEnd().split('\n').at(-1)).toBe('7 passed, 1 failed, 3 skipped');
  // the operator's image and the walkthrough's Java image, both in the background
  expect(sb.calls('image').sort()).toEqual(['image.sh ', 'image.sh java']);
  const e2e = sb.calls('jest').filter((c) => !c.includes('unit'));
  const alone = '/e2e/(resilience|operator|csr|ca-injection|keystores|routes)\\.test\\.ts$';
  const beside = '/e2e/(rbac|in-pod-helm|in-pod-kustomize|walkthrough|generated-secrets|hardening|renewal)\\.test\\.ts$';
  const last = '/e2e/(trust-bundles|in-pod-no-routes)\\.test\\.ts$';
  // first the files that stop the control plane alone; last the one that removes the Route CRD
  expect(e2e[0]).toBe(`--selectProjects e2e --runInBand ${alone}`);
  expect(e2e.slice(1, 3).sort()).toEqual([
    `--selectProjects e2e --runInBand --testPathIgnorePatterns /e2e/(resilience|operator|csr|ca-injection|keystores|routes|rbac|in-pod-helm|in-pod-kustomize|walkthrough|generated-secrets|hardening|renewal|trust-bundles|in-pod-no-routes)\\.test\\.ts$`,
    `--selectProjects e2e --runInBand ${beside}`,
  ]);
  expect(e2e[3]).toBe(`--selectProjects e2e --runInBand ${last}`);
  expect(e2e).toHaveLength(4);
});

test('hack/test.sh compares the host before its up and after its down: one test more, passed when nothing is left', () => {
  const sb = sandbox('test.sh', { apiserverRunning: false });
  expect(run(sb, 'test.sh').trimEnd().split('\n').at(-1)).toBe('5 passed, 1 failed, 2 skipped');
  expect(sb.calls('host').map((c) => c.split(' ')[0])).toEqual(['snapshot', 'snapshot', 'compare']);
  expect(sb.calls('cluster')).toEqual(['status', 'up', 'status', 'down']);
});

test('hack/test.sh fails, naming what is left, when down left something on the host', () => {
  const sb = sandbox('test.sh', { apiserverRunning: false, leftover: true });
  let out = '';
  let status = 0;
  try {
    run(sb, 'test.sh');
  } catch (err) {
    ({ stdout: out, status } = err as { stdout: string; status: number });
  }
  expect(status).toBe(1);
  expect(out).toContain('left behind: link cninode0');
  expect(out.trimEnd().split('\n').at(-1)).toBe('4 passed, 2 failed, 2 skipped');
});

test("hack/test.sh skips the host check (counted so) while another cluster's node changes the host", () => {
  const sb = sandbox('test.sh', { apiserverRunning: false, leftover: true, otherNode: true });
  expect(run(sb, 'test.sh').trimEnd().split('\n').at(-1)).toBe('4 passed, 1 failed, 3 skipped');
  expect(sb.calls('host')).toEqual([]);
  expect(sb.calls('cluster').at(-1)).toBe('down');
});

test('hack/test.sh with arguments makes one run and prints its summary line last (and the host check, skipped)', () => {
  const sb = sandbox('test.sh', true);
  expect(runWith(sb, 'test.sh', ['--selectProjects', 'e2e']).trimEnd().split('\n').at(-1)).toBe('1 passed, 0 failed, 1 skipped');
});

test("hack/test.sh: a failure of the walkthrough's Java image is shown with its log, the summary line stays last", () => {
  const sb = sandbox('test.sh', { apiserverRunning: true, node: true, javaImageFails: true });
  const lines = run(sb, 'test.sh').trimEnd().split('\n');
  expect(lines.at(-1)).toBe('7 passed, 1 failed, 3 skipped');
  const shown = lines.indexOf('[test] hack/image.sh java failed:');
  expect(shown).toBeGreaterThan(-1);
  expect(lines[shown + 1]).toBe('debootstrap failed');
});

test('hack/bench.sh waits for the namespaces of each benchmark to go, however much kubectl prints', () => {
  const sb = sandbox('bench.sh', true);
  run(sb, 'bench.sh');
  // each benchmark looks twice (a bench namespace, then none) and sleeps once in between
  expect(BENCHMARKS.length).toBeGreaterThan(8);
  expect(sb.calls('kubectl')).toHaveLength(2 * BENCHMARKS.length);
  expect(sb.calls('sleep')).toEqual(Array(BENCHMARKS.length).fill('1'));
});
