// Flags of `annotary run`. Each flag has an environment variable and a default; the
// precedence is flag > env > default. --help and the Config type are generated from this table.
import { parseArgs } from 'node:util';
import { parseReloaderSelector } from './kube/labels.js';
import type { FlapLimit } from './controllers/reload-gates.js';
import { parseFlapGuard } from './controllers/reload-gates.js';
import { isRefusal } from './kube/refusal.js';

export interface FlagSpec<Field extends string = string, T = unknown> {
  /** the Config field the flag sets */
  field: Field;
  name: string;
  env: string;
  default: string;
  help: string;
  /** validates and converts; throws with a message for bad values */
  parse: (v: string) => T;
}

/** One row of FLAGS: keeps the literal field name and the parse result type, which become that field of Config. */
const flag = <Field extends string, T>(spec: FlagSpec<Field, T>): FlagSpec<Field, T> => spec;

export const CONTROLLERS = [
  'keystores',
  'routes',
  'ingresses',
  'reload',
  'expiry',
  'generate',
  'issuing',
  'serving-certs',
  'csr',
  'ca-injection',
  'trust-bundles',
] as const;
export type ControllerName = (typeof CONTROLLERS)[number];
/**
 * The controllers that read cluster-scoped objects (CertificateSigningRequests; webhook
 * configurations, APIServices and CRDs; Namespaces), which only a ClusterRoleBinding grants: a
 * namespaced install (overlays/namespaced, the chart's rbac.scope namespaced) runs the others.
 */
export const NAMESPACED_CONTROLLERS = CONTROLLERS.filter((c) => !['csr', 'ca-injection', 'trust-bundles'].includes(c));

export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v.trim());
  if (!m) throw new Error(`"${v}" is not a duration (e.g. 500ms, 3s, 10m, 720h, 90d)`);
  // d: certificate lifetimes are counted in days (cert-manager's 2160h is 90d); a day is 24h here
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

export function parseBool(v: string): boolean {
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new Error(`"${v}" is not a boolean (true/false)`);
}

/**
 * --reload-on-create: true, false, or by-keys (the default), which gives each workload the default
 * of the tool whose keys it uses: annotary's (true) with any annotary.io reload key, else
 * stakater Reloader's (false), so a Reloader user keeps Reloader's behaviour without a flag.
 */
export type ReloadOnCreate = boolean | 'by-keys';
function parseReloadOnCreate(v: string): ReloadOnCreate {
  return v.trim().toLowerCase() === 'by-keys' ? 'by-keys' : parseBool(v);
}

/** The value as given. */
function parseString(v: string): string {
  return v;
}

/** A comma list: items trimmed, empty items dropped. */
function parseList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
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

/** Empty, or `<namespace>/<name>` with DNS-1123 parts (a Secret named across namespaces). */
function parseOptionalRef(v: string): string {
  const s = v.trim();
  if (s === '') return s;
  const m = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)$/.exec(s);
  if (!m || m[1].length > 63 || m[2].length > 253) throw new Error(`"${v}" is not <namespace>/<secret>`);
  return s;
}

/** A label selector, validated (src/kube/labels.ts); the reload controller compiles it. */
function parseSelector(v: string): string {
  parseReloaderSelector(v);
  return v;
}

/** A non-negative integer: 0 means no limit. */
function parseLimit(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`"${v}" is not a non-negative integer (0: no limit)`);
  return n;
}

/** The flap guard's default (reload-gates.ts): `N/M`, or null for none (empty or off). */
function parseFlapDefault(v: string): FlapLimit | null {
  const limit = parseFlapGuard(v);
  if (isRefusal(limit)) throw new Error(`"${v}" is not <changes>/<Go duration> (5/10m) or off`);
  return limit === 'off' || limit === undefined ? null : limit;
}

function parseControllers(v: string): ControllerName[] {
  return parseList(v).map(parseChoice(CONTROLLERS));
}

export const FLAGS = [
  flag({
    field: 'kubeconfig',
    name: 'kubeconfig',
    env: 'KUBECONFIG',
    default: '',
    help: 'kubeconfig file; empty: $KUBECONFIG, ~/.kube/config, then in-cluster',
    parse: parseString,
  }),
  flag({
    field: 'context',
    name: 'context',
    env: 'ANNOTARY_CONTEXT',
    default: '',
    help: 'kubeconfig context (default: current context)',
    parse: parseString,
  }),
  flag({
    field: 'namespaces',
    name: 'namespaces',
    env: 'ANNOTARY_NAMESPACES',
    default: '',
    help: 'comma list of namespaces to watch; empty: all namespaces',
    parse: parseList,
  }),
  flag({
    field: 'controllers',
    name: 'controllers',
    env: 'ANNOTARY_CONTROLLERS',
    default: CONTROLLERS.join(','),
    help: 'controllers to run',
    parse: parseControllers,
  }),
  flag({
    field: 'compat',
    name: 'compat',
    env: 'ANNOTARY_COMPAT',
    default: 'true',
    help:
      "honour the annotation keys of cert-utils-operator, stakater Reloader, mittwald's secret-generator, cert-manager's cainjector " +
      "and OpenShift's service-ca",
    parse: parseBool,
  }),
  flag({
    field: 'metricsAddr',
    name: 'metrics-addr',
    env: 'ANNOTARY_METRICS_ADDR',
    default: ':8080',
    help: 'listen address for /metrics, /healthz, /readyz ("0" disables)',
    parse: parseString,
  }),
  flag({
    field: 'logLevel',
    name: 'log-level',
    env: 'ANNOTARY_LOG_LEVEL',
    default: 'info',
    help: 'error, warn, info or debug',
    parse: parseChoice(['error', 'warn', 'info', 'debug'] as const),
  }),
  flag({
    field: 'logFormat',
    name: 'log-format',
    env: 'ANNOTARY_LOG_FORMAT',
    default: 'json',
    help: 'json or text',
    parse: parseChoice(['json', 'text'] as const),
  }),
  flag({
    field: 'events',
    name: 'events',
    env: 'ANNOTARY_EVENTS',
    default: 'all',
    help:
      'the Events written: all, or warnings (Normal ones such as StoresUpdated and Reloaded are then logged and counted in ' +
      'annotary_events_total only: one request less per change)',
    parse: parseChoice(['all', 'warnings'] as const),
  }),
  flag({
    field: 'workers',
    name: 'workers',
    env: 'ANNOTARY_WORKERS',
    default: '4',
    help: 'concurrent reconciles per controller',
    parse: parseInt1,
  }),
  flag({
    field: 'resyncMs',
    name: 'resync',
    env: 'ANNOTARY_RESYNC',
    default: '10m',
    help: 'period of the full resync of every cache (0s disables)',
    parse: parseDuration,
  }),
  flag({
    field: 'retryBaseMs',
    name: 'retry-base',
    env: 'ANNOTARY_RETRY_BASE',
    default: '500ms',
    help: 'first retry delay of a failed reconcile (doubles per failure)',
    parse: parseDuration,
  }),
  flag({
    field: 'retryMaxMs',
    name: 'retry-max',
    env: 'ANNOTARY_RETRY_MAX',
    default: '5m',
    help: 'longest retry delay',
    parse: parseDuration,
  }),
  flag({
    field: 'defaultPassword',
    name: 'default-password',
    env: 'ANNOTARY_DEFAULT_PASSWORD',
    default: 'changeit',
    help: 'store password when a Secret names none (cert-utils keys keep their own default, changeme)',
    parse: parseString,
  }),
  flag({
    field: 'reloadStrategy',
    name: 'reload-strategy',
    env: 'ANNOTARY_RELOAD_STRATEGY',
    default: 'annotations',
    help: "annotations (pod-template digest), restartedAt (kubectl rollout restart semantics) or env-vars (Reloader's STAKATER_* variables)",
    parse: parseChoice(['annotations', 'restartedAt', 'env-vars'] as const),
  }),
  flag({
    field: 'reloadSettleMs',
    name: 'reload-settle',
    env: 'ANNOTARY_RELOAD_SETTLE',
    default: '3s',
    help: 'changes to referenced objects within this window coalesce into one rollout',
    parse: parseDuration,
  }),
  flag({
    field: 'reloadOnCreate',
    name: 'reload-on-create',
    env: 'ANNOTARY_RELOAD_ON_CREATE',
    default: 'by-keys',
    help: "a missing watched object's creation counts as a change: true, false, or by-keys (true with annotary's reload keys, false with Reloader's only)",
    parse: parseReloadOnCreate,
  }),
  flag({
    field: 'reloadOnDelete',
    name: 'reload-on-delete',
    env: 'ANNOTARY_RELOAD_ON_DELETE',
    default: 'false',
    help: 'the deletion of a watched object counts as a change (off, as in Reloader)',
    parse: parseBool,
  }),
  flag({
    field: 'reloadConsumedKeysOnly',
    name: 'reload-consumed-keys-only',
    env: 'ANNOTARY_RELOAD_CONSUMED_KEYS_ONLY',
    default: 'false',
    help: 'roll only on changes of the keys a pod template reads (annotary.io/reload-consumed-keys-only overrides it per workload)',
    parse: parseBool,
  }),
  flag({
    field: 'reloadValidateTls',
    name: 'reload-validate-tls',
    env: 'ANNOTARY_RELOAD_VALIDATE_TLS',
    default: 'true',
    help: 'hold a rollout onto a TLS Secret whose key does not match its certificate, or that is expired or does not parse',
    parse: parseBool,
  }),
  // reload gates (#17; see docs/reload.md): flap guard, rollout budget
  flag({
    field: 'reloadFlapGuard',
    name: 'reload-flap-guard',
    env: 'ANNOTARY_RELOAD_FLAP_GUARD',
    default: 'off',
    help: 'N/M (5/10m): after more than N changes within M a workload stops rolling, and rolls once after M without a change; off: no guard',
    parse: parseFlapDefault,
  }),
  flag({
    field: 'maxConcurrentRollouts',
    name: 'max-concurrent-rollouts',
    env: 'ANNOTARY_MAX_CONCURRENT_ROLLOUTS',
    default: '0',
    help: 'at most this many watched Deployments/StatefulSets/DaemonSets rolling at once (kubectl rollout status); 0: no limit',
    parse: parseLimit,
  }),
  // stakater Reloader's flags, with Reloader's meaning (#17; see docs/reload.md)
  flag({
    field: 'autoReloadAll',
    name: 'auto-reload-all',
    env: 'ANNOTARY_AUTO_RELOAD_ALL',
    default: 'false',
    help: 'reload every workload as if annotated reloader.stakater.com/auto: "true", unless it sets an auto key itself',
    parse: parseBool,
  }),
  flag({
    field: 'namespacesToIgnore',
    name: 'namespaces-to-ignore',
    env: 'ANNOTARY_NAMESPACES_TO_IGNORE',
    default: '',
    help: 'comma list of namespaces where nothing is reloaded',
    parse: parseList,
  }),
  flag({
    field: 'resourceLabelSelector',
    name: 'resource-label-selector',
    env: 'ANNOTARY_RESOURCE_LABEL_SELECTOR',
    default: '',
    help: "label selector: only Secrets and ConfigMaps it selects trigger reloads (Reloader's key:value forms too)",
    parse: parseSelector,
  }),
  flag({
    field: 'namespaceSelector',
    name: 'namespace-selector',
    env: 'ANNOTARY_NAMESPACE_SELECTOR',
    default: '',
    help: "label selector: only workloads in namespaces whose labels it selects are reloaded (Reloader's key:value forms too)",
    parse: parseSelector,
  }),
  flag({
    field: 'expiryWarningMs',
    name: 'expiry-warning',
    env: 'ANNOTARY_EXPIRY_WARNING',
    default: '720h',
    help: 'Warning Event when a certificate expires within this duration',
    parse: parseDuration,
  }),
  flag({
    field: 'servingCa',
    name: 'serving-ca',
    env: 'ANNOTARY_SERVING_CA',
    default: '',
    help: 'CA Secret (<namespace>/<name>) that signs Service serving certificates; empty: a self-signed CA annotary makes',
    parse: parseOptionalRef,
  }),
  flag({
    field: 'servingCaNamespace',
    name: 'serving-ca-namespace',
    env: 'ANNOTARY_SERVING_CA_NAMESPACE',
    default: '',
    help: 'namespace of the self-signed serving CA (default: the pod namespace or "default")',
    parse: parseString,
  }),
  flag({
    field: 'caRotationGraceMs',
    name: 'ca-rotation-grace',
    env: 'ANNOTARY_CA_ROTATION_GRACE',
    default: '1h',
    help: 'when a CA changes: how long issued Secrets trust old and new CA before their leaf is re-issued, and again before the old CA goes',
    parse: parseDuration,
  }),
  flag({
    field: 'systemCaBundle',
    name: 'system-ca-bundle',
    env: 'ANNOTARY_SYSTEM_CA_BUNDLE',
    default: '/etc/ssl/certs/ca-certificates.crt',
    help: 'PEM file of the CA certificates a trust bundle\'s "system" source stands for (the image\'s; Debian/Alpine path)',
    parse: parseString,
  }),
  flag({
    field: 'leaderElect',
    name: 'leader-elect',
    env: 'ANNOTARY_LEADER_ELECT',
    default: 'false',
    help: 'run several replicas; only the Lease holder reconciles',
    parse: parseBool,
  }),
  flag({
    field: 'leaderElectionNamespace',
    name: 'leader-election-namespace',
    env: 'ANNOTARY_LEADER_ELECTION_NAMESPACE',
    default: '',
    help: 'namespace of the Lease (default: the pod namespace or "default")',
    parse: parseString,
  }),
  flag({
    field: 'leaseDurationMs',
    name: 'lease-duration',
    env: 'ANNOTARY_LEASE_DURATION',
    default: '15s',
    help: 'how long a leader holds the Lease without renewing',
    parse: parseDuration,
  }),
  flag({
    field: 'shutdownTimeoutMs',
    name: 'shutdown-timeout',
    env: 'ANNOTARY_SHUTDOWN_TIMEOUT',
    default: '30s',
    help: 'how long SIGTERM waits for in-flight reconciles',
    parse: parseDuration,
  }),
];

/** What `annotary run` runs with: one field per row of FLAGS, typed by what that row's parse returns. */
export type Config = { [F in (typeof FLAGS)[number] as F['field']]: ReturnType<F['parse']> };

export class ConfigError extends Error {}

/** A flag that alone means true: the booleans, and --reload-on-create (a boolean with a third value). */
export const isBooleanFlag = (f: FlagSpec) => f.parse === parseBool || f.parse === parseReloadOnCreate;
const BOOLEAN_FLAGS = new Set(FLAGS.filter(isBooleanFlag).map((f) => `--${f.name}`));

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
  let values: Record<string, string | undefined>;
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
  const fields = FLAGS.map((f) => {
    const raw = values[f.name] ?? (env[f.env] || undefined) ?? f.default; // empty env = unset
    try {
      return [f.field, f.parse(raw)] as const;
    } catch (err) {
      throw new ConfigError(`--${f.name} (${f.env}): ${(err as Error).message}`);
    }
  });
  // Object.fromEntries cannot type keys: this is Config because FLAGS has one row per field (test/config.test.ts)
  return Object.fromEntries(fields) as Config;
}

export function helpText(): string {
  const rows = FLAGS.map(
    (f) => `  --${f.name.padEnd(27)} ${f.help}\n  ${' '.repeat(29)} env ${f.env}${f.default ? `, default ${f.default}` : ''}`,
  );
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
    '  annotary generate-types              print every generated-secret type and its options as a markdown table',
    '  annotary --help | --version',
    '',
    'Flags of `annotary run` (flag > environment variable > default):',
    ...rows,
    '',
    `Boolean flags (${[...BOOLEAN_FLAGS].join(', ')}) alone mean true: --leader-elect is --leader-elect=true;`,
    'turn one off with --leader-elect=false (or --leader-elect false).',
  ].join('\n');
}
