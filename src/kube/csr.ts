// certificates.k8s.io/v1 CertificateSigningRequest as annotary reads and writes it, for both
// sides: the `csr:<signerName>` issuer (annotary requests, someone signs) and annotary as a
// signer (someone requests, annotary signs). Pure: the phase of a CSR and the bodies of the
// writes, each with its resourceVersion precondition.
import type { KubeObject } from './types.js';

export type CsrConditionType = 'Approved' | 'Denied' | 'Failed';

/** annotary's own signer names: `annotary.io/<namespace>.<ca-secret>`, one per CA Secret (controllers/csr-signer.ts). */
export const SIGNER_PREFIX = 'annotary.io/';

/** The signer name of the CA in Secret `<namespace>/<secret>`. */
export const signerNameOf = (namespace: string, secret: string): string => `${SIGNER_PREFIX}${namespace}.${secret}`;

/** The CA Secret a signer name of annotary's names: a namespace has no dot, so the first one ends it. */
export function parseSignerName(signerName: string): { namespace: string; name: string } | undefined {
  if (!signerName.startsWith(SIGNER_PREFIX)) return undefined;
  const rest = signerName.slice(SIGNER_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  return { namespace: rest.slice(0, dot), name: rest.slice(dot + 1) };
}

export interface CsrCondition {
  /** Approved, Denied, Failed (CsrConditionType) or a type another tool sets */
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

export interface Csr extends KubeObject {
  spec: {
    /** base64 of the PKCS#10 PEM */
    request: string;
    signerName: string;
    usages?: string[];
    /** set by the apiserver: who created it */
    username?: string;
    groups?: string[];
    /** Kubernetes ≥ 1.22; a 1.20 apiserver drops it and the signer's own duration applies */
    expirationSeconds?: number;
  };
  status?: { certificate?: string; conditions?: CsrCondition[] };
}

/** Where a CSR stands: a signer set the certificate, someone denied it, its signer failed it, it is approved, or none of these. */
export type CsrPhase = 'issued' | 'denied' | 'failed' | 'approved' | 'pending';

const condition = (csr: Csr, type: CsrConditionType) => csr.status?.conditions?.find((c) => c.type === type && c.status === 'True');

export function csrPhase(csr: Csr): CsrPhase {
  if (condition(csr, 'Denied')) return 'denied';
  if (condition(csr, 'Failed')) return 'failed';
  if (csr.status?.certificate) return 'issued';
  return condition(csr, 'Approved') ? 'approved' : 'pending';
}

/** The reason and message of the condition that ended a denied or failed CSR, for the Event. */
export function endingCondition(csr: Csr): CsrCondition | undefined {
  return condition(csr, 'Denied') ?? condition(csr, 'Failed');
}

/** The PKCS#10 PEM a CSR carries. */
export const requestPem = (csr: Csr): string => Buffer.from(csr.spec.request ?? '', 'base64').toString('latin1');

/**
 * A merge patch of the status (or approval) subresource that adds one condition. Merge patches
 * replace lists whole: the body carries every existing condition, and the resourceVersion
 * precondition makes sure no other was added in between (409, then a retry from the cache).
 */
export function addConditionPatch(csr: Csr, c: { type: CsrConditionType; reason: string; message: string }, now: Date): unknown {
  const ts = now.toISOString();
  const added: CsrCondition = { ...c, status: 'True', lastUpdateTime: ts, lastTransitionTime: ts };
  return {
    metadata: { resourceVersion: csr.metadata.resourceVersion },
    status: { conditions: [...(csr.status?.conditions ?? []), added] },
  };
}

/** The status patch of a signer: the certificate chain (PEM, leaf first). */
export function certificatePatch(csr: Csr, chainPem: string): unknown {
  return { metadata: { resourceVersion: csr.metadata.resourceVersion }, status: { certificate: Buffer.from(chainPem).toString('base64') } };
}
