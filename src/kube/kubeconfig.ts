// A static kubeconfig read in process: one file, whose current context names a cluster and a
// user with nothing but a server, CA, TLS server name, client certificate and key, and a bearer
// token (inline or from a token file). That is the kubeconfig kind-, kubeadm- and this repo's
// local cluster write, and every start with one used to pay ~0.6–1.0 s of CPU for a child
// process loading @kubernetes/client-node (credentials.ts says why that library stays out of
// the operator's process). Anything else (path lists, exec and auth-provider plugins, basic
// auth, impersonation, proxies, plain http, keys this file does not know, entries client-node
// would reject) gives undefined, and the child resolves it as before. The answers match
// client-node 1.x's loadFromFile + applyToHTTPSOptions field for field; a test compares the two
// on the kubeconfigs this path takes.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Credentials, KubeconfigSource } from './credentials.js';

/**
 * The YAML parser client-node itself loads kubeconfigs with (its own js-yaml 4, a production
 * dependency through it), so both paths read the same text the same way; loaded on first use,
 * so a Pod reading its ServiceAccount never loads it.
 */
let yamlLoad: ((text: string) => unknown) | undefined;
function parseYaml(text: string): unknown {
  if (!yamlLoad) {
    const fromClientNode = createRequire(createRequire(import.meta.url).resolve('@kubernetes/client-node'));
    const jsYaml = fromClientNode('js-yaml') as { load(text: string): unknown };
    yamlLoad = (text) => jsYaml.load(text);
  }
  return yamlLoad(text);
}

type Entry = Record<string, unknown>;

const CLUSTER_KEYS = new Set([
  'server',
  'certificate-authority',
  'certificate-authority-data',
  'insecure-skip-tls-verify',
  'tls-server-name',
]);
const USER_KEYS = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'token-file']);
const NOT_TEXT = 'insecure-skip-tls-verify'; // client-node compares it with true; every other key it reads as text

/** The one file client-node would read, or undefined when it would read several or none. */
function kubeconfigFile(source: KubeconfigSource, env: NodeJS.ProcessEnv): string | undefined {
  const list = source.kubeconfig || env.KUBECONFIG;
  if (list) {
    const files = list.split(path.delimiter).filter(Boolean);
    return files.length === 1 ? files[0] : undefined;
  }
  if (process.platform === 'win32' || !env.HOME) return undefined;
  const file = path.join(env.HOME, '.kube', 'config');
  return existsSync(file) ? file : undefined;
}

const isEntry = (v: unknown): v is Entry => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every entry of a list named and holding its body (client-node throws on the load otherwise). */
function named(list: unknown, body: string, required?: string): Map<string, Entry> | undefined {
  if (list === undefined || list === null) return new Map();
  if (!Array.isArray(list)) return undefined;
  const byName = new Map<string, Entry>();
  for (const e of list) {
    if (!isEntry(e) || typeof e.name !== 'string' || !e.name) return undefined;
    const inner = e[body];
    if (required && !(isEntry(inner) && inner[required])) return undefined;
    if (!byName.has(e.name)) byName.set(e.name, isEntry(inner) ? inner : {}); // the first of a name wins, as findObject
  }
  return byName;
}

/** Only the keys this path knows, string-valued where client-node reads them as text. */
const onlyKnown = (e: Entry, keys: Set<string>) =>
  Object.entries(e).every(([k, v]) => keys.has(k) && (k === NOT_TEXT || typeof v === 'string'));

function fileOrData(dir: string, file: unknown, data: unknown): Buffer | undefined {
  if (typeof file === 'string' && file) return readFileSync(path.isAbsolute(file) ? file : path.join(dir, file));
  return typeof data === 'string' && data ? Buffer.from(data, 'base64') : undefined;
}

/** Credentials of a static kubeconfig (see the file comment), or undefined: resolve them in the child. */
export function staticKubeconfigCredentials(source: KubeconfigSource, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const file = kubeconfigFile(source, env);
  if (!file) return undefined;
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch {
    return undefined; // unreadable or not YAML: the child gives client-node's message
  }
  if (!isEntry(doc)) return undefined;
  const clusters = named(doc.clusters, 'cluster', 'server');
  const users = named(doc.users, 'user');
  const contexts = named(doc.contexts, 'context', 'cluster');
  if (!clusters || !users || !contexts) return undefined;
  const context = contexts.get(source.context || (typeof doc['current-context'] === 'string' ? doc['current-context'] : ''));
  const cluster = context && clusters.get(String(context.cluster));
  const user = context && typeof context.user === 'string' ? users.get(context.user) : undefined;
  if (!cluster || !user || !onlyKnown(cluster, CLUSTER_KEYS) || !onlyKnown(user, USER_KEYS)) return undefined;
  const server = (cluster.server as string).replace(/\/$/, '');
  if (!server.startsWith('https://')) return undefined;

  const dir = path.dirname(file);
  const token = user.token || (user['token-file'] ? readFileSync(user['token-file'] as string).toString() : undefined);
  return {
    server,
    ca: fileOrData(dir, cluster['certificate-authority'], cluster['certificate-authority-data']),
    cert: fileOrData(dir, user['client-certificate'], user['client-certificate-data']),
    key: fileOrData(dir, user['client-key'], user['client-key-data']),
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] === true ? false : undefined,
    servername: (cluster['tls-server-name'] as string | undefined) || undefined,
    headers: token ? { Authorization: `Bearer ${token as string}` } : {},
  };
}
