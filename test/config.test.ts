import { describe, expect, test } from '@jest/globals';
import { CONTROLLERS, ConfigError, FLAGS, helpText, isBooleanFlag, loadConfig, parseBool, parseDuration } from '../src/config.js';

describe('config precedence: flag > environment variable > default', () => {
  test('defaults with no flags and an empty environment', () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({
      kubeconfig: '',
      context: '',
      namespaces: [],
      controllers: [...CONTROLLERS],
      compat: true,
      metricsAddr: ':8080',
      logLevel: 'info',
      logFormat: 'json',
      workers: 4,
      resyncMs: 600_000,
      retryBaseMs: 500,
      retryMaxMs: 300_000,
      defaultPassword: 'changeit',
      reloadStrategy: 'annotations',
      reloadSettleMs: 3000,
      reloadOnCreate: 'by-keys',
      namespaceSelector: '',
      expiryWarningMs: 720 * 3_600_000,
      leaderElect: false,
      leaderElectionNamespace: '',
      leaseDurationMs: 15_000,
      shutdownTimeoutMs: 30_000,
    });
  });

  test('every flag has a config field that its default fills', () => {
    const c = loadConfig([], {}) as unknown as Record<string, unknown>;
    expect(Object.keys(c).length).toBe(FLAGS.length);
    for (const v of Object.values(c)) expect(v).not.toBeUndefined();
  });

  test('env beats default; flag beats env', () => {
    const env = { ANNOTARY_WORKERS: '8', ANNOTARY_LOG_LEVEL: 'debug', ANNOTARY_RESYNC: '30s' };
    expect(loadConfig([], env)).toMatchObject({ workers: 8, logLevel: 'debug', resyncMs: 30_000 });
    expect(loadConfig(['--workers', '2', '--resync=1m'], env)).toMatchObject({ workers: 2, logLevel: 'debug', resyncMs: 60_000 });
  });

  test('KUBECONFIG is the env var of --kubeconfig', () => {
    expect(loadConfig([], { KUBECONFIG: '/tmp/kc' }).kubeconfig).toBe('/tmp/kc');
    expect(loadConfig(['--kubeconfig', '/x'], { KUBECONFIG: '/tmp/kc' }).kubeconfig).toBe('/x');
  });

  test('list values: namespaces and controllers are trimmed comma lists', () => {
    const c = loadConfig(['--namespaces', ' a, b,,c ', '--controllers', 'keystores, reload'], {});
    expect(c.namespaces).toEqual(['a', 'b', 'c']);
    expect(c.controllers).toEqual(['keystores', 'reload']);
    expect(loadConfig([], { ANNOTARY_NAMESPACES: 'x' }).namespaces).toEqual(['x']);
  });

  test('booleans accept true/false/1/0/yes/no/on/off in any case', () => {
    for (const [v, b] of [
      ['true', true],
      ['FALSE', false],
      ['1', true],
      ['0', false],
      ['Yes', true],
      ['no', false],
      ['on', true],
      ['off', false],
    ] as const) {
      expect(loadConfig(['--compat', v], {}).compat).toBe(b);
      expect(parseBool(v)).toBe(b);
    }
  });
});

describe('boolean flags work bare and with a value', () => {
  const booleans = FLAGS.filter(isBooleanFlag).map((f) => f.name);
  const field = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as 'leaderElect';

  test('there are boolean flags to check', () => {
    expect(booleans).toEqual(expect.arrayContaining(['compat', 'reload-on-create', 'leader-elect']));
  });

  test.each(booleans.map((b) => [b]))('--%s alone is true: last, before another flag, and beating its env var', (name) => {
    const off = { [FLAGS.find((f) => f.name === name)!.env]: 'false' };
    expect(loadConfig([`--${name}`], off)[field(name)]).toBe(true);
    const c = loadConfig([`--${name}`, '--workers', '2'], off);
    expect(c[field(name)]).toBe(true);
    expect(c.workers).toBe(2);
    expect(loadConfig([`--${name}`, '--namespaces=a'], off).namespaces).toEqual(['a']);
  });

  test.each(booleans.map((b) => [b]))('--%s=false and --%s false turn it off', (name) => {
    expect(loadConfig([`--${name}=false`], {})[field(name)]).toBe(false);
    expect(loadConfig([`--${name}`, 'false', '--workers', '2'], {})[field(name)]).toBe(false);
  });

  test('--help says so', () => {
    expect(helpText()).toContain('--leader-elect is --leader-elect=true');
  });
});

describe('durations parse as ms, s, m, h, d', () => {
  test.each([
    ['500ms', 500],
    ['3s', 3000],
    ['10m', 600_000],
    ['720h', 2_592_000_000],
    ['0s', 0],
    ['1.5s', 1500],
    [' 2m ', 120_000],
    ['90d', 7_776_000_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(['', '10', '5w', '1h30m', '-1s', 'ten seconds', 's'])('"%s" is refused', (text) => {
    expect(() => parseDuration(text)).toThrow(/not a duration/);
  });

  test('duration flags land in their *Ms fields', () => {
    const c = loadConfig(
      [
        '--retry-base',
        '250ms',
        '--retry-max',
        '2m',
        '--reload-settle',
        '1s',
        '--expiry-warning',
        '48h',
        '--lease-duration',
        '20s',
        '--shutdown-timeout',
        '1m',
      ],
      {},
    );
    expect(c).toMatchObject({
      retryBaseMs: 250,
      retryMaxMs: 120_000,
      reloadSettleMs: 1000,
      expiryWarningMs: 48 * 3_600_000,
      leaseDurationMs: 20_000,
      shutdownTimeoutMs: 60_000,
    });
  });
});

describe('bad values give a ConfigError naming the flag and its environment variable', () => {
  const bad: [string, string][] = [
    ['workers', '0'],
    ['workers', 'many'],
    ['resync', '10'],
    ['retry-base', 'soon'],
    ['compat', 'maybe'],
    ['log-level', 'trace'],
    ['log-format', 'xml'],
    ['controllers', 'keystores,nope'],
    ['reload-strategy', 'kill'],
    ['expiry-warning', '30w'],
    ['serving-ca', 'just-a-name'],
    ['leader-elect', 'sure'],
    ['lease-duration', 'x'],
    ['shutdown-timeout', '1y'],
  ];
  test.each(bad)('--%s %s', (flag, value) => {
    const spec = FLAGS.find((f) => f.name === flag)!;
    for (const [argv, env] of [
      [[`--${flag}`, value], {}],
      [[], { [spec.env]: value }],
    ] as const) {
      let err: unknown;
      try {
        loadConfig([...argv], { ...env });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain(`--${flag}`);
      expect((err as Error).message).toContain(spec.env);
      expect((err as Error).message).toContain(value.split(',').pop()!); // the offending value (or list item)
    }
  });

  test('unknown flags are rejected with a ConfigError', () => {
    expect(() => loadConfig(['--wrokers', '3'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--wrokers', '3'], {})).toThrow(/wrokers/);
  });

  test('positional arguments are rejected with a ConfigError', () => {
    expect(() => loadConfig(['extra'], {})).toThrow(ConfigError);
  });

  test('a bad env value is ignored when the flag overrides it', () => {
    expect(loadConfig(['--workers', '3'], { ANNOTARY_WORKERS: 'lots' }).workers).toBe(3);
  });
});

describe('--help documents every flag and its environment variable', () => {
  const help = helpText();
  test.each(FLAGS.map((f) => [f.name, f.env]))('--%s / %s', (name, env) => {
    expect(help).toContain(`--${name} `);
    expect(help).toContain(`env ${env}`);
  });

  test('non-empty defaults are shown', () => {
    for (const f of FLAGS.filter((x) => x.default)) expect(help).toContain(`default ${f.default}`);
  });

  test('flag names and env vars are unique', () => {
    expect(new Set(FLAGS.map((f) => f.name)).size).toBe(FLAGS.length);
    expect(new Set(FLAGS.map((f) => f.env)).size).toBe(FLAGS.length);
  });
});

describe("stakater Reloader's --reload-on-create and --namespace-selector", () => {
  test('--reload-on-create takes true, false or by-keys (the default); alone it is true', () => {
    expect(loadConfig([], {}).reloadOnCreate).toBe('by-keys');
    expect(loadConfig(['--reload-on-create=false'], {}).reloadOnCreate).toBe(false);
    expect(loadConfig(['--reload-on-create', 'By-Keys'], {}).reloadOnCreate).toBe('by-keys');
    expect(loadConfig(['--reload-on-create'], { ANNOTARY_RELOAD_ON_CREATE: 'false' }).reloadOnCreate).toBe(true);
    expect(() => loadConfig(['--reload-on-create=sometimes'], {})).toThrow(ConfigError);
  });
  test("--namespace-selector is a label selector with Reloader's legacy forms, checked when flags are parsed", () => {
    for (const v of ['team=a', 'team:a', 'team:*', 'team in (a,b),!frozen'])
      expect(loadConfig(['--namespace-selector', v], {}).namespaceSelector).toBe(v);
    expect(() => loadConfig(['--namespace-selector', 'team in (a'], {})).toThrow(/--namespace-selector \(ANNOTARY_NAMESPACE_SELECTOR\)/);
  });
});
