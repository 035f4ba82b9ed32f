// Chain assembly: find the leaf that matches the private key, then walk issuers upwards.
// Secrets written by hand often list certificates in the wrong order; Java's KeyManager
// sends the chain exactly as stored, so the order must be fixed here.
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { PkiError } from './errors.js';
import { parseCertificates } from './pem.js';

export interface CertWarning {
  subject: string;
  expired: boolean;
  notYetValid: boolean;
}

export interface OrderedChain {
  /** Leaf first, then each issuer. */
  chain: X509Certificate[];
  warnings: CertWarning[];
}

/**
 * The subject on one line, as Events and messages show it. An empty subject (a leaf whose names
 * are all in the SAN, as RFC 5280 allows and issuers write) is undefined in Node, whatever its type says.
 */
export const subjectLine = (cert: X509Certificate): string =>
  (cert.subject as string | undefined)?.replace(/\n/g, ', ') || `(empty subject, serial ${cert.serialNumber.toLowerCase()})`;

/**
 * True when `key` (private or public) is the key certified by `cert`. KeyObject.equals
 * compares the keys inside OpenSSL: ~1 µs, where exporting both as SPKI took ~230 µs (RSA
 * 2048), a sixth of building a keystore.
 */
export function keyMatchesCert(key: KeyObject, cert: X509Certificate): boolean {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const certKey = cert.publicKey;
  // equals throws on keys of different types (an EC key against an RSA certificate)
  return pub.asymmetricKeyType === certKey.asymmetricKeyType && pub.equals(certKey);
}

/** `child` names `parent` as issuer and `parent`'s key verifies `child`'s signature. */
export function isIssuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false; // unsupported signature algorithms simply do not link
  }
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return isIssuedBy(cert, cert);
}

/** A certificate's validity period in ms: notBefore through notAfter, both inclusive (RFC 5280 4.1.2.5). */
export interface Validity {
  notBeforeMs: number;
  notAfterMs: number;
}

export const validityOf = (cert: X509Certificate): Validity => ({
  notBeforeMs: Date.parse(cert.validFrom),
  notAfterMs: Date.parse(cert.validTo),
});

/**
 * The leaf's validity: the first certificate of a PEM chain, the one a server presents (tls.crt as
 * cert-manager and kubectl write it). The one reading of it for the expiry metrics and Warnings,
 * the reload controller's served-not-after and its check before rolling (serving-material.ts).
 */
export function leafValidity(pem: string | Buffer, what = 'tls.crt'): Validity {
  return validityOf(parseCertificates(pem, what)[0]);
}

/** Where `nowMs` falls in the validity period; at notAfter itself a certificate is still valid. */
export function validityState(v: Validity, nowMs: number): 'valid' | 'expired' | 'not_yet_valid' {
  if (nowMs > v.notAfterMs) return 'expired';
  return nowMs < v.notBeforeMs ? 'not_yet_valid' : 'valid';
}

/** Validity warnings; expired certificates are reported, never rejected. */
export function validityWarnings(certs: X509Certificate[], now: Date = new Date()): CertWarning[] {
  const out: CertWarning[] = [];
  for (const c of certs) {
    const state = validityState(validityOf(c), now.getTime());
    if (state !== 'valid') out.push({ subject: subjectLine(c), expired: state === 'expired', notYetValid: state === 'not_yet_valid' });
  }
  return out;
}

/** Drop exact duplicates, which are harmless and common in concatenated bundles. */
export function dedupe(certs: X509Certificate[]): X509Certificate[] {
  const seen = new Set<string>();
  return certs.filter((c) => !seen.has(c.fingerprint256) && seen.add(c.fingerprint256) !== undefined);
}

/**
 * Order `certs` leaf-first. The leaf is the certificate whose public key matches `key`
 * (KeyMismatch if none). Every other certificate must be an ancestor of the leaf (ChainBroken).
 */
export function orderChain(certs: X509Certificate[], key: KeyObject, now: Date = new Date()): OrderedChain {
  const unique = dedupe(certs);
  const leafIdx = unique.findIndex((c) => keyMatchesCert(key, c));
  if (leafIdx < 0) throw new PkiError('KeyMismatch', 'the private key does not match any certificate in the chain');
  const rest = unique.filter((_, i) => i !== leafIdx);
  const chain = [unique[leafIdx]];
  for (;;) {
    const cur = chain[chain.length - 1];
    if (isSelfSigned(cur)) break;
    const idx = rest.findIndex((c) => isIssuedBy(cur, c));
    if (idx < 0) break;
    chain.push(rest.splice(idx, 1)[0]);
  }
  if (rest.length > 0) {
    const subjects = rest.map((c) => `"${subjectLine(c)}"`).join('; ');
    throw new PkiError('ChainBroken', `${rest.length} certificate(s) are not part of the leaf's issuer chain: ${subjects}`);
  }
  return { chain, warnings: validityWarnings(chain, now) };
}
