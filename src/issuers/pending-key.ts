// Where the private key of a request that waits lives (the `csr:` issuer: an approver or a
// signer may take minutes or days). Not in the issued Secret: a workload that mounts it would
// see a key without its certificate, and the reload controller would roll it twice (key, then
// certificate). Not in an annotation, an Event or a log. In a Secret of its own next to it,
// `<secret>.pending-key` (type annotary.io/pending-key, owned by the issued Secret so it goes
// with it): the key is stored before the request is made, so an operator that restarts at any
// point asks again with the same key, and finds the CSR it made (its name is derived from the key).
// Once the certificate is written into the issued Secret, the stored copy is dropped (the data
// emptied: annotary creates Secrets but deletes none); the next renewal stores its new key there.
import { createHash } from 'node:crypto';
import { A } from '../annotations.js';
import type { SlimData } from '../kube/slim.js';
import type { Refusal } from '../kube/refusal.js';
import { refuse } from '../kube/refusal.js';
import type { KubeObject } from '../kube/types.js';
import { Secrets, objectKey } from '../kube/types.js';
import type { Writer } from '../kube/writer.js';
import type { KeyAlgorithm } from '../pki/x509.js';
import { generateKey } from '../pki/x509.js';
import type { Informer } from '../kube/informer.js';

export const PENDING_KEY_TYPE = 'annotary.io/pending-key';
const SUFFIX = '.pending-key';

/** `<secret>.pending-key`, cut with a digest of the full name when that is longer than a name may be. */
export function pendingKeySecretName(secret: string): string {
  if (secret.length + SUFFIX.length <= 253) return `${secret}${SUFFIX}`;
  const digest = createHash('sha256').update(secret).digest('hex').slice(0, 16);
  return `${secret.slice(0, 253 - SUFFIX.length - 17).replace(/[.-]+$/, '')}-${digest}${SUFFIX}`;
}

/** The Secret that holds a new pending key (PKCS#8 PEM) for `owner`. */
export function pendingKeySecret(owner: KubeObject, keyPem: string, algorithm: KeyAlgorithm): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: pendingKeySecretName(owner.metadata.name),
      namespace: owner.metadata.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'annotary' },
      annotations: { [A.pendingKeyFor]: owner.metadata.name },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Secret', name: owner.metadata.name, uid: owner.metadata.uid!, controller: true }],
    },
    type: PENDING_KEY_TYPE,
    data: { 'tls.key': Buffer.from(keyPem).toString('base64'), algorithm: Buffer.from(algorithm).toString('base64') },
  };
}

/** Whether `s` is the pending-key Secret annotary made for `owner` (never touch another one of that name). */
export function isPendingKeyOf(s: KubeObject & { type?: string }, owner: KubeObject): boolean {
  return (
    s.type === PENDING_KEY_TYPE &&
    s.metadata.annotations?.[A.pendingKeyFor] === owner.metadata.name &&
    !!s.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid && r.controller === true)
  );
}

export interface PendingKeys {
  /**
   * The key for the request of `owner`: the stored one (same algorithm), or a new one, stored
   * first. A Refusal when a Secret of that name exists and is not annotary's.
   */
  keyFor(owner: SlimData, algorithm: KeyAlgorithm): Promise<string | Refusal>;
  /** After the issued certificate is written: the stored copy of the key goes. */
  release(owner: SlimData): Promise<void>;
}

export interface PendingKeyDeps {
  secrets: Informer<SlimData>;
  /** one value of a Secret, decoded (cache first, else a GET): controllers/cache-reads' valueReader */
  read: (namespace: string, name: string, key: string) => Promise<string | undefined>;
  write: Writer;
}

export function pendingKeys({ secrets, read, write }: PendingKeyDeps): PendingKeys {
  const stored = (owner: SlimData) => secrets.get(objectKey(owner.metadata.namespace, pendingKeySecretName(owner.metadata.name)));
  return {
    async keyFor(owner, algorithm) {
      const name = pendingKeySecretName(owner.metadata.name);
      const ns = owner.metadata.namespace ?? '';
      const s = stored(owner);
      if (s && !isPendingKeyOf(s, owner))
        return refuse('PendingKeyConflict', `Secret ${name} exists and is not annotary's pending key for Secret ${owner.metadata.name}`);
      if (s && s.digests['tls.key']) {
        const [keyPem, alg] = await Promise.all([read(ns, name, 'tls.key'), read(ns, name, 'algorithm')]);
        if (keyPem && alg === algorithm) return keyPem;
      }
      const keyPem = await generateKey(algorithm);
      const body = pendingKeySecret(owner, keyPem, algorithm);
      const rejected = s
        ? await write.patch(Secrets, s, { metadata: { resourceVersion: s.metadata.resourceVersion }, data: body.data })
        : await write.create(Secrets, ns, body);
      return rejected ?? keyPem;
    },
    async release(owner) {
      const s = stored(owner);
      if (!s || !isPendingKeyOf(s, owner) || !Object.keys(s.digests).length) return;
      const rejected = await write.patch(Secrets, s, { metadata: { resourceVersion: s.metadata.resourceVersion }, data: null });
      if (rejected) write.warn(owner, rejected);
    },
  };
}
