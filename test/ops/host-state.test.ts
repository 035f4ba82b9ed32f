// hack/host-state.sh: the snapshot of what a node could leave on the host, and the comparison
// hack/test.sh makes of the one before `up` and the one after `down` (#18).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './helpers.js';

const SCRIPT = path.join(ROOT, 'hack/host-state.sh');
const dir = mkdtempSync(path.join(tmpdir(), 'annotary-host-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compare(before: string, after: string): { status: number | null; out: string } {
  writeFileSync(path.join(dir, 'before'), before);
  writeFileSync(path.join(dir, 'after'), after);
  const r = spawnSync('bash', [SCRIPT, 'compare', path.join(dir, 'before'), path.join(dir, 'after')], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout };
}

const BEFORE = [
  'cgroup /sys/fs/cgroup/memory/process_api',
  'iptables nat -P OUTPUT ACCEPT',
  'link eth0',
  'sysctl net.ipv4.ip_forward = 0',
  '',
].join('\n');

test('the same host twice: no output, exit 0', () => {
  expect(compare(BEFORE, BEFORE)).toEqual({ status: 0, out: '' });
});

test('the order of the lines does not matter', () => {
  expect(compare(BEFORE, BEFORE.split('\n').reverse().join('\n'))).toEqual({ status: 0, out: '' });
});

test('a chain, a link, a cgroup, a process left behind and a sysctl changed: each named, exit 1', () => {
  const after =
    BEFORE.replace('ip_forward = 0', 'ip_forward = 1') +
    ['iptables nat -N KUBE-MARK-MASQ', 'link cninode0', 'cgroup /sys/fs/cgroup/memory/kubepods', 'process kubelet /bin/kubelet', ''].join(
      '\n',
    );
  const { status, out } = compare(BEFORE, after);
  expect(status).toBe(1);
  expect(out.split('\n').filter(Boolean).sort()).toEqual(
    [
      'gone: sysctl net.ipv4.ip_forward = 0',
      'left behind: sysctl net.ipv4.ip_forward = 1',
      'left behind: iptables nat -N KUBE-MARK-MASQ',
      'left behind: link cninode0',
      'left behind: cgroup /sys/fs/cgroup/memory/kubepods',
      'left behind: process kubelet /bin/kubelet',
    ].sort(),
  );
});

test('something the host had and lost is a difference too', () => {
  expect(compare(BEFORE, BEFORE.replace('link eth0\n', ''))).toEqual({ status: 1, out: 'gone: link eth0\n' });
});

// The snapshot itself, on this host: what a node leaves shows up. Needs root (links, iptables, mounts).
const asRoot = process.getuid?.() === 0 ? test : test.skip;
asRoot('a snapshot sees a link, an iptables chain and a mount made after the one before; they are the only differences', () => {
  const snap = (file: string) => writeFileSync(path.join(dir, file), execFileSync('bash', [SCRIPT, 'snapshot'], { encoding: 'utf8' }));
  const mnt = mkdtempSync(path.join(tmpdir(), 'annotary-host-state-mnt-'));
  const link = `anhs${process.pid % 100000}`;
  const chain = `ANNOTARY-HS-${process.pid}`;
  snap('s1');
  try {
    execFileSync('ip', ['link', 'add', link, 'type', 'bridge']);
    execFileSync('iptables', ['-t', 'filter', '-N', chain]);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mnt]);
    snap('s2');
  } finally {
    spawnSync('umount', [mnt]);
    spawnSync('iptables', ['-t', 'filter', '-X', chain]);
    spawnSync('ip', ['link', 'del', link]);
    rmSync(mnt, { recursive: true, force: true });
  }
  const r = spawnSync('bash', [SCRIPT, 'compare', path.join(dir, 's1'), path.join(dir, 's2')], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  // a bridge's own sysctls are per-interface (left out); other differences would be the host changing meanwhile
  expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(
    [`left behind: iptables filter -N ${chain}`, `left behind: link ${link}`, `left behind: mount ${mnt} tmpfs`].sort(),
  );
});

asRoot(
  "a tool's own state that its first use creates once per host (libmount's /run/mount, buildah's /var/lib/containers) is not in a snapshot",
  () => {
    const made = ['/run/mount', '/var/lib/containers'].filter((p) => !existsSync(p));
    for (const p of made) mkdirSync(p);
    try {
      const paths = execFileSync('bash', [SCRIPT, 'snapshot'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.startsWith('path '));
      expect(paths).not.toContain('path /run/mount');
      expect(paths).not.toContain('path /var/lib/containers');
      expect(paths).toContain('path /var/lib/dpkg'); // the other entries are still there
    } finally {
      for (const p of made) rmSync(p, { recursive: true });
    }
  },
);
