// PKCS#12 writer (RFC 7292) for keystores and truststores, built by hand: node-forge's
// PKCS#12 helpers only handle RSA keys and legacy 3DES/RC2 ciphers. Two profiles:
//   - modern (the default): PBES2 (PBKDF2-HMAC-SHA256 + AES-256-CBC) and an HMAC-SHA256 MAC,
//     so OpenSSL 3 reads it without -legacy and Java >= 12 (and 8u301+/11.0.12+) loads it;
//   - legacy-des: pbeWithSHAAnd3-KeyTripleDES-CBC for the key and the certificates and an
//     HMAC-SHA1 MAC, 2048 rounds (cert-manager's LegacyDES, go-pkcs12's LegacyDES), which every
//     Java since 1.4 reads, Java 8 before 8u301 and 11 before 11.0.12 included; OpenSSL 3 reads
//     it without -legacy too (3DES is in its default provider, RC2 is not, so no RC2 here).
import { createCipheriv, createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { bmpString, explicit, integer, nullValue, octets, oid, seq, setOf, tlv, utf16be } from './der.js';
import { digest } from './digest.js';
import { PkiError } from './errors.js';

/**
 * PBKDF2 rounds for the shrouded key bag and encrypted certificate safe. 10000 matches the
 * JDK 17+ keytool default and is above OpenSSL 3's 2048, so neither tool treats ours as weak.
 */
export const PBKDF2_ITERATIONS = 10000;
/**
 * MAC KDF rounds: 2048, OpenSSL 3's default. The RFC 7292 KDF has no native implementation in
 * Node, so each round is a JS-driven SHA-256 call (~0.6 µs); 10000 rounds would make the MAC
 * 80% of the build time. Honest caveat: a password guess against the MAC costs 2048 rounds,
 * which caps the brute-force cost of the whole file at OpenSSL-default level. Stores live in
 * Secrets next to their password, so access control, not this work factor, protects them.
 */
export const MAC_ITERATIONS = 2048;

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSHA256: '1.2.840.113549.2.9',
  pbeWithSHAAnd3KeyTripleDESCBC: '1.2.840.113549.1.12.1.3',
  sha1: '1.3.14.3.2.26',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
  sha256: '2.16.840.1.101.3.4.2.1',
  /** Oracle's "trusted key usage": without it Java ignores a cert bag as a trust anchor. */
  oracleTrustedKeyUsage: '2.16.840.1.113894.746875.1.1',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

const attribute = (type: string, value: Buffer): Buffer => seq(oid(type), setOf(value));
const contentInfo = (type: string, content: Buffer): Buffer => seq(oid(type), explicit(0, content));

export type Pkcs12Profile = 'modern' | 'legacy-des';
export const PKCS12_PROFILES: readonly Pkcs12Profile[] = ['modern', 'legacy-des'];
/** Rounds of every legacy-des KDF (keys, certificates, MAC), as go-pkcs12's LegacyDES and OpenSSL 3's default. */
const LEGACY_ITERATIONS = 2048;

type KdfHash = 'sha256' | 'sha1';
/** RFC 7292 appendix B.2 key derivation: the MAC key (ID 3), and legacy-des's key (ID 1) and IV (ID 2). */
export function pkcs12Kdf(
  password: string,
  salt: Buffer,
  id: number,
  iterations: number,
  length: number,
  hash: KdfHash = 'sha256',
): Buffer {
  const u = hash === 'sha256' ? 32 : 20; // output size
  const v = 64; // block size of both
  // BMPString with a trailing NUL, as both OpenSSL and Java encode the password.
  const pw = Buffer.concat([utf16be(password), Buffer.alloc(2)]);
  const fill = (src: Buffer): Buffer => {
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([salt.length ? fill(salt) : Buffer.alloc(0), fill(pw)]);
  const out: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let A: Buffer = createHash(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = digest(hash, A);
    out.push(A);
    if (produced + u >= length) break;
    // I_j = (I_j + B + 1) mod 2^(v*8) for every v-byte block of I.
    const B = fill(A);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k] + B[k] + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, length);
}

/** PBES2 encryption; returns the AlgorithmIdentifier and the ciphertext. */
function pbes2(plain: Buffer, password: string, salt: Buffer, iv: Buffer): { alg: Buffer; data: Buffer } {
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, PBKDF2_ITERATIONS, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  const kdf = seq(oid(OID.pbkdf2), seq(octets(salt), integer(PBKDF2_ITERATIONS), seq(oid(OID.hmacWithSHA256), nullValue())));
  const alg = seq(oid(OID.pbes2), seq(kdf, seq(oid(OID.aes256cbc), octets(iv))));
  return { alg, data };
}

/** pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 appendix C): key and IV from the PKCS#12 KDF over SHA-1. */
function pbeTripleDes(plain: Buffer, password: string, salt: Buffer): { alg: Buffer; data: Buffer } {
  const key = pkcs12Kdf(password, salt, 1, LEGACY_ITERATIONS, 24, 'sha1');
  const iv = pkcs12Kdf(password, salt, 2, LEGACY_ITERATIONS, 8, 'sha1');
  const cipher = createCipheriv('des-ede3-cbc', key, iv);
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { alg: seq(oid(OID.pbeWithSHAAnd3KeyTripleDESCBC), seq(octets(salt), integer(LEGACY_ITERATIONS))), data };
}

/** The profile's encryption of a key bag or a certificate safe, with salts (and IVs) derived from `seed` under `label`. */
function encrypt(profile: Pkcs12Profile, plain: Buffer, password: string, seed: Buffer, label: string): { alg: Buffer; data: Buffer } {
  if (profile === 'legacy-des') return pbeTripleDes(plain, password, derive(seed, `${label}-salt`, 8));
  return pbes2(plain, password, derive(seed, `${label}-salt`, 16), derive(seed, `${label}-iv`, 16));
}

/**
 * Salts and IVs are derived, not random, so unchanged inputs give byte-identical files (no
 * needless pod restarts). `secret` keys the derivation when we have one (the private key):
 * the stored salts then tell an attacker nothing. A truststore has no secret besides the
 * password, so there the seed costs as many rounds as the MAC — no cheaper guessing oracle.
 */
function seedFor(password: string, secret: Buffer | undefined, content: Buffer): Buffer {
  const contentDigest = createHash('sha256').update('annotary/p12-seed\0').update(content).digest();
  if (secret) return createHmac('sha256', secret).update(contentDigest).update(Buffer.from(password, 'utf8')).digest();
  return pbkdf2Sync(Buffer.from(password, 'utf8'), contentDigest, MAC_ITERATIONS, 32, 'sha256');
}
const derive = (seed: Buffer, label: string, len: number): Buffer => createHmac('sha256', seed).update(label).digest().subarray(0, len);

function certBag(der: Buffer, attrs: Buffer[]): Buffer {
  const value = seq(oid(OID.x509Certificate), explicit(0, octets(der)));
  return seq(oid(OID.certBag), explicit(0, value), ...(attrs.length ? [setOf(...attrs)] : []));
}

function pfx(safes: Buffer[], password: string, seed: Buffer, profile: Pkcs12Profile): Buffer {
  const authSafe = seq(...safes);
  const [hash, hashOid, size, rounds] =
    profile === 'legacy-des' ? (['sha1', OID.sha1, 20, LEGACY_ITERATIONS] as const) : (['sha256', OID.sha256, 32, MAC_ITERATIONS] as const);
  const macSalt = derive(seed, 'mac-salt', profile === 'legacy-des' ? 8 : 16);
  const macKey = pkcs12Kdf(password, macSalt, 3, rounds, size, hash);
  const mac = createHmac(hash, macKey).update(authSafe).digest();
  const macData = seq(seq(seq(oid(hashOid), nullValue()), octets(mac)), octets(macSalt), integer(rounds));
  return seq(integer(3), contentInfo(OID.data, octets(authSafe)), macData);
}

/**
 * Java opens PKCS#12 files through javax.crypto PBEKey, which rejects any password character
 * outside printable ASCII (0x20-0x7E) — such a store would be unreadable by its consumer.
 * An empty password is refused too: OpenSSL and Java encode it differently.
 */
export function checkPkcs12Password(password: string): void {
  if (password.length === 0) throw new PkiError('InvalidPassword', 'store password must not be empty');
  if (!/^[\x20-\x7e]+$/.test(password)) {
    throw new PkiError(
      'InvalidPassword',
      'PKCS#12 store passwords must be printable ASCII: Java cannot open PKCS#12 files protected by other characters',
    );
  }
}
const checkPassword = checkPkcs12Password;

export interface P12KeystoreInput {
  alias: string;
  /** PKCS#8 PrivateKeyInfo DER. */
  pkcs8: Buffer;
  /** Leaf first. */
  chain: Buffer[];
  password: string;
  profile?: Pkcs12Profile;
}

/** keystore.p12: one private key entry named `alias` with its certificate chain. */
export function writePkcs12Keystore(input: P12KeystoreInput): Buffer {
  checkPassword(input.password);
  if (input.alias.length === 0) throw new PkiError('InvalidAlias', 'alias must not be empty');
  const { pkcs8, chain, password } = input;
  const profile = input.profile ?? 'modern';
  // Lower-cased like the JKS alias so both stores answer to the same name everywhere.
  const alias = input.alias.toLowerCase();
  const seed = seedFor(password, pkcs8, Buffer.concat(chain));
  // localKeyId ties the key bag to its certificate; SHA-1 of the leaf, as OpenSSL does.
  const localKeyId = createHash('sha1').update(chain[0]).digest();
  const idAttrs = [attribute(OID.friendlyName, bmpString(alias)), attribute(OID.localKeyId, octets(localKeyId))];

  const certs = seq(...chain.map((der, i) => certBag(der, i === 0 ? idAttrs : [])));
  const encCerts = encrypt(profile, certs, password, seed, 'certs');
  const encryptedData = seq(integer(0), seq(oid(OID.data), encCerts.alg, tlv(0x80, encCerts.data)));

  const encKey = encrypt(profile, pkcs8, password, seed, 'key');
  const keyBag = seq(oid(OID.shroudedKeyBag), explicit(0, seq(encKey.alg, octets(encKey.data))), setOf(...idAttrs));
  const keySafe = seq(keyBag);

  return pfx([contentInfo(OID.encryptedData, encryptedData), contentInfo(OID.data, octets(keySafe))], password, seed, profile);
}

/**
 * truststore.p12: one trusted certificate entry per CA. Certificates are public, so they go
 * in a plain (MAC-protected) safe; each bag carries the Oracle trusted-key-usage attribute.
 */
export function writePkcs12Truststore(
  certs: { alias: string; der: Buffer }[],
  password: string,
  profile: Pkcs12Profile = 'modern',
): Buffer {
  checkPassword(password);
  const bags = certs.map(({ alias, der }) =>
    certBag(der, [
      attribute(OID.friendlyName, bmpString(alias.toLowerCase())),
      attribute(OID.oracleTrustedKeyUsage, oid(OID.anyExtendedKeyUsage)),
    ]),
  );
  const safe = seq(...bags);
  const seed = seedFor(password, undefined, safe);
  return pfx([contentInfo(OID.data, octets(safe))], password, seed, profile);
}
