// Every failure the PKI layer can report. Controllers copy `reason` into Kubernetes
// Events and status conditions, so the union is deliberately precise and stable.
export type PkiReason =
  | 'MalformedPEM' // not PEM, truncated PEM, bad base64, or DER that does not parse
  | 'NoCertificate' // the certificate input holds no CERTIFICATE block
  | 'NoPrivateKey' // the key input holds no private key block
  | 'EncryptedKey' // a password-protected key; we never ask for key passwords
  | 'UnsupportedKeyType' // DSA, Ed25519, RSA-PSS, curves other than P-256/P-384
  | 'UnsupportedByJava' // a key or certificate public key Java 17 cannot read or use (explicit EC parameters, legacy curves, RSA size)
  | 'KeyMismatch' // the private key belongs to none of the certificates
  | 'ChainBroken' // a certificate that is not part of the leaf's issuer chain
  | 'EmptyCABundle' // a CA bundle with no certificates in it
  | 'InputTooLarge' // guards the parsers against memory abuse
  | 'BundleTooLarge' // a CA bundle over the 1 MiB Kubernetes allows in one object
  | 'InvalidAlias' // alias empty or too long for the store format
  | 'InvalidPassword' // password empty
  | 'UnsupportedFormat' // a store format other than jks or pkcs12
  | 'InvalidName' // a certificate subject name or SAN that is not valid (an IP that does not parse, no name at all)
  | 'NotCA' // a certificate used as a CA that has no basicConstraints CA:TRUE
  | 'InvalidCSR'; // a PKCS#10 request that does not parse or whose signature does not verify

export class PkiError extends Error {
  // Messages must never carry key material or PEM bodies: they end up in Events and logs.
  constructor(
    readonly reason: PkiReason,
    message: string,
  ) {
    super(message);
    this.name = 'PkiError';
  }
}

/** Run `fn`; anything that is not already a PkiError becomes one with `reason`. */
export function guard<T>(reason: PkiReason, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PkiError) throw err;
    // Node's crypto error messages describe the parse failure (e.g. "asn1 encoding
    // routines::wrong tag") and never echo the input, but we keep only the code to be safe.
    const code = (err as { code?: unknown })?.code;
    throw new PkiError(reason, typeof code === 'string' ? `${what} (${code})` : what);
  }
}
