import { createPrivateKey, randomBytes } from 'node:crypto';
import { children, readTlv, seq, tlv } from '../../src/pki/der.js';
import { MAX_PEM_BYTES, parseCertificates, parsePrivateKey, pemBlocks, toPem } from '../../src/pki/pem.js';
import { chainFixture, explicitEcFixture, KEY_KINDS, oddKeys } from './fixtures.js';
import { expectReason, pemBodyLines } from './helpers.js';

describe('private keys are read in every common PEM form', () => {
  it.each(KEY_KINDS)('%s: PKCS#8 and traditional (PKCS#1 / SEC1) forms give the same PKCS#8 DER', (kind) => {
    const f = chainFixture(kind);
    expect(f.keyTraditional).toMatch(kind.startsWith('rsa') ? /BEGIN RSA PRIVATE KEY/ : /BEGIN EC PRIVATE KEY/);
    expect(f.keyPkcs8).toMatch(/BEGIN PRIVATE KEY/);
    const a = parsePrivateKey(f.keyPkcs8);
    const b = parsePrivateKey(f.keyTraditional);
    expect(a.pkcs8.equals(b.pkcs8)).toBe(true);
    expect(a.type).toBe(kind.startsWith('rsa') ? 'rsa' : 'ec');
    expect(a.bits).toBe({ rsa2048: 2048, rsa4096: 4096, p256: 256, p384: 384 }[kind]);
    if (a.type === 'ec') expect(a.curve).toBe(kind === 'p256' ? 'P-256' : 'P-384');
  });

  it('accepts CRLF line endings and surrounding text', () => {
    const f = chainFixture('p256');
    const messy = `Bag Attributes: none\r\n${f.keyTraditional.replace(/\n/g, '\r\n')}\r\ntrailing words`;
    expect(parsePrivateKey(messy).pkcs8.equals(parsePrivateKey(f.keyPkcs8).pkcs8)).toBe(true);
  });
});

describe('keys are imported as OpenSSL decodes them, and once', () => {
  const FORM = { 'RSA PRIVATE KEY': 'pkcs1', 'EC PRIVATE KEY': 'sec1', 'PRIVATE KEY': 'pkcs8' } as const;
  const keyBlock = (pem: string) => pemBlocks(pem, 'key').find((b) => b.label.endsWith('PRIVATE KEY'))!;
  /** OpenSSL's DER decoder on the key block, the reference: its PKCS#8 re-encoding, or 'refused'. */
  const reference = (pem: string) => {
    const b = keyBlock(pem);
    try {
      return createPrivateKey({ key: b.der, format: 'der', type: FORM[b.label as keyof typeof FORM] })
        .export({ format: 'der', type: 'pkcs8' })
        .toString('hex');
    } catch {
      return 'refused';
    }
  };
  const ours = (pem: string) => {
    try {
      return parsePrivateKey(pem).pkcs8.toString('hex');
    } catch {
      return 'refused';
    }
  };
  /** The key block with its top-level SEQUENCE's elements rewritten by `edit`. */
  const rewrite = (pem: string, edit: (fields: Buffer[]) => Buffer[]) => {
    const b = keyBlock(pem);
    const body = readTlv(b.der).content;
    return toPem(b.label, seq(...edit(children(body).map((t) => body.subarray(t.start, t.end)))));
  };
  const int = (...bytes: number[]) => tlv(0x02, Buffer.from(bytes));

  const shapes = (kind: (typeof KEY_KINDS)[number]): Record<string, string> => {
    const f = chainFixture(kind);
    const ec = !kind.startsWith('rsa');
    return {
      pkcs8: f.keyPkcs8,
      traditional: f.keyTraditional,
      // SEC1 without its public point ([1]): OpenSSL derives it
      ...(ec ? { 'no public point': rewrite(f.keyTraditional, (x) => x.filter((e) => e[0] !== 0xa1)) } : {}),
      // SEC1 without its curve ([0]): nothing says which curve
      ...(ec ? { 'no curve': rewrite(f.keyTraditional, (x) => x.filter((e) => e[0] !== 0xa0)) } : {}),
      // a version INTEGER padded with a zero byte: not DER
      'padded version': rewrite(f.keyTraditional, ([, ...rest]) => [ec ? int(0, 1) : int(0, 0), ...rest]),
      'trailing field': rewrite(f.keyTraditional, (x) => [...x, int(7)]),
    };
  };

  it.each(KEY_KINDS)('%s: every shape gives what OpenSSL gives (the same PKCS#8, or a refusal)', (kind) => {
    for (const [shape, pem] of Object.entries(shapes(kind))) expect([shape, ours(pem)]).toEqual([shape, reference(pem)]);
  });

  it('explicit EC parameters are read by OpenSSL, and stay explicit', () => {
    const { key } = explicitEcFixture();
    expect(ours(key)).toBe(reference(key));
    expect(ours(key)).not.toBe(ours(explicitEcFixture().keyNamed));
  });

  it('the same key text is imported once: the same KeyObject comes back', () => {
    const f = chainFixture('p256');
    expect(parsePrivateKey(f.keyPkcs8).key).toBe(parsePrivateKey(f.keyPkcs8).key);
    // another form of the same key is another input
    expect(parsePrivateKey(f.keyTraditional).key).not.toBe(parsePrivateKey(f.keyPkcs8).key);
  });
});

describe('keys that cannot go into a Java keystore are refused with a precise reason', () => {
  const odd = oddKeys();
  it('encrypted PKCS#8 → EncryptedKey', () => void expectReason(() => parsePrivateKey(odd.encryptedPkcs8), 'EncryptedKey'));
  it('encrypted traditional (Proc-Type: 4,ENCRYPTED) → EncryptedKey', () => {
    expect(odd.encryptedTraditional).toContain('Proc-Type: 4,ENCRYPTED');
    expectReason(() => parsePrivateKey(odd.encryptedTraditional), 'EncryptedKey');
  });
  it('DSA in both forms → UnsupportedKeyType', () => {
    expectReason(() => parsePrivateKey(odd.dsaTraditional), 'UnsupportedKeyType');
    expectReason(() => parsePrivateKey(odd.dsaPkcs8), 'UnsupportedKeyType');
  });
  it('Ed25519 → UnsupportedKeyType', () => void expectReason(() => parsePrivateKey(odd.ed25519), 'UnsupportedKeyType'));
  it('EC P-521 → UnsupportedKeyType', () => void expectReason(() => parsePrivateKey(odd.p521), 'UnsupportedKeyType'));
  it('a certificate where the key should be → NoPrivateKey', () =>
    void expectReason(() => parsePrivateKey(chainFixture('p256').leaf), 'NoPrivateKey'));
  it('two keys in one input → MalformedPEM', () => {
    const f = chainFixture('p256');
    expectReason(() => parsePrivateKey(f.keyPkcs8 + f.keyPkcs8), 'MalformedPEM');
  });
});

describe('garbage input fails cleanly', () => {
  const f = chainFixture('rsa2048');
  it('plain garbage → NoCertificate / NoPrivateKey', () => {
    expectReason(() => parseCertificates('hello world'), 'NoCertificate');
    expectReason(() => parsePrivateKey('hello world'), 'NoPrivateKey');
    expectReason(() => parseCertificates(''), 'NoCertificate');
  });
  it('truncated PEM → MalformedPEM', () => {
    expectReason(() => parseCertificates(f.leaf.slice(0, f.leaf.length / 2)), 'MalformedPEM');
    expectReason(() => parsePrivateKey(f.keyPkcs8.slice(0, f.keyPkcs8.length - 40)), 'MalformedPEM');
  });
  it('valid base64 of broken DER → MalformedPEM', () => {
    const lines = f.leaf.trim().split('\n');
    const cut = [lines[0], ...lines.slice(1, 6), lines[lines.length - 1]].join('\n');
    expectReason(() => parseCertificates(cut), 'MalformedPEM');
    const key = f.keyTraditional.trim().split('\n');
    expectReason(() => parsePrivateKey([key[0], ...key.slice(1, 4), key[key.length - 1]].join('\n')), 'MalformedPEM');
  });
  it('invalid base64 inside a block → MalformedPEM', () =>
    void expectReason(
      () => parseCertificates('-----BEGIN CERTIFICATE-----\n!!!notbase64!!!\n-----END CERTIFICATE-----\n'),
      'MalformedPEM',
    ));
  it('2 MiB of noise → InputTooLarge (before any parsing)', () => {
    const noise = randomBytes(2 * 1024 * 1024);
    expectReason(() => parseCertificates(noise), 'InputTooLarge');
    expectReason(() => parsePrivateKey(noise.toString('base64')), 'InputTooLarge');
    expect(MAX_PEM_BYTES).toBe(1024 * 1024);
  });
  it('error messages never contain PEM body text', () => {
    const broken = f.keyTraditional.replace(/\n[A-Za-z0-9+/]{10}/, '\n**********');
    const err = expectReason(() => parsePrivateKey(broken), 'MalformedPEM');
    for (const line of pemBodyLines(f.keyTraditional)) expect(err.message).not.toContain(line.slice(0, 16));
  });
});

describe('certificate chains are read in file order', () => {
  it('keeps order and count, and ignores non-certificate blocks', () => {
    const f = chainFixture('p384');
    const certs = parseCertificates(f.certPem(3) + f.keyPkcs8);
    expect(certs.map((c) => c.subject.split('\n').pop())).toEqual(['CN=localhost', 'CN=Intermediate p384', 'CN=Root p384']);
  });
});
