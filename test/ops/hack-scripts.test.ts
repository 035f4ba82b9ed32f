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

/**
 * A copy of `script` with stubs around it; `apiserverRunning` is what `cluster.sh status` reports,
 * `nodeReady` what `kubectl get nodes` does, `imageFails` makes the hack/image.sh stub exit 1.
 */
function sandbox(script: string, apiserverRunning: boolean, { nodeReady = false, imageFails = false } = {}): Sandbox {
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
  status) echo "etcd running (pid 1)"; echo "apiserver ${apiserverRunning ? 'running (pid 2)' : 'stopped'}"; ${FILLER} ;;
  up) mkdir -p "${dir}/.cluster" ;;
  baseline) echo "${dir}/bin/clientgo-baseline" ;;
esac
`,
  );
  // hack/test.sh: jest writes the summary line of its run (the unit run's differs, to see them summed)
  exe(
    path.join(dir, 'node_modules/jest/bin/jest.js'),
    'const unit = process.argv.includes("unit");\n' +
      'require("node:fs").writeFileSync(process.env.ANNOTARY_SUMMARY_FILE, unit ? "3 passed, 1 failed, 2 skipped\\n" : "1 passed, 0 failed\\n");\n',
  );
  writeFileSync(path.join(dir, 'package.json'), '{}\n'); // CommonJS for the stub above
  // hack/bench.sh: the compiled benchmarks, tsc, and kubectl listing namespaces still terminating
  for (const b of [
    'keystores',
    'reload',
    'keystore-latency',
    'scale',
    'issuance',
    'renewal-storm',
    'trust-bundles',
    'vs-clientgo',
    'table',
  ])
    exe(path.join(dir, `dist-bench/bench/${b}.js`), '');
  exe(path.join(dir, 'hack/image.sh'), `#!/usr/bin/env bash\n${log('image')}\n${imageFails ? 'echo "debootstrap failed"; exit 1' : ''}\n`);
  exe(path.join(dir, 'bin/npx'), `#!/usr/bin/env bash\n${log('npx')}\n`);
  exe(path.join(dir, 'bin/sleep'), `#!/usr/bin/env bash\n${log('sleep')}\n`);
  // each benchmark's first look finds a bench namespace (then filler), the second none; the nodes'
  // Ready conditions for hack/test.sh
  exe(
    path.join(dir, 'bin/kubectl'),
    `#!/usr/bin/env bash
case "$*" in *'get nodes'*) ${nodeReady ? 'echo False; echo True' : 'echo False'}; ${FILLER}; exit 0 ;; esac
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

// bench.sh also asks for the client-go baseline's binary once the control plane is up
describe.each([
  ['test.sh', []],
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
  expect(run(sb, 'test.sh').trimEnd().split('\n').at(-1)).toBe('4 passed, 1 failed, 2 skipped');
});

test('hack/test.sh with arguments makes one run and prints its summary line last', () => {
  const sb = sandbox('test.sh', true);
  expect(runWith(sb, 'test.sh', ['--selectProjects', 'e2e']).trimEnd().split('\n').at(-1)).toBe('1 passed, 0 failed');
});

describe("hack/test.sh and the walkthrough's Java image (hack/image.sh java)", () => {
  test('made and imported in the background when the cluster has a Ready node', () => {
    const sb = sandbox('test.sh', true, { nodeReady: true });
    expect(run(sb, 'test.sh').trimEnd().split('\n').at(-1)).toBe('4 passed, 1 failed, 2 skipped');
    expect(sb.calls('image')).toEqual(['java']);
  });

  test('not made without a Ready node', () => {
    const sb = sandbox('test.sh', true);
    run(sb, 'test.sh');
    expect(sb.calls('image')).toEqual([]);
  });

  test('a failure is shown with its log, and the summary line stays last', () => {
    const sb = sandbox('test.sh', true, { nodeReady: true, imageFails: true });
    const lines = run(sb, 'test.sh').trimEnd().split('\n');
    expect(lines.at(-1)).toBe('4 passed, 1 failed, 2 skipped');
    expect(lines.slice(-3, -1)).toEqual(['[test] hack/image.sh java failed:', 'debootstrap failed']);
  });
});

test('hack/bench.sh waits for the namespaces of each benchmark to go, however much kubectl prints', () => {
  const sb = sandbox('bench.sh', true);
  run(sb, 'bench.sh');
  // eight benchmarks: each looks twice (a bench namespace, then none) and sleeps once in between
  expect(sb.calls('kubectl')).toHaveLength(16);
  expect(sb.calls('sleep')).toEqual(Array(8).fill('1'));
});
