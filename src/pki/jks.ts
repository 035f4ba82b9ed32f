// Java KeyStore (JKS) writer and a minimal reader. No maintained JS library writes JKS, and
// older JVMs and frameworks still ask for it by default (e.g. -Djavax.net.ssl.keyStoreType).
// Format: sun.security.provider.JavaKeyStore / KeyProtector (JDK 8–21, unchanged since 1.2).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { children, decodeOid, nullValue, octets, oid, readTlv, seq, utf16be } from './der.js';
import { digest } from './digest.js';
import { PkiError } from './errors.js';

const MAGIC = 0xfeedfeed;
const VERSION = 2;
const TAG_KEY = 1;
const TAG_CERT = 2;
/** Sun's proprietary "KeyProtector" algorithm, the only one JKS key entries use. */
export const KEY_PROTECTOR_OID = '1.3.6.1.4.1.42.2.17.1.1';
const SALT_LEN = 20;
const WHITENER = Buffer.from('Mighty Aphrodite', 'utf8');

export type JksEntry =
  | { kind: 'key'; alias: string; timestamp: Date; pkcs8: Buffer; chain: Buffer[] }
  | { kind: 'cert'; alias: string; timestamp: Date; cert: Buffer };

/** Java's DataOutput.writeUTF: modified UTF-8 (NUL as C0 80, surrogates encoded separately). */
export function javaUtf(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 1 && c <= 0x7f) bytes.push(c);
    else if (c <= 0x7ff) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  if (bytes.length > 0xffff) throw new PkiError('InvalidAlias', `alias encodes to ${bytes.length} bytes, JKS allows 65535`);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, Buffer.from(bytes)]);
}

function readJavaUtf(buf: Buffer, pos: number): { value: string; end: number } {
  const len = buf.readUInt16BE(pos);
  const end = pos + 2 + len;
  if (end > buf.length) throw new Error('truncated UTF');
  let s = '';
  for (let i = pos + 2; i < end;) {
    const a = buf[i];
    if (a < 0x80) {
      s += String.fromCharCode(a);
      i += 1;
    } else if ((a & 0xe0) === 0xc0) {
      s += String.fromCharCode(((a & 0x1f) << 6) | (buf[i + 1] & 0x3f));
      i += 2;
    } else {
      s += String.fromCharCode(((a & 0x0f) << 12) | ((buf[i + 1] & 0x3f) << 6) | (buf[i + 2] & 0x3f));
      i += 3;
    }
  }
  return { value: s, end };
}

/** Java lower-cases JKS aliases (Locale.ENGLISH); we store them that way so lookups agree. */
export const jksAlias = (alias: string): string => alias.toLowerCase();

/** Java passes char[] passwords to KeyProtector as big-endian UTF-16 code units. */
const passwordBytes = (password: string): Buffer => utf16be(password);

const sha1 = (...parts: Buffer[]): Buffer => digest('sha1', Buffer.concat(parts));

/** KeyProtector's keystream: SHA-1(password ‖ previous block), the first block over the salt. */
function keystream(pw: Buffer, salt: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  const input = Buffer.concat([pw, salt]); // the part after the password is overwritten by each block
  for (let off = 0; off < length; off += 20) {
    const block = digest('sha1', input);
    block.copy(out, off, 0, Math.min(20, length - off));
    block.copy(input, pw.length);
  }
  return out;
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/**
 * KeyProtector.protect with a caller-chosen salt. The salt is derived from the key and the
 * password (not random) so that unchanged inputs give byte-identical keystores and the
 * operator does not roll pods for nothing. It is keyed by the secret key, so it reveals
 * nothing an attacker could use to test password guesses.
 */
export function protectKey(pkcs8: Buffer, password: string): Buffer {
  const pw = passwordBytes(password);
  const salt = createHmac('sha256', pkcs8).update('annotary/jks-key-salt\0').update(pw).digest().subarray(0, SALT_LEN);
  const encrypted = xor(pkcs8, keystream(pw, salt, pkcs8.length));
  const check = sha1(pw, pkcs8);
  return seq(seq(oid(KEY_PROTECTOR_OID), nullValue()), octets(Buffer.concat([salt, encrypted, check])));
}

/** Inverse of protectKey; throws when the password is wrong or the blob is damaged. */
export function recoverKey(epki: Buffer, password: string): Buffer {
  const [alg, data] = children(readTlv(epki).content);
  const algOid = decodeOid(children(alg.content)[0].content);
  if (algOid !== KEY_PROTECTOR_OID) throw new Error(`unsupported key protection ${algOid}`);
  const blob = data.content;
  const pw = passwordBytes(password);
  const salt = blob.subarray(0, SALT_LEN);
  const enc = blob.subarray(SALT_LEN, blob.length - 20);
  const plain = xor(enc, keystream(pw, salt, enc.length));
  if (!timingSafeEqual(sha1(pw, plain), blob.subarray(blob.length - 20))) throw new Error('key integrity check failed (wrong password?)');
  return plain;
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function int64(ms: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(Math.trunc(ms)));
  return b;
}

function certBytes(der: Buffer): Buffer {
  return Buffer.concat([javaUtf('X.509'), int32(der.length), der]);
}

/** Serialize entries in the given order. Aliases are lower-cased; duplicates are rejected. */
export function writeJks(entries: JksEntry[], password: string): Buffer {
  const seen = new Set<string>();
  const parts: Buffer[] = [int32(MAGIC), int32(VERSION), int32(entries.length)];
  for (const e of entries) {
    const alias = jksAlias(e.alias);
    if (alias.length === 0) throw new PkiError('InvalidAlias', 'alias must not be empty');
    if (seen.has(alias)) throw new PkiError('InvalidAlias', `duplicate alias "${alias}"`);
    seen.add(alias);
    if (e.kind === 'key') {
      const protectedKey = protectKey(e.pkcs8, password);
      parts.push(int32(TAG_KEY), javaUtf(alias), int64(e.timestamp.getTime()), int32(protectedKey.length), protectedKey);
      parts.push(int32(e.chain.length), ...e.chain.map(certBytes));
    } else {
      parts.push(int32(TAG_CERT), javaUtf(alias), int64(e.timestamp.getTime()), certBytes(e.cert));
    }
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, sha1(passwordBytes(password), WHITENER, body)]);
}

/** Parse and verify a JKS file (integrity digest and every key entry). Test and debug aid. */
export function readJks(file: Buffer, password: string): JksEntry[] {
  if (file.length < 32 || file.readUInt32BE(0) !== MAGIC) throw new Error('not a JKS file');
  if (file.readUInt32BE(4) !== VERSION) throw new Error('unsupported JKS version');
  const body = file.subarray(0, file.length - 20);
  if (!sha1(passwordBytes(password), WHITENER, body).equals(file.subarray(file.length - 20))) {
    throw new Error('keystore integrity check failed (wrong password?)');
  }
  const count = file.readUInt32BE(8);
  let pos = 12;
  const readCert = (): Buffer => {
    const type = readJavaUtf(file, pos);
    if (type.value !== 'X.509') throw new Error(`unsupported certificate type ${type.value}`);
    const len = file.readUInt32BE(type.end);
    pos = type.end + 4 + len;
    return Buffer.from(file.subarray(type.end + 4, pos));
  };
  const entries: JksEntry[] = [];
  for (let i = 0; i < count; i++) {
    const tag = file.readUInt32BE(pos);
    const alias = readJavaUtf(file, pos + 4);
    const timestamp = new Date(Number(file.readBigInt64BE(alias.end)));
    pos = alias.end + 8;
    if (tag === TAG_KEY) {
      const len = file.readUInt32BE(pos);
      const epki = file.subarray(pos + 4, pos + 4 + len);
      pos += 4 + len;
      const n = file.readUInt32BE(pos);
      pos += 4;
      const chain: Buffer[] = [];
      for (let j = 0; j < n; j++) chain.push(readCert());
      entries.push({ kind: 'key', alias: alias.value, timestamp, pkcs8: recoverKey(epki, password), chain });
    } else if (tag === TAG_CERT) {
      entries.push({ kind: 'cert', alias: alias.value, timestamp, cert: readCert() });
    } else throw new Error(`unknown entry tag ${tag}`);
  }
  if (pos !== body.length) throw new Error('trailing bytes after last entry');
  return entries;
}
