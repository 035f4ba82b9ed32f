// The `csr:<signerName>` issuer: the Kubernetes CertificateSigningRequest API
// (certificates.k8s.io/v1), for clusters whose signer exists already (kube-controller-manager
// signs the kubernetes.io/* signers when it has the cluster's signing CA; annotary's own
// annotary.io/<namespace>.<ca-secret> signers are csr-signer.ts).
//   - One CSR object per Secret and request key, named from both (csrObjectName): a restart, or
//     the next reconcile, finds it again instead of asking twice. It carries the managed-by label
//     and the Secret's uid as labels, and the Secret's namespace/name as an annotation, to find it;
//     kube-controller-manager's csrcleaner deletes it (issued or denied after 1 h, pending after
//     24 h): a cluster-scoped object cannot be garbage-collected with a namespaced owner.
//   - Approval: annotary approves its own request when RBAC lets it approve that signer name
//     (it tries, through the approval subresource; a 403 means it may not), else the request
//     waits for an approver (`kubectl certificate approve`) and the pending reason says so.
//   - The certificate is picked up from status.certificate once the signer wrote it; Denied and
//     Failed come back as refusals with the condition's reason and message.
// The private key never leaves the issuing controller; while the request waits it is held in
// memory (pending-key.ts says why there), so the next reconcile asks with the same key and finds the same CSR.
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { A } from '../annotations.js';
import type { ControllerContext } from '../controllers/context.js';
import type { Watch } from '../kube/builder.js';
import type { Informer } from '../kube/informer.js';
import { ApiError } from '../kube/client.js';
import type { Csr } from '../kube/csr.js';
import { addConditionPatch, csrPhase, endingCondition, parseSignerName } from '../kube/csr.js';
import { refuse } from '../kube/refusal.js';
import type { Refusal } from '../kube/refusal.js';
import type { SlimData } from '../kube/slim.js';
import type { KubeObject } from '../kube/types.js';
import { ANY_NAME, CertificateSigningRequests, objectKey } from '../kube/types.js';
import type { Writer } from '../kube/writer.js';
import { isSelfSigned } from '../pki/chain.js';
import { PkiError } from '../pki/errors.js';
import { parseCertificates } from '../pki/pem.js';
import type { KeyAlgorithm, Usage } from '../pki/x509.js';
import { parseCsr } from '../pki/x509.js';
import type { IssueResult, Issuer, SignRequest } from './issuer.js';
import type { KeyOwner } from './pending-key.js';
import { pendingKeys } from './pending-key.js';

export const CSR_ISSUER_PREFIX = 'csr:';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'annotary' } as const;
/** label: the uid of the Secret a CSR is for */
export const CSR_SECRET_UID_LABEL = 'annotary.io/secret-uid';
/** Kubernetes' floor for expirationSeconds */
const MIN_EXPIRATION_S = 600;

/** The signer name of an issuer annotation `csr:<signerName>`, or undefined for another issuer. */
export function csrSignerName(issuer: string | undefined): string | undefined {
  return issuer?.startsWith(CSR_ISSUER_PREFIX) ? issuer.slice(CSR_ISSUER_PREFIX.length).trim() || undefined : undefined;
}

/** Whether a signer name has the form `<domain>/<path>` the CSR API requires. */
export function isSignerName(s: string): boolean {
  return /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[\w.-]+(\/[\w.-]+)*$/i.test(s) && s.length <= 571;
}

/** The owner of a request as the name needs it. */
export interface RequestOwner {
  namespace: string;
  name: string;
  uid: string;
}

/**
 * `<namespace>.<name>-<digest>`: readable in `kubectl get csr`, and the digest of the Secret's uid
 * and the request's public key makes it unique per Secret incarnation and key (a renewal, with a
 * new key, asks anew). Cut to fit the 253 characters of a name, the digest kept.
 */
export function csrObjectName(owner: RequestOwner, publicKeyDer: Uint8Array): string {
  const digest = createHash('sha256').update(owner.uid).update('\0').update(publicKeyDer).digest('hex').slice(0, 16);
  const base = `${owner.namespace}.${owner.name}`.slice(0, 253 - 17).replace(/[.-]+$/, '');
  return `${base}-${digest}`;
}

/** The Kubernetes usages of a request: the TLS ones, and the key usages its key type implies (an EC key enciphers nothing). */
export function kubeUsages(usages: Usage[], keyType: 'rsa' | 'ec'): string[] {
  return [
    'digital signature',
    ...(keyType === 'rsa' ? ['key encipherment'] : []),
    ...usages.map((u) => (u === 'server' ? 'server auth' : 'client auth')),
  ];
}

/** The CSR object annotary creates for a request. */
export function csrObject(name: string, signerName: string, owner: RequestOwner, request: SignRequest, keyType: 'rsa' | 'ec'): Csr {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: {
      name,
      labels: { ...MANAGED_BY, [CSR_SECRET_UID_LABEL]: owner.uid },
      annotations: { [A.csrForSecret]: `${owner.namespace}/${owner.name}` },
    },
    spec: {
      request: Buffer.from(request.csr).toString('base64'),
      signerName,
      usages: kubeUsages(request.profile.usages, keyType),
      // honoured from Kubernetes 1.22; older apiservers drop it and the signer's duration applies
      expirationSeconds: Math.max(MIN_EXPIRATION_S, Math.floor(request.profile.durationMs / 1000)),
    },
  };
}

/**
 * What an issued CSR gives: the chain as the signer wrote it (leaf first), and as ca.crt the
 * self-signed certificates at its end, if the signer sends its root (most send none: then the
 * trust comes from elsewhere, e.g. the apiserver's client CA).
 */
export function issuedChain(certificateB64: string, publicKeyDer: Uint8Array): { chain: string[]; ca: string } | undefined {
  const certs = parseCertificates(Buffer.from(certificateB64, 'base64').toString('latin1'), 'status.certificate');
  const leafKey = certs[0].publicKey.export({ type: 'spki', format: 'der' });
  if (!leafKey.equals(Buffer.from(publicKeyDer))) return undefined;
  const pem = (c: X509Certificate) => c.toString().trimEnd() + '\n';
  const roots = certs.slice(1).filter(isSelfSigned);
  return { chain: certs.filter((c) => !roots.includes(c)).map(pem), ca: roots.map(pem).join('') };
}

export interface CsrIssuerDeps {
  /** the shared CSR cache (the issuing controller watches it: a CSR's change brings its Secret back) */
  csrs: Informer<KubeObject>;
  /** the issuing controller's Writer */
  write: Writer;
  /** CSR name → when annotary last learnt it may not approve it (403): not asked again within APPROVAL_RETRY_MS */
  refusedApprovals?: Map<string, number>;
}

export function csrIssuer(signerName: string, owner: RequestOwner, deps: CsrIssuerDeps): Issuer {
  const { csrs, write, refusedApprovals = new Map<string, number>() } = deps;
  const name = `${CSR_ISSUER_PREFIX}${signerName}`;

  /** Approves the CSR if RBAC lets annotary approve its signer; the pending reason either way. */
  const approve = async (csr: Csr): Promise<IssueResult> => {
    const message = `approved by annotary for Secret ${owner.namespace}/${owner.name} (RBAC lets it approve ${signerName})`;
    const waiting = {
      pending:
        `CSR ${csr.metadata.name} waits for an approver (e.g. kubectl certificate approve ${csr.metadata.name}): ` +
        `annotary may not approve signer ${signerName} (RBAC: approve on certificates.k8s.io signers "${signerName}")`,
    };
    const refusedAt = refusedApprovals.get(csr.metadata.name);
    if (refusedAt !== undefined && Date.now() - refusedAt < APPROVAL_RETRY_MS) return waiting;
    try {
      const rejected = await write.patch(
        CertificateSigningRequests,
        csr,
        addConditionPatch(csr, { type: 'Approved', reason: 'AnnotaryIssuer', message }, new Date()),
        'merge',
        'approval',
      );
      if (rejected) return rejected;
    } catch (err) {
      if (!(err instanceof ApiError && err.isForbidden)) throw err;
      refusedApprovals.set(csr.metadata.name, Date.now());
      return waiting;
    }
    refusedApprovals.delete(csr.metadata.name);
    return { pending: `CSR ${csr.metadata.name} approved by annotary; waiting for signer ${signerName}` };
  };

  return {
    name,
    async sign(request: SignRequest): Promise<IssueResult> {
      let publicKey: Uint8Array;
      try {
        ({ publicKey } = await parseCsr(request.csr));
      } catch (err) {
        if (!(err instanceof PkiError)) throw err;
        return refuse(err.reason, err.message);
      }
      const csrName = csrObjectName(owner, publicKey);
      const csr = csrs.get(csrName) as Csr | undefined;
      if (!csr) {
        const keyType =
          createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' }).asymmetricKeyType === 'rsa' ? 'rsa' : 'ec';
        try {
          const rejected = await write.create(CertificateSigningRequests, '', csrObject(csrName, signerName, owner, request, keyType));
          if (rejected) return rejected;
        } catch (err) {
          // made by an earlier attempt the cache has not seen yet: its event brings the Secret back
          if (!(err instanceof ApiError && err.isAlreadyExists)) throw err;
        }
        return { pending: `CSR ${csrName} created for signer ${signerName}` };
      }
      if (csrPhase(csr) !== 'pending') refusedApprovals.delete(csrName);
      switch (csrPhase(csr)) {
        case 'pending':
          return approve(csr);
        case 'approved':
          return { pending: `CSR ${csrName} is approved; waiting for signer ${signerName} to sign it` };
        case 'denied':
        case 'failed': {
          const c = endingCondition(csr)!;
          const why = `CSR ${csrName} for signer ${signerName}: ${c.type} (${c.reason ?? 'no reason'}${c.message ? `: ${c.message}` : ''})`;
          const retry = 'delete it to ask again with the same key';
          return c.type === 'Denied' ? refuse('CsrDenied', `${why}; ${retry}`) : refuse('CsrFailed', `${why}; ${retry}`);
        }
        case 'issued': {
          let issued: ReturnType<typeof issuedChain>;
          try {
            issued = issuedChain(csr.status!.certificate!, publicKey);
          } catch (err) {
            if (!(err instanceof PkiError)) throw err;
            return refuse(
              'CsrFailed',
              `CSR ${csrName}: signer ${signerName} wrote a status.certificate that does not parse: ${err.message}`,
            );
          }
          if (!issued)
            return refuse('CsrFailed', `CSR ${csrName}: the certificate signer ${signerName} wrote is not for the requested key`);
          return issued;
        }
      }
    },
  };
}

/** How long a request annotary may not approve waits before annotary tries again (RBAC may have been granted meanwhile). */
export const APPROVAL_RETRY_MS = 60_000;

/** What the issuing controller plugs in for `csr:` issuers. */
export interface CsrIssuing {
  /** its watch of the CSR cache: a change of a CSR annotary made brings the Secret it is for back */
  watches: Watch<SlimData>[];
  /** the issuer of `csr:<signerName>` for `secret`, and the key its request is made with (the same while it waits) */
  resolve(signerName: string, secret: SlimData): { issuer: Issuer; keyFor: (algorithm: KeyAlgorithm) => Promise<string> } | Refusal;
  /** the certificate is written into `secret`: its pending key is forgotten */
  issued(secret: SlimData): void;
}

/**
 * The csr: issuers of the issuing controller. The CSR cache is cluster-scoped and needs the csr
 * controller's RBAC (annotary-csr): without the csr controller (--controllers, the namespaced
 * installs) no CSR cache is read, so the issuing controller never waits for that permission, and
 * csr: issuers are refused.
 */
export function csrIssuing(
  ctx: Pick<ControllerContext, 'caches' | 'config'>,
  write: Writer,
  wantsCsr: (secret: SlimData) => boolean,
): CsrIssuing {
  const secrets = ctx.caches.secrets();
  const owner = (s: SlimData): KeyOwner => ({ key: objectKey(s.metadata.namespace, s.metadata.name), uid: s.metadata.uid ?? '' });
  if (!ctx.config.controllers.includes('csr'))
    return {
      watches: [],
      resolve: () => refuse('UnknownIssuer', `${A.issuer}: csr: issuers need the csr controller (--controllers)`),
      issued: () => undefined,
    };
  const csrs = ctx.caches.of(CertificateSigningRequests);
  const keys = pendingKeys();
  const refusedApprovals = new Map<string, number>();
  return {
    watches: [
      {
        source: csrs,
        // any CSR may be one made for the Secret; delayFor keeps those that are (by their annotation)
        refsOf: (s) => (wantsCsr(s) ? [{ kind: CertificateSigningRequests.kind, namespace: '', name: ANY_NAME }] : []),
        delayFor: (referrer, _old, cur) =>
          cur.metadata.annotations?.[A.csrForSecret] === `${referrer.namespace}/${referrer.name}` ? 0 : undefined,
      },
    ],
    resolve(signerName, secret) {
      // annotary's own signer (annotary approves for it): asking it would bypass the CA Secret's share-with-namespaces opt-in
      const own = parseSignerName(signerName);
      if (own)
        return refuse(
          'UnknownIssuer',
          `${A.issuer}: csr:${signerName} is annotary's own signer of CA Secret ${own.namespace}/${own.name}: ` +
            `name that Secret as the issuer (${own.namespace}/${own.name}; ${A.shareWithNamespaces} applies)`,
        );
      keys.prune((o) => secrets.get(o.key)?.metadata.uid === o.uid);
      const o = owner(secret);
      const requester = { namespace: secret.metadata.namespace ?? '', name: secret.metadata.name, uid: o.uid };
      return {
        issuer: csrIssuer(signerName, requester, { csrs, write, refusedApprovals }),
        keyFor: (algorithm) => keys.keyFor(o, algorithm),
      };
    },
    issued: (secret) => keys.release(owner(secret)),
  };
}
