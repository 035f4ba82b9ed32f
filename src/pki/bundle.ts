// CA bundles as annotary writes them (CA injection, trust bundles): only the certificates of
// the inputs, re-encoded from their DER, each once, in a stable order. Whatever else an input
// holds (a private key under a wrong key name, comments, "Bag Attributes") never reaches the
// output, and the same set of certificates gives the same bytes whatever order or formatting
// the sources use: a source re-serialized by its producer is no change.
import { X509Certificate } from 'node:crypto';
import { PkiError } from './errors.js';
import { parseCertificates } from './pem.js';

/** Kubernetes refuses objects whose data adds up to more than 1 MiB: a bundle over it could never be written. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

export interface BundleInput {
  /** PEM text */
  pem: string;
  /** what it is, for messages: "Secret ns/name key ca.crt" */
  what: string;
}

const pemOf = (der: Buffer) => {
  const b64 = der.toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
};

/**
 * One PEM bundle of every certificate of the inputs: deduplicated by DER, sorted by
 * (subject, SHA-256 fingerprint). Throws PkiError: MalformedPEM / NoCertificate for an input
 * (each input must hold a certificate), BundleTooLarge when the result is over the limit.
 */
export function canonicalBundle(inputs: BundleInput[]): string {
  const byFingerprint = new Map<string, X509Certificate>();
  for (const input of inputs) for (const c of parseCertificates(input.pem, input.what)) byFingerprint.set(c.fingerprint256, c);
  const sorted = [...byFingerprint.entries()].sort(([fa, a], [fb, b]) =>
    a.subject === b.subject ? (fa < fb ? -1 : 1) : a.subject < b.subject ? -1 : 1,
  );
  const bundle = sorted.map(([, c]) => pemOf(c.raw)).join('');
  const size = Buffer.byteLength(bundle);
  if (size > MAX_BUNDLE_BYTES)
    throw new PkiError('BundleTooLarge', `the bundle would be ${size} bytes, over the ${MAX_BUNDLE_BYTES}-byte limit`);
  return bundle;
}
