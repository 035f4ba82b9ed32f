// Helpers for e2e tests against the real local control plane started by hack/cluster.sh.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { KubeClient } from '../../src/kube/client.js';
import type { KubeObject, ResourceType } from '../../src/kube/types.js';
import { Events, Namespaces, Secrets, resourcePath } from '../../src/kube/types.js';

/** The repository root: the nearest folder upwards with a package.json (works from dist-bench/ too). */
export const ROOT = (() => {
  let dir = import.meta.dirname ?? process.cwd();
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();
export const KUBECONFIG = process.env.ANNOTARY_E2E_KUBECONFIG ?? path.join(ROOT, '.cluster/kubeconfig');

/** The admin kubeconfig of the local control plane, parsed. */
export function adminKubeconfig(): { clusters: { cluster: Record<string, string> }[]; users: { user: { token: string } }[] } {
  return yaml.load(readFileSync(KUBECONFIG, 'utf8')) as ReturnType<typeof adminKubeconfig>;
}

/** Writes `file`: a kubeconfig for the local control plane (its server and CA) with another user. */
export function writeKubeconfig(file: string, user: object): string {
  writeFileSync(
    file,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      clusters: [{ name: 'local', cluster: adminKubeconfig().clusters[0].cluster }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'c', context: { cluster: 'local', user: 'u' } }],
    }),
    { mode: 0o600 },
  );
  return file;
}

export function adminClient(): KubeClient {
  return KubeClient.fromOptions({ kubeconfig: KUBECONFIG, fieldManager: 'e2e-test' });
}

export function kubectl(...args: string[]): string {
  return execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

export function cluster(cmd: string): void {
  execFileSync('bash', [path.join(ROOT, 'hack/cluster.sh'), cmd], { stdio: 'inherit' });
}

/** Kubernetes 1.20: the token controller writes a kubernetes.io/service-account-token Secret for a ServiceAccount. */
export async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  const secretName = await waitFor(
    `token Secret of ServiceAccount ${namespace}/${name}`,
    () =>
      (JSON.parse(kubectl('-n', namespace, 'get', 'serviceaccount', name, '-o', 'json')) as { secrets?: { name: string }[] }).secrets?.[0]
        ?.name,
  );
  const secret = await adminClient().get<KubeObject & { data: Record<string, string> }>(Secrets, namespace, secretName);
  return Buffer.from(secret.data.token, 'base64').toString('utf8');
}

/** A fresh namespace per test, deleted afterwards (not awaited: the apiserver finalizes it). */
export async function newNamespace(client: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await client.create(Namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

export async function deleteNamespace(client: KubeClient, name: string): Promise<void> {
  await client.delete(Namespaces, undefined, name).catch(() => undefined);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Polls until `fn` returns a truthy value; fails with the last value/error. No timing assertions. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface OperatorProcess {
  proc: ChildProcess;
  port: number;
  logs: string[];
  metrics(): Promise<string>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The node flags and script of the image's ENTRYPOINT: tests and benchmarks run the operator as the image does. */
export function operatorArgv(): string[] {
  const entry = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('ENTRYPOINT '))
    .at(-1)!;
  const [, ...rest] = JSON.parse(entry.slice('ENTRYPOINT '.length)) as string[];
  return rest.map((a) => (a.startsWith('-') ? a : path.join(ROOT, a)));
}

/** Starts the built operator (dist/cli.js run) as a child process and waits for /readyz. `kubeconfig`: other credentials than admin's. */
export async function startOperator(
  args: string[],
  env: Record<string, string> = {},
  kubeconfig = KUBECONFIG,
  /** node flags before the image's own (e.g. --cpu-prof for the benchmarks; NODE_OPTIONS refuses it) */
  nodeFlags: string[] = [],
): Promise<OperatorProcess> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [...nodeFlags, ...operatorArgv(), 'run', '--kubeconfig', kubeconfig, '--metrics-addr', `127.0.0.1:${port}`, ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: string[] = [];
  const collect = (b: Buffer) => logs.push(...b.toString('utf8').split('\n').filter(Boolean));
  proc.stdout.on('data', collect);
  proc.stderr.on('data', collect);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const base = `http://127.0.0.1:${port}`;
  const op: OperatorProcess = {
    proc,
    port,
    logs,
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
    metric: async (name, labels = {}) => sumMetric(await op.metrics(), name, labels),
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
  await waitFor(
    'operator /readyz',
    async () => {
      if (proc.exitCode !== null) throw new Error(`operator exited with ${proc.exitCode}: ${logs.slice(-5).join('\n')}`);
      return (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200;
    },
    60_000,
    100,
  );
  return op;
}

/** Sums a Prometheus counter/gauge over the series whose labels include `labels`. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

/**
 * The apiserver's own count of PATCH and PUT requests on a resource: the verbs of every
 * update annotary makes. POST and DELETE are left out because the control plane makes them
 * on its own while tests run (the token controller creates a Secret in every new namespace,
 * the namespace controller deletes the contents of namespaces earlier tests dropped).
 */
export function apiserverWrites(resource: string): number {
  const text = kubectl('get', '--raw', '/metrics'); // Prometheus text, not JSON
  return ['PATCH', 'PUT'].reduce((n, verb) => n + sumMetric(text, 'apiserver_request_total', { verb, resource }), 0);
}

export async function eventsFor(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<{ type: string; reason: string; message: string; count: number }[]> {
  const list = await client.list<
    KubeObject & { type: string; reason: string; message: string; count: number; involvedObject: { name: string } }
  >(Events, namespace);
  return list.items
    .filter((e) => e.involvedObject.name === name)
    .map((e) => ({ type: e.type, reason: e.reason, message: e.message, count: e.count }));
}

export async function getObj<T extends KubeObject>(client: KubeClient, rt: ResourceType, ns: string, name: string): Promise<T> {
  return client.get<T>(rt, ns, name);
}

export { resourcePath };

/** Runs `fn` with a fresh namespace and an operator watching it; both are cleaned up after. */
export async function withOperator<T>(prefix: string, args: string[], fn: (ns: string, op: OperatorProcess) => Promise<T>): Promise<T> {
  const client = adminClient();
  const ns = await newNamespace(client, prefix);
  const op = await startOperator(['--namespaces', ns, ...args]);
  try {
    return await fn(ns, op);
  } finally {
    await op.stop();
    await deleteNamespace(client, ns);
  }
}
