// Shared test helpers: expired certificates (openssl 3.0 cannot backdate without `openssl
// ca`, so node-forge signs them), a matcher for PkiError reasons, and stores written without
// the input checks (to show what a consumer makes of an input that buildStores refuses).
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { PkiError, type PkiReason } from '../../src/pki/errors.js';
import { writeJks } from '../../src/pki/jks.js';
import { parseCertificates, parsePrivateKey } from '../../src/pki/pem.js';
import { writePkcs12Keystore, writePkcs12Truststore } from '../../src/pki/pkcs12.js';

export interface SelfSigned {
  certPem: string;
  keyPem: string;
}

/** A self-signed RSA certificate valid from `from` to `to`. */
export function selfSigned(cn: string, from: Date, to: Date): SelfSigned {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '0a';
  cert.validity.notBefore = from;
  cert.validity.notAfter = to;
  const attrs = [{ name: 'commonName', value: cn }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Run `fn` and return the PkiError it throws; fails the test for any other outcome. */
export function pkiErrorOf(fn: () => unknown): PkiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PkiError) return err;
    throw new Error(`expected PkiError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected PkiError, but nothing was thrown');
}

export function expectReason(fn: () => unknown, reason: PkiReason): PkiError {
  const err = pkiErrorOf(fn);
  expect(err.reason).toBe(reason);
  return err;
}

/** The base64 body lines of every PEM block, for "messages never leak PEM" checks. */
export function pemBodyLines(pem: string): string[] {
  return pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l.trim()));
}

/**
 * The stores the writers produce from this input when nothing checks it first (buildStores before the Java
 * checks): keystores when a key and certificates are given, truststores when CA certificates are. Alias "alias".
 */
export function uncheckedStores(input: { keyPem?: string; certPem?: string; caPem?: string }, password: string): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  const timestamp = new Date('2024-01-01T00:00:00Z');
  if (input.keyPem !== undefined && input.certPem !== undefined) {
    const pkcs8 = parsePrivateKey(input.keyPem).pkcs8;
    const chain = parseCertificates(input.certPem).map((c) => c.raw);
    files['keystore.jks'] = writeJks([{ kind: 'key', alias: 'alias', timestamp, pkcs8, chain }], password);
    files['keystore.p12'] = writePkcs12Keystore({ alias: 'alias', pkcs8, chain, password });
  }
  if (input.caPem !== undefined) {
    const certs = parseCertificates(input.caPem).map((c, i) => ({ alias: `alias${i}`, der: c.raw }));
    files['truststore.jks'] = writeJks(
      certs.map((c) => ({ kind: 'cert', alias: c.alias, timestamp, cert: c.der })),
      password,
    );
    files['truststore.p12'] = writePkcs12Truststore(certs, password);
  }
  return files;
}
