// Certificate expiry of every kubernetes.io/tls Secret in the watched namespaces, and of every
// Secret annotary issues a certificate into (whatever its type: a user's Opaque Secret with
// annotary.io/issuer holds a certificate as much as a kubernetes.io/tls one):
// - gauges annotary_certificate_not_after_seconds / _not_before_seconds {namespace,name,key}
//   for the leaf (the first certificate of tls.crt): one series pair per TLS Secret, removed
//   when the Secret goes, so cardinality is bounded by the number of TLS Secrets;
// - a Warning Event CertificateExpiring when the leaf expires within the threshold
//   (annotary.io/expiry-warning on the Secret, else --expiry-warning), once per certificate.
// The lean Secret cache holds only digests for most Secrets: the certificate is read (GET)
// when the digest of tls.crt changes, never again while it stays the same.
import { A } from '../annotations.js';
import { parseDuration } from '../config.js';
import { objectKey } from '../kube/types.js';
import { errorText } from '../log.js';
import { parseCertificates } from '../pki/pem.js';
import type { ControllerContext, ControllerModule } from './context.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import { pemText, valueReader } from './cache-reads.js';
import { requestsCertificate } from './issuing.js';
import type { SlimData } from '../kube/slim.js';

export const CONTROLLER = 'expiry';
const CERT_KEY = 'tls.crt';
// setTimeout holds at most ~24.8 days; re-checking twice a day keeps the Event timely anyway
const MAX_RECHECK_MS = 12 * 3_600_000;

// ---------------------------------------------------------------- pure part

export interface Validity {
  notBeforeMs: number;
  notAfterMs: number;
}

/** Validity of the leaf: the first certificate in tls.crt, as cert-manager and kubectl write it. */
export function leafValidity(pem: string): Validity {
  const [leaf] = parseCertificates(pem, CERT_KEY);
  return { notBeforeMs: Date.parse(leaf.validFrom), notAfterMs: Date.parse(leaf.validTo) };
}

/** The warning threshold of a Secret: its annotation, else the flag's default. */
export function warningThreshold(value: string | undefined, defaultMs: number): number | Refusal {
  if (value === undefined) return defaultMs;
  try {
    return parseDuration(value);
  } catch (err) {
    return refuse('InvalidAnnotation', `${A.expiryWarning}: ${errorText(err)}`);
  }
}

export type ExpiryVerdict = { warn: true; message: string } | { warn: false; recheckInMs: number };

/** Warn now, or when to look again (the moment the threshold is crossed, capped). */
export function expiryVerdict(v: Validity, nowMs: number, thresholdMs: number): ExpiryVerdict {
  const leftMs = v.notAfterMs - nowMs;
  if (leftMs <= 0) return { warn: true, message: `the certificate in ${CERT_KEY} expired at ${new Date(v.notAfterMs).toISOString()}` };
  if (leftMs < thresholdMs) {
    const hours = Math.floor(leftMs / 3_600_000);
    return {
      warn: true,
      message: `the certificate in ${CERT_KEY} expires at ${new Date(v.notAfterMs).toISOString()} (in ${hours}h, under the ${A.expiryWarning} threshold)`,
    };
  }
  return { warn: false, recheckInMs: Math.min(MAX_RECHECK_MS, leftMs - thresholdMs + 1) };
}

// ---------------------------------------------------------------- wiring

interface Seen {
  digest: string;
  validity: Validity | undefined;
  warned: boolean;
}

export const expiryController: ControllerModule = {
  name: CONTROLLER,
  declare(ctx: ControllerContext) {
    const { caches, metrics, log, config, annotations: reader } = ctx;
    const secrets = caches.secrets();
    const read = valueReader(ctx, caches);
    const write = ctx.writer(CONTROLLER);
    const seen = new Map<string, Seen>();
    const holdsTls = (s: { type?: string; metadata: SlimData['metadata'] }) =>
      s.type === 'kubernetes.io/tls' || requestsCertificate(s.metadata.annotations, reader);

    const dropSeries = (labels: Record<string, string>) => {
      metrics.certNotAfter.remove(labels);
      metrics.certNotBefore.remove(labels);
    };

    return [
      {
        name: CONTROLLER,
        for: secrets,
        // every TLS Secret, and one that stopped being one (its series must go)
        filter: (s) => holdsTls(s) || seen.has(objectKey(s.metadata.namespace, s.metadata.name)),
        async reconcile({ namespace, name }) {
          const key = objectKey(namespace, name);
          const labels = { namespace, name, key: CERT_KEY };
          const secret = secrets.get(key);
          const digest = secret && holdsTls(secret) ? secret.digests[CERT_KEY] : undefined;
          if (!secret || !digest) {
            seen.delete(key);
            return dropSeries(labels);
          }
          let entry = seen.get(key);
          if (entry?.digest !== digest) {
            const pem = await read('Secret', namespace, name, CERT_KEY, pemText);
            let validity: Validity | undefined;
            try {
              validity = pem === undefined ? undefined : leafValidity(pem);
            } catch (err) {
              // not ours to refuse (the keystore controller reports bad PEM it must use): no series
              log.debug('tls.crt holds no readable certificate', { key, error: errorText(err) });
            }
            entry = { digest, validity, warned: false };
            seen.set(key, entry);
          }
          if (!entry.validity) return dropSeries(labels);
          metrics.certNotAfter.set(labels, entry.validity.notAfterMs / 1000);
          metrics.certNotBefore.set(labels, entry.validity.notBeforeMs / 1000);
          const threshold = warningThreshold(reader.get(secret.metadata.annotations, A.expiryWarning), config.expiryWarningMs);
          if (isRefusal(threshold)) return write.warn(secret, threshold);
          const verdict = expiryVerdict(entry.validity, Date.now(), threshold);
          if (!verdict.warn) return { requeueAfterMs: verdict.recheckInMs };
          if (!entry.warned) {
            entry.warned = true;
            write.warn(secret, refuse('CertificateExpiring', verdict.message));
          }
        },
      },
    ];
  },
};
