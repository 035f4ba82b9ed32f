// Where to connect and how to authenticate, resolved from a kubeconfig or the in-cluster
// ServiceAccount.
//
// Why a child process: @kubernetes/client-node's KubeConfig is the well-kept implementation of
// kubeconfig loading (KUBECONFIG path lists, contexts, in-cluster config, exec and
// auth-provider plugins), but its module imports all ~600 generated API models: about 80 MiB
// of RSS (30 MiB of it JS heap: source text and code) that the operator would carry for its
// whole life to call one function at startup. So a short-lived `node` child loads client-node,
// resolves the config and prints plain data (server, TLS material, headers); the operator
// process never loads the library. The child runs again only when the apiserver answers 401
// (an exec or OIDC token expired), which is when client-go re-runs its plugins too.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { staticKubeconfigCredentials } from './kubeconfig.js';

export interface KubeconfigSource {
  /** a kubeconfig path or a path list (as KUBECONFIG); empty: $KUBECONFIG, ~/.kube/config, in-cluster */
  kubeconfig?: string;
  context?: string;
}

export interface Credentials {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** false only when the kubeconfig says insecure-skip-tls-verify */
  rejectUnauthorized?: boolean;
  servername?: string;
  /** Authorization (token, exec, OIDC, basic) and impersonation headers */
  headers: Record<string, string>;
  /** in-cluster: the projected token rotates on disk; it is re-read at most once a minute, as client-go does */
  tokenFile?: string;
}

/** Runs in the child: the same resolution order as kubectl, by client-node. */
const RESOLVER = String.raw`
import path from 'node:path';
import { pathToFileURL } from 'node:url';
try {
  const { modulePath, kubeconfig, context } = JSON.parse(process.argv[1]);
  const { KubeConfig } = await import(pathToFileURL(modulePath).href);
  const kc = new KubeConfig();
  if (kubeconfig) {
    const [first, ...rest] = kubeconfig.split(path.delimiter).filter(Boolean);
    kc.loadFromFile(first);
    for (const f of rest) { const more = new KubeConfig(); more.loadFromFile(f); kc.mergeConfig(more); }
  } else kc.loadFromDefault();
  if (context) kc.setCurrentContext(context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  if (cluster.proxyUrl) throw new Error('proxy-url in the kubeconfig is not supported');
  const opts = {};
  await kc.applyToHTTPSOptions(opts);
  const headers = { ...(opts.headers ?? {}) };
  if (opts.auth) headers.Authorization = 'Basic ' + Buffer.from(opts.auth).toString('base64');
  const b64 = (b) => (b ? Buffer.from(b).toString('base64') : undefined);
  const user = kc.getCurrentUser();
  process.stdout.write(JSON.stringify({
    server: cluster.server, ca: b64(opts.ca), cert: b64(opts.cert), key: b64(opts.key),
    rejectUnauthorized: opts.rejectUnauthorized, servername: opts.servername, headers,
    tokenFile: user?.authProvider?.config?.tokenFile,
  }));
} catch (err) {
  // the message line only: a YAML parser's message goes on to quote the kubeconfig around
  // the fault, which may be a token or a key
  process.stderr.write(String(err?.message ?? err).split('\n')[0]);
  process.exitCode = 1;
}
`;

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * In a Pod without a kubeconfig, the operator's own case, the credentials client-node's
 * loadFromDefault gives (it ends in loadFromCluster), read here: the service host and port from
 * the environment, the ServiceAccount's CA and its token file (re-read as it rotates). No child
 * process then: loading client-node in one was ~0.8 s of every start (#20). Undefined whenever
 * client-node would look elsewhere (a kubeconfig named, $KUBECONFIG, ~/.kube/config) or the
 * in-cluster files are incomplete: the child resolves those cases as before. `root`: for tests.
 */
export function inClusterCredentials(source: KubeconfigSource, env: NodeJS.ProcessEnv = process.env, root = ''): Credentials | undefined {
  if (source.kubeconfig || source.context || env.KUBECONFIG || process.platform === 'win32') return undefined;
  if (env.HOME && existsSync(path.join(env.HOME, '.kube', 'config'))) return undefined;
  const [tokenFile, caFile] = [`${root}${SERVICE_ACCOUNT}/token`, `${root}${SERVICE_ACCOUNT}/ca.crt`];
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = env;
  if (!host || !port || !existsSync(tokenFile) || !existsSync(caFile)) return undefined;
  // client-node takes these ports for plain http, and then refuses them (no TLS verification set): its error, from the child
  if (['80', '8080', '8001'].includes(port)) return undefined;
  return { server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`, ca: readFileSync(caFile), headers: {}, tokenFile };
}

/**
 * Resolves credentials: in process for a Pod's own ServiceAccount and for a static kubeconfig
 * (kubeconfig.ts), else in a child process (see the file comment).
 */
export async function resolveCredentials(source: KubeconfigSource): Promise<Credentials> {
  return inClusterCredentials(source) ?? staticKubeconfigCredentials(source) ?? resolveInChild(source);
}

/** client-node's answer, from the child process; exported for the test that holds the in-process paths to it. */
export function resolveInChild(source: KubeconfigSource): Promise<Credentials> {
  const modulePath = createRequire(import.meta.url).resolve('@kubernetes/client-node');
  const input = JSON.stringify({ modulePath, kubeconfig: source.kubeconfig ?? '', context: source.context ?? '' });
  const child = spawn(process.execPath, ['--input-type=module', '-e', RESOLVER, input], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        return reject(
          new Error(`cannot load the kubeconfig: ${Buffer.concat(err).toString().split('\n')[0].trim() || `exit code ${code}`}`),
        );
      const raw = JSON.parse(Buffer.concat(out).toString()) as Omit<Credentials, 'ca' | 'cert' | 'key'> &
        Record<'ca' | 'cert' | 'key', string | undefined>;
      const buf = (s: string | undefined) => (s ? Buffer.from(s, 'base64') : undefined);
      resolve({ ...raw, server: raw.server.replace(/\/$/, ''), ca: buf(raw.ca), cert: buf(raw.cert), key: buf(raw.key) });
    });
  });
}

const TOKEN_FILE_REREAD_MS = 60_000;

/**
 * Credentials shared by every client of one kubeconfig in this process: resolved once,
 * re-resolved (once, however many requests saw it) after a 401.
 */
export class CredentialsProvider {
  private current: Promise<Credentials> | undefined;
  private token: { value: string; readAt: number } | undefined;

  constructor(
    private readonly source: KubeconfigSource,
    private readonly resolve = resolveCredentials,
  ) {}

  get(): Promise<Credentials> {
    if (!this.current) {
      const p = this.resolve(this.source);
      // a failed resolution is not kept: the next request tries again
      p.catch(() => {
        if (this.current === p) this.current = undefined;
      });
      this.current = p;
    }
    return this.current;
  }

  /** After a 401 with `used`: resolve again, unless another request already did. */
  async refresh(used: Credentials): Promise<Credentials> {
    this.token = undefined;
    const current = this.current;
    if (current && (await current.catch(() => undefined)) === used && this.current === current) this.current = undefined;
    return this.get();
  }

  /** Request headers, with the token file's current content when there is one. */
  headers(c: Credentials, now = Date.now()): Record<string, string> {
    if (!c.tokenFile) return c.headers;
    if (!this.token || now - this.token.readAt > TOKEN_FILE_REREAD_MS) {
      this.token = { value: readFileSync(c.tokenFile, 'utf8').trim(), readAt: now };
    }
    return { ...c.headers, Authorization: `Bearer ${this.token.value}` };
  }
}

const providers = new Map<string, CredentialsProvider>();

/** One provider per kubeconfig and context in this process (tests and benchmarks make many clients). */
export function credentialsFor(source: KubeconfigSource): CredentialsProvider {
  const key = JSON.stringify([source.kubeconfig ?? '', source.context ?? '']);
  let p = providers.get(key);
  if (!p) providers.set(key, (p = new CredentialsProvider(source)));
  return p;
}
