// The extension point for whatever signs certificates: a CA in a Secret (ca.ts), the Kubernetes
// CSR API (csr.ts), and later cert-manager CertificateRequests or Vault. An issuer is given a
// PKCS#10 request and the profile the requester wants; it answers with a chain, with "not yet"
// (an approval or a signer to wait for), or with a refusal. It never sees the private key.
import type { Refusal } from '../kube/refusal.js';
import type { Usage } from '../pki/x509.js';

export interface SignProfile {
  /** wanted lifetime in ms; an issuer may grant less (never more than its CA's own lifetime) */
  durationMs: number;
  usages: Usage[];
  isCA: boolean;
}

export interface SignRequest {
  /** PKCS#10 PEM: the requester's public key and names, self-signed with its key */
  csr: string;
  profile: SignProfile;
  /** the clock of this attempt: the validity starts here (so tests pass the time they want) */
  now: Date;
}

export interface Issued {
  /** PEM blocks, leaf first, then intermediates (what tls.crt holds) */
  chain: string[];
  /** PEM of the CA certificates a peer should trust (what ca.crt holds) */
  ca: string;
}

export interface Pending {
  /** why not yet, for a Normal Event (e.g. waiting for approval of CSR x) */
  pending: string;
}

export type IssueResult = Issued | Pending | Refusal;

export interface Issuer {
  /** how Events and the issuer annotation name it: `<ns>/<secret>`, `csr:<signerName>` */
  readonly name: string;
  sign(request: SignRequest): Promise<IssueResult>;
}

export const isPending = (r: object): r is Pending => typeof (r as Pending).pending === 'string';
export const isIssued = (r: IssueResult): r is Issued => Array.isArray((r as Issued).chain);

/**
 * Validity starts this much before the attempt: a peer whose clock runs a little behind would
 * otherwise reject a certificate issued seconds ago (the Kubernetes CSR signer backdates 5 minutes too).
 */
export const BACKDATE_MS = 5 * 60_000;
