// Whether a TLS Secret's tls.crt and tls.key can be served, the way a server loads them: the
// FIRST certificate of tls.crt is the leaf (Go's tls.X509KeyPair, nginx, OpenSSL's
// SSL_CTX_use_certificate_chain_file all take it so) and must certify tls.key; the leaf must be
// within its validity period. Pods started on material that fails this crash-loop or serve
// errors (Reloader #116), which is what the reload controller checks before it rolls them.
import { X509Certificate } from 'node:crypto';
import { keyMatchesCert, subjectLine, validityOf, validityState } from './chain.js';
import { PkiError } from './errors.js';
import { parseCertificates, parsePrivateKey } from './pem.js';
import { rfc3339 } from '../time.js';

export type MaterialProblemKind = 'unparsable' | 'key_mismatch' | 'expired' | 'not_yet_valid';

export interface MaterialProblem {
  kind: MaterialProblemKind;
  /** what is wrong, naming the leaf by subject: never key bytes */
  message: string;
  /** not_yet_valid: when the leaf becomes valid (looking again then may find it good) */
  validFrom?: Date;
}

/**
 * What is wrong with this certificate/key pair, or undefined when a server can load it. Keys
 * this project cannot vouch for (encrypted ones, algorithms outside its list such as Ed25519)
 * are not a problem: the application may well read them, so they are not held back.
 */
export function servingMaterialProblem(certPem: string | Buffer, keyPem: string | Buffer, now: Date): MaterialProblem | undefined {
  let leaf: X509Certificate;
  try {
    leaf = parseCertificates(certPem, 'tls.crt')[0];
  } catch (err) {
    return unparsable(err);
  }
  let key;
  try {
    key = parsePrivateKey(keyPem, 'tls.key').key;
  } catch (err) {
    if (err instanceof PkiError && (err.reason === 'EncryptedKey' || err.reason === 'UnsupportedKeyType')) return undefined;
    return unparsable(err);
  }
  const subject = `"${subjectLine(leaf)}"`;
  if (!keyMatchesCert(key, leaf)) {
    return { kind: 'key_mismatch', message: `tls.key does not match the first certificate of tls.crt (${subject})` };
  }
  const state = validityState(validityOf(leaf), now.getTime());
  if (state === 'expired') return { kind: 'expired', message: `the certificate ${subject} expired on ${rfc3339(leaf.validTo)}` };
  if (state === 'not_yet_valid') {
    const validFrom = new Date(leaf.validFrom);
    return { kind: 'not_yet_valid', message: `the certificate ${subject} is not valid before ${rfc3339(leaf.validFrom)}`, validFrom };
  }
  return undefined;
}

function unparsable(err: unknown): MaterialProblem {
  if (err instanceof PkiError) return { kind: 'unparsable', message: `${err.reason}: ${err.message}` };
  throw err;
}
