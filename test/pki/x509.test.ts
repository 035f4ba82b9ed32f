// Certificates made by src/pki/x509.ts, proven by the real `openssl verify` (at a fixed time,
// -attime, so nothing depends on the wall clock) for RSA and EC CAs and leaves, chains through
// an intermediate, usages, SANs; and the refusals for bad names, forged CSRs and non-CAs.
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describeChain } from '../../src/pki/certinfo.js';
import { keyMatchesCert } from '../../src/pki/chain.js';
import { buildStores } from '../../src/pki/stores.js';
import { PkiError, type PkiReason } from '../../src/pki/errors.js';
import { parsePrivateKey } from '../../src/pki/pem.js';
import {
  createCsr,
  generateKey,
  issueCertificate,
  parseCsr,
  selfSignedCa,
  signCsr,
  type CaMaterial,
  type CertificateProfile,
  type KeyAlgorithm,
} from '../../src/pki/x509.js';
import { scratchDir } from './fixtures.js';

jest.setTimeout(120_000);
const run = promisify(execFile);
const dir = scratchDir('x509');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = new Date('2031-03-01T00:00:00Z');
const DAY = 86_400_000;
const AT = String(NOW.getTime() / 1000 + 3600);
const profile = (days: number, extra: Partial<CertificateProfile> = {}): CertificateProfile => ({
  notBefore: NOW,
  notAfter: new Date(NOW.getTime() + days * DAY),
  usages: ['server', 'client'],
  ...extra,
});

let n = 0;
function file(text: string): string {
  const p = path.join(dir, `f${n++}.pem`);
  writeFileSync(p, text);
  return p;
}

async function verify(leaf: string, ca: string, opts: { untrusted?: string; purpose?: string; at?: string } = {}) {
  const args = ['verify', '-attime', opts.at ?? AT, '-CAfile', file(ca)];
  if (opts.untrusted) args.push('-untrusted', file(opts.untrusted));
  if (opts.purpose) args.push('-purpose', opts.purpose);
  return run('openssl', [...args, file(leaf)]);
}

async function newCa(alg: KeyAlgorithm, days = 3650): Promise<CaMaterial> {
  const keyPem = await generateKey(alg);
  return { keyPem, certPem: await selfSignedCa(keyPem, `test CA ${alg}`, profile(days)) };
}

async function rejects(p: Promise<unknown>, reason: PkiReason): Promise<PkiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PkiError);
  expect((err as PkiError).reason).toBe(reason);
  return err as PkiError;
}

describe('generateKey', () => {
  it.each([
    ['rsa-2048', 'rsa', 2048],
    ['rsa-3072', 'rsa', 3072],
    ['rsa-4096', 'rsa', 4096],
    ['ec-p256', 'ec', 256],
    ['ec-p384', 'ec', 384],
  ] as const)('%s is a PKCS#8 %s key of %d bits', async (alg, type, bits) => {
    const pem = await generateKey(alg);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = parsePrivateKey(pem);
    expect([key.type, key.bits]).toEqual([type, bits]);
  });
});

describe.each(['ec-p256', 'rsa-2048'] as const)('a %s CA', (caAlg) => {
  let ca: CaMaterial;
  beforeAll(async () => {
    ca = await newCa(caAlg);
  });

  it('is a self-signed CA openssl accepts as its own trust anchor', async () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    await expect(verify(ca.certPem, ca.certPem)).resolves.toBeDefined();
  });

  it.each(['ec-p256', 'ec-p384', 'rsa-2048'] as const)('signs a %s leaf from its CSR that openssl verifies', async (leafAlg) => {
    const keyPem = await generateKey(leafAlg);
    const csr = await createCsr(keyPem, {
      commonName: 'web',
      dnsNames: ['web.ns.svc', 'web.example.com'],
      ipAddresses: ['10.0.0.7', '2001:db8::1'],
    });
    const leaf = await signCsr(csr, profile(90), ca);
    await verify(leaf, ca.certPem, { purpose: 'sslserver' });
    await verify(leaf, ca.certPem, { purpose: 'sslclient' });
    const cert = new X509Certificate(leaf);
    expect(cert.subjectAltName).toBe('DNS:web.ns.svc, DNS:web.example.com, IP Address:10.0.0.7, IP Address:2001:DB8:0:0:0:0:0:1');
    expect(cert.subject).toBe('CN=web');
    expect(cert.ca).toBe(false);
    expect(keyMatchesCert(createPrivateKey(keyPem), cert)).toBe(true);
    expect(new Date(cert.validTo).getTime()).toBe(NOW.getTime() + 90 * DAY);
    // the same certificate is not valid a day after its notAfter
    await expect(verify(leaf, ca.certPem, { at: String(NOW.getTime() / 1000 + 91 * 86400) })).rejects.toThrow(/expired/);
  });
});

describe('usages, serials, limits', () => {
  let ca: CaMaterial;
  beforeAll(async () => {
    ca = await newCa('ec-p256', 365);
  });

  it('a server-only certificate is refused for client authentication, and the other way round', async () => {
    const key = await generateKey('ec-p256');
    const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
    const server = await issueCertificate(spki, { dnsNames: ['a.test'], ipAddresses: [] }, profile(30, { usages: ['server'] }), ca);
    const client = await issueCertificate(
      spki,
      { commonName: 'alice', dnsNames: [], ipAddresses: [] },
      profile(30, { usages: ['client'] }),
      ca,
    );
    await verify(server, ca.certPem, { purpose: 'sslserver' });
    await expect(verify(server, ca.certPem, { purpose: 'sslclient' })).rejects.toThrow(/unsuitable certificate purpose/);
    await verify(client, ca.certPem, { purpose: 'sslclient' });
    await expect(verify(client, ca.certPem, { purpose: 'sslserver' })).rejects.toThrow(/unsuitable certificate purpose/);
  });

  it('serials are random, positive and 16 bytes long', async () => {
    const spki = createPublicKey(await generateKey('ec-p256')).export({ format: 'der', type: 'spki' });
    const serials = await Promise.all(
      [1, 2, 3].map(
        async () =>
          new X509Certificate(await issueCertificate(spki, { dnsNames: ['a.test'], ipAddresses: [] }, profile(1), ca)).serialNumber,
      ),
    );
    expect(new Set(serials).size).toBe(3);
    for (const s of serials) {
      expect(s).toMatch(/^[0-9A-F]{32}$/);
      expect(parseInt(s[0], 16)).toBeLessThan(8);
    }
  });

  it('a leaf never outlives its CA', async () => {
    const spki = createPublicKey(await generateKey('ec-p256')).export({ format: 'der', type: 'spki' });
    const leaf = new X509Certificate(await issueCertificate(spki, { dnsNames: ['a.test'], ipAddresses: [] }, profile(1000), ca));
    expect(leaf.validTo).toBe(new X509Certificate(ca.certPem).validTo);
  });

  it('an intermediate CA signed from a CSR signs leaves that verify through it', async () => {
    const intKey = await generateKey('ec-p384');
    const intCert = await signCsr(
      await createCsr(intKey, { commonName: 'intermediate', dnsNames: [], ipAddresses: [] }),
      profile(100, { isCA: true }),
      ca,
    );
    expect(new X509Certificate(intCert).ca).toBe(true);
    const leafKey = await generateKey('rsa-2048');
    const leaf = await signCsr(await createCsr(leafKey, { dnsNames: ['deep.test'], ipAddresses: [] }), profile(10), {
      certPem: intCert,
      keyPem: intKey,
    });
    await verify(leaf, ca.certPem, { untrusted: intCert, purpose: 'sslserver' });
    await expect(verify(leaf, ca.certPem)).rejects.toThrow(/unable to get local issuer/);
  });

  it('a leaf with an empty subject (its names in the SAN only) goes into keystores and cert info', async () => {
    const key = await generateKey('ec-p256');
    const leaf = await signCsr(await createCsr(key, { dnsNames: ['san-only.test'], ipAddresses: [] }), profile(10), ca);
    const built = buildStores({ certPem: leaf, keyPem: key, caPem: ca.certPem, password: 'changeit', alias: 'a', formats: ['pkcs12'] });
    expect(Object.keys(built.files).sort()).toEqual(['keystore.p12', 'truststore.p12']);
    expect(describeChain([new X509Certificate(leaf)])).toContain('(empty)');
  });

  it('a CSR carries its names and proves its key', async () => {
    const key = await generateKey('ec-p256');
    const csr = await createCsr(key, { commonName: 'x', dnsNames: ['x.test'], ipAddresses: ['192.0.2.1'] });
    await run('openssl', ['req', '-verify', '-noout', '-in', file(csr)]);
    const parsed = await parseCsr(csr);
    expect(parsed.subject).toEqual({ commonName: 'x', dnsNames: ['x.test'], ipAddresses: ['192.0.2.1'] });
    expect(Buffer.from(parsed.publicKey)).toEqual(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  });

  it('refuses a CSR whose signature does not verify, and garbage', async () => {
    const csr = await createCsr(await generateKey('ec-p256'), { dnsNames: ['x.test'], ipAddresses: [] });
    const der = Buffer.from(csr.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    der[der.length - 5] ^= 0x01; // inside the signature
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await rejects(signCsr(forged, profile(1), ca), 'InvalidCSR');
    await rejects(signCsr('not a csr', profile(1), ca), 'InvalidCSR');
  });

  it('refuses an IP that does not parse and a certificate with no name', async () => {
    const key = await generateKey('ec-p256');
    await rejects(createCsr(key, { dnsNames: [], ipAddresses: ['10.0.0.300'] }), 'InvalidName');
    await rejects(createCsr(key, { dnsNames: [], ipAddresses: [] }), 'InvalidName');
  });

  it('refuses to sign with a certificate that is not a CA, or with the wrong key', async () => {
    const leafKey = await generateKey('ec-p256');
    const leaf = await signCsr(await createCsr(leafKey, { dnsNames: ['a.test'], ipAddresses: [] }), profile(10), ca);
    const csr = await createCsr(await generateKey('ec-p256'), { dnsNames: ['b.test'], ipAddresses: [] });
    await rejects(signCsr(csr, profile(1), { certPem: leaf, keyPem: leafKey }), 'NotCA');
    await rejects(signCsr(csr, profile(1), { certPem: ca.certPem, keyPem: leafKey }), 'KeyMismatch');
  });
});

describe('the certificate encoding', () => {
  let ca: CaMaterial;
  beforeAll(async () => {
    ca = await newCa('ec-p256', 365);
  });

  it('writes an IPv4-mapped IPv6 address as its 16 bytes (the old encoder wrote ::ffff:1 for ::ffff:1.2.3.4)', async () => {
    const spki = createPublicKey(await generateKey('ec-p256')).export({ format: 'der', type: 'spki' });
    const subject = { dnsNames: [], ipAddresses: ['::ffff:192.0.2.1', '10.1.2.3', '::1'] };
    const leaf = await issueCertificate(spki, subject, profile(10), ca);
    expect(new X509Certificate(leaf).subjectAltName).toBe(
      'IP Address:0:0:0:0:0:FFFF:C000:201, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1',
    );
    // the CSR carries the same bytes, and they read back as the address asked for
    expect((await parseCsr(await createCsr(await generateKey('ec-p256'), subject))).subject.ipAddresses[0]).toBe('::ffff:c000:201');
    await verify(leaf, ca.certPem, { purpose: 'sslserver' });
  });

  it('refuses an IPv6 address with a zone, which no certificate can name', async () => {
    const spki = createPublicKey(await generateKey('ec-p256')).export({ format: 'der', type: 'spki' });
    await rejects(issueCertificate(spki, { dnsNames: [], ipAddresses: ['fe80::1%eth0'] }, profile(1), ca), 'InvalidName');
  });

  it('dates from 2050 on are GeneralizedTime, and openssl reads them', async () => {
    const start = new Date('2049-06-01T00:00:00Z');
    const keyPem = await generateKey('ec-p384');
    const longCa = {
      keyPem,
      certPem: await selfSignedCa(keyPem, 'long CA', { notBefore: start, notAfter: new Date('2060-01-01T00:00:00Z') }),
    };
    const spki = createPublicKey(await generateKey('ec-p256')).export({ format: 'der', type: 'spki' });
    const leaf = await issueCertificate(
      spki,
      { commonName: 'late', dnsNames: [], ipAddresses: [] },
      { notBefore: start, notAfter: new Date('2050-03-01T12:34:56.789Z'), usages: ['client'] },
      longCa,
    );
    const { stdout } = await run('openssl', ['asn1parse', '-in', file(leaf)]);
    expect(stdout).toMatch(/UTCTIME +:490601000000Z/);
    expect(stdout).toMatch(/GENERALIZEDTIME +:20500301123456Z/); // to the second, as RFC 5280 wants
    expect(new X509Certificate(leaf).validTo).toBe('Mar  1 12:34:56 2050 GMT');
    const at = (iso: string) => String(new Date(iso).getTime() / 1000);
    await verify(leaf, longCa.certPem, { at: at('2050-03-01T00:00:00Z'), purpose: 'sslclient' });
    await expect(verify(leaf, longCa.certPem, { at: at('2050-03-02T00:00:00Z') })).rejects.toThrow(/expired/);
  });

  it('names the CA by its own subjectKeyIdentifier, whatever method made it', async () => {
    // an openssl CA whose SKI is not the SHA-1 of its key: a leaf naming the key's SHA-1 in its
    // authorityKeyIdentifier would not chain in OpenSSL (the SKI and AKI must match)
    const keyPem = await generateKey('ec-p256');
    const keyFile = file(keyPem);
    const cnf = file('[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=0102030405060708\n');
    const args = ['req', '-x509', '-new', '-key', keyFile, '-subj', '/O=Example/CN=openssl CA', '-days', '36500'];
    const { stdout: certPem } = await run('openssl', [...args, '-config', cnf, '-extensions', 'v3', '-set_serial', '7']);
    const other = { certPem, keyPem };
    const spki = createPublicKey(await generateKey('ec-p256')).export({ format: 'der', type: 'spki' });
    const leaf = await issueCertificate(spki, { dnsNames: ['a.test'], ipAddresses: [] }, profile(10), other);
    const { stdout } = await run('openssl', ['x509', '-noout', '-ext', 'authorityKeyIdentifier,subjectKeyIdentifier', '-in', file(leaf)]);
    expect(stdout).toMatch(/Authority Key Identifier:\s*\n\s*(keyid:)?01:02:03:04:05:06:07:08/);
    // the issuer is the CA's Name as it is written, two RDNs in its order
    expect(new X509Certificate(leaf).issuer).toBe('O=Example\nCN=openssl CA');
    await verify(leaf, certPem, { purpose: 'sslserver' });
  });
});
