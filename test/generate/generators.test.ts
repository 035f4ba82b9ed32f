// The generators: properties of passwords over thousands of runs, no collisions in 10,000
// values of each random type, pair checks that catch a mismatched half, the OpenSSH encoding
// read back by ssh-keygen, mittwald's string encodings, and the spec parser against arbitrary input.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import bcrypt from 'bcryptjs';
import fc from 'fast-check';
import {
  base32,
  checkPemPair,
  checkSshPair,
  generateValues,
  htpasswdLine,
  mittwaldString,
  password,
} from '../../src/generate/generators.js';
import { authorizedKeyLine, encodeOpenSshPrivateKey } from '../../src/generate/openssh.js';
import type { CharClass } from '../../src/generate/spec.js';
import { CHAR_CLASSES, GENERATE_TYPES, GenerateError, parseGenerateSpec } from '../../src/generate/spec.js';

const CLASSES = Object.keys(CHAR_CLASSES) as CharClass[];

describe('password', () => {
  test('honours length and classes: only characters of the classes, at least one of each (5,000 runs)', () => {
    fc.assert(
      fc.property(fc.subarray(CLASSES, { minLength: 1 }), fc.integer({ min: 1, max: 200 }), (classes, extra) => {
        const length = classes.length + (extra % 60);
        const pw = password(length, classes);
        expect(pw).toHaveLength(length);
        const allowed = classes.map((c) => CHAR_CLASSES[c]).join('');
        for (const ch of pw) expect(allowed).toContain(ch);
        for (const c of classes) expect([...CHAR_CLASSES[c]].some((ch) => pw.includes(ch))).toBe(true);
        for (const c of CLASSES.filter((x) => !classes.includes(x))) expect([...CHAR_CLASSES[c]].some((ch) => pw.includes(ch))).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });

  test('every character of the alphabet is drawn (a biased or truncated alphabet would miss some)', () => {
    const seen = new Set(password(20000, CLASSES));
    expect(seen.size).toBe(CLASSES.map((c) => CHAR_CLASSES[c]).join('').length);
  });

  test('a length below the number of classes is refused', () => {
    expect(() => password(2, ['lower', 'upper', 'digit'])).toThrow(GenerateError);
  });
});

describe('no two of 10,000 generated values collide', () => {
  test.each([['type=password,length=12'], ['type=bytes,length=8,encoding=hex'], ['type=uuid']])('%s', async (spec) => {
    const s = parseGenerateSpec(spec);
    const values = new Set<string>();
    for (let i = 0; i < 10_000; i++) values.add((await generateValues(s))[''].toString());
    expect(values.size).toBe(10_000);
  });

  test("mittwald's 40-character strings", () => {
    const values = new Set(Array.from({ length: 10_000 }, () => mittwaldString(40, 'base64', false).toString()));
    expect(values.size).toBe(10_000);
  });
});

describe('key pairs are checked before they are written', () => {
  const a = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const b = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = (k: typeof a.privateKey) => k.export({ format: 'pem', type: 'pkcs8' }) as string;
  const pub = (k: typeof a.publicKey) => k.export({ format: 'pem', type: 'spki' }) as string;

  test('a public half of another key is GeneratedKeyMismatch', () => {
    expect(() => checkPemPair(pem(a.privateKey), pub(a.publicKey))).not.toThrow();
    expect(() => checkPemPair(pem(a.privateKey), pub(b.publicKey))).toThrow(expect.objectContaining({ reason: 'GeneratedKeyMismatch' }));
  });

  test('an authorized_keys line of another SSH key is GeneratedKeyMismatch', () => {
    const k1 = generateKeyPairSync('ed25519').privateKey;
    const k2 = generateKeyPairSync('ed25519').privateKey;
    const priv = encodeOpenSshPrivateKey(k1, 'c');
    expect(() => checkSshPair(k1, priv, authorizedKeyLine(k1, 'c'))).not.toThrow();
    expect(() => checkSshPair(k1, priv, authorizedKeyLine(k2, 'c'))).toThrow(expect.objectContaining({ reason: 'GeneratedKeyMismatch' }));
  });

  test.each(['rsa', 'ec', 'ed25519'])('type=%s: PKCS#8 private key and its SPKI public key', async (type) => {
    const v = await generateValues(parseGenerateSpec(`type=${type}${type === 'rsa' ? ',size=2048' : ''}`));
    expect(v[''].toString()).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(() => checkPemPair(v[''].toString(), v['.pub'].toString())).not.toThrow();
  });

  test('basic-auth: the htpasswd line is the bcrypt of the password, in htpasswd -B form', async () => {
    const v = await generateValues(parseGenerateSpec('type=basic-auth,user=ops,length=20'));
    const [user, hash] = v[''].toString().split(':');
    expect(user).toBe('ops');
    expect(hash).toMatch(/^\$2y\$10\$[./A-Za-z0-9]{53}$/);
    expect(await bcrypt.compare(v['.password'].toString(), hash)).toBe(true);
    expect(await bcrypt.compare(`${v['.password'].toString()}x`, hash)).toBe(false);
    expect((await htpasswdLine('u', 'pw')).startsWith('u:$2y$10$')).toBe(true);
  });
});

describe('OpenSSH private keys read by ssh-keygen', () => {
  test.each([
    ['ed25519', () => generateKeyPairSync('ed25519').privateKey],
    ['rsa', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
  ])('%s: ssh-keygen -y prints the authorized_keys line', (_name, make) => {
    const dir = mkdtempSync(join(tmpdir(), 'annotary-ssh-'));
    try {
      const key = make();
      writeFileSync(join(dir, 'id'), encodeOpenSshPrivateKey(key, 'me@here'), { mode: 0o600 });
      const derived = execFileSync('ssh-keygen', ['-y', '-f', join(dir, 'id')], { encoding: 'utf8' });
      expect(derived.trim()).toBe(authorizedKeyLine(key, 'me@here').trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("mittwald's strings", () => {
  test('length in characters cuts the encoding of length bytes; a B suffix keeps it whole', () => {
    expect(mittwaldString(40, 'base64', false).toString()).toMatch(/^[A-Za-z0-9+/=]{40}$/);
    expect(mittwaldString(10, 'hex', true).toString()).toMatch(/^[0-9a-f]{20}$/);
    expect(mittwaldString(10, 'base64url', true).toString()).toMatch(/^[A-Za-z0-9_-]{14}==$/);
    expect(mittwaldString(16, 'raw', false)).toHaveLength(16);
  });

  test('base32 is RFC 4648 (test vectors)', () => {
    expect(['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map((s) => base32(Buffer.from(s)))).toEqual([
      '',
      'MY======',
      'MZXQ====',
      'MZXW6===',
      'MZXW6YQ=',
      'MZXW6YTB',
      'MZXW6YTBOI======',
    ]);
  });
});

describe('parseGenerateSpec', () => {
  test('the defaults of the table', () => {
    expect(parseGenerateSpec('type=ssh')).toEqual({ type: 'ssh', algo: 'ed25519', size: 3072, comment: '' });
    expect(parseGenerateSpec(' type = bytes , length = 16 ')).toEqual({ type: 'bytes', length: 16, encoding: 'base64' });
    expect(parseGenerateSpec('type=gpg,user-id=A <a@b>')).toEqual({
      type: 'gpg',
      userId: 'A <a@b>',
      algo: 'ed25519',
      size: 3072,
      passphraseLength: 32,
    });
  });

  test('every option of every type has a default that parses, or is required', () => {
    for (const t of GENERATE_TYPES) {
      const required = t.options.filter((o) => o.default === undefined).map((o) => `${o.name}=x@y`);
      expect(() => parseGenerateSpec([`type=${t.type}`, ...required].join(','))).not.toThrow();
    }
  });

  test('arbitrary text: a spec or a GenerateError, never anything else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          parseGenerateSpec(s);
        } catch (err) {
          expect(err).toBeInstanceOf(GenerateError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
