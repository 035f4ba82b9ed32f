// The proof that matters: Java's keytool and OpenSSL 3 read every store we write, for every
// key type and chain length. (PKCS#1/SEC1 vs PKCS#8 input produce byte-identical stores —
// see stores.test.ts — so the forms alternate across chain lengths here to save JVM starts.)
// And the other side: what buildStores refuses as UnsupportedByJava, keytool indeed cannot read.
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parsePrivateKey } from '../../src/pki/pem.js';
import { buildStores, buildTruststore } from '../../src/pki/stores.js';
import {
  anchorFixture,
  chainFixture,
  explicitEcFixture,
  JAVA_ANCHOR_KINDS,
  JAVA_RSA_EDGES,
  KEY_KINDS,
  rsaEdgeCertificates,
  scratchDir,
  type ChainLength,
  type KeyKind,
} from './fixtures.js';
import { expectReason, uncheckedStores } from './helpers.js';

jest.setTimeout(120_000);
const run = promisify(execFile);
const dir = scratchDir('real-tools');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PW = 'Sup3r-secret!';

/** Run at most two tools at a time: the CI machine has two cores. */
function limit(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
const pool = limit(2);
const keytool = (args: string[]) =>
  pool(() => run('keytool', ['-J-XX:TieredStopAtLevel=1', '-J-XX:+UseSerialGC', ...args], { maxBuffer: 1 << 24 }));
const listArgs = (file: string, type: 'JKS' | 'PKCS12') => ['-list', '-v', '-storetype', type, '-keystore', file, '-storepass', PW];
const keytoolList = (file: string, type: 'JKS' | 'PKCS12') => keytool(listArgs(file, type)).then((r) => r.stdout);
/** keytool's output when it fails; a keytool that succeeds fails the test. */
const keytoolError = (args: string[]) =>
  keytool(args).then(
    (r) => {
      throw new Error(`keytool succeeded:\n${r.stdout}`);
    },
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  );
/** Decrypts the private key and signs with it: -list never touches the key. JKS key passwords are the store's. */
const certreqArgs = (file: string, type: 'JKS' | 'PKCS12') => [
  '-certreq',
  '-alias',
  'alias',
  '-storetype',
  type,
  '-keystore',
  file,
  '-storepass',
  PW,
  '-keypass',
  PW,
];
const opensslInfo = (file: string) =>
  pool(() => run('openssl', ['pkcs12', '-info', '-in', file, '-passin', `pass:${PW}`, '-nodes'], { maxBuffer: 1 << 24 })).then(
    (r) => r.stdout + r.stderr,
  );

interface Case {
  kind: KeyKind;
  len: ChainLength;
  form: 'traditional' | 'pkcs8';
  files: Record<string, string>;
  keyPem: string;
}
const cases: Case[] = [];
for (const kind of KEY_KINDS) {
  for (const len of [1, 2, 3] as ChainLength[]) {
    const f = chainFixture(kind);
    const form = len === 2 ? 'pkcs8' : 'traditional';
    const keyPem = form === 'pkcs8' ? f.keyPkcs8 : f.keyTraditional;
    // Two CA certs in the bundle so truststores must hold more than one anchor.
    const built = buildStores({
      certPem: f.certPem(len),
      keyPem,
      caPem: f.ca + chainFixture(kind === 'p256' ? 'p384' : 'p256').root,
      password: PW,
      alias: 'Server',
      trustAliasPrefix: 'alias',
      formats: ['jks', 'pkcs12'],
    });
    const files: Record<string, string> = {};
    for (const [name, data] of Object.entries(built.files)) {
      files[name] = path.join(dir, `${kind}-${len}-${name}`);
      writeFileSync(files[name], data);
    }
    cases.push({ kind, len, form, files, keyPem });
  }
}
const name = (c: Case) => `${c.kind}, chain length ${c.len}, ${c.form} key`;
const count = (text: string, re: RegExp) =>
  text.match(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g'))?.length ?? 0;

describe('keytool lists every keystore with one PrivateKeyEntry and the full chain', () => {
  it.each(
    cases.flatMap((c) => [
      [`${name(c)}, JKS`, c, 'keystore.jks', 'JKS'] as const,
      [`${name(c)}, PKCS12`, c, 'keystore.p12', 'PKCS12'] as const,
    ]),
  )('%s', async (_n, c, file, type) => {
    const out = await keytoolList(c.files[file], type);
    expect(out).toContain(`Keystore type: ${type}`);
    expect(out).toContain('Your keystore contains 1 entry');
    expect(out).toContain('Alias name: server');
    expect(out).toContain('Entry type: PrivateKeyEntry');
    expect(out).toContain(`Certificate chain length: ${c.len}`);
    expect(out).toContain(c.kind.startsWith('rsa') ? `${c.kind.slice(3)}-bit RSA key` : `${c.kind.slice(1)}-bit EC`);
  });
});

describe('keytool lists every truststore as trustedCertEntry alias0, alias1', () => {
  const trustCases = cases.filter((c) => c.len === 2);
  it.each(
    trustCases.flatMap((c) => [
      [`${c.kind}, JKS`, c, 'truststore.jks', 'JKS'] as const,
      [`${c.kind}, PKCS12`, c, 'truststore.p12', 'PKCS12'] as const,
    ]),
  )('%s', async (_n, c, file, type) => {
    const out = await keytoolList(c.files[file], type);
    expect(out).toContain('Your keystore contains 2 entries');
    expect(out).toMatch(/Alias name: alias0\n/);
    expect(out).toMatch(/Alias name: alias1\n/);
    expect(count(out, /Entry type: trustedCertEntry/)).toBe(2);
  });
});

describe('keytool opens JKS stores with non-ASCII passwords and aliases', () => {
  it('unicode password and alias (lower-cased by Java and by us alike)', async () => {
    const f = chainFixture('p256');
    const pw = 'pässwörd€😀';
    const built = buildStores({ certPem: f.certPem(2), keyPem: f.keyPkcs8, caPem: f.ca, password: pw, alias: 'Äpfel', formats: ['jks'] });
    const file = path.join(dir, 'unicode-keystore.jks');
    writeFileSync(file, built.files['keystore.jks']);
    // Java decodes argv with the locale's charset, so pin a UTF-8 locale.
    const { stdout } = await pool(() =>
      run('keytool', ['-list', '-storetype', 'JKS', '-keystore', file, '-storepass', pw], { env: { ...process.env, LC_ALL: 'C.UTF-8' } }),
    );
    expect(stdout).toContain('Your keystore contains 1 entry');
    expect(stdout).toMatch(/^äpfel, .*PrivateKeyEntry/m);
  });
});

describe('OpenSSL 3 reads both PKCS#12 files without -legacy', () => {
  it.each(cases.map((c) => [name(c), c] as const))('keystore.p12: %s', async (_n, c) => {
    const out = await opensslInfo(c.files['keystore.p12']);
    expect(out).toContain('MAC: sha256, Iteration 2048');
    expect(out).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256/);
    expect(out).toContain('friendlyName: server');
    expect(count(out, /^subject=/m)).toBe(c.len);
    // The key OpenSSL decrypts is exactly the key we were given.
    const decrypted = out.slice(out.indexOf('-----BEGIN PRIVATE KEY-----'), out.indexOf('-----END PRIVATE KEY-----') + 25);
    expect(parsePrivateKey(decrypted).pkcs8.equals(parsePrivateKey(c.keyPem).pkcs8)).toBe(true);
  });

  it.each(cases.filter((c) => c.len === 2).map((c) => [c.kind, c] as const))('truststore.p12: %s', async (_n, c) => {
    const out = await opensslInfo(c.files['truststore.p12']);
    expect(out).toContain('MAC: sha256, Iteration 2048');
    expect(count(out, /^subject=/m)).toBe(2);
    expect(count(out, /2\.16\.840\.1\.113894\.746875\.1\.1/g)).toBe(2);
    expect(out).not.toContain('PRIVATE KEY');
  });

  it('a wrong password is rejected by the MAC', async () => {
    await expect(
      run('openssl', ['pkcs12', '-info', '-in', cases[0].files['keystore.p12'], '-passin', 'pass:wrong', '-nodes']),
    ).rejects.toThrow(/mac verify (failure|error)/i);
  });
});

describe('the legacy-des PKCS#12 profile (3DES, HMAC-SHA1: Java 8 before 8u301) is read by OpenSSL 3 and keytool', () => {
  const legacy = (kind: KeyKind) => {
    const f = chainFixture(kind);
    const input = {
      certPem: f.certPem(2),
      keyPem: f.keyPkcs8,
      caPem: f.ca,
      password: PW,
      alias: 'Server',
      formats: ['pkcs12'] as ('jks' | 'pkcs12')[],
      pkcs12Profile: 'legacy-des' as const,
    };
    const built = buildStores(input);
    const files: Record<string, string> = {};
    for (const [n, data] of Object.entries(built.files)) {
      files[n] = path.join(dir, `legacy-${kind}-${n}`);
      writeFileSync(files[n], data);
    }
    return { files, keyPem: f.keyPkcs8, again: buildStores(input), built };
  };
  it.each(['rsa2048', 'p256'] as KeyKind[])('keystore.p12 and truststore.p12: %s', async (kind) => {
    const c = legacy(kind);
    const out = await opensslInfo(c.files['keystore.p12']);
    expect(out).toContain('MAC: sha1, Iteration 2048');
    expect(out).toContain('Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048');
    expect(out).toContain('PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048');
    expect(count(out, /^subject=/m)).toBe(2);
    const decrypted = out.slice(out.indexOf('-----BEGIN PRIVATE KEY-----'), out.indexOf('-----END PRIVATE KEY-----') + 25);
    expect(parsePrivateKey(decrypted).pkcs8.equals(parsePrivateKey(c.keyPem).pkcs8)).toBe(true);
    const list = await keytoolList(c.files['keystore.p12'], 'PKCS12');
    expect(list).toContain('Entry type: PrivateKeyEntry');
    expect(list).toContain('Certificate chain length: 2');
    const trust = await opensslInfo(c.files['truststore.p12']);
    expect(trust).toContain('MAC: sha1, Iteration 2048');
    expect(await keytoolList(c.files['truststore.p12'], 'PKCS12')).toContain('Entry type: trustedCertEntry');
    // byte-stable like the modern profile: the same input gives the same files
    for (const [n, data] of Object.entries(c.built.files)) expect(c.again.files[n].equals(data)).toBe(true);
  });
});

describe('keytool reads every trust anchor kind annotary accepts beyond the leaf kinds', () => {
  const anchors = JAVA_ANCHOR_KINDS.map((k) => anchorFixture(k).root);
  const edges = rsaEdgeCertificates();
  const files = buildTruststore([...anchors, ...JAVA_RSA_EDGES.map((e) => edges[e])].join(''), PW, ['jks', 'pkcs12'], 'ca');
  it.each([
    ['truststore.jks', 'JKS'],
    ['truststore.p12', 'PKCS12'],
  ] as const)('%s', async (name, type) => {
    const file = path.join(dir, `anchors-${name}`);
    writeFileSync(file, files[name]);
    const out = await keytoolList(file, type);
    expect(out).toContain('Your keystore contains 8 entries');
    expect(count(out, /Entry type: trustedCertEntry/)).toBe(8);
    const keys = [
      '521-bit EC (secp521r1)',
      '255-bit Ed25519',
      '448-bit Ed448',
      '2048-bit RSASSA-PSS',
      '2048-bit DSA',
      '512-bit RSA',
      '16384-bit RSA',
      '3072-bit RSA',
    ];
    for (const key of keys) expect(out).toContain(`Subject Public Key Algorithm: ${key} key`);
  });
});

describe('keytool cannot read what annotary refuses as UnsupportedByJava (stores written without the check)', () => {
  const explicit = explicitEcFixture();
  const edges = rsaEdgeCertificates();
  const named = chainFixture('p256');
  type Store = 'keystore.jks' | 'keystore.p12' | 'truststore.jks' | 'truststore.p12';
  type Input = { certPem: string; keyPem: string; caPem?: string };
  type Case = [string, Store, 'list' | 'certreq', Input, RegExp];
  const trusting = (title: string, caPem: string, error: RegExp): Case[] =>
    (['truststore.jks', 'truststore.p12'] as const).map((store) => [
      title,
      store,
      'list',
      { certPem: named.certPem(2), keyPem: named.keyPkcs8, caPem },
      error,
    ]);
  const explicitKey = { certPem: explicit.certNamed, keyPem: explicit.key };
  const explicitCert = { certPem: explicit.cert, keyPem: explicit.keyNamed };
  const cases: Case[] = [
    // JKS hides the cause: its KeyProtector reports any key that does not decode as corrupt.
    ['EC private key with explicit parameters', 'keystore.jks', 'certreq', explicitKey, /UnrecoverableKeyException: corrupt private key/],
    ['EC private key with explicit parameters', 'keystore.p12', 'certreq', explicitKey, /Only named ECParameters supported/],
    ['certificate with explicit EC parameters', 'keystore.jks', 'list', explicitCert, /Only named ECParameters supported/],
    // (keytool's first line there is "keystore password was incorrect"; the cause follows.)
    ['certificate with explicit EC parameters', 'keystore.p12', 'list', explicitCert, /Only named ECParameters supported/],
    ...trusting('CA certificate with explicit EC parameters', explicit.cert, /Only named ECParameters supported/),
    ...trusting('CA certificate with a 504-bit RSA key', edges.rsa504, /RSA keys must be at least 512 bits long/),
    ...trusting('CA certificate with a 16392-bit RSA key', edges.rsa16392, /RSA keys must be no longer than 16384 bits/),
    ...trusting(
      'CA certificate with a 4096-bit RSA key and a 72-bit exponent',
      edges['rsa4096-e72'],
      /RSA exponents can be no longer than 64 bits +if modulus is greater than 3072 bits/,
    ),
  ];

  it.each(cases)('%s: refused; keytool cannot read its %s (-%s)', async (title, store, command, input, error) => {
    expectReason(() => buildStores({ ...input, password: PW, alias: 'alias', formats: ['jks', 'pkcs12'] }), 'UnsupportedByJava');
    const file = path.join(dir, `refused-${title.replace(/\W+/g, '-')}-${store}`);
    writeFileSync(file, uncheckedStores(input, PW)[store]);
    const type = store.endsWith('.jks') ? 'JKS' : 'PKCS12';
    expect(await keytoolError(command === 'list' ? listArgs(file, type) : certreqArgs(file, type))).toMatch(error);
  });

  const stores = [
    ['keystore.jks', 'JKS'],
    ['keystore.p12', 'PKCS12'],
  ] as const;
  it.each(stores)('control: the same key with the named curve signs a CSR from %s', async (store, type) => {
    const input = { certPem: explicit.certNamed, keyPem: explicit.keyNamed };
    const file = path.join(dir, `named-twin-${store}`);
    writeFileSync(file, buildStores({ ...input, password: PW, alias: 'alias', formats: ['jks', 'pkcs12'] }).files[store]);
    expect((await keytool(certreqArgs(file, type))).stdout).toContain('-----BEGIN NEW CERTIFICATE REQUEST-----');
  });
});
