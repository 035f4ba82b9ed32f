// The generators: a declaration's spec → the bytes of every data key it writes. Randomness
// comes from Node's CSPRNG only (crypto.randomInt/randomBytes/randomUUID/generateKeyPair;
// openpgp draws from the same through WebCrypto's getRandomValues; the bcrypt salt is drawn
// here and handed to bcryptjs). A key pair's halves are checked against each other before
// they are returned, so nothing mismatched is ever written. Errors carry no value.
import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, randomInt, randomUUID, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import type * as OpenPgp from 'openpgp';
import { authorizedKeyLine, decodeOpenSshPrivateKey, encodeOpenSshPrivateKey } from './openssh.js';
import type { CharClass, GenerateSpec, MittwaldEncoding } from './spec.js';
import { CHAR_CLASSES, GenerateError } from './spec.js';

const keyPair = promisify(generateKeyPair);

/**
 * A password of `length` characters from the union of `classes`, with at least one of each:
 * each character is drawn uniformly (randomInt rejects biased draws) and a draw missing a
 * class is drawn again whole, so every allowed password is equally likely.
 */
export function password(length: number, classes: readonly CharClass[]): string {
  if (length < classes.length) throw new GenerateError('InvalidGenerateSpec', `length ${length} cannot hold ${classes.length} classes`);
  const alphabet = classes.map((c) => CHAR_CLASSES[c]).join('');
  for (;;) {
    let s = '';
    for (let i = 0; i < length; i++) s += alphabet[randomInt(alphabet.length)];
    if (classes.every((c) => [...CHAR_CLASSES[c]].some((ch) => s.includes(ch)))) return s;
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 with padding, as Go's base32.StdEncoding (mittwald's generator). */
export function base32(b: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of b) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out + '='.repeat((8 - (out.length % 8)) % 8);
}

/** mittwald's GenerateRandomString: `length` random bytes encoded, then cut to `length` characters unless a byte length. */
export function mittwaldString(length: number, encoding: MittwaldEncoding, byteLength: boolean): Buffer {
  const b = randomBytes(length);
  if (encoding === 'raw') return b;
  const enc = {
    base64: () => b.toString('base64'),
    base64url: () => b.toString('base64url') + '='.repeat((4 - (b.toString('base64url').length % 4)) % 4), // Go's URLEncoding pads
    base32: () => base32(b),
    hex: () => b.toString('hex'),
  }[encoding]();
  return Buffer.from(byteLength ? enc : enc.slice(0, length));
}

const NAMED_CURVE = { p256: 'prime256v1', p384: 'secp384r1' } as const;

async function nodeKeyPair(spec: { kind: 'rsa'; size: number } | { kind: 'ec'; curve: 'p256' | 'p384' } | { kind: 'ed25519' }) {
  const { privateKey } =
    spec.kind === 'rsa'
      ? await keyPair('rsa', { modulusLength: spec.size, publicExponent: 0x10001 })
      : spec.kind === 'ec'
        ? await keyPair('ec', { namedCurve: NAMED_CURVE[spec.curve] })
        : await keyPair('ed25519');
  return privateKey;
}

const pkcs8 = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }) as string;
const spki = (k: KeyObject) => createPublicKey(k).export({ format: 'pem', type: 'spki' }) as string;

/** A private and a public PEM belong together: the public half derived from the private one is the one given, and a signature verifies. */
export function checkPemPair(privatePem: string, publicPem: string): void {
  const priv = createPrivateKey(privatePem);
  const pub = createPublicKey(publicPem);
  const msg = randomBytes(32);
  const alg = priv.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  if (spki(priv) !== pub.export({ format: 'pem', type: 'spki' }) || !verify(alg, msg, pub, sign(alg, msg, priv)))
    throw new GenerateError('GeneratedKeyMismatch', 'the generated public key does not match the private key');
}

/** An OpenSSH private key and an authorized_keys line belong together (and to `key`). */
export function checkSshPair(key: KeyObject, privateText: string, authorizedLine: string): void {
  const d = decodeOpenSshPrivateKey(privateText);
  const blob = Buffer.from(authorizedLine.split(' ')[1] ?? '', 'base64');
  const derived = Buffer.from(authorizedKeyLine(createPublicKey(key), '').split(' ')[1], 'base64');
  if (!d.checkOk || !d.publicBlob.equals(blob) || !d.innerPublicBlob.equals(blob) || !derived.equals(blob))
    throw new GenerateError('GeneratedKeyMismatch', 'the generated OpenSSH public key does not match the private key');
}

/** An htpasswd line `user:$2y$…`: the bcrypt of the password (cost 10, Apache's htpasswd -B default), salt from the CSPRNG. */
export async function htpasswdLine(user: string, pw: string): Promise<string> {
  const salt = `$2b$10$${bcrypt.encodeBase64(randomBytes(16), 16)}`;
  // $2y$ is what htpasswd writes; bcryptjs computes the same hash under $2b$ (both mark the corrected algorithm)
  const hash = (await bcrypt.hash(pw, salt)).replace(/^\$2b\$/, '$2y$');
  if (!(await bcrypt.compare(pw, hash))) throw new GenerateError('GeneratedKeyMismatch', 'the htpasswd hash does not verify the password');
  return `${user}:${hash}`;
}

/** openpgp, loaded with the first gpg key: ~0.1 s of every operator start otherwise, for a type few use (#20). */
let openpgpModule: Promise<typeof OpenPgp> | undefined;
const loadOpenpgp = () => (openpgpModule ??= import('openpgp'));

/** `Name <email>` → openpgp's UserID; a bare address is an email. */
function userIdOf(text: string): OpenPgp.UserID {
  const m = /^(.*?)\s*<([^<>]+)>$/.exec(text.trim());
  if (m) return m[1] ? { name: m[1], email: m[2] } : { email: m[2] };
  return text.includes('@') ? { email: text.trim() } : { name: text.trim() };
}

async function gpgKey(spec: Extract<GenerateSpec, { type: 'gpg' }>): Promise<Record<string, string>> {
  const openpgp = await loadOpenpgp();
  const passphrase = password(spec.passphraseLength, ['lower', 'upper', 'digit']);
  // v4 keys (openpgp's default, not RFC 9580's v6): what GnuPG 2.2 and most tools read
  const { privateKey, publicKey } = await openpgp.generateKey({
    ...(spec.algo === 'rsa' ? { type: 'rsa' as const, rsaBits: spec.size } : { type: 'ecc' as const, curve: 'ed25519Legacy' as const }),
    userIDs: [userIdOf(spec.userId)],
    passphrase,
    format: 'armored',
  });
  const locked = await openpgp.readPrivateKey({ armoredKey: privateKey });
  const unlocked = await openpgp.decryptKey({ privateKey: locked, passphrase });
  const pub = await openpgp.readKey({ armoredKey: publicKey });
  const message = await openpgp.createMessage({ text: 'annotary pair check' });
  // typed as text: openpgp's declared result is a union with web streams, which this project's lib settings do not know
  const armoredSignature = (await openpgp.sign({ message, signingKeys: unlocked, detached: true, format: 'armored' })) as string;
  const signature = await openpgp.readSignature({ armoredSignature });
  const verified = await openpgp.verify({ message, signature, verificationKeys: pub });
  const ok = await verified.signatures[0]?.verified.catch(() => false);
  if (unlocked.getFingerprint() !== pub.getFingerprint() || ok !== true)
    throw new GenerateError('GeneratedKeyMismatch', 'the generated OpenPGP public key does not match the private key');
  return { '': privateKey, '.pub': publicKey, '.passphrase': passphrase };
}

async function sshKey(algo: 'ed25519' | 'rsa', size: number, comment: string): Promise<{ priv: string; pub: string }> {
  const key = await nodeKeyPair(algo === 'rsa' ? { kind: 'rsa', size } : { kind: 'ed25519' });
  const priv = encodeOpenSshPrivateKey(key, comment);
  const pub = authorizedKeyLine(key, comment);
  checkSshPair(key, priv, pub);
  return { priv, pub };
}

/**
 * The values of a declaration, per output: for annotary's types keyed by the suffix of
 * `<key>` ('' is `<key>`), for mittwald's by its fixed data keys (`field` names a string's).
 */
export async function generateValues(spec: GenerateSpec, field = ''): Promise<Record<string, Buffer>> {
  const text = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Buffer.from(v)]));
  switch (spec.type) {
    case 'password':
      return text({ '': password(spec.length, spec.classes) });
    case 'bytes':
      return text({ '': randomBytes(spec.length).toString(spec.encoding) });
    case 'uuid':
      return text({ '': randomUUID() });
    case 'rsa':
    case 'ec':
    case 'ed25519': {
      const key = await nodeKeyPair(
        spec.type === 'rsa'
          ? { kind: 'rsa', size: spec.size }
          : spec.type === 'ec'
            ? { kind: 'ec', curve: spec.curve }
            : { kind: 'ed25519' },
      );
      const [priv, pub] = [pkcs8(key), spki(key)];
      checkPemPair(priv, pub);
      return text({ '': priv, '.pub': pub });
    }
    case 'ssh': {
      const { priv, pub } = await sshKey(spec.algo, spec.size, spec.comment);
      return text({ '': priv, '.pub': pub });
    }
    case 'basic-auth': {
      const pw = password(spec.length, spec.classes);
      return text({ '': await htpasswdLine(spec.user, pw), '.password': pw });
    }
    case 'gpg':
      return text(await gpgKey(spec));
    case 'mittwald-string':
      return { [field]: mittwaldString(spec.length, spec.encoding, spec.byteLength) };
    case 'mittwald-ssh': {
      // as mittwald writes them: PKCS#1 PEM ("RSA PRIVATE KEY") and an authorized_keys line without a comment
      const key = await nodeKeyPair({ kind: 'rsa', size: spec.size });
      const priv = key.export({ format: 'pem', type: 'pkcs1' }) as string;
      const pub = authorizedKeyLine(key, '');
      checkPemPair(priv, spki(key));
      return text({ 'ssh-privatekey': priv, 'ssh-publickey': pub });
    }
    case 'mittwald-basic-auth': {
      const pw = mittwaldString(spec.length, spec.encoding, spec.byteLength);
      return { auth: Buffer.from(await htpasswdLine(spec.user, pw.toString('latin1'))), username: Buffer.from(spec.user), password: pw };
    }
  }
}
