// A tiny DER encoder. We build PKCS#12, the JKS EncryptedPrivateKeyInfo and X.509 certificates
// by hand: node-forge's PKCS#12 writer only knows RSA keys, working on Buffers directly avoids
// forge's binary-string round trips, and x509.ts says why certificates are written here.

/** The key algorithms and named curves read in keys and certificates (pem.ts's key import, java.ts's checks). */
export const KEY_OIDS = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
} as const;
/** DER tags read by hand (readTlv gives the tag byte). */
export const TAG = { integer: 0x02, bitString: 0x03, octetString: 0x04, null: 0x05, oid: 0x06, sequence: 0x30 } as const;

export function tlv(tag: number, content: Buffer): Buffer {
  const len = content.length;
  let header: Buffer;
  if (len < 0x80) header = Buffer.from([tag, len]);
  else {
    const bytes: number[] = [];
    for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([header, content]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
export const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
/** [n] EXPLICIT, constructed context tag. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
/** [n] IMPLICIT of a primitive type: the context tag replaces the type's own (GeneralName dNSName, iPAddress, keyIdentifier). */
export const implicit = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);
export const boolean = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
/** BIT STRING of whole bytes (a key, a signature). */
export const bitString = (b: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), b]));

/** A named-bit BIT STRING (keyUsage): bit 0 is the high bit of the first byte; DER drops trailing zero bits. */
export function namedBits(bits: number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const top = Math.max(...bits);
  const out = Buffer.alloc((top >> 3) + 1);
  for (const b of bits) out[b >> 3] |= 0x80 >> (b & 7);
  return bitString(out, out.length * 8 - top - 1);
}

/** A non-negative INTEGER from its big-endian magnitude: no leading zero bytes but one that keeps it positive. */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const b = magnitude.subarray(i);
  return tlv(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

// PrintableString's alphabet (X.680 41.4)
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
/** DirectoryString: PrintableString when the text fits its alphabet, UTF8String otherwise (RFC 5280 4.1.2.6). */
export const directoryString = (s: string): Buffer => tlv(PRINTABLE.test(s) ? 0x13 : 0x0c, Buffer.from(s, 'utf8'));

/**
 * X.509 Time, to the second: UTCTime for 1950 through 2049, GeneralizedTime otherwise (RFC 5280
 * 4.1.2.5; a two-digit year cannot say 2050, and fractions of a second are not allowed).
 */
export function time(d: Date): Buffer {
  const year = d.getUTCFullYear();
  // toISOString: YYYY-MM-DDTHH:MM:SS.sssZ, digits only from the 4-digit year on
  const digits = d.toISOString().slice(0, 19).replace(/\D/g, '') + 'Z';
  if (year >= 1950 && year <= 2049) return tlv(0x17, Buffer.from(digits.slice(2), 'ascii'));
  return tlv(0x18, Buffer.from(digits, 'ascii'));
}

/** SET OF: DER requires the encodings sorted as octet strings. */
export function setOf(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat([...items].sort((a, b) => Buffer.compare(a, b))));
}

export function integer(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0] & 0x80) bytes.unshift(0); // keep it positive
  return tlv(0x02, Buffer.from(bytes));
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** BMPString (UTF-16BE) — what PKCS#12 friendlyName uses. */
export function bmpString(s: string): Buffer {
  return tlv(0x1e, utf16be(s));
}

export function utf16be(s: string): Buffer {
  const b = Buffer.from(s, 'utf16le');
  b.swap16();
  return b;
}

/** Minimal DER reader, used by the JKS reader, the Java key checks and tests. */
export interface Tlv {
  tag: number;
  content: Buffer;
  start: number; // offset of the tag byte
  end: number; // offset just past this element
}

export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset + 2 > buf.length) throw new Error('DER: truncated header');
  const tag = buf[offset];
  let len = buf[offset + 1];
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || pos + n > buf.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i];
    pos += n;
  }
  if (pos + len > buf.length) throw new Error('DER: truncated content');
  return { tag, content: buf.subarray(pos, pos + len), start: offset, end: pos + len };
}

/** The children of a constructed element. */
export function children(content: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = 0; pos < content.length;) {
    const t = readTlv(content, pos);
    out.push(t);
    pos = t.end;
  }
  return out;
}

export function decodeOid(content: Buffer): string {
  const parts: number[] = [Math.floor(content[0] / 40), content[0] % 40];
  let v = 0;
  for (const byte of content.subarray(1)) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}
