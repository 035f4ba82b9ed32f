// The `ca` issuer: a CA whose certificate and key live in a Secret (tls.crt with
// basicConstraints CA:TRUE, tls.key). Which Secret, and whether the requester may use it, is
// the controller's business; this signs.
import { X509Certificate } from 'node:crypto';
import { refuse } from '../kube/refusal.js';
import { isSelfSigned } from '../pki/chain.js';
import { PkiError } from '../pki/errors.js';
import { parseCertificates } from '../pki/pem.js';
import { checkCa, signCsr, type CaMaterial } from '../pki/x509.js';
import { BACKDATE_MS, type IssueResult, type Issuer, type SignRequest } from './issuer.js';

export interface CaSecretData extends CaMaterial {
  /** the CA Secret's ca.crt, if any: what its own issuer says to trust */
  caBundlePem?: string;
}

const pemOf = (c: X509Certificate): string => c.toString().trimEnd() + '\n';

/**
 * What a leaf signed by this CA is served with and trusted by: the CA and the intermediates
 * above it go into the chain, the roots into ca.crt (the CA Secret's ca.crt if it has one, else
 * the self-signed certificates of its tls.crt, else the CA itself).
 */
export function caChain(ca: CaSecretData): { intermediates: string[]; ca: string } {
  const certs = parseCertificates(ca.certPem, 'CA certificate');
  const intermediates = certs.filter((c) => !isSelfSigned(c)).map(pemOf);
  const roots = ca.caBundlePem?.trim() ? parseCertificates(ca.caBundlePem, 'CA bundle') : certs.filter(isSelfSigned);
  return { intermediates, ca: (roots.length ? roots : [certs[certs.length - 1]]).map(pemOf).join('') };
}

export function caIssuer(name: string, data: CaSecretData): Issuer {
  return {
    name,
    async sign(request: SignRequest): Promise<IssueResult> {
      let chain: { intermediates: string[]; ca: string };
      try {
        checkCa(data);
        chain = caChain(data);
      } catch (err) {
        if (!(err instanceof PkiError)) throw err;
        return refuse('IssuerNotCA', `CA Secret ${name} cannot sign: ${err.message} (${err.reason})`);
      }
      const notBefore = new Date(request.now.getTime() - BACKDATE_MS);
      const notAfter = new Date(request.now.getTime() + request.profile.durationMs);
      try {
        const leaf = await signCsr(request.csr, { notBefore, notAfter, usages: request.profile.usages, isCA: request.profile.isCA }, data);
        return { chain: [leaf, ...chain.intermediates], ca: chain.ca };
      } catch (err) {
        if (!(err instanceof PkiError)) throw err;
        return refuse(err.reason, `CA Secret ${name} cannot sign the request: ${err.message}`);
      }
    },
  };
}
