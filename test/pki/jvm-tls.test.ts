// End-to-end proof with a real JVM: Java serves TLS from our keystores (OpenSSL verifies the
// chain), and Java trusts servers through our truststores (and refuses a foreign CA), for every
// key kind annotary accepts; anchors on curves Java no longer implements verify nothing in Java.
// The two Java programs are compiled once with javac; each runs a single JVM for all stores.
import { jest } from '@jest/globals';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildStores, buildTruststore } from '../../src/pki/stores.js';
import {
  anchorFixture,
  chainFixture,
  JAVA_ANCHOR_KINDS,
  KEY_KINDS,
  LEGACY_CURVE_ANCHOR_KINDS,
  scratchDir,
  type AnchorFixture,
  type ChainFixture,
  type KeyKind,
} from './fixtures.js';
import { expectReason, uncheckedStores } from './helpers.js';

jest.setTimeout(120_000);
const run = promisify(execFile);
const JAVA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../java');
const PW = 'tls-test-pw';
const dir = scratchDir('jvm-tls');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Spawn a long-running process and resolve once `ready` has matched `count` lines of output. */
function startServer(
  cmd: string,
  args: string[],
  ready: RegExp,
  count: number,
  cwd = dir,
): Promise<{ proc: ChildProcess; matches: RegExpMatchArray[] }> {
  const proc = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let buf = '';
    const matches: RegExpMatchArray[] = [];
    const onData = (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = line.match(ready);
        if (m) matches.push(m);
        if (matches.length === count) resolve({ proc, matches });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`${cmd} exited with ${code} before it was ready`)));
  });
}

interface Built {
  f: ChainFixture;
  files: Record<string, string>;
  ca: string;
}
function build(kind: KeyKind): Built {
  const f = chainFixture(kind);
  const built = buildStores({
    certPem: f.certPem(2),
    keyPem: f.keyTraditional,
    caPem: f.ca,
    password: PW,
    alias: 'alias',
    formats: ['jks', 'pkcs12'],
  });
  const files: Record<string, string> = {};
  for (const [name, data] of Object.entries(built.files)) writeFileSync((files[name] = path.join(dir, `${kind}-${name}`)), data);
  writeFileSync(path.join(dir, `${kind}-ca.crt`), f.ca);
  return { f, files, ca: path.join(dir, `${kind}-ca.crt`) };
}

const built = Object.fromEntries(KEY_KINDS.map((k) => [k, build(k)])) as Record<KeyKind, Built>;
const rsa = built.rsa2048;
const ec = built.p256;
/** Same names as the p256 hierarchy but different keys: trust must come from signatures. */
const foreign = chainFixture('p256', 'foreign');

beforeAll(() => {
  execFileSync('javac', ['-d', dir, path.join(JAVA_DIR, 'TlsServer.java'), path.join(JAVA_DIR, 'TlsClient.java')]);
});

async function sClient(port: number, caFile: string): Promise<string> {
  try {
    const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile, '-verify_return_error', '-servername', 'localhost'];
    const pending = run('openssl', args, { timeout: 20_000 });
    pending.child.stdin?.end(); // s_client quits at the end of its input, once the handshake is reported
    const r = await pending;
    return r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `FAILED\n${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

describe('a JVM serves TLS with keystore.jks and keystore.p12 (checked by openssl s_client)', () => {
  const stores = KEY_KINDS.flatMap(
    (k) =>
      [
        [k, 'JKS', built[k], 'keystore.jks'],
        [k, 'PKCS12', built[k], 'keystore.p12'],
      ] as const,
  );
  let ports: number[] = [];

  beforeAll(async () => {
    const args = ['-XX:TieredStopAtLevel=1', '-cp', dir, 'TlsServer', PW, ...stores.map(([, type, b, file]) => `${type}:${b.files[file]}`)];
    const { matches } = await startServer('java', args, /^LISTENING (\d+) (\d+)$/, stores.length);
    ports = matches.sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => Number(m[2]));
  });

  it.each(stores.map((s, i) => [`${s[0]} ${s[1]}`, i] as const))(
    '%s: handshake verifies against the root CA with the intermediate sent',
    async (_n, i) => {
      const b = stores[i][2];
      const out = await sClient(ports[i], b.ca);
      expect(out).toContain('Verify return code: 0 (ok)');
      expect(out).toMatch(/1 s:.*CN ?= ?Intermediate/); // the chain includes the intermediate
    },
  );

  it('negative check: the same server does not verify against a foreign CA', async () => {
    const foreignCa = path.join(dir, 'foreign-ca.crt');
    writeFileSync(foreignCa, foreign.ca);
    const out = await sClient(ports[stores.findIndex(([k, type]) => k === 'p256' && type === 'JKS')], foreignCa);
    expect(out).not.toContain('Verify return code: 0 (ok)');
  });
});

describe('a JVM trusts servers through truststore.jks and truststore.p12 (against openssl s_server)', () => {
  let results: Map<number, string>;
  /** Anchors of the other kinds; the refused legacy-curve ones in the truststores the writers made of them unchecked. */
  const anchors = [...JAVA_ANCHOR_KINDS, ...LEGACY_CURVE_ANCHOR_KINDS].map((kind) => {
    const a: AnchorFixture = anchorFixture(kind);
    const legacy = LEGACY_CURVE_ANCHOR_KINDS.includes(kind);
    const file = (name: string) => path.join(dir, `anchor-${kind}-${name}`);
    const stores = legacy ? uncheckedStores({ caPem: a.root }, PW) : buildTruststore(a.root, PW, ['jks', 'pkcs12'], 'ca');
    for (const [name, data] of Object.entries(stores)) writeFileSync(file(name), data);
    writeFileSync(file('ca.crt'), a.root);
    return { a, legacy, jks: file('truststore.jks'), p12: file('truststore.p12'), ca: file('ca.crt'), port: 0 };
  });
  const FIRST_ANCHOR_TARGET = 6;
  const anchorCases = anchors.flatMap((t, i) =>
    (['truststore.jks', 'truststore.p12'] as const).map((store, j) => [t.a.kind, store, t, FIRST_ANCHOR_TARGET + 2 * i + j] as const),
  );

  beforeAll(async () => {
    const serve = (fixtureDir: string, chain: string[]) =>
      startServer(
        'openssl',
        [
          's_server',
          '-accept',
          '127.0.0.1:0',
          '-cert',
          path.join(fixtureDir, 'leaf.crt'),
          '-key',
          path.join(fixtureDir, 'leaf.key'),
          ...chain,
          '-www',
        ],
        /^ACCEPT .*:(\d+)$/,
        1,
      ).then((s) => Number(s.matches[0][1]));
    const withIntermediate = (f: ChainFixture) => serve(f.dir, ['-cert_chain', path.join(f.dir, 'int.crt')]);
    const [rsaPort, ecPort, foreignPort, ...anchorPorts] = await Promise.all([
      withIntermediate(rsa.f),
      withIntermediate(ec.f),
      withIntermediate(foreign),
      ...anchors.map((t) => serve(t.a.dir, [])),
    ]);
    anchors.forEach((t, i) => (t.port = anchorPorts[i]!));
    const targets = [
      `JKS:${rsa.files['truststore.jks']}:${rsaPort}`,
      `PKCS12:${rsa.files['truststore.p12']}:${rsaPort}`,
      `JKS:${ec.files['truststore.jks']}:${ecPort}`,
      `PKCS12:${ec.files['truststore.p12']}:${ecPort}`,
      `JKS:${ec.files['truststore.jks']}:${foreignPort}`,
      `PKCS12:${ec.files['truststore.p12']}:${foreignPort}`,
      ...anchors.flatMap((t) => [`JKS:${t.jks}:${t.port}`, `PKCS12:${t.p12}:${t.port}`]),
    ];
    const { stdout } = await run('java', ['-XX:TieredStopAtLevel=1', '-cp', dir, 'TlsClient', PW, ...targets], { timeout: 60_000 });
    results = new Map([...stdout.matchAll(/^RESULT (\d+) (.*)$/gm)].map((m) => [Number(m[1]), m[2]]));
  });

  it.each([
    ['RSA chain via truststore.jks', 0],
    ['RSA chain via truststore.p12', 1],
    ['EC chain via truststore.jks', 2],
    ['EC chain via truststore.p12', 3],
  ])('%s: handshake completes', (_n, i) => {
    expect(results.get(i)).toMatch(/^OK 1 anchors/);
  });

  it.each([
    ['truststore.jks', 4],
    ['truststore.p12', 5],
  ])('negative check: %s refuses a server from a foreign CA with the same names', (_n, i) => {
    expect(results.get(i)).toMatch(/^FAIL .*(PKIX|certificate|signature)/i);
  });

  it.each(anchorCases.filter(([, , t]) => !t.legacy))('%s anchor via %s: handshake completes', (_k, _s, _t, i) => {
    expect(results.get(i)).toMatch(/^OK 1 anchors/);
  });

  const legacyTitle = '%s anchor via %s: refused by annotary; Java verifies nothing with it, OpenSSL does';
  it.each(anchorCases.filter(([, , t]) => t.legacy))(legacyTitle, async (_k, _s, t, i) => {
    expectReason(() => buildTruststore(t.a.root, PW, ['jks', 'pkcs12'], 'ca'), 'UnsupportedByJava');
    expect(results.get(i)).toMatch(/^FAIL .*PKIX path validation failed.*signature check failed/);
    expect(await sClient(t.port, t.ca)).toContain('Verify return code: 0 (ok)');
  });
});
