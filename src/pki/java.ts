// What Java can read. The stores are read by a JVM (keytool, JSSE with Java 17's default providers), which
// refuses keys that OpenSSL and Node take without complaint. Written anyway, such a store fails only when the
// application loads it (JKS: "Only named ECParameters supported"; PKCS#12: "keystore password was incorrect"),
// after StoresUpdated said all was well. So every key that goes into a store, the private key and the public key
// of every certificate (chain and trust anchors alike), is checked against Java's limits, read from the DER that
// Java parses: OpenSSL's view of it is no guide (it reports explicit P-256 parameters as the named curve).
import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { KEY_OIDS, TAG, children, decodeOid, readTlv, type Tlv } from './der.js';
import { guard, PkiError } from './errors.js';

/** rsaEncryption and RSASSA-PSS keys go through the same sun.security.rsa.RSAKeyFactory checks. */
const RSA_KEYS: string[] = [KEY_OIDS.rsaEncryption, KEY_OIDS.rsassaPss];
/** P-256, P-384, P-521: the curves SunEC implements since JDK 16, which removed secp256k1, brainpool and the rest (JDK-8251547). */
const JAVA_CURVES = new Set<string>([KEY_OIDS.p256, KEY_OIDS.p384, KEY_OIDS.p521]);
/** RSAKeyFactory: MIN_MODLEN, MAX_MODLEN, and MAX_RESTRICTED_EXPLEN for moduli over MAX_MODLEN_RESTRICT_EXPONENT. */
const RSA_BITS = { min: 512, max: 16384, restrictExponentAbove: 3072, maxRestrictedExponent: 64 };

/** Bits of a DER INTEGER's content (non-negative values only, as RSA moduli and exponents are). */
function bitLength(content: Buffer): number {
  let i = 0;
  while (i < content.length && content[i] === 0) i++;
  return i === content.length ? 0 : (content.length - i) * 8 + 24 - Math.clz32(content[i]);
}

/** The curve's name for the message; OpenSSL knows more names than Java has curves. */
function curveName(key: () => KeyObject, oid: string): string {
  try {
    return key().asymmetricKeyDetails?.namedCurve ?? oid;
  } catch {
    return oid;
  }
}

/**
 * Why Java cannot read a key of this AlgorithmIdentifier (RSA: with this modulus and public
 * exponent), or undefined when it can.
 */
function problem(algorithm: Tlv, rsaNumbers: () => Tlv[], key: () => KeyObject): string | undefined {
  const [type, params] = children(algorithm.content);
  const oid = decodeOid(type.content);
  if (oid === KEY_OIDS.ecPublicKey) {
    if (params?.tag !== TAG.oid) {
      return (
        'explicit EC parameters instead of a named curve; Java reads only named curves ' +
        '(`openssl ec -param_enc named_curve` re-encodes a key; certificates must be reissued from it)'
      );
    }
    const curve = decodeOid(params.content);
    if (!JAVA_CURVES.has(curve)) return `EC curve ${curveName(key, curve)}; Java 17 implements only P-256, P-384 and P-521`;
  } else if (RSA_KEYS.includes(oid)) {
    const [n, e] = rsaNumbers();
    const bits = bitLength(n.content);
    if (bits < RSA_BITS.min || bits > RSA_BITS.max) {
      return `RSA key of ${bits} bits; Java reads RSA keys of ${RSA_BITS.min} to ${RSA_BITS.max} bits`;
    }
    const exponentBits = bitLength(e.content);
    if (bits > RSA_BITS.restrictExponentAbove && exponentBits > RSA_BITS.maxRestrictedExponent) {
      return (
        `RSA key of ${bits} bits with a ${exponentBits}-bit public exponent; ` +
        `Java allows at most ${RSA_BITS.maxRestrictedExponent} bits for keys over ${RSA_BITS.restrictExponentAbove} bits`
      );
    }
  }
  return undefined;
}

function check(find: () => string | undefined, what: string): void {
  const found = guard('MalformedPEM', `${what}: the public key does not parse`, find);
  if (found) throw new PkiError('UnsupportedByJava', `${what}: ${found}`);
}

/** Why Java cannot read the key of this DER SubjectPublicKeyInfo, or undefined when it can. */
function spkiProblem(spki: Buffer): string | undefined {
  const [alg, key] = children(readTlv(spki).content);
  // BIT STRING: skip the unused-bits byte; RSAPublicKey is SEQUENCE { modulus, publicExponent }
  const rsaNumbers = () => children(readTlv(key.content.subarray(1)).content);
  return problem(alg, rsaNumbers, () => createPublicKey({ key: spki, format: 'der', type: 'spki' }));
}

/** tbsCertificate's subjectPublicKeyInfo, header included: the sixth field after the optional [0] version. */
function certificateSpki(der: Buffer): Buffer {
  const tbs = children(readTlv(der).content)[0].content;
  const fields = children(tbs);
  const spki = (fields[0]?.tag === 0xa0 ? fields.slice(1) : fields)[5];
  return tbs.subarray(spki.start, spki.end);
}

/**
 * UnsupportedByJava unless Java can read the private key, read from the PKCS#8 DER the stores hold
 * (its curve encoded as the input had it: explicit parameters stay explicit). Reading the DER
 * takes microseconds, where exporting the public half as SPKI took ~120 µs per build (#20).
 */
export function checkJavaKey(pkcs8: Buffer, what: string): void {
  check(() => {
    const [, alg, key] = children(readTlv(pkcs8).content);
    // RSAPrivateKey is SEQUENCE { version, modulus, publicExponent, ... }
    const rsaNumbers = () => children(readTlv(key.content).content).slice(1, 3);
    return problem(alg, rsaNumbers, () => createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  }, what);
}

/** UnsupportedByJava unless Java can read the certificate's public key, as encoded in the certificate. */
export function checkJavaCertificate(cert: X509Certificate, what: string): void {
  check(() => spkiProblem(certificateSpki(cert.raw)), what);
}
