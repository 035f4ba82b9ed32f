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
import type { AnnotationKey, AnnotationReader } from '../annotations.js';
import { A, parseGoDuration } from '../annotations.js';
import { parseDuration } from '../config.js';
import { objectKey } from '../kube/types.js';
import { errorText } from '../log.js';
import type { Validity } from '../pki/chain.js';
import { leafValidity, validityState } from '../pki/chain.js';
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

/** cert-utils-operator's expiry alert on a Secret: its threshold and how often the Warning repeats (both Go durations). */
export interface CertUtilsAlert {
  thresholdMs: number;
  repeatMs: number;
}
const CU_THRESHOLD_MS = 90 * 86_400_000; // cert-utils' defaultSoonToExpireThreshold
const CU_REPEAT_MS = 3_600_000; // its defaultSoonToExpireFrequency

/**
 * cert-utils' expiry keys, honoured where its generate-cert-expiry-alert is exactly "true" (as
 * cert-utils compares it); undefined otherwise. A duration Go cannot parse is refused here:
 * cert-utils logs it and uses its default, annotary says so with a Warning.
 */
export function certUtilsAlert(
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
): CertUtilsAlert | Refusal | undefined {
  if (reader.get(annotations, A.cuGenerateCertExpiryAlert) !== 'true') return undefined;
  const duration = (key: AnnotationKey, fallback: number): number | Refusal => {
    const v = reader.get(annotations, key);
    if (v === undefined) return fallback;
    const ms = parseGoDuration(v);
    return ms === undefined || ms <= 0 ? refuse('InvalidAnnotation', `${key}: "${v}" is not a positive Go duration (e.g. 2160h)`) : ms;
  };
  const thresholdMs = duration(A.cuCertSoonToExpireThreshold, CU_THRESHOLD_MS);
  if (isRefusal(thresholdMs)) return thresholdMs;
  const repeatMs = duration(A.cuCertSoonToExpireCheckFrequency, CU_REPEAT_MS);
  if (isRefusal(repeatMs)) return repeatMs;
  return { thresholdMs, repeatMs };
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
export function expiryVerdict(v: Validity, nowMs: number, thresholdMs: number, thresholdKey: string = A.expiryWarning): ExpiryVerdict {
  const leftMs = v.notAfterMs - nowMs;
  if (validityState(v, nowMs) === 'expired')
    return { warn: true, message: `the certificate in ${CERT_KEY} expired at ${new Date(v.notAfterMs).toISOString()}` };
  if (leftMs < thresholdMs) {
    const hours = Math.floor(leftMs / 3_600_000);
    return {
      warn: true,
      message: `the certificate in ${CERT_KEY} expires at ${new Date(v.notAfterMs).toISOString()} (in ${hours}h, under the ${thresholdKey} threshold)`,
    };
  }
  return { warn: false, recheckInMs: Math.min(MAX_RECHECK_MS, leftMs - thresholdMs + 1) };
}

// ---------------------------------------------------------------- wiring

interface Seen {
  digest: string;
  validity: Validity | undefined;
  /** when the CertificateExpiring Warning was last given for this certificate */
  warnedAtMs?: number;
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
            entry = { digest, validity };
            seen.set(key, entry);
          }
          if (!entry.validity) return dropSeries(labels);
          metrics.certNotAfter.set(labels, entry.validity.notAfterMs / 1000);
          metrics.certNotBefore.set(labels, entry.validity.notBeforeMs / 1000);
          const ann = secret.metadata.annotations;
          const cu = certUtilsAlert(ann, reader);
          if (isRefusal(cu)) return write.warn(secret, cu);
          // annotary's own threshold wins over cert-utils' when both are set
          const native = reader.get(ann, A.expiryWarning);
          const threshold = cu && native === undefined ? cu.thresholdMs : warningThreshold(native, config.expiryWarningMs);
          if (isRefusal(threshold)) return write.warn(secret, threshold);
          const now = Date.now();
          const byCertUtils = cu !== undefined && native === undefined;
          const verdict = expiryVerdict(entry.validity, now, threshold, byCertUtils ? A.cuCertSoonToExpireThreshold : A.expiryWarning);
          if (!verdict.warn) return { requeueAfterMs: verdict.recheckInMs };
          // once per certificate; under cert-utils' key again every soon-to-expire-check-frequency, as it does
          const due = entry.warnedAtMs === undefined || (cu !== undefined && now - entry.warnedAtMs >= cu.repeatMs);
          if (due) {
            entry.warnedAtMs = now;
            write.warn(secret, refuse('CertificateExpiring', verdict.message));
          }
          // (at least a second apart: a "1ms" frequency must not become a busy loop)
          if (cu) return { requeueAfterMs: Math.max(1000, Math.min(MAX_RECHECK_MS, entry.warnedAtMs! + cu.repeatMs - now)) };
        },
      },
    ];
  },
};
