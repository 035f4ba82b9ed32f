// PEM parsing for certificate chains and unencrypted RSA / EC private keys.
// Everything that reaches node:crypto runs inside guard(): garbage input must surface as a
// PkiError with a stable reason, never as an OpenSSL error string.
import { createPrivateKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { KEY_OIDS, TAG, children, decodeOid, readTlv, type Tlv } from './der.js';
import { Lru } from './lru.js';
import { guard, PkiError } from './errors.js';

/** 1 MiB: far above any real chain or key, low enough that hostile input stays cheap. */
export const MAX_PEM_BYTES = 1024 * 1024;

export interface PemBlock {
  label: string;
  headers: Record<string, string>;
  der: Buffer;
  /** the body as written (base64, lines joined): a key for what is parsed from it */
  base64: string;
}

export interface ParsedKey {
  key: KeyObject;
  /** Normalized PKCS#8 PrivateKeyInfo DER, whatever the input form was. */
  pkcs8: Buffer;
  type: 'rsa' | 'ec';
  /** RSA modulus bits, or the EC curve's field size in bits. */
  bits: number;
  /** Only for EC: 'P-256' or 'P-384'. */
  curve?: 'P-256' | 'P-384';
}

const BEGIN = '-----BEGIN ';
// the rest of a BEGIN line, read at the position after BEGIN (sticky). RFC 7468 labels are a few
// words; a longer one is garbage, and its END line would be a long needle to search for
const LABEL_LINE = /([A-Z0-9 ]{1,64})-----\r?\n/y;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function checkSize(input: string | Buffer, what: string): string {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > MAX_PEM_BYTES) throw new PkiError('InputTooLarge', `${what} is ${size} bytes, the limit is ${MAX_PEM_BYTES}`);
  return typeof input === 'string' ? input : input.toString('latin1');
}

/**
 * Split PEM text into blocks. Text between blocks is ignored (openssl writes "Bag Attributes").
 * One pass, each character read a bounded number of times: a backtracking search for each
 * BEGIN's END (a lazy /[\s\S]*?-----END \1-----/) rescans the rest of the input for every
 * BEGIN that has none, and a megabyte of BEGIN lines took half a minute.
 */
export function pemBlocks(input: string | Buffer, what: string): PemBlock[] {
  const text = checkSize(input, what);
  const blocks: PemBlock[] = [];
  // A BEGIN without its END means the input was cut off (a common copy-paste failure).
  const truncated = () => new PkiError('MalformedPEM', `${what}: PEM block ${blocks.length + 1} is truncated or mismatched`);
  for (let begin = text.indexOf(BEGIN); begin >= 0;) {
    LABEL_LINE.lastIndex = begin + BEGIN.length;
    const line = LABEL_LINE.exec(text);
    if (!line) throw truncated();
    const label = line[1];
    const bodyStart = LABEL_LINE.lastIndex;
    const endLine = `-----END ${label}-----`;
    const end = text.indexOf(endLine, bodyStart);
    // searched once, from here: a BEGIN before the END line is over would have no END of its own
    const next = text.indexOf(BEGIN, bodyStart);
    if (end < 0 || (next >= 0 && next < end + endLine.length)) throw truncated();
    const headers: Record<string, string> = {};
    const lines = text
      .slice(bodyStart, end)
      .split(/\r?\n/)
      .map((l) => l.trim());
    const body: string[] = [];
    // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") come before a blank line.
    let i = 0;
    if (lines.some((l) => l.includes(':'))) {
      for (; i < lines.length && lines[i] !== ''; i++) {
        const idx = lines[i].indexOf(':');
        if (idx < 0) break;
        headers[lines[i].slice(0, idx).trim()] = lines[i].slice(idx + 1).trim();
      }
    }
    for (; i < lines.length; i++) if (lines[i] !== '') body.push(lines[i]);
    const b64 = body.join('');
    if (!BASE64.test(b64) || b64.length % 4 !== 0 || b64.length === 0) {
      throw new PkiError('MalformedPEM', `${what}: ${label} block ${blocks.length + 1} has invalid base64`);
    }
    blocks.push({ label, headers, der: Buffer.from(b64, 'base64'), base64: b64 });
    begin = next;
  }
  return blocks;
}

/** One PEM block: base64 in 64-character lines (RFC 7468), newline-terminated. */
export function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Parsed certificates by their base64 body. A renewal changes the leaf only: the CA and
 * intermediates of every store rebuild (and of every Secret sharing a CA) are parsed once, not
 * per rebuild (#20: parsing was a third of the keystore controller's CPU). X509Certificate is
 * immutable, so one object may serve every caller. Bounded: an evicted certificate is parsed again.
 */
const certificates = new Lru<string, X509Certificate>(512);

/** All CERTIFICATE blocks in file order. Empty input or no certificates → NoCertificate. */
export function parseCertificates(input: string | Buffer, what = 'certificate'): X509Certificate[] {
  const certs = pemBlocks(input, what)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b, i) =>
      certificates.get(b.base64, () =>
        guard('MalformedPEM', `${what}: certificate ${i + 1} is not valid X.509 DER`, () => new X509Certificate(b.der)),
      ),
    );
  if (certs.length === 0) throw new PkiError('NoCertificate', `${what}: no CERTIFICATE block found`);
  return certs;
}

const KEY_FORMS: Record<string, 'pkcs1' | 'sec1' | 'pkcs8'> = {
  'RSA PRIVATE KEY': 'pkcs1',
  'EC PRIVATE KEY': 'sec1',
  'PRIVATE KEY': 'pkcs8',
};

const JWK_CURVES: Record<string, { crv: 'P-256' | 'P-384'; bytes: number }> = {
  [KEY_OIDS.p256]: { crv: 'P-256', bytes: 32 },
  [KEY_OIDS.p384]: { crv: 'P-384', bytes: 48 },
};

/** The one element `der` holds, nothing after it; undefined when it is not exactly that. */
function only(der: Buffer, tag: number): Tlv | undefined {
  const t = readTlv(der);
  return t.tag === tag && t.end === der.length ? t : undefined;
}

/** Big-endian bytes as JWK base64url, left-padded to `size` bytes (an EC scalar or coordinate). */
const base64url = (b: Buffer, size = 0) => (b.length < size ? Buffer.concat([Buffer.alloc(size - b.length), b]) : b).toString('base64url');

/**
 * A DER INTEGER's magnitude as JWK base64url; undefined for anything but a minimally encoded
 * non-negative INTEGER (OpenSSL refuses padded ones: they go to it, and it says so).
 */
function unsigned(t: Tlv | undefined): string | undefined {
  const b = t?.tag === TAG.integer ? t.content : undefined;
  if (!b?.length || b[0] & 0x80 || (b.length > 1 && b[0] === 0 && !(b[1] & 0x80))) return undefined;
  return base64url(b.length > 1 && b[0] === 0 ? b.subarray(1) : b);
}

/** RSAPrivateKey (RFC 8017 A.1.2), two primes, as a JWK. */
function rsaJwk(der: Buffer): JsonWebKey | undefined {
  const seq = only(der, TAG.sequence);
  const f = seq && children(seq.content);
  if (f?.length !== 9 || unsigned(f[0]) !== 'AA') return undefined; // version 0: two primes
  const [n, e, d, p, q, dp, dq, qi] = f.slice(1).map((t) => unsigned(t));
  if (!n || !e || !d || !p || !q || !dp || !dq || !qi) return undefined;
  return { kty: 'RSA', n, e, d, p, q, dp, dq, qi };
}

/** ECPrivateKey (RFC 5915) on a curve named here or by its PKCS#8 wrapper, with its public point uncompressed, as a JWK. */
function ecJwk(der: Buffer, curveOid?: string): JsonWebKey | undefined {
  const seq = only(der, TAG.sequence);
  const [version, d, ...rest] = seq ? children(seq.content) : [];
  if (unsigned(version) !== 'AQ' || d?.tag !== TAG.octetString) return undefined;
  const params = rest[0]?.tag === 0xa0 ? rest.shift() : undefined;
  const pub = rest[0]?.tag === 0xa1 ? rest.shift() : undefined;
  if (rest.length || !pub) return undefined;
  const named = params && only(params.content, TAG.oid);
  const oid = named ? decodeOid(named.content) : curveOid;
  if (params && (!named || (curveOid && oid !== curveOid))) return undefined;
  const curve = oid === undefined ? undefined : JWK_CURVES[oid];
  const bits = only(pub.content, TAG.bitString)?.content; // BIT STRING: unused-bits byte, then 04 || x || y
  if (!curve || d.content.length > curve.bytes || bits?.length !== 2 + 2 * curve.bytes || bits[0] !== 0 || bits[1] !== 4) return undefined;
  const [x, y] = [bits.subarray(2, 2 + curve.bytes), bits.subarray(2 + curve.bytes)];
  return { kty: 'EC', crv: curve.crv, d: base64url(d.content, curve.bytes), x: base64url(x), y: base64url(y) };
}

/** PrivateKeyInfo (RFC 5208) of an RSA or EC key, without attributes, as a JWK. */
function pkcs8Jwk(der: Buffer): JsonWebKey | undefined {
  const seq = only(der, TAG.sequence);
  const f = seq ? children(seq.content) : [];
  if (f.length !== 3 || unsigned(f[0]) !== 'AA' || f[1].tag !== TAG.sequence || f[2].tag !== TAG.octetString) return undefined;
  const [alg, params, ...more] = children(f[1].content);
  if (alg?.tag !== TAG.oid || more.length) return undefined;
  const algOid = decodeOid(alg.content);
  if (algOid === KEY_OIDS.rsaEncryption && params?.tag === TAG.null) return rsaJwk(f[2].content);
  if (algOid === KEY_OIDS.ecPublicKey && params?.tag === TAG.oid) return ecJwk(f[2].content, decodeOid(params.content));
  return undefined;
}

const JWK_OF = { pkcs1: rsaJwk, sec1: (der: Buffer) => ecJwk(der), pkcs8: pkcs8Jwk };

/**
 * The key as a KeyObject. OpenSSL 3 reads DER through a decoder chain that tries one key type
 * after another: 0.4 ms for RSA PKCS#8, 0.8 ms for EC PKCS#8, the largest part of building a
 * keystore (#20). The same numbers as a JWK, read from the DER here, import in 10–60 µs. Only
 * the shapes every tool writes take that path (RSA with two primes; P-256 and P-384 with the
 * public point present, uncompressed); anything else, malformed input included, goes through
 * OpenSSL's decoder as before, so what is accepted and refused does not change. The stores
 * carry OpenSSL's re-encoding of the key object (ParsedKey.pkcs8), identical on both paths.
 */
function importKey(der: Buffer, form: 'pkcs1' | 'sec1' | 'pkcs8'): KeyObject {
  let jwk: JsonWebKey | undefined;
  try {
    jwk = JWK_OF[form](der);
  } catch {
    jwk = undefined; // DER the reader here cannot follow: OpenSSL's decoder says what is wrong with it
  }
  if (jwk) {
    try {
      return createPrivateKey({ key: jwk, format: 'jwk' });
    } catch {
      // numbers OpenSSL refuses as a JWK: its DER decoder gives the reason
    }
  }
  return createPrivateKey({ key: der, format: 'der', type: form });
}

/**
 * Parsed keys by their base64 body: a Secret whose CA or password changed, a renewal that keeps
 * its key (cert-manager's rotationPolicy: Never), a CA signing one certificate after another
 * import the key once. Bounded like the certificates above.
 */
const keys = new Lru<string, ParsedKey>(256);

/** The single private key in `input`. Extra non-key blocks (e.g. EC PARAMETERS) are ignored. */
export function parsePrivateKey(input: string | Buffer, what = 'private key'): ParsedKey {
  const blocks = pemBlocks(input, what);
  if (blocks.some((b) => b.label === 'ENCRYPTED PRIVATE KEY' || /ENCRYPTED/.test(b.headers['Proc-Type'] ?? ''))) {
    throw new PkiError('EncryptedKey', `${what} is encrypted; provide an unencrypted key`);
  }
  const keyBlocks = blocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
  if (keyBlocks.length === 0) throw new PkiError('NoPrivateKey', `${what}: no PRIVATE KEY block found`);
  if (keyBlocks.length > 1) throw new PkiError('MalformedPEM', `${what}: ${keyBlocks.length} private keys found, expected one`);
  const block = keyBlocks[0];
  const form = KEY_FORMS[block.label];
  if (!form) throw new PkiError('UnsupportedKeyType', `${what}: "${block.label}" keys are not supported (RSA and EC P-256/P-384 only)`);
  // keyed by label too: the same body under another label is another (or no) key
  return keys.get(`${block.label}:${block.base64}`, () => {
    const key = guard('MalformedPEM', `${what}: ${block.label} is not a valid ${form.toUpperCase()} key`, () => importKey(block.der, form));
    return describeKey(key, what);
  });
}

function describeKey(key: KeyObject, what: string): ParsedKey {
  const details = key.asymmetricKeyDetails ?? {};
  const pkcs8 = () => guard('MalformedPEM', `${what}: cannot re-encode key`, () => key.export({ format: 'der', type: 'pkcs8' }));
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    // Java refuses RSA keys below 512 bits; anything this small is broken or hostile.
    if (bits < 1024) throw new PkiError('UnsupportedKeyType', `${what}: RSA key of ${bits} bits is too small`);
    return { key, pkcs8: pkcs8(), type: 'rsa', bits };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = details.namedCurve === 'prime256v1' ? 'P-256' : details.namedCurve === 'secp384r1' ? 'P-384' : undefined;
    if (!curve)
      throw new PkiError('UnsupportedKeyType', `${what}: EC curve ${details.namedCurve ?? 'unknown'} is not supported (P-256, P-384)`);
    return { key, pkcs8: pkcs8(), type: 'ec', bits: curve === 'P-256' ? 256 : 384, curve };
  }
  throw new PkiError(
    'UnsupportedKeyType',
    `${what}: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported (RSA and EC P-256/P-384 only)`,
  );
}
