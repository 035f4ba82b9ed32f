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
    meaning: 'a key annotary would write exists and annotary cannot prove it wrote it',
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
    on: ['Ingress'],
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
      '`--reload-on-create=false`)',
  },
  {
    reason: 'ReloadSourceMissing',
    type: 'Warning',
    on: ['Workload'],
    meaning: 'a watched Secret/ConfigMap does not exist (the others still roll)',
  },
  // expiry
  {
    reason: 'CertificateExpiring',
    type: 'Warning',
    on: ['Secret'],
    meaning: 'the leaf of a kubernetes.io/tls Secret expires within the expiry-warning threshold (once per certificate)',
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
