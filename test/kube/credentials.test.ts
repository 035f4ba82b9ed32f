// Credentials: a static kubeconfig and the Pod's ServiceAccount read in process; everything else
// resolved by client-node in a child process, handed back as plain data.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as yaml from 'js-yaml';
import type { Credentials } from '../../src/kube/credentials.js';
import { CredentialsProvider, inClusterCredentials, resolveCredentials, resolveInChild } from '../../src/kube/credentials.js';
import { staticKubeconfigCredentials } from '../../src/kube/kubeconfig.js';

const dir = mkdtempSync(path.join(tmpdir(), 'annotary-creds-'));
const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n');

function kubeconfig(name: string, config: object): string {
  const file = path.join(dir, name);
  writeFileSync(file, yaml.dump(config));
  return file;
}

const twoContexts = () =>
  kubeconfig('two.yaml', {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'a',
    clusters: [
      {
        name: 'a',
        cluster: {
          server: 'https://a.example:6443/',
          'certificate-authority-data': CA.toString('base64'),
          'tls-server-name': 'kubernetes',
        },
      },
      { name: 'b', cluster: { server: 'https://b.example:6443', 'insecure-skip-tls-verify': true } },
    ],
    users: [
      { name: 'token-user', user: { token: 'tok-a' } },
      { name: 'basic-user', user: { username: 'u', password: 'p', as: 'someone' } },
    ],
    contexts: [
      { name: 'a', context: { cluster: 'a', user: 'token-user' } },
      { name: 'b', context: { cluster: 'b', user: 'basic-user' } },
    ],
  });

describe('resolveCredentials reads a kubeconfig the way kubectl does', () => {
  test('current context: server (no trailing slash), CA, TLS server name and bearer token', async () => {
    const c = await resolveCredentials({ kubeconfig: twoContexts() });
    expect(c.server).toBe('https://a.example:6443');
    expect(c.ca?.equals(CA)).toBe(true);
    expect(c.servername).toBe('kubernetes');
    expect(c.headers.Authorization).toBe('Bearer tok-a');
    expect(c.rejectUnauthorized).toBeUndefined();
  });

  test('--context picks another context: insecure-skip-tls-verify, basic auth and impersonation', async () => {
    const c = await resolveCredentials({ kubeconfig: twoContexts(), context: 'b' });
    expect(c.server).toBe('https://b.example:6443');
    expect(c.rejectUnauthorized).toBe(false);
    expect(c.headers.Authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(c.headers['Impersonate-User']).toBe('someone');
  });

  test('a path list is merged: the first file names the current context', async () => {
    const users = kubeconfig('users.yaml', {
      apiVersion: 'v1',
      kind: 'Config',
      users: [{ name: 'extra', user: { token: 'tok-extra' } }],
      clusters: [],
      contexts: [{ name: 'x', context: { cluster: 'a', user: 'extra' } }],
    });
    const c = await resolveCredentials({ kubeconfig: [twoContexts(), users].join(path.delimiter), context: 'x' });
    expect(c.headers.Authorization).toBe('Bearer tok-extra');
    expect(c.server).toBe('https://a.example:6443');
  });

  test('an auth-provider token file is handed back as a file, to be re-read as it rotates', async () => {
    const token = path.join(dir, 'token');
    writeFileSync(token, 'tok-file-1');
    const file = kubeconfig('tokenfile.yaml', {
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      clusters: [{ name: 'c', cluster: { server: 'https://c.example' } }],
      users: [{ name: 'sa', user: { 'auth-provider': { name: 'tokenFile', config: { tokenFile: token } } } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'sa' } }],
    });
    const c = await resolveCredentials({ kubeconfig: file });
    expect(c.tokenFile).toBe(token);
  });

  test('a missing file, an unknown context, a proxy-url: a clear error', async () => {
    await expect(resolveCredentials({ kubeconfig: path.join(dir, 'nope.yaml') })).rejects.toThrow(
      /cannot load the kubeconfig: .*nope\.yaml/,
    );
    await expect(resolveCredentials({ kubeconfig: twoContexts(), context: 'zzz' })).rejects.toThrow(/cannot load the kubeconfig/);
    const proxied = kubeconfig('proxy.yaml', {
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'p',
      clusters: [{ name: 'p', cluster: { server: 'https://p.example', 'proxy-url': 'http://proxy:3128' } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'p', context: { cluster: 'p', user: 'u' } }],
    });
    await expect(resolveCredentials({ kubeconfig: proxied })).rejects.toThrow(
      'cannot load the kubeconfig: proxy-url in the kubeconfig is not supported',
    );
  }, 30_000); // three child processes that load client-node: seconds each on a busy 2-core machine

  test('a malformed kubeconfig is reported without quoting it (it may hold a token)', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'users:\n- name: u\n  user:\n    token: SUPERSECRETTOKEN\n   bad: [indent\n');
    const err = await resolveCredentials({ kubeconfig: file }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^cannot load the kubeconfig: bad indentation of a mapping entry \(5:4\)$/);
    expect(err?.message).not.toContain('SUPERSECRETTOKEN');
  });
});

const oneContext = (name: string, cluster: object, user: object | undefined, extra: object = {}) =>
  kubeconfig(name, {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'only',
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', ...(user ? { user } : {}) }],
    contexts: [{ name: 'only', context: { cluster: 'c', user: 'u' } }],
    ...extra,
  });

describe('a static kubeconfig is read in process, with the answers client-node gives in the child', () => {
  mkdirSync(path.join(dir, 'pki'), { recursive: true });
  writeFileSync(path.join(dir, 'pki', 'ca.crt'), CA);
  writeFileSync(path.join(dir, 'pki', 'client.crt'), 'client certificate bytes');
  writeFileSync(path.join(dir, 'pki', 'client.key'), 'client key bytes');
  writeFileSync(path.join(dir, 'bearer'), 'tok-from-file\n');
  type Case = { what: string; file: () => string; context?: string };
  const staticOnes: Case[] = [
    { what: 'token, CA data, TLS server name, a trailing slash', file: twoContexts },
    {
      what: 'client certificate and key files and a CA file, relative to the kubeconfig; insecure-skip-tls-verify',
      file: () =>
        oneContext(
          'files.yaml',
          { server: 'https://f.example:6443', 'certificate-authority': 'pki/ca.crt', 'insecure-skip-tls-verify': true },
          { 'client-certificate': 'pki/client.crt', 'client-key': path.join(dir, 'pki', 'client.key') },
        ),
    },
    {
      what: 'client certificate and key data, a token file',
      file: () =>
        oneContext(
          'data.yaml',
          { server: 'https://d.example', 'certificate-authority-data': CA.toString('base64'), 'insecure-skip-tls-verify': false },
          { 'client-certificate-data': 'Y2VydA==', 'client-key-data': 'a2V5', 'token-file': path.join(dir, 'bearer') },
        ),
    },
    { what: 'a user with no body: no credentials at all', file: () => oneContext('bare.yaml', { server: 'https://b.example' }, undefined) },
    { what: 'a context named by --context', file: twoContexts, context: 'a' },
  ];
  test.each(staticOnes)(
    '$what',
    async ({ file, context }) => {
      const source = { kubeconfig: file(), context };
      const inProcess = staticKubeconfigCredentials(source, {});
      expect(inProcess).toBeDefined();
      expect(inProcess).toEqual(await resolveInChild(source));
    },
    30_000,
  );

  test('found where client-node looks: a one-file $KUBECONFIG, then ~/.kube/config', () => {
    const file = twoContexts();
    const expected = staticKubeconfigCredentials({ kubeconfig: file }, {});
    expect(staticKubeconfigCredentials({}, { KUBECONFIG: file })).toEqual(expected);
    mkdirSync(path.join(dir, 'home', '.kube'), { recursive: true });
    writeFileSync(path.join(dir, 'home', '.kube', 'config'), readFileSync(file));
    expect(staticKubeconfigCredentials({}, { HOME: path.join(dir, 'home') })).toEqual(expected);
    expect(staticKubeconfigCredentials({}, { HOME: path.join(dir, 'nohome') })).toBeUndefined();
  });

  const exec = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'get-token' } };
  const childOnes: Case[] = [
    { what: 'basic auth and impersonation', file: twoContexts, context: 'b' },
    { what: 'an exec plugin', file: () => oneContext('exec.yaml', { server: 'https://e.example' }, exec) },
    {
      what: 'an auth-provider',
      file: () => oneContext('ap.yaml', { server: 'https://e.example' }, { 'auth-provider': { name: 'oidc', config: {} } }),
    },
    {
      what: 'a proxy',
      file: () => oneContext('px.yaml', { server: 'https://e.example', 'proxy-url': 'http://proxy:3128' }, { token: 't' }),
    },
    {
      what: 'plain http',
      file: () => oneContext('http.yaml', { server: 'http://e.example', 'insecure-skip-tls-verify': true }, { token: 't' }),
    },
    {
      what: 'a key this path does not know',
      file: () => oneContext('ext.yaml', { server: 'https://e.example', extensions: [] }, { token: 't' }),
    },
    {
      what: 'an entry client-node rejects, though not the current one',
      file: () =>
        oneContext('bad.yaml', { server: 'https://e.example' }, { token: 't' }, { users: [{ name: 'u', user: { token: 't' } }, {}] }),
    },
    { what: 'a path list', file: () => [twoContexts(), twoContexts()].join(path.delimiter) },
    { what: 'an unknown context', file: twoContexts, context: 'zzz' },
    { what: 'a file that is not there', file: () => path.join(dir, 'nope.yaml') },
  ];
  test.each(childOnes)('left to client-node: $what', ({ file, context }) => {
    expect(staticKubeconfigCredentials({ kubeconfig: file(), context }, {})).toBeUndefined();
  });

  test('an entry client-node rejects is rejected by client-node, in the child', async () => {
    const file = oneContext(
      'bad2.yaml',
      { server: 'https://e.example' },
      { token: 't' },
      { users: [{ name: 'u', user: { token: 't' } }, {}] },
    );
    await expect(resolveInChild({ kubeconfig: file })).rejects.toThrow(/cannot load the kubeconfig: users\[1\]\.name is missing/);
  }, 30_000);
});

describe('CredentialsProvider: resolve once, again after a 401, re-read a rotating token file', () => {
  const creds = (n: number, over: Partial<Credentials> = {}): Credentials => ({
    server: `https://s${n}`,
    headers: { Authorization: `Bearer t${n}` },
    ...over,
  });

  test('concurrent requests share one resolution; a 401 re-resolves once however many saw it', async () => {
    let calls = 0;
    const p = new CredentialsProvider({}, async () => creds(++calls));
    const [a, b] = await Promise.all([p.get(), p.get()]);
    expect(a).toBe(b);
    expect(calls).toBe(1);
    const [r1, r2] = await Promise.all([p.refresh(a), p.refresh(a)]);
    expect(calls).toBe(2);
    expect(r1).toBe(r2);
    expect(r1.server).toBe('https://s2');
    // a request that still held the first credentials does not trigger a third run
    await p.refresh(a);
    expect(calls).toBe(2);
  });

  test('a failed resolution is not kept: the next request tries again', async () => {
    let calls = 0;
    const p = new CredentialsProvider({}, async () => {
      if (++calls === 1) throw new Error('exec plugin failed');
      return creds(calls);
    });
    await expect(p.get()).rejects.toThrow('exec plugin failed');
    await expect(p.get()).resolves.toMatchObject({ server: 'https://s2' });
  });

  test('token file: read on first use, kept for a minute, read again after (as client-go does)', () => {
    const token = path.join(dir, 'rotating');
    writeFileSync(token, 'first\n');
    const p = new CredentialsProvider({}, async () => creds(1));
    const c = creds(1, { headers: { 'Impersonate-User': 'x' }, tokenFile: token });
    expect(p.headers(c, 0)).toEqual({ 'Impersonate-User': 'x', Authorization: 'Bearer first' });
    writeFileSync(token, 'second\n');
    expect(p.headers(c, 59_000).Authorization).toBe('Bearer first');
    expect(p.headers(c, 61_000).Authorization).toBe('Bearer second');
  });

  test('without a token file the resolved headers are used as they are', () => {
    const p = new CredentialsProvider({}, async () => creds(1));
    expect(p.headers(creds(7))).toEqual({ Authorization: 'Bearer t7' });
  });
});

describe('in a Pod without a kubeconfig: the ServiceAccount, read in process as client-node reads it', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'annotary-sa-'));
  const sa = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(sa, { recursive: true });
  writeFileSync(path.join(sa, 'token'), 'sa-token');
  writeFileSync(path.join(sa, 'ca.crt'), CA);
  const home = mkdtempSync(path.join(tmpdir(), 'annotary-home-'));
  const pod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', HOME: home };

  /** What client-node makes of the same files: loadFromCluster with the same root, as the child would hand it back. */
  async function clientNode(env: Record<string, string>): Promise<Partial<Credentials>> {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const { KubeConfig } = await import('@kubernetes/client-node');
      const kc = new KubeConfig();
      kc.loadFromCluster(root);
      const opts: { ca?: Buffer; rejectUnauthorized?: boolean } = {};
      await kc.applyToHTTPSOptions(opts);
      const tokenFile = (kc.getCurrentUser()?.authProvider as { config?: { tokenFile?: string } } | undefined)?.config?.tokenFile;
      return {
        server: kc.getCurrentCluster()!.server,
        ca: opts.ca && Buffer.from(opts.ca),
        rejectUnauthorized: opts.rejectUnauthorized,
        tokenFile,
      };
    } finally {
      process.env = saved;
    }
  }

  test.each([
    ['https', pod],
    ['IPv6', { ...pod, KUBERNETES_SERVICE_HOST: 'fd00::1' }],
  ])('%s: server, CA and token file as client-node has them', async (_what, env) => {
    const c = inClusterCredentials({}, env, root)!;
    const want = await clientNode(env);
    expect({ server: c.server, ca: c.ca, rejectUnauthorized: c.rejectUnauthorized, tokenFile: c.tokenFile }).toEqual(want);
    expect(new CredentialsProvider({}, async () => c).headers(c).Authorization).toBe('Bearer sa-token');
  });

  test('anywhere client-node would look first (a kubeconfig, $KUBECONFIG, ~/.kube/config), or without the files: left to the child', () => {
    expect(inClusterCredentials({ kubeconfig: '/some/config' }, pod, root)).toBeUndefined();
    expect(inClusterCredentials({ context: 'other' }, pod, root)).toBeUndefined();
    expect(inClusterCredentials({}, { ...pod, KUBECONFIG: '/some/config' }, root)).toBeUndefined();
    const withConfig = mkdtempSync(path.join(tmpdir(), 'annotary-home-'));
    mkdirSync(path.join(withConfig, '.kube'));
    writeFileSync(path.join(withConfig, '.kube', 'config'), '');
    expect(inClusterCredentials({}, { ...pod, HOME: withConfig }, root)).toBeUndefined();
    expect(inClusterCredentials({}, pod, path.join(root, 'elsewhere'))).toBeUndefined();
    expect(inClusterCredentials({}, { ...pod, KUBERNETES_SERVICE_HOST: '' }, root)).toBeUndefined();
    // a plain-http port, which client-node refuses without insecure-skip-tls-verify: its error comes from the child
    expect(inClusterCredentials({}, { ...pod, KUBERNETES_SERVICE_PORT: '8080' }, root)).toBeUndefined();
  });
});
