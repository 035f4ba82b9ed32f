// Generated secrets on the real local control plane: every type generated once, each key
// proven with the real tool that consumes it (openssl pkey, ssh-keygen -y, gpg --import and a
// sign/verify round trip, htpasswd -vb), stable across resyncs and an operator restart (0
// writes, counted by the operator's annotary_writes_total), regenerate rotating once and a
// reloading Deployment rolling exactly once; bad declarations refused with a Warning, the
// metric and no write. The tools come from hack/cluster.sh deps (gnupg, openssh-client,
// apache2-utils).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../src/kube/types.js';
import { Deployments, ReplicaSets, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, eventsFor, sleep, startOperator, waitFor, withOperator } from './harness/cluster.js';
import type { Secret } from '../test/gen.js';
import { inNamespace, ofType, secret, withAnnotations, withSecretVolumes, withTLS, workload } from '../test/gen.js';
import { chainFixture } from '../test/pki/fixtures.js';

const client = adminClient();
const SG = 'secret-generator.v1.mittwald.de/';
const G = 'annotary.io/generate.';

/** One declaration of every type (and the data keys each writes). */
const EVERY_TYPE: Record<string, string> = {
  [`${G}password`]: 'type=password,length=40,classes=lower+upper+digit+symbol',
  [`${G}token`]: 'type=bytes,length=32,encoding=base64url',
  [`${G}id`]: 'type=uuid',
  [`${G}rsa`]: 'type=rsa,size=2048',
  [`${G}ec`]: 'type=ec,curve=p384',
  [`${G}ed`]: 'type=ed25519',
  [`${G}ssh`]: 'type=ssh',
  [`${G}ssh-rsa`]: 'type=ssh,algo=rsa,size=2048,comment=deploy@example',
  [`${G}auth`]: 'type=basic-auth,user=ops',
  [`${G}gpg`]: 'type=gpg,user-id=Release Bot <release@example.com>',
};
const EVERY_KEY = [
  'auth',
  'auth.password',
  'ec',
  'ec.pub',
  'ed',
  'ed.pub',
  'gpg',
  'gpg.passphrase',
  'gpg.pub',
  'id',
  'password',
  'rsa',
  'rsa.pub',
  'ssh',
  'ssh-rsa',
  'ssh-rsa.pub',
  'ssh.pub',
  'token',
];
/** mittwald's three types: one Secret each (its type is per Secret) */
const MITTWALD: Record<string, Record<string, string>> = {
  'mw-string': { [`${SG}autogenerate`]: 'password,apikey', [`${SG}length`]: '24', [`${SG}encoding`]: 'hex' },
  'mw-ssh': { [`${SG}type`]: 'ssh-keypair' },
  'mw-auth': { [`${SG}type`]: 'basic-auth', [`${SG}basic-auth-username`]: 'jane' },
};
const MITTWALD_KEYS: Record<string, string[]> = {
  'mw-string': ['apikey', 'password'],
  'mw-ssh': ['ssh-privatekey', 'ssh-publickey'],
  'mw-auth': ['auth', 'password', 'username'],
};

const getSecret = (ns: string, name: string) => client.get<Secret>(Secrets, ns, name);
const text = (s: Secret, k: string) => Buffer.from(s.data![k], 'base64').toString('utf8');
const writes = (op: OperatorProcess) => op.metric('annotary_writes_total', { controller: 'generate' });
const hasKeys = (ns: string, name: string, keys: string[]) =>
  waitFor(`${name} generated`, async () => {
    const s = await getSecret(ns, name);
    return keys.every((k) => s.data?.[k]) ? s : undefined;
  });

/** Waits until the generate controller reconciled `n` more times (resyncs every second), without a clock in the assertion. */
async function reconcilesLater(op: OperatorProcess, n: number): Promise<void> {
  const start = await op.metric('annotary_reconcile_total', { controller: 'generate' });
  await waitFor(
    `${n} more reconciles`,
    async () => (await op.metric('annotary_reconcile_total', { controller: 'generate' })) - start >= n,
    60_000,
  );
}

/** The Secret's values as files in a fresh private directory, for the tools. */
function withFiles<T>(s: Secret, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'annotary-gen-'));
  try {
    for (const [k, v] of Object.entries(s.data ?? {})) writeFileSync(join(dir, k), Buffer.from(v, 'base64'), { mode: 0o600 });
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const run = (cmd: string, args: string[], env: Record<string, string> = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
/** type and base64 blob of an authorized_keys line */
const sshKey = (line: string) => line.trim().split(' ').slice(0, 2).join(' ');

const restarted: OperatorProcess[] = [];
afterAll(async () => {
  await Promise.all(restarted.map((op) => op.stop()));
});

describe('every type, generated once and proven with the real tools', () => {
  test('annotary and mittwald declarations: one write per Secret; resyncs and a restart write nothing', () =>
    withOperator('gen-all', ['--controllers', 'generate', '--resync', '1s', '--log-level', 'debug'], async (ns, op) => {
      await client.create(Secrets, ns, secret('all', inNamespace(ns), withAnnotations(EVERY_TYPE)));
      for (const [name, ann] of Object.entries(MITTWALD))
        await client.create(Secrets, ns, secret(name, inNamespace(ns), withAnnotations(ann)));
      const all = await hasKeys(ns, 'all', EVERY_KEY);
      expect(Object.keys(all.data!).sort()).toEqual(EVERY_KEY);
      for (const [name, keys] of Object.entries(MITTWALD_KEYS))
        expect(Object.keys((await hasKeys(ns, name, keys)).data!).sort()).toEqual(keys);
      expect(await writes(op)).toBe(4);
      expect(await op.metric('annotary_generated_total')).toBe(Object.keys(EVERY_TYPE).length + 2 + 1 + 1);

      // values: the classes and encodings asked for
      expect(text(all, 'password')).toHaveLength(40);
      expect(text(all, 'password')).toMatch(/[a-z]/);
      expect(text(all, 'password')).toMatch(/[A-Z]/);
      expect(text(all, 'password')).toMatch(/[0-9]/);
      expect(text(all, 'password')).toMatch(/[^a-zA-Z0-9]/);
      expect(Buffer.from(text(all, 'token'), 'base64url')).toHaveLength(32);
      expect(text(all, 'id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const mwString = await getSecret(ns, 'mw-string');
      expect(text(mwString, 'password')).toMatch(/^[0-9a-f]{24}$/);

      withFiles(all, (dir) => {
        // openssl reads each PKCS#8 private key, and the public key it derives is the .pub written
        for (const k of ['rsa', 'ec', 'ed']) {
          expect(run('openssl', ['pkey', '-in', join(dir, k), '-pubout'])).toBe(text(all, `${k}.pub`));
          expect(run('openssl', ['pkey', '-in', join(dir, k), '-noout', '-text'])).toMatch(
            { rsa: /Private-Key: \(2048 bit/, ec: /NIST CURVE: P-384/, ed: /ED25519 Private-Key/ }[k]!,
          );
        }
        // ssh-keygen reads each OpenSSH private key; the public key it prints is the .pub line
        for (const k of ['ssh', 'ssh-rsa'])
          expect(sshKey(run('ssh-keygen', ['-y', '-f', join(dir, k)]))).toBe(sshKey(text(all, `${k}.pub`)));
        expect(text(all, 'ssh.pub')).toMatch(/^ssh-ed25519 /);
        expect(text(all, 'ssh-rsa.pub')).toMatch(/^ssh-rsa \S+ deploy@example\n$/);
        // htpasswd verifies the password against the bcrypt line; a wrong one fails
        expect(text(all, 'auth')).toMatch(/^ops:\$2y\$10\$/);
        run('htpasswd', ['-vb', join(dir, 'auth'), 'ops', text(all, 'auth.password')]);
        expect(() => run('htpasswd', ['-vb', join(dir, 'auth'), 'ops', 'wrong'])).toThrow();
        // gpg imports the key; it signs with the passphrase and verifies with the public key alone
        const gnupg = join(dir, 'gnupg');
        const pubOnly = join(dir, 'gnupg-pub');
        run('mkdir', ['-m', '700', gnupg, pubOnly]);
        run('gpg', ['--batch', '--import', join(dir, 'gpg')], { GNUPGHOME: gnupg });
        writeFileSync(join(dir, 'msg'), 'release 1.0\n');
        const signWith = (passphrase: string[]) =>
          run(
            'gpg',
            ['--batch', '--pinentry-mode', 'loopback', ...passphrase, '--detach-sign', '-o', join(dir, 'msg.sig'), join(dir, 'msg')],
            { GNUPGHOME: gnupg },
          );
        // a wrong passphrase first (gpg-agent caches the key once unlocked)
        expect(() => signWith(['--passphrase', 'wrong'])).toThrow();
        signWith(['--passphrase-file', join(dir, 'gpg.passphrase')]);
        run('gpg', ['--batch', '--import', join(dir, 'gpg.pub')], { GNUPGHOME: pubOnly });
        const listed = run('gpg', ['--batch', '--list-keys', '--with-colons'], { GNUPGHOME: pubOnly });
        expect(listed).toContain('Release Bot <release@example.com>');
        // --status-fd: GOODSIG is gpg's machine-readable verdict
        const status = execFileSync('gpg', ['--batch', '--status-fd', '1', '--verify', join(dir, 'msg.sig'), join(dir, 'msg')], {
          encoding: 'utf8',
          env: { ...process.env, GNUPGHOME: pubOnly },
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        expect(status).toMatch(/\[GNUPG:\] GOODSIG /);
        writeFileSync(join(dir, 'msg'), 'release 1.1\n');
        expect(() => run('gpg', ['--batch', '--verify', join(dir, 'msg.sig'), join(dir, 'msg')], { GNUPGHOME: pubOnly })).toThrow();
        // the agents gpg started for these homes end with them
        for (const home of [gnupg, pubOnly]) run('gpgconf', ['--kill', 'gpg-agent'], { GNUPGHOME: home });
      });
      const mwSsh = await getSecret(ns, 'mw-ssh');
      expect(text(mwSsh, 'ssh-privatekey')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
      withFiles(mwSsh, (dir) => {
        expect(run('openssl', ['pkey', '-in', join(dir, 'ssh-privatekey'), '-noout', '-text'])).toMatch(/Private-Key: \(2048 bit/);
        expect(sshKey(run('ssh-keygen', ['-y', '-f', join(dir, 'ssh-privatekey')]))).toBe(sshKey(text(mwSsh, 'ssh-publickey')));
      });
      const mwAuth = await getSecret(ns, 'mw-auth');
      expect(text(mwAuth, 'username')).toBe('jane');
      expect(text(mwAuth, 'password')).toHaveLength(40);
      withFiles(mwAuth, (dir) => run('htpasswd', ['-vb', join(dir, 'auth'), 'jane', text(mwAuth, 'password')]));

      // no generated value, nor 40 characters of one (as text or as the Secret holds it), in a log line or an Event
      const secrets = [all, mwString, mwSsh, mwAuth];
      const needles = secrets.flatMap((x) => Object.values(x.data!).flatMap((v) => [v, Buffer.from(v, 'base64').toString('latin1')]));
      const windows = needles.flatMap((n) => (n.length <= 40 ? [n] : Array.from({ length: n.length - 39 }, (_, i) => n.slice(i, i + 40))));
      const said = [
        ...op.logs,
        ...(await Promise.all(secrets.map((x) => eventsFor(client, ns, x.metadata.name)))).flat().map((e) => e.message),
      ];
      expect(said.length).toBeGreaterThan(4);
      expect(windows.filter((w) => !/^(admin|jane|ops)$/.test(w) && said.some((line) => line.includes(w)))).toEqual([]);

      // resyncs: reconciled again and again, no write, the same values
      const versions = async () =>
        Promise.all(['all', ...Object.keys(MITTWALD)].map(async (n) => (await getSecret(ns, n)).metadata.resourceVersion));
      const before = await versions();
      await reconcilesLater(op, 8);
      expect(await writes(op)).toBe(4);
      // a restart: a fresh operator with the same flags finds everything in place
      await op.stop();
      const op2 = await startOperator(['--namespaces', ns, '--controllers', 'generate', '--resync', '1s']);
      restarted.push(op2);
      await reconcilesLater(op2, 8);
      expect(await writes(op2)).toBe(0);
      expect(await versions()).toEqual(before);
      expect((await getSecret(ns, 'all')).data).toEqual(all.data);
    }));
});

describe('keystores and generated keys on one Secret', () => {
  test("each controller writes its own keys once; resyncs write nothing; neither removes the other's keys", () =>
    withOperator('gen-ks', ['--controllers', 'keystores,generate', '--resync', '1s'], async (ns, op) => {
      const ann = { 'annotary.io/keystores': 'pkcs12', [`${G}store-token`]: 'type=bytes', [`${G}signing`]: 'type=ec' };
      await client.create(
        Secrets,
        ns,
        secret('web', inNamespace(ns), ofType('kubernetes.io/tls'), withTLS(chainFixture('p256')), withAnnotations(ann)),
      );
      const s = await hasKeys(ns, 'web', ['keystore.p12', 'truststore.p12', 'store-token', 'signing', 'signing.pub']);
      expect(s.metadata.annotations!['annotary.io/managed-keys']).toBe('keystore.p12,truststore.p12');
      expect(s.metadata.annotations!['annotary.io/generated-keys']).toBe('signing,signing.pub,store-token');
      const both = () => op.metric('annotary_writes_total', { kind: 'Secret' });
      await waitFor('both written', async () => (await both()) === 2);
      await reconcilesLater(op, 6);
      expect(await both()).toBe(2);
      // the keystore annotation goes: keystores removes its stores (one write), the generated keys stay
      await client.patch(Secrets, ns, 'web', { metadata: { annotations: { 'annotary.io/keystores': null } } });
      const after = await waitFor('stores removed', async () => {
        const cur = await getSecret(ns, 'web');
        return cur.data!['keystore.p12'] === undefined ? cur : undefined;
      });
      for (const k of ['store-token', 'signing', 'signing.pub']) expect(after.data![k]).toBe(s.data![k]);
      await reconcilesLater(op, 4);
      expect(await both()).toBe(3);
    }));
});

describe('regenerate: one rotation, one rollout', () => {
  test('annotary.io/regenerate rotates every generated key once; the Deployment that reloads on the Secret rolls once', () =>
    withOperator('gen-regen', ['--controllers', 'generate,reload', '--reload-settle', '1s', '--resync', '1s'], async (ns, op) => {
      const ann = { [`${G}password`]: 'type=password', [`${G}ssh`]: 'type=ssh' };
      await client.create(Secrets, ns, secret('creds', inNamespace(ns), withAnnotations(ann)));
      const first = await hasKeys(ns, 'creds', ['password', 'ssh', 'ssh.pub']);
      await client.create(
        Deployments,
        ns,
        workload(
          'Deployment',
          'web',
          inNamespace(ns),
          withAnnotations({ 'annotary.io/reload-on-secrets': 'creds' }),
          withSecretVolumes('creds'),
        ),
      );
      await waitFor(
        'onboarded',
        async () => (await client.get<KubeObject>(Deployments, ns, 'web')).metadata.annotations?.['annotary.io/observed-config-hash'],
      );
      const replicaSets = async () =>
        (await client.list<KubeObject>(ReplicaSets, ns)).items.filter((rs) => rs.metadata.ownerReferences?.some((o) => o.name === 'web'))
          .length;
      await waitFor('first ReplicaSet', async () => (await replicaSets()) === 1);
      expect(await writes(op)).toBe(1);

      await client.patch(Secrets, ns, 'creds', { metadata: { annotations: { 'annotary.io/regenerate': '2026-12-01T21:00:00Z' } } });
      const second = await waitFor('regenerated', async () => {
        const s = await getSecret(ns, 'creds');
        return s.data!.password !== first.data!.password ? s : undefined;
      });
      expect(second.data!.ssh).not.toBe(first.data!.ssh);
      expect(second.data!['ssh.pub']).not.toBe(first.data!['ssh.pub']);
      expect(second.metadata.annotations!['annotary.io/regenerated']).toBe('2026-12-01T21:00:00Z');
      await waitFor('one rollout', async () => (await replicaSets()) === 2, 60_000);
      // resyncs and a settle window later: no second rotation, no second rollout
      await reconcilesLater(op, 6);
      await sleep(2500);
      expect(await replicaSets()).toBe(2);
      expect(await writes(op)).toBe(2);
      expect((await getSecret(ns, 'creds')).data).toEqual(second.data);
      expect(await op.metric('annotary_rollouts_total', { kind: 'Deployment' })).toBe(1);
      const generated = (await eventsFor(client, ns, 'creds')).filter((e) => e.reason === 'SecretsGenerated');
      expect(generated.map((e) => [e.message, e.count]).sort()).toEqual([
        ['generated password, ssh, ssh.pub', 1],
        ['regenerated password, ssh, ssh.pub (annotary.io/regenerate "2026-12-01T21:00:00Z")', 1],
      ]);
    }));

  test("mittwald's regenerate: the named field only, and the annotation is removed", () =>
    withOperator('gen-mwregen', ['--controllers', 'generate'], async (ns) => {
      await client.create(Secrets, ns, secret('s', inNamespace(ns), withAnnotations({ [`${SG}autogenerate`]: 'a,b' })));
      const first = await hasKeys(ns, 's', ['a', 'b']);
      await client.patch(Secrets, ns, 's', { metadata: { annotations: { [`${SG}regenerate`]: 'b' } } });
      const second = await waitFor('regenerated', async () => {
        const s = await getSecret(ns, 's');
        return s.metadata.annotations?.[`${SG}regenerate`] === undefined && s.data!.b !== first.data!.b ? s : undefined;
      });
      expect(second.data!.a).toBe(first.data!.a);
    }));
});

describe('bad declarations', () => {
  test.each([
    ['type=rsa,size=512', 'InvalidGenerateSpec', 'size=512 is not one of 2048, 3072, 4096'],
    ['type=password,length=0', 'InvalidGenerateSpec', 'length=0 is not a whole number from 1 to 1024'],
    ['type=ec,curve=secp256k1', 'InvalidGenerateSpec', 'curve=secp256k1 is not one of p256, p384'],
    ['type=otp', 'UnknownGenerateType', 'type=otp is not one of'],
  ])('%s: Warning %s, the metric, no write', (spec, reason, message) =>
    withOperator('gen-bad', ['--controllers', 'generate'], async (ns, op) => {
      await client.create(Secrets, ns, secret('s', inNamespace(ns), withAnnotations({ [`${G}k`]: spec })));
      const ev = await waitFor('warning', async () => (await eventsFor(client, ns, 's')).find((e) => e.reason === reason));
      expect(ev.type).toBe('Warning');
      expect(ev.message).toContain(`${G}k: ${message}`);
      expect(await op.metric('annotary_invalid_input_total', { controller: 'generate', reason })).toBeGreaterThan(0);
      expect(await writes(op)).toBe(0);
      expect((await getSecret(ns, 's')).data).toBeUndefined();
    }),
  );

  test("the user's k.pub next to a missing k: KeyConflict, nothing written; no value in the operator's log", () =>
    withOperator('gen-conflict', ['--controllers', 'generate', '--log-level', 'debug'], async (ns, op) => {
      await client.create(
        Secrets,
        ns,
        secret('s', inNamespace(ns), withAnnotations({ [`${G}k`]: 'type=ed25519', [`${G}pw`]: 'type=password' }), (o) => {
          o.data = { 'k.pub': Buffer.from('mine').toString('base64') };
        }),
      );
      const ev = await waitFor('conflict', async () => (await eventsFor(client, ns, 's')).find((e) => e.reason === 'KeyConflict'));
      expect(ev.message).toBe(
        'annotary.io/generate.k: key "k.pub" exists and was not written by annotary (generating k next to it would not match it); remove it or rename it',
      );
      expect(await writes(op)).toBe(0);
      // the conflict resolved (the user's key removed): generated, and neither value nor key material is logged
      await client.patch(Secrets, ns, 's', { data: { 'k.pub': null } });
      const s = await hasKeys(ns, 's', ['k', 'k.pub', 'pw']);
      const logs = op.logs.join('\n');
      for (const k of ['k', 'k.pub', 'pw']) {
        expect(logs).not.toContain(s.data![k]);
        expect(logs).not.toContain(text(s, k).trim().split('\n')[1] ?? text(s, k));
      }
      expect(logs).not.toContain('PRIVATE KEY');
    }));
});
