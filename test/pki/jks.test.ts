import fc from 'fast-check';
import { readJks, recoverKey, protectKey, writeJks, javaUtf, type JksEntry } from '../../src/pki/jks.js';
import { parseCertificates, parsePrivateKey } from '../../src/pki/pem.js';
import { chainFixture } from './fixtures.js';

const f = chainFixture('p256');
const key = parsePrivateKey(f.keyPkcs8);
const chain = parseCertificates(f.certPem(2)).map((c) => c.raw);
const stamp = new Date('2024-05-06T07:08:09.123Z');

describe('JKS files written by annotary read back exactly', () => {
  it('a private key entry round trips: key DER, chain, timestamp', () => {
    const file = writeJks([{ kind: 'key', alias: 'server', timestamp: stamp, pkcs8: key.pkcs8, chain }], 'changeit');
    expect(file.readUInt32BE(0)).toBe(0xfeedfeed);
    expect(file.readUInt32BE(4)).toBe(2);
    const [entry] = readJks(file, 'changeit');
    expect(entry).toEqual({ kind: 'key', alias: 'server', timestamp: stamp, pkcs8: key.pkcs8, chain });
  });

  it('trusted certificate entries keep the given order', () => {
    const entries: JksEntry[] = ['b', 'a', 'c'].map((alias, i) => ({ kind: 'cert', alias, timestamp: stamp, cert: chain[i % 2] }));
    expect(readJks(writeJks(entries, 'pw'), 'pw').map((e) => e.alias)).toEqual(['b', 'a', 'c']);
  });

  it('aliases are lower-cased like Java does, and duplicates after lower-casing are refused', () => {
    const e = (alias: string): JksEntry => ({ kind: 'cert', alias, timestamp: stamp, cert: chain[0] });
    expect(readJks(writeJks([e('MyAlias')], 'pw'), 'pw')[0].alias).toBe('myalias');
    expect(() => writeJks([e('A'), e('a')], 'pw')).toThrow(/duplicate alias/);
  });

  it('the wrong password is detected by the file digest and by the key protector', () => {
    const file = writeJks([{ kind: 'key', alias: 'k', timestamp: stamp, pkcs8: key.pkcs8, chain }], 'right');
    expect(() => readJks(file, 'wrong')).toThrow(/integrity/);
    expect(() => recoverKey(protectKey(key.pkcs8, 'right'), 'wrong')).toThrow(/integrity/);
  });

  it('Java modified UTF-8: NUL is C0 80 and astral characters are two 3-byte surrogates', () => {
    expect(javaUtf('\0')).toEqual(Buffer.from([0, 2, 0xc0, 0x80]));
    expect(javaUtf('😀')).toEqual(Buffer.from([0, 6, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]));
  });
});

describe('any alias and password survive a JKS write/read (property)', () => {
  it('round trips arbitrary unicode aliases and passwords', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
        fc.string({ maxLength: 40, unit: 'binary' }),
        (alias, password) => {
          const file = writeJks([{ kind: 'key', alias, timestamp: stamp, pkcs8: key.pkcs8, chain }], password);
          const [entry] = readJks(file, password);
          expect(entry.alias).toBe(alias.toLowerCase());
          expect(entry.kind === 'key' && entry.pkcs8.equals(key.pkcs8)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
