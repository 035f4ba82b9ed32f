// annotary as a CSR signer: a CertificateSigningRequest addressed to `annotary.io/<namespace>.<secret>`
// is signed by the CA in that Secret (tls.crt CA:TRUE + tls.key, the `ca` issuer's Secret) once
// approved — by `kubectl certificate approve` (anyone RBAC lets approve that signer name), or by
// annotary itself when the CA Secret's approval policy covers the request (csr-policy.ts). So any
// tool that speaks the CSR API gets certificates from annotary's CAs.
//   - the certificate (leaf, then the CA's intermediates) goes into status.certificate through
//     the status subresource (RBAC: `sign` on the signer name);
//   - a request the signer never signs (a CA, usages the CA Secret does not allow, a PKCS#10 that
//     does not parse or verify) gets the Failed condition, as kube-controller-manager's signer
//     does, and a Warning Event: it stays failed, a new CSR is the retry;
//   - a CA Secret that is missing, or not a CA when an approved CSR is to be signed (the CA key is
//     read only then): a Warning Event on the CSR, which stays as it is (the CA Secret's appearance
//     or fix brings it back through the Secret watch).
import { A } from '../annotations.js';
import { caIssuer } from '../issuers/ca.js';
import type { Csr } from '../kube/csr.js';
import { addConditionPatch, certificatePatch, csrPhase, parseSignerName, requestPem } from '../kube/csr.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import { CertificateSigningRequests, objectKey } from '../kube/types.js';
import { PkiError } from '../pki/errors.js';
import { requestsCa } from '../pki/csr-request.js';
import { parseCsr } from '../pki/x509.js';
import { pemText, valueReader } from './cache-reads.js';
import type { ControllerContext, ControllerModule } from './context.js';
import type { CsrFacts } from './csr-policy.js';
import { autoApproval, parseSignerPolicy, signableUsages } from './csr-policy.js';

export const CONTROLLER = 'csr-signer';
/** What annotary signs for when the CSR asks for no duration (expirationSeconds: Kubernetes ≥ 1.22): the `ca` issuer's default. */
export const DEFAULT_SIGNED_MS = 90 * 24 * 3_600_000;
/** Kubernetes' floor for expirationSeconds (10 minutes). */
const MIN_SIGNED_MS = 600_000;

/** The validity a CSR gets: what it asks for (≥ 10 minutes), at most the default. */
export function signedDurationMs(csr: Csr): number {
  const asked = csr.spec.expirationSeconds;
  return asked === undefined ? DEFAULT_SIGNED_MS : Math.min(DEFAULT_SIGNED_MS, Math.max(MIN_SIGNED_MS, asked * 1000));
}

export const csrSignerController: ControllerModule = {
  name: CONTROLLER,
  declare(ctx: ControllerContext) {
    const { caches, log } = ctx;
    const csrs = caches.of(CertificateSigningRequests);
    const secrets = caches.secrets();
    const read = valueReader(ctx, caches);
    const write = ctx.writer(CONTROLLER);

    /** The CA Secret of a signer (from the cache: its annotations hold the policy), or why there is none. */
    const caSecretOf = (signerName: string) => {
      const ref = parseSignerName(signerName)!;
      const caName = `${ref.namespace}/${ref.name}`;
      const secret = secrets.get(objectKey(ref.namespace, ref.name));
      if (!secret)
        return refuse(
          'CsrSignerNotFound',
          `signer ${signerName}: CA Secret ${caName} does not exist (or is not in a namespace annotary watches)`,
        );
      return { secret, ref, caName };
    };

    /** The CA's certificate and key, read only to sign (a pending CSR never makes annotary read a CA key). */
    const caDataOf = async (signerName: string, ref: { namespace: string; name: string }, caName: string) => {
      const [certPem, keyPem, caBundlePem] = await Promise.all(
        ['tls.crt', 'tls.key', 'ca.crt'].map((k) => read('Secret', ref.namespace, ref.name, k, pemText)),
      );
      if (!certPem || !keyPem) return refuse('CsrSignerNotCA', `signer ${signerName}: CA Secret ${caName} has no tls.crt and tls.key`);
      return { certPem, keyPem, caBundlePem };
    };

    /** A request this signer never signs: Failed, as the built-in signers mark theirs, and a Warning. */
    const fail = async (csr: Csr, r: Refusal) => {
      write.warn(csr, r);
      const done = await write.patch(
        CertificateSigningRequests,
        csr,
        addConditionPatch(csr, { type: 'Failed', reason: r.reason, message: r.message }, new Date()),
        'merge',
        'status',
      );
      if (done) write.warn(csr, done);
    };

    return [
      {
        name: CONTROLLER,
        for: csrs,
        filter: (csr) => parseSignerName((csr as Csr).spec?.signerName ?? '') !== undefined,
        // the CA Secret: its appearance, a fix, a policy change bring its pending CSRs back
        watches: [
          {
            source: secrets,
            refsOf: (csr) => {
              const ref = parseSignerName((csr as Csr).spec.signerName)!;
              return [{ kind: 'Secret', namespace: ref.namespace, name: ref.name }];
            },
          },
        ],
        async reconcile({ name }) {
          const csr = csrs.get(name) as Csr | undefined;
          if (!csr) return;
          const phase = csrPhase(csr);
          if (phase !== 'pending' && phase !== 'approved') return;
          const { signerName } = csr.spec;
          const ca = caSecretOf(signerName);
          if (isRefusal(ca)) return write.warn(csr, ca);
          const policy = parseSignerPolicy(ca.secret.metadata.annotations);
          if (isRefusal(policy)) {
            // the CA Secret's annotation is wrong: said where it can be fixed, and on the CSR that waits for it
            write.warn(ca.secret, policy);
            return write.warn(csr, { ...policy, message: `signer ${signerName}: CA Secret ${ca.caName}: ${policy.message}` });
          }
          const pem = requestPem(csr);
          let facts: CsrFacts;
          try {
            const parsed = await parseCsr(pem);
            facts = {
              username: csr.spec.username ?? '',
              usages: csr.spec.usages ?? [],
              subject: parsed.subject,
              requestsCa: await requestsCa(pem),
            };
          } catch (err) {
            if (!(err instanceof PkiError)) throw err;
            return fail(csr, refuse(err.reason, `spec.request: ${err.message}`));
          }
          const usages = signableUsages(facts, policy);
          if (isRefusal(usages)) return fail(csr, usages);
          if (phase === 'pending') {
            const why = autoApproval(facts, policy);
            if (why === undefined) return; // someone approves it, or not
            const message = `approved by annotary: the request is from ${why} with names under ${A.csrApproveDnsSuffixes}`;
            const done = await write.patch(
              CertificateSigningRequests,
              csr,
              addConditionPatch(csr, { type: 'Approved', reason: 'AnnotaryPolicy', message }, new Date()),
              'merge',
              'approval',
            );
            if (done) return write.warn(csr, done);
            return write.note(csr, 'CsrApproved', `${message} of CA Secret ${ca.caName}`);
          }
          const data = await caDataOf(signerName, ca.ref, ca.caName);
          if (isRefusal(data)) return write.warn(csr, data);
          const issued = await caIssuer(ca.caName, data).sign({
            csr: pem,
            profile: { durationMs: signedDurationMs(csr), usages, isCA: false },
            now: new Date(),
          });
          if (isRefusal(issued)) {
            // the CA itself (not a CA, key mismatch) can be fixed: wait; the request cannot: fail it
            if (issued.reason === 'IssuerNotCA')
              return write.warn(csr, refuse('CsrSignerNotCA', `signer ${signerName}: ${issued.message}`));
            return fail(csr, issued);
          }
          if (!('chain' in issued)) return; // a CA in a Secret never waits
          const done = await write.patch(CertificateSigningRequests, csr, certificatePatch(csr, issued.chain.join('')), 'merge', 'status');
          if (done) return write.warn(csr, done);
          log.info('signed a certificate signing request', { csr: name, signer: signerName, usages });
          write.note(csr, 'CsrSigned', `signed by CA Secret ${ca.caName} (${usages.join(', ')})`);
        },
      },
    ];
  },
};
