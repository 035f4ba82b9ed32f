// Where the private key of a request that waits lives (the `csr:` issuer: an approver or a
// signer may take minutes or days): in the operator's memory, keyed by the requesting Secret,
// until the certificate for it is written. The next reconcile asks with the same key, so it
// finds the CSR it made (the CSR's name is derived from the key) instead of asking again.
//
// Not persisted, on purpose. Not in the issued Secret: a workload that mounts it would see a key
// without its certificate, and the reload controller would roll it twice (key, then
// certificate). Not in a Secret of its own: annotary may not create Secrets where the installer
// did not allow it (manifests/base/rbac.yaml). Never in an annotation, an Event or a log. An
// operator that restarts (or a new leader) has no key for the CSR it made before: it makes a new
// key and a new CSR (regenerated, safely: the certificate of the old CSR, if it is ever issued, is
// useless without its key, and kube-controller-manager's csrcleaner deletes the old CSR). The
// cost is one more approval by a human approver after a restart.
import type { KeyAlgorithm } from '../pki/x509.js';
import { generateKey } from '../pki/x509.js';

/** The Secret a key is for: its cache key and uid (a Secret deleted and made again is another requester). */
export interface KeyOwner {
  key: string;
  uid: string;
}

export interface PendingKeys {
  /** The key of the request of `owner`: the one its waiting request was made with (same algorithm), or a new one. */
  keyFor(owner: KeyOwner, algorithm: KeyAlgorithm): Promise<string>;
  /** The certificate for it is written: the key is forgotten. */
  release(owner: KeyOwner): void;
  /** Forgets the keys of Secrets that are gone (`exists` says which are not). */
  prune(exists: (owner: KeyOwner) => boolean): void;
  readonly size: number;
}

export function pendingKeys(): PendingKeys {
  const keys = new Map<string, { uid: string; algorithm: KeyAlgorithm; keyPem: Promise<string> }>();
  return {
    keyFor(owner, algorithm) {
      const held = keys.get(owner.key);
      if (held?.uid === owner.uid && held.algorithm === algorithm) return held.keyPem;
      const keyPem = generateKey(algorithm);
      keys.set(owner.key, { uid: owner.uid, algorithm, keyPem });
      // a failed generation is not remembered (the caller sees the rejection)
      keyPem.catch(() => keys.get(owner.key)?.keyPem === keyPem && keys.delete(owner.key));
      return keyPem;
    },
    release(owner) {
      if (keys.get(owner.key)?.uid === owner.uid) keys.delete(owner.key);
    },
    prune(exists) {
      for (const [key, { uid }] of keys) if (!exists({ key, uid })) keys.delete(key);
    },
    get size() {
      return keys.size;
    },
  };
}
