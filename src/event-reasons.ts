// Every Kubernetes Event reason annotary writes, in one table. docs/events.md is generated
// from the same rows (`annotary events`), and test/event-reasons.test.ts scans src/ so that
// every reason the code emits has a row here and every row is emitted somewhere.
// Every Warning except MissingPermission (a permission, not bad input) also counts in
// annotary_invalid_input_total{controller,reason}.
import type { EventType } from './kube/events.js';

/** What an Event is about: Workload = Deployment, StatefulSet or DaemonSet. */
export type EventOn =
  | 'Secret'
  | 'ConfigMap'
  | 'Route'
  | 'Ingress'
  | 'Workload'
  | 'Service'
  | 'CertificateSigningRequest'
  | "the operator's Pod or Lease"
  // CA injection targets: ValidatingWebhookConfiguration and MutatingWebhookConfiguration, APIService, CustomResourceDefinition
  | 'Webhooks'
  | 'APIService'
  | 'CRD';

export interface EventReasonSpec {
  reason: string;
  type: EventType;
  on: EventOn[];
  meaning: string;
}

const STORES: EventOn[] = ['Secret', 'ConfigMap'];
const TLS_SOURCE: EventOn[] = ['Route', 'Ingress'];
const INJECT: EventOn[] = ['Webhooks', 'APIService', 'CRD', 'ConfigMap', 'Secret'];

export const EVENT_REASONS: readonly EventReasonSpec[] = [
  // keystores (Secrets) and truststores (ConfigMaps)
  { reason: 'StoresUpdated', type: 'Normal', on: ['Secret'], meaning: 'keystores/truststores/cert info written' },
  { reason: 'TruststoreUpdated', type: 'Normal', on: ['ConfigMap'], meaning: 'truststores written' },
  {
    reason: 'StoresRemoved',
    type: 'Normal',
    on: STORES,
    meaning: "annotary's keys removed after the annotation went (or asks for fewer stores)",
  },
  {
    reason: 'CertificateWarning',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'stores written, but a certificate is expired or not yet valid',
  },
  {
    reason: 'CertUtilsConventionsKept',
    type: 'Normal',
    on: ['Secret'],
    meaning:
      "stores written for `annotary.io/keystores` on a Secret that still carries cert-utils-operator's annotation: " +
      "cert-utils' alias, truststore aliases, password and keystore.jks kept, except what annotary's own keys set",
  },
  {
    reason: 'InvalidAnnotation',
    type: 'Warning',
    on: ['Secret', 'ConfigMap', 'Route', 'Ingress', 'Workload'],
    meaning: 'an annotation value annotary cannot use (the message names it); on an Ingress also a name too long for its copies',
  },
  { reason: 'MissingKey', type: 'Warning', on: STORES, meaning: '`tls.crt`/`tls.key`/the CA bundle key is missing' },
  { reason: 'NoCertificate', type: 'Warning', on: ['Secret'], meaning: 'no CERTIFICATE block found (in `tls.crt` or a CA source)' },
  { reason: 'NoPrivateKey', type: 'Warning', on: ['Secret'], meaning: 'no PRIVATE KEY block found in `tls.key`' },
  {
    reason: 'MalformedPEM',
    type: 'Warning',
    on: STORES,
    meaning: 'truncated PEM, bad base64, DER that does not parse, more than one private key',
  },
  { reason: 'EncryptedKey', type: 'Warning', on: ['Secret'], meaning: 'password-protected private keys are not supported' },
  {
    reason: 'UnsupportedKeyType',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'DSA, Ed25519, curves other than P-256/P-384, RSA under 1,024 bits',
  },
  {
    reason: 'UnsupportedByJava',
    type: 'Warning',
    on: STORES,
    meaning:
      'a key Java 17 cannot read or use, as the private key or in any certificate of the chain or a CA bundle: explicit EC ' +
      'parameters instead of a named curve, EC curves other than P-256/P-384/P-521 (Java 16+ dropped secp256k1, brainpool and the ' +
      'rest), RSA keys outside 512–16384 bits or with a public exponent over 64 bits above 3072 bits',
  },
  { reason: 'KeyMismatch', type: 'Warning', on: ['Secret'], meaning: 'the key belongs to none of the certificates' },
  { reason: 'ChainBroken', type: 'Warning', on: ['Secret'], meaning: "a certificate that is not part of the leaf's chain" },
  { reason: 'EmptyCABundle', type: 'Warning', on: ['ConfigMap'], meaning: 'the bundle holds no certificates' },
  { reason: 'InputTooLarge', type: 'Warning', on: STORES, meaning: 'a PEM input over 1 MiB' },
  { reason: 'InvalidAlias', type: 'Warning', on: ['Secret'], meaning: 'alias unusable for the format' },
  {
    reason: 'InvalidPassword',
    type: 'Warning',
    on: STORES,
    meaning: 'password unusable for the format (empty; for PKCS#12, not printable ASCII)',
  },
  {
    reason: 'UnsupportedFormat',
    type: 'Warning',
    on: STORES,
    meaning:
      'a store format other than jks or pkcs12 reached the store builder (the annotation parsers refuse those first, ' +
      'as `InvalidAnnotation`)',
  },
  { reason: 'PasswordSecretMissing', type: 'Warning', on: STORES, meaning: 'the password Secret does not exist' },
  { reason: 'PasswordKeyMissing', type: 'Warning', on: STORES, meaning: 'the password Secret has no such key, or its value is empty' },
  { reason: 'TruststoreSourceMissing', type: 'Warning', on: ['Secret'], meaning: 'a `truststore-from` object or key does not exist' },
  {
    reason: 'KeyConflict',
    type: 'Warning',
    on: STORES,
    meaning:
      'a key annotary would write exists and annotary cannot prove it wrote it (generated secrets: a companion key such as ' +
      "`<key>.pub` is the user's while another is missing, or a regenerate would overwrite a user's key)",
  },
  {
    reason: 'OwnershipNotProven',
    type: 'Warning',
    on: [...STORES, ...TLS_SOURCE],
    meaning:
      '`managed-keys`/`managed-fields` (or an owner record copied from another object) names keys or fields annotary cannot ' +
      'prove it wrote: left untouched, no longer claimed',
  },
  {
    reason: 'ReferenceCycle',
    type: 'Warning',
    on: STORES,
    meaning:
      "password/truststore references lead through annotary's own outputs back to the object (the message names each hop); " +
      'nothing on the cycle is written',
  },
  {
    reason: 'StoresTooLarge',
    type: 'Warning',
    on: STORES,
    meaning: "the stores with the object's known data would exceed Kubernetes' 1 MiB limit; not rebuilt until the inputs change",
  },
  {
    reason: 'WriteRejected',
    type: 'Warning',
    on: STORES,
    meaning: 'the apiserver refused the write for good (400, 413, 422; its reason in the message); not retried until the inputs change',
  },
  // issuing (#14): certificates annotary issues into Secrets
  {
    reason: 'CertificateIssued',
    type: 'Normal',
    on: ['Secret'],
    meaning: 'a certificate issued or renewed into tls.crt/tls.key/ca.crt: why, serial, notAfter, renew-at, issuer',
  },
  {
    reason: 'UserCertificateReplaced',
    type: 'Normal',
    on: ['Secret'],
    meaning: "annotary.io/issuer was added to a Secret holding a certificate annotary did not issue: annotary's replaces it",
  },
  {
    reason: 'IssuancePending',
    type: 'Normal',
    on: ['Secret'],
    meaning: 'the issuer has not signed yet (the message says what it waits for)',
  },
  {
    reason: 'CARotation',
    type: 'Normal',
    on: ['Secret'],
    meaning: 'a step of a CA rotation: ca.crt trusts old and new CA, the leaf re-issued by the new CA, the old CA dropped',
  },
  {
    reason: 'UnknownIssuer',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'annotary.io/issuer names no issuer annotary has (not `<secret>`, `<namespace>/<secret>` or `csr:<signerName>`)',
  },
  { reason: 'IssuerNotFound', type: 'Warning', on: ['Secret'], meaning: "the issuer's CA Secret does not exist" },
  {
    reason: 'InvalidDNSName',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'a name in annotary.io/dns-names is not a DNS name (RFC 1123 labels; `*.` only as the whole first label)',
  },
  {
    reason: 'InvalidIPAddress',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'an entry of annotary.io/ip-addresses is not an IPv4 or IPv6 address',
  },
  {
    reason: 'InvalidDuration',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'duration or renew-before does not parse, or renew-before is not shorter than the duration',
  },
  {
    reason: 'ServingCertForbidden',
    type: 'Warning',
    on: ['Service'],
    meaning:
      'the install does not let annotary create the serving-certificate Secret (or the self-signed serving CA) in that namespace ' +
      '(see [Permissions](operations.md#permissions)); looked at again every minute',
  },
  {
    reason: 'CertificateNotOwned',
    type: 'Warning',
    on: ['Service'],
    meaning: 'the serving-certificate Secret exists and was not made by annotary for this Service: left alone',
  },
  {
    reason: 'IssuerNotCA',
    type: 'Warning',
    on: ['Secret'],
    meaning:
      "the issuer's CA Secret cannot sign: no certificate, no basicConstraints CA:TRUE, or a key that is not the CA's (the message names the PKI reason)",
  },
  { reason: 'NotCA', type: 'Warning', on: ['Secret'], meaning: 'a certificate used as a CA has no basicConstraints CA:TRUE' },
  {
    reason: 'InvalidName',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'a certificate would carry an IP address that does not parse, or no name at all (no common name, DNS name or IP)',
  },
  {
    reason: 'InvalidCSR',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'a PKCS#10 request that does not parse or whose signature does not verify',
  },
  // annotary as a CSR signer (on the CSR; Events of cluster-scoped objects are in namespace default)
  {
    reason: 'CsrApproved',
    type: 'Normal',
    on: ['CertificateSigningRequest'],
    meaning: "annotary approved a CSR for its signer: the CA Secret's csr-approve-* policy covers the requester, names and usages",
  },
  { reason: 'CsrSigned', type: 'Normal', on: ['CertificateSigningRequest'], meaning: 'annotary signed an approved CSR for its signer' },
  {
    reason: 'CsrSignerNotFound',
    type: 'Warning',
    on: ['CertificateSigningRequest'],
    meaning: 'the CA Secret of an `annotary.io/<namespace>.<secret>` signer does not exist (or is not watched); the CSR waits',
  },
  {
    reason: 'CsrSignerNotCA',
    type: 'Warning',
    on: ['CertificateSigningRequest'],
    meaning: "the signer's CA Secret has no tls.crt/tls.key, no basicConstraints CA:TRUE or a key that is not the CA's; the CSR waits",
  },
  {
    reason: 'CsrRequestsCA',
    type: 'Warning',
    on: ['CertificateSigningRequest'],
    meaning: 'the CSR asks for a CA certificate (basicConstraints CA:TRUE, certificate or CRL signing): marked Failed, never signed',
  },
  {
    reason: 'CsrUsageNotAllowed',
    type: 'Warning',
    on: ['CertificateSigningRequest'],
    meaning: "usages other than TLS server/client authentication, or one the CA Secret's csr-usages leaves out: marked Failed",
  },
  // the csr: issuer (on the Secret it issues into)
  {
    reason: 'CsrDenied',
    type: 'Warning',
    on: ['Secret'],
    meaning: "the CSR annotary made for the Secret was denied (the condition's reason and message); delete the CSR to ask again",
  },
  {
    reason: 'CsrFailed',
    type: 'Warning',
    on: ['Secret'],
    meaning: "the CSR's signer marked it Failed, or wrote a certificate that does not parse or is not for the requested key",
  },
  // Routes and Ingresses
  { reason: 'RouteUpdated', type: 'Normal', on: ['Route'], meaning: 'spec.tls fields set or cleared' },
  { reason: 'NoTLSSpec', type: 'Warning', on: ['Route'], meaning: 'certificates asked for, but the Route has no spec.tls' },
  {
    reason: 'UnsupportedTermination',
    type: 'Warning',
    on: ['Route'],
    meaning: 'certificates on a passthrough Route, or a destination CA on a non-reencrypt Route',
  },
  { reason: 'SourceSecretMissing', type: 'Warning', on: TLS_SOURCE, meaning: 'the referenced Secret does not exist' },
  {
    reason: 'SourceSecretInvalid',
    type: 'Warning',
    on: TLS_SOURCE,
    meaning: 'no tls.crt/tls.key/ca.crt, unparseable PEM, or a key not matching the certificate (the message names the PKI reason)',
  },
  {
    reason: 'IngressTLSUpdated',
    type: 'Normal',
    on: ['Ingress'],
    meaning: 'TLS copy, spec.tls entry or ingress-nginx annotations written or removed',
  },
  {
    reason: 'NotSharedWithNamespace',
    type: 'Warning',
    on: ['Ingress', 'Secret'],
    meaning:
      'a Secret of another namespace does not exist or does not opt in with share-with-namespaces (one answer for both: ' +
      'an Ingress cannot probe which Secrets exist elsewhere)',
  },
  {
    reason: 'CopyConflict',
    type: 'Warning',
    on: ['Ingress'],
    meaning: "a Secret with the copy's name exists and is not owned by this Ingress",
  },
  {
    reason: 'AnnotationConflict',
    type: 'Warning',
    on: ['Ingress'],
    meaning: 'an ingress-nginx annotation annotary needs is set to another value by someone else',
  },
  {
    reason: 'CopyForbidden',
    type: 'Warning',
    on: ['Ingress'],
    meaning:
      "the install does not let annotary create (or delete) the copy's Secret in the Ingress's namespace " +
      '(see [Permissions](operations.md#permissions))',
  },
  // reload
  { reason: 'Reloaded', type: 'Normal', on: ['Workload'], meaning: 'a rollout: the changed objects and the old → new digest prefix' },
  { reason: 'ReloadWatching', type: 'Normal', on: ['Workload'], meaning: 'onboarding: the digest is recorded, no rollout' },
  {
    reason: 'ReloadRecorded',
    type: 'Normal',
    on: ['Workload'],
    meaning:
      'a new digest recorded without a rollout (the set of watched objects changed, or a missing one appeared with ' +
      "`--reload-on-create=false`, or by default on a workload reloaded through Reloader's keys only)",
  },
  {
    reason: 'ReloaderValueIgnored',
    type: 'Warning',
    on: ['Workload'],
    meaning:
      'a Reloader annotation value Reloader itself ignores: a boolean Go cannot parse (counted as false) or a regular ' +
      "expression that does not compile (skipped); the rest of the workload's keys still apply",
  },
  // reload gates (#17)
  {
    reason: 'ReloadFlapping',
    type: 'Warning',
    on: ['Workload'],
    meaning:
      'the watched objects changed more often than the flap guard allows: rollouts are held until they stay unchanged for its ' +
      'duration, then one rollout follows',
  },
  {
    reason: 'RolloutWaiting',
    type: 'Normal',
    on: ['Workload'],
    meaning: 'a rollout waits: `--max-concurrent-rollouts` rollouts are in progress; it starts when one completes',
  },
  {
    reason: 'ReloadDeferred',
    type: 'Normal',
    on: ['Workload'],
    meaning: 'a rollout outside the reload-window: deferred to the time the next window opens (once per deferral)',
  },
  {
    reason: 'ReloadSourceMissing',
    type: 'Warning',
    on: ['Workload'],
    meaning: 'a watched Secret/ConfigMap does not exist (the others still roll)',
  },
  {
    reason: 'ReloadHeldBadMaterial',
    type: 'Warning',
    on: ['Workload'],
    meaning:
      'a rollout held (nothing written; it happens once the Secret is fixed): a watched TLS Secret does not parse, its ' +
      '`tls.key` does not match the first certificate of `tls.crt`, or that certificate is expired or not yet valid',
  },
  // expiry
  {
    reason: 'CertificateExpiring',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'the leaf of a kubernetes.io/tls Secret expires within the expiry-warning threshold (once per certificate)',
  },
  // generated secrets
  {
    reason: 'SecretsGenerated',
    type: 'Normal',
    on: ['Secret'],
    meaning: 'declared keys generated (the message names the keys, never a value)',
  },
  {
    reason: 'UnknownGenerateType',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'a generate declaration (or mittwald `type`) names a type annotary does not generate; nothing is written',
  },
  {
    reason: 'InvalidGenerateSpec',
    type: 'Warning',
    on: ['Secret'],
    meaning:
      'a generate declaration annotary cannot follow: a missing or unknown option, a length of 0 or over the maximum, RSA sizes other ' +
      'than 2048/3072/4096, an unknown curve, a data key two declarations write; nothing is written',
  },
  {
    reason: 'GeneratedKeyMismatch',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'the check of a generated key pair before writing failed (public half not matching the private one); nothing is written',
  },
  // CA injection and trust bundles (docs/ca-injection.md)
  { reason: 'CaInjected', type: 'Normal', on: INJECT, meaning: 'a CA bundle injected (the fields or key, and the source)' },
  {
    reason: 'CaSourceMissing',
    type: 'Warning',
    on: INJECT,
    meaning: 'the CA source (a Secret or ConfigMap of the same namespace, its key; the apiserver or serving CA) does not exist',
  },
  {
    reason: 'CaSourceNotShared',
    type: 'Warning',
    on: INJECT,
    meaning:
      'a source in another namespace (or of a cluster-scoped target) does not exist or does not opt in: share-with-namespaces, ' +
      'allow-ca-injection, or cert-manager.io/allow-direct-injection (one answer for both)',
  },
  {
    reason: 'CaSourceInvalid',
    type: 'Warning',
    on: INJECT,
    meaning: 'a source holds no certificate or malformed PEM (the message names the PKI reason and the source)',
  },
  {
    reason: 'UnsupportedInjectionTarget',
    type: 'Warning',
    on: INJECT,
    meaning: 'the key is not honoured on this kind (cert-manager keys on a ConfigMap/Secret), or a CRD without a conversion webhook',
  },
  { reason: 'BundleTooLarge', type: 'Warning', on: INJECT, meaning: 'the bundle would be over 1 MiB (Kubernetes refuses it)' },
  { reason: 'TrustBundleUpdated', type: 'Normal', on: STORES, meaning: 'a trust bundle (and its truststores) written' },
  {
    reason: 'TrustBundleDistributed',
    type: 'Normal',
    on: STORES,
    meaning: 'copies of a trust bundle created, updated or deleted in the namespaces its selector matches (counts)',
  },
  {
    reason: 'TrustBundleCopyConflict',
    type: 'Warning',
    on: STORES,
    meaning: "a ConfigMap with the copy's name exists in a selected namespace and is not annotary's copy of this bundle",
  },
  {
    reason: 'TrustBundleCopyForbidden',
    type: 'Warning',
    on: STORES,
    meaning:
      'the install does not let annotary create or delete ConfigMaps in a selected namespace (the ClusterRole ' +
      'annotary-trust-bundle-copies: overlays/trust-bundle-copies, Helm trustBundleCopies); looked at again every minute',
  },
  // the operator itself: its Pod, or outside a Pod the Lease it elects itself with
  {
    reason: 'MissingPermission',
    type: 'Warning',
    on: ["the operator's Pod or Lease"],
    meaning:
      'a controller waits: the apiserver refuses (403) the list or watch of a cache it reads; names verb, resource, group, ' +
      'scope and the RBAC rule to add',
  },
  {
    reason: 'PermissionGranted',
    type: 'Normal',
    on: ["the operator's Pod or Lease"],
    meaning: "that controller's caches synced after the grant: it runs (on the leader)",
  },
];

/** docs/events.md's table (`annotary events`). */
export function eventReasonsTable(): string {
  const rows = EVENT_REASONS.map((e) => `| \`${e.reason}\` | ${e.type} | ${e.on.join(', ')} | ${e.meaning} |`);
  return ['| reason | type | on | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
