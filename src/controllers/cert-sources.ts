// What the route and ingress controllers share: references to source Secrets, the check
// that a Secret's PEM is usable, and the "read the data first" answer of their pure
// desired…() functions. Both decide from the cached per-key digests whether anything
// changed; only when something must be written do they need the PEM itself, which the
// reconciler then reads with one GET (the Secret cache keeps no data of unannotated Secrets).
import { commaList } from '../annotations.js';
import { isDnsLabel, isDnsSubdomain } from '../kube/names.js';
import type { SlimData } from '../kube/slim.js';
import { slimDataObject, valueDigest } from '../kube/slim.js';
import type { KubeObject } from '../kube/types.js';
import { orderChain } from '../pki/chain.js';
import { PkiError } from '../pki/errors.js';
import { parseCertificates, parsePrivateKey } from '../pki/pem.js';
import type { Refusal } from '../kube/refusal.js';
import { refuse } from '../kube/refusal.js';

export interface SecretRef {
  namespace: string;
  name: string;
}

/** The desired…() functions need the data of these Secrets (keys "ns/name") to build the change. */
export interface NeedsData {
  needsData: string[];
}

export function isNeedsData(x: unknown): x is NeedsData {
  return typeof x === 'object' && x !== null && Array.isArray((x as NeedsData).needsData);
}

/** `<name>`, or `<namespace>/<name>` when `allowNamespace`; the namespace defaults to `home`. */
export function parseSecretRef(value: string, key: string, home: string, allowNamespace: boolean): SecretRef | Refusal {
  const parts = value.trim().split('/');
  const [namespace, name] = parts.length === 2 && allowNamespace ? parts : [home, parts.length === 1 ? parts[0] : ''];
  if (!name || !isDnsSubdomain(name) || !isDnsLabel(namespace)) {
    return refuse('InvalidAnnotation', `${key}: "${value}" is not ${allowNamespace ? '[<namespace>/]<secret>' : '<secret>'}`);
  }
  return { namespace, name };
}

export const refKeyOf = (r: SecretRef) => `${r.namespace}/${r.name}`;

/** The source Secret's opt-in (annotary.io/share-with-namespaces) covers `namespace`. */
export function sharedWith(shareAnnotation: string | undefined, namespace: string): boolean {
  const list = commaList(shareAnnotation);
  return list.includes('*') || list.includes(namespace);
}

/** Digest a text has when stored as Secret data: comparable with the cache's digests. */
export function textDigest(text: string): string {
  return valueDigest(Buffer.from(text, 'utf8').toString('base64'));
}

/** A Secret read with GET, in the cache's shape (digests computed from the data it keeps). */
export const fullSecret: (obj: KubeObject) => SlimData = slimDataObject('Secret', () => 'all');

/**
 * The decoded text of a data key. PEM is ASCII; data that is not valid UTF-8 would not
 * survive the copy into a string field unchanged, so its digest would never match and
 * every reconcile would write again — it is refused instead.
 */
export function textOf(secret: SlimData, key: string): string | undefined | Refusal {
  const b64 = secret.data?.[key];
  if (b64 === undefined) return undefined;
  const raw = Buffer.from(b64, 'base64');
  const text = raw.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(raw))
    return refuse('SourceSecretInvalid', `Secret "${secret.metadata.name}": ${key} is not PEM text`);
  return text;
}

const invalid = (secret: SlimData, err: unknown): Refusal => {
  if (err instanceof PkiError) return refuse('SourceSecretInvalid', `Secret "${secret.metadata.name}": ${err.reason}: ${err.message}`);
  throw err;
};

/** tls.crt + tls.key must parse and belong together; ca.crt, when present, must parse. */
export function checkTlsSecret(secret: SlimData): Refusal | undefined {
  for (const k of ['tls.crt', 'tls.key']) {
    if (secret.data?.[k] === undefined) return refuse('SourceSecretInvalid', `Secret "${secret.metadata.name}" has no ${k}`);
  }
  try {
    const texts: Record<string, string | undefined> = {};
    for (const k of ['tls.crt', 'tls.key', 'ca.crt']) {
      const t = textOf(secret, k);
      if (typeof t === 'object') return t;
      texts[k] = t;
    }
    const key = parsePrivateKey(texts['tls.key']!, 'tls.key');
    orderChain(parseCertificates(texts['tls.crt']!, 'tls.crt'), key.key);
    if (texts['ca.crt'] !== undefined) parseCertificates(texts['ca.crt'], 'ca.crt');
    return undefined;
  } catch (err) {
    return invalid(secret, err);
  }
}

/** ca.crt must be present and hold certificates. */
export function checkCaSecret(secret: SlimData): Refusal | undefined {
  const text = textOf(secret, 'ca.crt');
  if (text === undefined) return refuse('SourceSecretInvalid', `Secret "${secret.metadata.name}" has no ca.crt`);
  if (typeof text === 'object') return text;
  try {
    parseCertificates(text, 'ca.crt');
    return undefined;
  } catch (err) {
    return invalid(secret, err);
  }
}
