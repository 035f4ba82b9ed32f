// One way to hash a single input. Node >= 20.12 has the one-shot crypto.hash, which skips the
// Hash object (its construction, update and digest calls): ~1.5× faster in the PKCS#12 KDF's
// loop, and the JKS key protector, the caches' per-value digests and the stores' inputs hash
// each call it thousands of times. Older Node 20 releases get createHash.
import * as nodeCrypto from 'node:crypto';

export type DigestAlgorithm = 'sha1' | 'sha256';

type OneShot = {
  (alg: string, data: Buffer | string, enc: 'buffer'): Buffer;
  (alg: string, data: Buffer | string, enc: 'hex'): string;
};
const oneShot = (nodeCrypto as { hash?: OneShot }).hash;

export const digest: (alg: DigestAlgorithm, data: Buffer | string) => Buffer = oneShot
  ? (alg, data) => oneShot(alg, data, 'buffer')
  : (alg, data) => nodeCrypto.createHash(alg).update(data).digest();

export const hexDigest: (alg: DigestAlgorithm, data: Buffer | string) => string = oneShot
  ? (alg, data) => oneShot(alg, data, 'hex')
  : (alg, data) => nodeCrypto.createHash(alg).update(data).digest('hex');
