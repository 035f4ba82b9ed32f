// What a PKCS#10 request asks for beyond its key and names (those are x509.ts's parseCsr):
// whether it asks to be a CA. A signer that follows the request's extensions blindly would
// hand out an intermediate CA; annotary's signers refuse such requests instead.
import type * as X509 from '@peculiar/x509';
import { PkiError } from './errors.js';
import { loadPeculiarX509 } from './x509.js';

/** basicConstraints CA:TRUE, or a keyUsage of keyCertSign/cRLSign, among the requested extensions. */
export async function requestsCa(csrPem: string): Promise<boolean> {
  const x509 = await loadPeculiarX509();
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new PkiError('InvalidCSR', 'the certificate request is not a valid PKCS#10 PEM');
  }
  const bc = csr.extensions.find((e) => e instanceof x509.BasicConstraintsExtension);
  const ku = csr.extensions.find((e) => e instanceof x509.KeyUsagesExtension);
  const caUsages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  return !!bc?.ca || ((ku?.usages ?? 0) & caUsages) !== 0;
}
