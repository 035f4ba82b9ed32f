// Human-readable certificate summaries (a short `openssl x509 -text`), written next to the
// stores so operators can see what is inside without Java tooling. Output depends only on
// the certificates, never on the clock, so it does not perturb the source hash.
import type { X509Certificate } from 'node:crypto';

function keyDescription(cert: X509Certificate): string {
  const key = cert.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return `RSA ${d.modulusLength ?? '?'} bits`;
    case 'ec': {
      const curve =
        d.namedCurve === 'prime256v1'
          ? 'P-256'
          : d.namedCurve === 'secp384r1'
            ? 'P-384'
            : d.namedCurve === 'secp521r1'
              ? 'P-521'
              : (d.namedCurve ?? '?');
      return `EC ${curve}`;
    }
    default:
      return (key.asymmetricKeyType ?? 'unknown').toUpperCase();
  }
}

// an empty DN is undefined in Node (see subjectLine)
const oneLine = (dn: string | undefined): string => (dn ?? '').split('\n').filter(Boolean).join(', ') || '(empty)';
const iso = (s: string): string => new Date(s).toISOString();

/** One block of text for one certificate. */
export function describeCertificate(cert: X509Certificate): string {
  const lines = [
    `Subject:      ${oneLine(cert.subject)}`,
    `Issuer:       ${oneLine(cert.issuer)}`,
    `Serial:       ${cert.serialNumber.toLowerCase()}`,
    `Not before:   ${iso(cert.validFrom)}`,
    `Not after:    ${iso(cert.validTo)}`,
    `SANs:         ${cert.subjectAltName ?? '(none)'}`,
    `Public key:   ${keyDescription(cert)}`,
    `CA:           ${cert.ca ? 'yes' : 'no'}`,
    `SHA-1:        ${cert.fingerprint}`,
    `SHA-256:      ${cert.fingerprint256}`,
  ];
  return lines.join('\n');
}

/** One numbered block per certificate, in the given order, separated by blank lines. */
export function describeChain(certs: X509Certificate[]): string {
  return certs.map((c, i) => `Certificate ${i + 1} of ${certs.length}\n${describeCertificate(c)}`).join('\n\n') + '\n';
}
