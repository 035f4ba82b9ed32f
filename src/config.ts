// Flags of `annotary run`. Each flag has an environment variable and a default; the
// precedence is flag > env > default. --help is generated from this table.
import { parseArgs } from 'node:util';

export interface FlagSpec {
  name: string;
  env: string;
  default: string;
  help: string;
  /** validates and converts; throws with a message for bad values */
  parse?: (v: string) => unknown;
}

export const CONTROLLERS = ['keystores', 'routes', 'ingresses', 'reload', 'expiry'] as const;
export type ControllerName = (typeof CONTROLLERS)[number];

export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) throw new Error(`"${v}" is not a duration (e.g. 500ms, 3s, 10m, 720h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

export function parseBool(v: string): boolean {
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new Error(`"${v}" is not a boolean (true/false)`);
}

function parseInt1(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`"${v}" is not a positive integer`);
  return n;
}

function parseChoice<T extends string>(choices: readonly T[]) {
  return (v: string): T => {
    if (!choices.includes(v as T)) throw new Error(`"${v}" is not one of ${choices.join(', ')}`);
    return v as T;
  };
}

function parseControllers(v: string): ControllerName[] {
  const names = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) parseChoice(CONTROLLERS)(n);
  return names as ControllerName[];
}

export const FLAGS: FlagSpec[] = [
  { name: 'kubeconfig', env: 'KUBECONFIG', default: '', help: 'kubeconfig file; empty: $KUBECONFIG, ~/.kube/config, then in-cluster' },
  { name: 'context', env: 'ANNOTARY_CONTEXT', default: '', help: 'kubeconfig context (default: current context)' },
  { name: 'namespaces', env: 'ANNOTARY_NAMESPACES', default: '', help: 'comma list of namespaces to watch; empty: all namespaces' },
  { name: 'controllers', env: 'ANNOTARY_CONTROLLERS', default: CONTROLLERS.join(','), help: 'controllers to run', parse: parseControllers },
  { name: 'compat', env: 'ANNOTARY_COMPAT', default: 'true', help: 'honour cert-utils-operator and stakater Reloader annotation keys', parse: parseBool },
  { name: 'metrics-addr', env: 'ANNOTARY_METRICS_ADDR', default: ':8080', help: 'listen address for /metrics, /healthz, /readyz ("0" disables)' },
  { name: 'log-level', env: 'ANNOTARY_LOG_LEVEL', default: 'info', help: 'error, warn, info or debug', parse: parseChoice(['error', 'warn', 'info', 'debug'] as const) },
  { name: 'log-format', env: 'ANNOTARY_LOG_FORMAT', default: 'json', help: 'json or text', parse: parseChoice(['json', 'text'] as const) },
  { name: 'workers', env: 'ANNOTARY_WORKERS', default: '4', help: 'concurrent reconciles per controller', parse: parseInt1 },
  { name: 'resync', env: 'ANNOTARY_RESYNC', default: '10m', help: 'period of the full resync of every cache (0s disables)', parse: parseDuration },
  { name: 'retry-base', env: 'ANNOTARY_RETRY_BASE', default: '500ms', help: 'first retry delay of a failed reconcile (doubles per failure)', parse: parseDuration },
  { name: 'retry-max', env: 'ANNOTARY_RETRY_MAX', default: '5m', help: 'longest retry delay', parse: parseDuration },
  { name: 'default-password', env: 'ANNOTARY_DEFAULT_PASSWORD', default: 'changeit', help: 'store password when a Secret names none (cert-utils keys keep their own default, changeme)' },
  { name: 'reload-strategy', env: 'ANNOTARY_RELOAD_STRATEGY', default: 'annotations', help: 'annotations (pod-template digest) or restartedAt (kubectl rollout restart semantics)', parse: parseChoice(['annotations', 'restartedAt'] as const) },
  { name: 'reload-settle', env: 'ANNOTARY_RELOAD_SETTLE', default: '3s', help: 'changes to referenced objects within this window coalesce into one rollout', parse: parseDuration },
  { name: 'reload-on-create', env: 'ANNOTARY_RELOAD_ON_CREATE', default: 'true', help: 'the creation of a referenced object that was missing counts as a change', parse: parseBool },
  { name: 'expiry-warning', env: 'ANNOTARY_EXPIRY_WARNING', default: '720h', help: 'Warning Event when a certificate expires within this duration', parse: parseDuration },
  { name: 'leader-elect', env: 'ANNOTARY_LEADER_ELECT', default: 'false', help: 'run several replicas; only the Lease holder reconciles', parse: parseBool },
  { name: 'leader-election-namespace', env: 'ANNOTARY_LEADER_ELECTION_NAMESPACE', default: '', help: 'namespace of the Lease (default: the pod namespace or "default")' },
  { name: 'lease-duration', env: 'ANNOTARY_LEASE_DURATION', default: '15s', help: 'how long a leader holds the Lease without renewing', parse: parseDuration },
  { name: 'shutdown-timeout', env: 'ANNOTARY_SHUTDOWN_TIMEOUT', default: '30s', help: 'how long SIGTERM waits for in-flight reconciles', parse: parseDuration },
];

export interface Config {
  kubeconfig: string;
  context: string;
  namespaces: string[];
  controllers: ControllerName[];
  compat: boolean;
  metricsAddr: string;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logFormat: 'json' | 'text';
  workers: number;
  resyncMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  defaultPassword: string;
  reloadStrategy: 'annotations' | 'restartedAt';
  reloadSettleMs: number;
  reloadOnCreate: boolean;
  expiryWarningMs: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaseDurationMs: number;
  shutdownTimeoutMs: number;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const FIELD: Record<string, string> = { resync: 'resyncMs', 'retry-base': 'retryBaseMs', 'retry-max': 'retryMaxMs', 'reload-settle': 'reloadSettleMs', 'expiry-warning': 'expiryWarningMs', 'lease-duration': 'leaseDurationMs', 'shutdown-timeout': 'shutdownTimeoutMs' };

export class ConfigError extends Error {}

const BOOLEAN_FLAGS = new Set(FLAGS.filter((f) => f.parse === parseBool).map((f) => `--${f.name}`));

/**
 * A boolean flag alone means true (`--leader-elect`), as in Go's flag package and kubectl.
 * parseArgs' string options need a value and its boolean options refuse one, so a bare
 * boolean flag (the last argument, or one followed by another flag) gets "true" here;
 * `--leader-elect=false` and `--leader-elect false` keep working: `run` takes no
 * positional arguments, so a word after a boolean flag can only be its value.
 */
function bareBooleansTrue(argv: string[]): string[] {
  return argv.flatMap((a, i) => (BOOLEAN_FLAGS.has(a) && (i + 1 === argv.length || argv[i + 1].startsWith('-')) ? [a, 'true'] : [a]));
}

/** Parses argv (after the subcommand) and env into a Config. Throws ConfigError with a clear message. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: bareBooleansTrue(argv),
      options: Object.fromEntries(FLAGS.map((f) => [f.name, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const out: Record<string, unknown> = {};
  for (const f of FLAGS) {
    const raw = (values[f.name] as string | undefined) ?? (env[f.env] || undefined) ?? f.default; // empty env = unset
    try {
      out[FIELD[f.name] ?? camel(f.name)] = f.parse ? f.parse(raw) : raw;
    } catch (err) {
      throw new ConfigError(`--${f.name} (${f.env}): ${(err as Error).message}`);
    }
  }
  out.namespaces = String(out.namespaces).split(',').map((s) => s.trim()).filter(Boolean);
  return out as unknown as Config;
}

export function helpText(): string {
  const rows = FLAGS.map((f) => `  --${f.name.padEnd(27)} ${f.help}\n  ${' '.repeat(29)} env ${f.env}${f.default ? `, default ${f.default}` : ''}`);
  return [
    'annotary — certificate utilities for Kubernetes: Java keystores from TLS Secrets,',
    'certificates into Routes and Ingresses, one rolling restart per real change.',
    '',
    'Usage:',
    '  annotary run [flags]                 run the operator',
    '  annotary keystore --cert F --key F [--ca F] --password PW --out-dir DIR',
    '                                       write Java stores offline (see annotary keystore --help)',
    '  annotary annotations                 print every annotation key as a markdown table',
    '  annotary events                      print every Event reason as a markdown table',
    '  annotary --help | --version',
    '',
    'Flags of `annotary run` (flag > environment variable > default):',
    ...rows,
    '',
    `Boolean flags (${[...BOOLEAN_FLAGS].join(', ')}) alone mean true: --leader-elect is --leader-elect=true;`,
    'turn one off with --leader-elect=false (or --leader-elect false).',
  ].join('\n');
}
