import { X509Certificate } from 'node:crypto';
import { describeChain } from '../../src/pki/certinfo.js';
import { readJks } from '../../src/pki/jks.js';
import { parsePrivateKey } from '../../src/pki/pem.js';
import { buildStores, buildTruststore, type StoreInput } from '../../src/pki/stores.js';
import { chainFixture } from './fixtures.js';
import { expectReason, selfSigned } from './helpers.js';

const rsa = chainFixture('rsa2048');
const ec = chainFixture('p256');
const input = (over: Partial<StoreInput> = {}): StoreInput => ({
  certPem: ec.certPem(2),
  keyPem: ec.keyTraditional,
  caPem: ec.ca,
  password: 'changeit',
  alias: 'alias',
  formats: ['jks', 'pkcs12'],
  ...over,
});

describe('stores are byte-stable: same input, same bytes', () => {
  it.each([
    ['EC', () => input()],
    ['RSA', () => input({ certPem: rsa.certPem(3), keyPem: rsa.keyPkcs8, caPem: rsa.ca })],
  ])('%s: building twice gives identical buffers for every store', (_n, mk) => {
    const a = buildStores(mk()).files;
    const b = buildStores(mk()).files;
    expect(Object.keys(a).sort()).toEqual(['keystore.jks', 'keystore.p12', 'truststore.jks', 'truststore.p12']);
    for (const name of Object.keys(a)) expect(a[name].equals(b[name])).toBe(true);
  });

  it('the key form (PKCS#1/SEC1 vs PKCS#8) does not change a single byte', () => {
    const a = buildStores(input({ keyPem: ec.keyPkcs8 })).files;
    const b = buildStores(input({ keyPem: ec.keyTraditional })).files;
    for (const name of Object.keys(a)) expect(a[name].equals(b[name])).toBe(true);
  });

  it('a different password changes every store', () => {
    const a = buildStores(input()).files;
    const b = buildStores(input({ password: 'changeit2' })).files;
    for (const name of Object.keys(a)) expect(a[name].equals(b[name])).toBe(false);
  });

  it('the JKS entry timestamp is the leaf notBefore, not the clock', () => {
    const built = buildStores(input());
    const [entry] = readJks(built.files['keystore.jks'], 'changeit');
    expect(entry.timestamp).toEqual(new Date(new X509Certificate(ec.leaf).validFrom));
  });
});

describe('what goes into the stores', () => {
  it('keystore.jks holds the key and the chain leaf-first even when given out of order', () => {
    const built = buildStores(input({ certPem: ec.root + ec.intermediate + ec.leaf }));
    const [entry] = readJks(built.files['keystore.jks'], 'changeit');
    if (entry?.kind !== 'key') throw new Error('expected a key entry');
    expect(entry.pkcs8.equals(parsePrivateKey(ec.keyPkcs8).pkcs8)).toBe(true);
    expect(entry.chain.map((d) => new X509Certificate(d).subject.split('\n').pop())).toEqual([
      'CN=localhost',
      'CN=Intermediate p256',
      'CN=Root p256',
    ]);
  });

  it('truststore aliases are `${prefix}${i}` (cert-utils compatible alias0, alias1, …)', () => {
    const built = buildStores(input({ caPem: ec.root + rsa.root, extraTrustPem: [rsa.intermediate] }));
    expect(readJks(built.files['truststore.jks'], 'changeit').map((e) => e.alias)).toEqual(['alias0', 'alias1', 'alias2']);
    const custom = buildStores(input({ trustAliasPrefix: 'CA-' }));
    expect(readJks(custom.files['truststore.jks'], 'changeit').map((e) => e.alias)).toEqual(['ca-0']);
  });

  it('no CA → keystores only; formats select the files', () => {
    expect(Object.keys(buildStores(input({ caPem: undefined })).files).sort()).toEqual(['keystore.jks', 'keystore.p12']);
    expect(Object.keys(buildStores(input({ formats: ['pkcs12'] })).files).sort()).toEqual(['keystore.p12', 'truststore.p12']);
    expect(Object.keys(buildStores(input({ caPem: '  \n' })).files).sort()).toEqual(['keystore.jks', 'keystore.p12']);
  });

  it('expired certificates build, with a warning', () => {
    const old = selfSigned('old.example', new Date('2001-01-01T00:00:00Z'), new Date('2002-01-01T00:00:00Z'));
    const built = buildStores(input({ certPem: old.certPem, keyPem: old.keyPem, caPem: undefined }));
    expect(built.warnings).toEqual(['certificate "CN=old.example" is expired']);
    expect(built.files['keystore.jks']).toBeDefined();
  });

  it('bad inputs surface as PkiError reasons', () => {
    expectReason(() => buildStores(input({ keyPem: rsa.keyPkcs8 })), 'KeyMismatch');
    expectReason(() => buildStores(input({ certPem: ec.leaf + rsa.root })), 'ChainBroken');
    expectReason(() => buildStores(input({ password: '' })), 'InvalidPassword');
    expectReason(() => buildStores(input({ alias: '' })), 'InvalidAlias');
    // Java's PBEKey refuses non-ASCII PKCS#12 passwords (verified with keytool); JKS takes them.
    expectReason(() => buildStores(input({ password: 'pässwort' })), 'InvalidPassword');
    expect(Object.keys(buildStores(input({ password: 'pässwort', formats: ['jks'] })).files)).toEqual(['keystore.jks', 'truststore.jks']);
    expectReason(() => buildStores(input({ formats: ['zip' as 'jks'] })), 'UnsupportedFormat');
    expectReason(() => buildStores(input({ caPem: 'not a cert' })), 'NoCertificate');
  });
});

describe('CA bundles become truststores on their own', () => {
  it('one entry per certificate, both formats, stable', () => {
    const a = buildTruststore(ec.root + rsa.root, 'pw', ['jks', 'pkcs12'], 'alias');
    const b = buildTruststore(ec.root + rsa.root, 'pw', ['jks', 'pkcs12'], 'alias');
    expect(Object.keys(a).sort()).toEqual(['truststore.jks', 'truststore.p12']);
    expect(a['truststore.p12'].equals(b['truststore.p12'])).toBe(true);
    expect(readJks(a['truststore.jks'], 'pw').map((e) => e.kind)).toEqual(['cert', 'cert']);
  });
  it('an empty bundle → EmptyCABundle', () => {
    expectReason(() => buildTruststore('', 'pw', ['jks'], 'alias'), 'EmptyCABundle');
    expectReason(() => buildTruststore('# just a comment\n', 'pw', ['jks'], 'alias'), 'EmptyCABundle');
    expectReason(() => buildTruststore(ec.keyPkcs8, 'pw', ['jks'], 'alias'), 'EmptyCABundle');
  });
});

describe('certificate summaries are readable and deterministic', () => {
  it('lists subject, issuer, validity, SANs, key type and fingerprints per certificate', () => {
    const certs = [new X509Certificate(rsa.leaf), new X509Certificate(ec.root)];
    const text = describeChain(certs);
    expect(text).toBe(describeChain(certs));
    expect(text).toContain('Certificate 1 of 2');
    expect(text).toContain('Subject:      O=annotary test, CN=localhost');
    expect(text).toContain('Issuer:       O=annotary test, CN=Intermediate rsa2048');
    expect(text).toContain('SANs:         DNS:localhost, IP Address:127.0.0.1');
    expect(text).toContain('Public key:   RSA 2048 bits');
    expect(text).toContain('Public key:   EC P-256');
    expect(text).toContain(`SHA-256:      ${certs[0].fingerprint256}`);
    expect(text).toContain('Serial:       03');
  });
});
