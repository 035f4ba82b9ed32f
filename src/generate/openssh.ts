// OpenSSH key files for ed25519 and RSA keys made by Node's crypto: the private key in the
// "openssh-key-v1" format (PROTOCOL.key in OpenSSH's sources; unencrypted, cipher "none"),
// which is what ssh-keygen writes and what ssh reads for ed25519 keys, and the public key as
// an authorized_keys line (RFC 4253 §6.6 blobs). Written by hand: Node exports neither;
// node-forge (already a dependency) writes only RSA keys, as PKCS#1 PEM (ssh.privateKeyToOpenSSH),
// not this format nor ed25519; and a new dependency (sshpk) for a few length-prefixed fields
// is more code to trust than the fields themselves. decodeOpenSshPrivateKey reads back only what
// encode writes: it exists so the pair is checked before it is written (checkSshPair in generators.ts).
import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { GenerateError } from './spec.js';

const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** An SSH `string`: a uint32 length and the bytes. */
function str(b: Buffer | string): Buffer {
  const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  return Buffer.concat([u32(buf.length), buf]);
}

/** An SSH `mpint` of an unsigned big-endian integer: no leading zeros, one zero byte when the top bit is set. */
function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const v = unsigned.subarray(i);
  return str(v[0] & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

const b64u = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');

interface SshParts {
  type: 'ssh-ed25519' | 'ssh-rsa';
  /** the public key blob */
  publicBlob: Buffer;
  /** the key-type-specific fields of the private section */
  privateFields: Buffer;
}

function partsOf(privateKey: KeyObject): SshParts {
  const jwk = privateKey.export({ format: 'jwk' });
  if (privateKey.asymmetricKeyType === 'ed25519') {
    const pub = b64u(jwk.x);
    const seed = b64u(jwk.d);
    return {
      type: 'ssh-ed25519',
      publicBlob: Buffer.concat([str('ssh-ed25519'), str(pub)]),
      // OpenSSH keeps the 64-byte "secret key" of ref10: the seed followed by the public key
      privateFields: Buffer.concat([str('ssh-ed25519'), str(pub), str(Buffer.concat([seed, pub]))]),
    };
  }
  if (privateKey.asymmetricKeyType === 'rsa') {
    const [n, e, d, p, q, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.qi].map(b64u);
    return {
      type: 'ssh-rsa',
      publicBlob: Buffer.concat([str('ssh-rsa'), mpint(e), mpint(n)]),
      // iqmp is q⁻¹ mod p, JWK's qi
      privateFields: Buffer.concat([str('ssh-rsa'), mpint(n), mpint(e), mpint(d), mpint(qi), mpint(p), mpint(q)]),
    };
  }
  throw new GenerateError('InvalidGenerateSpec', `no OpenSSH encoding for ${privateKey.asymmetricKeyType} keys`);
}

/** The authorized_keys line of a key pair (from its private or public half). */
export function authorizedKeyLine(privateKey: KeyObject, comment: string): string {
  const { type, publicBlob } = partsOf(privateKey);
  return `${type} ${publicBlob.toString('base64')}${comment ? ` ${comment}` : ''}\n`;
}

/** The private key as ssh-keygen writes it (unencrypted). The check integers come from the CSPRNG, as OpenSSH's do. */
export function encodeOpenSshPrivateKey(privateKey: KeyObject, comment: string): string {
  const { publicBlob, privateFields } = partsOf(privateKey);
  const check = randomBytes(4);
  let section = Buffer.concat([check, check, privateFields, str(comment)]);
  const pad = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([MAGIC, str('none'), str('none'), str(''), u32(1), str(publicBlob), str(section)]);
  const lines = body.toString('base64').match(/.{1,70}/g)!;
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** Reads a key written by encodeOpenSshPrivateKey: its public blob (header and private section) and whether the check integers agree. */
export function decodeOpenSshPrivateKey(pem: string): { publicBlob: Buffer; innerPublicBlob: Buffer; checkOk: boolean } {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----\n([\s\S]+?)\n-----END OPENSSH PRIVATE KEY-----/.exec(pem);
  const body = Buffer.from(m?.[1].replace(/\s/g, '') ?? '', 'base64');
  let at = 0;
  const take = (n: number) => {
    if (at + n > body.length) throw new GenerateError('GeneratedKeyMismatch', 'the OpenSSH private key is truncated');
    const b = body.subarray(at, at + n);
    at += n;
    return b;
  };
  const string = () => take(take(4).readUInt32BE());
  if (!take(MAGIC.length).equals(MAGIC)) throw new GenerateError('GeneratedKeyMismatch', 'not an openssh-key-v1 private key');
  string(); // cipher
  string(); // kdf
  string(); // kdf options
  take(4); // number of keys
  const publicBlob = string();
  const section = string();
  const [c1, c2] = [section.readUInt32BE(0), section.readUInt32BE(4)];
  // the private fields begin with the key type and the public fields, as in the blob
  const type = section.subarray(12, 12 + section.readUInt32BE(8)).toString('latin1');
  let inner: Buffer;
  if (type === 'ssh-ed25519') {
    const len = section.readUInt32BE(12 + type.length);
    inner = Buffer.concat([str(type), str(section.subarray(16 + type.length, 16 + type.length + len))]);
  } else {
    let p = 12 + type.length;
    const field = () => {
      const len = section.readUInt32BE(p);
      const f = section.subarray(p, p + 4 + len);
      p += 4 + len;
      return f;
    };
    const n = field();
    const e = field();
    inner = Buffer.concat([str(type), e, n]); // the blob orders e before n
  }
  return { publicBlob, innerPublicBlob: inner, checkOk: c1 === c2 };
}
