import { Lru } from '../../src/pki/lru.js';
import { parseCertificates } from '../../src/pki/pem.js';
import { chainFixture } from './fixtures.js';

describe('Lru (the bound on cached PKI material)', () => {
  test('makes a value once and answers later asks from the cache', () => {
    const lru = new Lru<string, number>(2);
    let made = 0;
    expect(lru.get('a', () => ++made)).toBe(1);
    expect(lru.get('a', () => ++made)).toBe(1);
    expect(made).toBe(1);
  });

  test('forgets the least recently used entry first, never holding more than its capacity', () => {
    const lru = new Lru<string, string>(2);
    lru.get('a', () => 'a1');
    lru.get('b', () => 'b1');
    lru.get('a', () => 'a2'); // a is now the most recently used
    lru.get('c', () => 'c1'); // evicts b
    expect(lru.size).toBe(2);
    expect(lru.get('a', () => 'a3')).toBe('a1');
    expect(lru.get('b', () => 'b2')).toBe('b2');
  });

  test('keeps nothing when making the value throws', () => {
    const lru = new Lru<string, string>(2);
    expect(() =>
      lru.get('x', () => {
        throw new Error('bad input');
      }),
    ).toThrow('bad input');
    expect(lru.size).toBe(0);
  });
});

describe('parsed certificates are shared between parses of the same PEM', () => {
  test('a CA in two inputs is parsed once; a changed leaf is parsed anew', () => {
    const a = chainFixture('p256', 'main');
    const b = chainFixture('p256', 'lru');
    const [caFirst] = parseCertificates(a.root);
    const [leafA, caAgain] = parseCertificates(`${a.leaf}${a.root}`);
    const [leafB] = parseCertificates(b.leaf);
    expect(caAgain).toBe(caFirst);
    expect(leafB).not.toBe(leafA);
    expect(leafB.fingerprint256).not.toBe(leafA.fingerprint256);
  });
});
