// Inputs Java cannot read are refused before any store is written (UnsupportedByJava), wherever the key sits:
// the private key, a certificate of the chain, a CA bundle. real-tools.test.ts and jvm-tls.test.ts show that
// keytool and a JVM indeed fail on each of these, and read everything accepted here.
import { buildStores, buildTruststore, type StoreInput } from '../../src/pki/stores.js';
import {
  anchorFixture,
  chainFixture,
  explicitEcFixture,
  JAVA_ANCHOR_KINDS,
  JAVA_RSA_EDGES,
  LEGACY_CURVE_ANCHOR_KINDS,
  NON_JAVA_RSA_EDGES,
  rsaEdgeCertificates,
} from './fixtures.js';
import { expectReason, pemBodyLines } from './helpers.js';

const ec = chainFixture('p256');
const explicit = explicitEcFixture();
const edges = rsaEdgeCertificates();
const input = (over: Partial<StoreInput>): StoreInput => ({
  certPem: ec.certPem(2),
  keyPem: ec.keyPkcs8,
  password: 'changeit',
  alias: 'alias',
  formats: ['jks', 'pkcs12'],
  ...over,
});
const refused = (over: Partial<StoreInput>) => expectReason(() => buildStores(input(over)), 'UnsupportedByJava').message;

describe('EC keys with explicit curve parameters (what `openssl ecparam -param_enc explicit -genkey` writes)', () => {
  it('the named twin of the key and certificate builds: the encoding alone decides', () => {
    const built = buildStores(input({ certPem: explicit.certNamed, keyPem: explicit.keyNamed }));
    expect(Object.keys(built.files)).toEqual(['keystore.jks', 'keystore.p12']);
  });
  it('an explicit private key is refused, even under a certificate that names the curve', () => {
    for (const certPem of [explicit.cert, explicit.certNamed]) {
      expect(refused({ certPem, keyPem: explicit.key })).toMatch(
        /^private key: explicit EC parameters instead of a named curve; Java reads only named curves/,
      );
    }
  });
  it('a certificate with an explicit public key is refused, though its key names the curve', () => {
    expect(refused({ certPem: explicit.cert, keyPem: explicit.keyNamed })).toMatch(
      /^certificate "O=annotary test, CN=localhost": explicit EC parameters/,
    );
  });
  it('in a CA bundle, an extra trust bundle and a truststore ConfigMap alike', () => {
    const subject = 'certificate "O=annotary test, CN=localhost": explicit EC parameters';
    expect(refused({ caPem: ec.ca + explicit.cert })).toMatch(new RegExp(`^CA bundle ${subject}`));
    expect(refused({ extraTrustPem: [explicit.cert] })).toMatch(new RegExp(`^extra trust bundle 1 ${subject}`));
    expect(expectReason(() => buildTruststore(explicit.cert, 'changeit', ['jks'], 'ca'), 'UnsupportedByJava').message).toMatch(
      new RegExp(`^CA bundle ${subject}`),
    );
  });
});

describe('certificates on curves Java 17 no longer implements', () => {
  it.each(LEGACY_CURVE_ANCHOR_KINDS)('%s: refused as a trust anchor and in the chain', (kind) => {
    const a = anchorFixture(kind);
    const curve = new RegExp(`EC curve ${kind}; Java 17 implements only P-256, P-384 and P-521`);
    expect(refused({ caPem: a.root })).toMatch(curve);
    expect(expectReason(() => buildTruststore(a.root, 'changeit', ['pkcs12'], 'ca'), 'UnsupportedByJava').message).toMatch(curve);
    expect(refused({ certPem: a.leaf + a.root, keyPem: a.leafKey, caPem: a.root })).toMatch(
      new RegExp(`^certificate "O=annotary test, CN=Root ${kind}": `),
    );
  });
});

describe("RSA keys outside the limits of Java's RSAKeyFactory", () => {
  it.each([
    ['rsa504', /RSA key of 504 bits; Java reads RSA keys of 512 to 16384 bits/],
    ['rsa16392', /RSA key of 16392 bits; Java reads RSA keys of 512 to 16384 bits/],
    ['rsa4096-e72', /RSA key of 4096 bits with a 72-bit public exponent; Java allows at most 64 bits for keys over 3072 bits/],
  ] as const)('%s is refused', (edge, message) => {
    expect(NON_JAVA_RSA_EDGES).toContain(edge);
    expect(refused({ caPem: edges[edge] })).toMatch(message);
  });
  it.each(JAVA_RSA_EDGES)('%s, at the limit, builds', (edge) => {
    expect(Object.keys(buildTruststore(edges[edge], 'changeit', ['jks', 'pkcs12'], 'ca'))).toEqual(['truststore.jks', 'truststore.p12']);
  });
});

describe('every other kind Java reads still builds', () => {
  it.each(JAVA_ANCHOR_KINDS)('%s: as a trust anchor and as the root of the keystore chain', (kind) => {
    const a = anchorFixture(kind);
    expect(Object.keys(buildStores(input({ certPem: a.leaf + a.root, keyPem: a.leafKey, caPem: a.root })).files).sort()).toEqual([
      'keystore.jks',
      'keystore.p12',
      'truststore.jks',
      'truststore.p12',
    ]);
  });
});

it('refusal messages name the certificate, never its contents', () => {
  const messages = [
    refused({ caPem: explicit.cert }),
    refused({ certPem: explicit.cert, keyPem: explicit.key }),
    refused({ caPem: edges.rsa16392 }),
  ];
  for (const pem of [explicit.cert, explicit.key, edges.rsa16392]) {
    for (const line of pemBodyLines(pem)) for (const m of messages) expect(m).not.toContain(line.slice(0, 16));
  }
});
