// Shared test helpers: expired certificates (openssl 3.0 cannot backdate without `openssl
// ca`, so node-forge signs them) and a matcher for PkiError reasons.
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { PkiError, type PkiReason } from '../../src/pki/errors.js';

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
  cert.sign(forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Run `fn` and return the PkiError it throws; fails the test for any other outcome. */
export function pkiErrorOf(fn: () => unknown): PkiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PkiError) return err;
    throw new Error(`expected PkiError, got ${String(err)}`);
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
