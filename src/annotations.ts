// Every annotation key annotary reads or writes, in one table. The annotation reference
// (docs/annotations.md) is generated from the same rows (see `annotary annotations`), so code and docs
// cannot drift. Compat keys (cert-utils-operator, stakater Reloader) keep the meaning
// they have in the original tool and are ignored when --compat=false.

import type { Refusal } from './kube/refusal.js';
import { refuse } from './kube/refusal.js';

export type Origin = 'annotary' | 'cert-utils' | 'reloader' | 'secret-generator' | 'service-ca' | 'cert-manager';
export type Target =
  | 'Secret'
  | 'ConfigMap'
  | 'Route'
  | 'Ingress'
  | 'Workload'
  | 'PodTemplate'
  | 'Service'
  | 'CertificateSigningRequest'
  | 'Webhooks'
  | 'APIService'
  | 'CRD';

export interface AnnotationSpec {
  key: string;
  origin: Origin;
  on: Target[];
  /** written by annotary (status), as opposed to set by users */
  written?: boolean;
  values: string;
  description: string;
}

const CU = 'cert-utils-operator.redhat-cop.io/';
const SG = 'secret-generator.v1.mittwald.de/';

export const A = {
  // keystores (Secrets, ConfigMaps)
  keystores: 'annotary.io/keystores',
  keystorePasswordSecret: 'annotary.io/keystore-password-secret',
  keystorePassword: 'annotary.io/keystore-password',
  keystoreAlias: 'annotary.io/keystore-alias',
  pkcs12Profile: 'annotary.io/pkcs12-profile',
  storeKeys: 'annotary.io/store-keys',
  truststoreFrom: 'annotary.io/truststore-from',
  certInfo: 'annotary.io/cert-info',
  truststore: 'annotary.io/truststore',
  sourceCaKey: 'annotary.io/source-ca-key',
  sourceHash: 'annotary.io/source-hash',
  managedKeys: 'annotary.io/managed-keys',
  ownerRecord: 'annotary.io/owner-record',
  // routes and ingresses
  certsFromSecret: 'annotary.io/certs-from-secret',
  injectCa: 'annotary.io/inject-ca',
  destinationCaFromSecret: 'annotary.io/destination-ca-from-secret',
  tlsHosts: 'annotary.io/tls-hosts',
  shareWithNamespaces: 'annotary.io/share-with-namespaces',
  managedFields: 'annotary.io/managed-fields',
  // reload
  reloadOnSecrets: 'annotary.io/reload-on-secrets',
  reloadOnConfigMaps: 'annotary.io/reload-on-configmaps',
  reload: 'annotary.io/reload',
  configHash: 'annotary.io/config-hash',
  observedConfigHash: 'annotary.io/observed-config-hash',
  reloadConsumedKeysOnly: 'annotary.io/reload-consumed-keys-only',
  // reload gates (#17): flap guard, restart windows
  reloadFlapGuard: 'annotary.io/reload-flap-guard',
  reloadWindow: 'annotary.io/reload-window',
  servedNotAfter: 'annotary.io/served-not-after',
  // expiry
  expiryWarning: 'annotary.io/expiry-warning',
  // generated secrets (generate.<key>: one annotation per key, read by prefix)
  generate: 'annotary.io/generate.<key>',
  regenerate: 'annotary.io/regenerate',
  regenerated: 'annotary.io/regenerated',
  generatedKeys: 'annotary.io/generated-keys',
  generatedRecord: 'annotary.io/generated-record',
  // mittwald kubernetes-secret-generator compat
  sgAutogenerate: `${SG}autogenerate`,
  sgType: `${SG}type`,
  sgLength: `${SG}length`,
  sgEncoding: `${SG}encoding`,
  sgRegenerate: `${SG}regenerate`,
  sgBasicAuthUsername: `${SG}basic-auth-username`,
  // issuing (requests on a Secret; what annotary issued, written)
  issuer: 'annotary.io/issuer',
  dnsNames: 'annotary.io/dns-names',
  ipAddresses: 'annotary.io/ip-addresses',
  commonName: 'annotary.io/common-name',
  keyAlgorithm: 'annotary.io/key-algorithm',
  duration: 'annotary.io/duration',
  renewBefore: 'annotary.io/renew-before',
  usages: 'annotary.io/usages',
  generateCa: 'annotary.io/generate-ca',
  notAfter: 'annotary.io/not-after',
  renewAt: 'annotary.io/renew-at',
  issuedBy: 'annotary.io/issued-by',
  serial: 'annotary.io/serial',
  issuedRecord: 'annotary.io/issued-record',
  // serving certificates (Services)
  servingCertSecret: 'annotary.io/serving-cert-secret',
  // OpenShift service-ca compat
  scServingCertSecretBeta: 'service.beta.openshift.io/serving-cert-secret-name',
  scServingCertSecretAlpha: 'service.alpha.openshift.io/serving-cert-secret-name',
  scOriginatingServiceNameBeta: 'service.beta.openshift.io/originating-service-name',
  scOriginatingServiceUidBeta: 'service.beta.openshift.io/originating-service-uid',
  scOriginatingServiceNameAlpha: 'service.alpha.openshift.io/originating-service-name',
  scOriginatingServiceUidAlpha: 'service.alpha.openshift.io/originating-service-uid',
  // annotary as a CSR signer (on the CA Secret)
  csrUsages: 'annotary.io/csr-usages',
  csrApproveNamespaces: 'annotary.io/csr-approve-namespaces',
  csrApproveUsers: 'annotary.io/csr-approve-users',
  csrApproveDnsSuffixes: 'annotary.io/csr-approve-dns-suffixes',
  // the csr: issuer (written)
  csrForSecret: 'annotary.io/secret',
  // CA injection and trust bundles
  injectCaFrom: 'annotary.io/inject-ca-from',
  allowCaInjection: 'annotary.io/allow-ca-injection',
  trustBundle: 'annotary.io/trust-bundle',
  trustBundleTruststores: 'annotary.io/trust-bundle-truststores',
  trustBundleNamespaces: 'annotary.io/trust-bundle-namespaces',
  trustBundleCopyOf: 'annotary.io/trust-bundle-copy-of',
  // CA injection compat: cert-utils-operator, cert-manager's cainjector, OpenShift's service-ca
  cuInjectCaFromSecret: `${CU}injectca-from-secret`,
  cmInjectCaFromSecret: 'cert-manager.io/inject-ca-from-secret',
  cmAllowDirectInjection: 'cert-manager.io/allow-direct-injection',
  cmInjectApiserverCa: 'cert-manager.io/inject-apiserver-ca',
  ocInjectCabundle: 'service.beta.openshift.io/inject-cabundle',
  // cert-utils-operator compat
  cuGenerateJavaKeystores: `${CU}generate-java-keystores`,
  cuJavaKeystorePassword: `${CU}java-keystore-password`,
  cuGenerateCertInfo: `${CU}generate-cert-info`,
  cuGenerateJavaTruststore: `${CU}generate-java-truststore`,
  cuSourceCaKey: `${CU}source-ca-key`,
  cuCertsFromSecret: `${CU}certs-from-secret`,
  cuDestinationCaFromSecret: `${CU}destinationCA-from-secret`,
  cuInjectCa: `${CU}inject-CA`,
  cuGenerateCertExpiryAlert: `${CU}generate-cert-expiry-alert`,
  cuCertSoonToExpireThreshold: `${CU}cert-soon-to-expire-threshold`,
  cuCertSoonToExpireCheckFrequency: `${CU}cert-soon-to-expire-check-frequency`,
  cuCertExpiryCheckFrequency: `${CU}cert-expiry-check-frequency`,
  // stakater Reloader compat
  rlSecretReload: 'secret.reloader.stakater.com/reload',
  rlConfigMapReload: 'configmap.reloader.stakater.com/reload',
  rlAuto: 'reloader.stakater.com/auto',
  rlSecretAuto: 'secret.reloader.stakater.com/auto',
  rlConfigMapAuto: 'configmap.reloader.stakater.com/auto',
  rlSearch: 'reloader.stakater.com/search',
  rlMatch: 'reloader.stakater.com/match',
  rlSecretExclude: 'secrets.exclude.reloader.stakater.com/reload',
  rlConfigMapExclude: 'configmaps.exclude.reloader.stakater.com/reload',
  rlIgnore: 'reloader.stakater.com/ignore',
  // how a reload is applied (#17)
  rlRolloutStrategy: 'reloader.stakater.com/rollout-strategy',
  rlPausePeriod: 'deployment.reloader.stakater.com/pause-period',
  rlPausedAt: 'deployment.reloader.stakater.com/paused-at',
} as const;

export type AnnotationKey = (typeof A)[keyof typeof A];

export const ANNOTATIONS: AnnotationSpec[] = [
  {
    key: A.keystores,
    origin: 'annotary',
    on: ['Secret'],
    values: '`jks`, `pkcs12` or `jks,pkcs12`',
    description: 'Write keystore.jks/keystore.p12 (key + chain) and truststore.jks/truststore.p12 (CA certs) into the Secret.',
  },
  {
    key: A.keystorePasswordSecret,
    origin: 'annotary',
    on: ['Secret', 'ConfigMap'],
    values: '`<secret>/<key>` (same namespace)',
    description: 'Store password read from another Secret (preferred); its rotation regenerates the stores.',
  },
  {
    key: A.keystorePassword,
    origin: 'annotary',
    on: ['Secret', 'ConfigMap'],
    values: 'literal password',
    description: 'Store password given literally (visible to anyone who can read the object). Default `changeit`.',
  },
  {
    key: A.keystoreAlias,
    origin: 'annotary',
    on: ['Secret'],
    values: 'alias (lower-cased)',
    description: 'Alias of the private-key entry. Default `certificate`; truststore entries are `ca0`, `ca1`, ….',
  },
  {
    key: A.pkcs12Profile,
    origin: 'annotary',
    on: ['Secret', 'ConfigMap'],
    values: '`modern` or `legacy-des`',
    description:
      'Algorithms of the PKCS#12 files. Default `modern` (AES-256, PBKDF2 and an HMAC-SHA256 MAC: Java 12+, 8u301+, 11.0.12+, ' +
      "OpenSSL 3); `legacy-des` (3DES and an HMAC-SHA1 MAC, as cert-manager's `LegacyDES`) for older Java 8 and 11.",
  },
  {
    key: A.storeKeys,
    origin: 'annotary',
    on: ['Secret', 'ConfigMap'],
    values: '`<store file>=<data key>`, comma list, e.g. `keystore.jks=server.jks`',
    description:
      'The data keys the stores are written to, by their default names (keystore.jks, keystore.p12, truststore.jks, ' +
      'truststore.p12); the others keep theirs. Not an input, nor two stores on one key.',
  },
  {
    key: A.truststoreFrom,
    origin: 'annotary',
    on: ['Secret'],
    values: '`secretA,secretB,configmap/bundle`',
    description:
      "Also trust the CA certificates (ca.crt; a ConfigMap's ca-bundle.crt) of these objects in the namespace; their changes regenerate the truststore.",
  },
  {
    key: A.certInfo,
    origin: 'annotary',
    on: ['Secret'],
    values: '`true`',
    description: 'Write tls.crt.info and ca.crt.info: readable certificate details.',
  },
  {
    key: A.truststore,
    origin: 'annotary',
    on: ['ConfigMap'],
    values: '`jks`, `pkcs12` or `jks,pkcs12`',
    description: 'Write binaryData truststore.jks/truststore.p12 from the CA bundle in the ConfigMap.',
  },
  {
    key: A.sourceCaKey,
    origin: 'annotary',
    on: ['ConfigMap'],
    values: 'data key',
    description: 'Key of the CA bundle in the ConfigMap. Default `ca-bundle.crt`.',
  },
  {
    key: A.sourceHash,
    origin: 'annotary',
    on: ['Secret', 'ConfigMap'],
    written: true,
    values: 'sha256 hex',
    description: 'Digest of the inputs the stores were built from; equal to the current inputs means the Secret is consistent.',
  },
  {
    key: A.managedKeys,
    origin: 'annotary',
    on: ['Secret', 'ConfigMap'],
    written: true,
    values: 'comma list',
    description: 'Data keys annotary wrote (readable list; a claim, not a proof: see owner-record).',
  },
  {
    key: A.ownerRecord,
    origin: 'annotary',
    on: ['Secret', 'ConfigMap', 'Route', 'Ingress'],
    written: true,
    values: 'JSON: uid and a digest per written key or field',
    description:
      "Proof of what annotary wrote into this object: only keys (Route fields) it proves are ever changed or removed by annotary; copied to another object, it proves only values that are byte for byte annotary's.",
  },
  {
    key: A.certsFromSecret,
    origin: 'annotary',
    on: ['Route', 'Ingress'],
    values: 'Route: `<secret>`; Ingress: `[<namespace>/]<secret>`',
    description: 'Fill the TLS certificate and key from this kubernetes.io/tls Secret and keep them current.',
  },
  {
    key: A.injectCa,
    origin: 'annotary',
    on: ['Route'],
    values: '`true` (default) / `false`',
    description: 'With certs-from-secret: also set spec.tls.caCertificate from ca.crt.',
  },
  {
    key: A.destinationCaFromSecret,
    origin: 'annotary',
    on: ['Route', 'Ingress'],
    values: 'Route: `<secret>`; Ingress: `[<namespace>/]<secret>`',
    description: 'Route: spec.tls.destinationCACertificate from ca.crt. Ingress (ingress-nginx only): CA copy + proxy-ssl annotations.',
  },
  {
    key: A.tlsHosts,
    origin: 'annotary',
    on: ['Ingress'],
    values: 'comma list of hosts',
    description: "Hosts for annotary's spec.tls entry. Default: the hosts of the Ingress rules.",
  },
  {
    key: A.shareWithNamespaces,
    origin: 'annotary',
    on: ['Secret', 'ConfigMap'],
    values: '`ns1,ns2` or `*`',
    description:
      'Opt-in: Ingresses, CA injection into ConfigMaps/Secrets and trust bundles in these namespaces may read this object. ' +
      'Without it cross-namespace references are refused.',
  },
  {
    key: A.managedFields,
    origin: 'annotary',
    on: ['Route', 'Ingress'],
    written: true,
    values: 'comma list',
    description: 'Fields annotary filled; removing the source annotation clears exactly these (only those owner-record proves).',
  },
  {
    key: A.reloadOnSecrets,
    origin: 'annotary',
    on: ['Workload'],
    values: '`a,b`',
    description: 'Roll the workload once when one of these Secrets really changes.',
  },
  {
    key: A.reloadOnConfigMaps,
    origin: 'annotary',
    on: ['Workload'],
    values: '`c,d`',
    description: 'Roll the workload once when one of these ConfigMaps really changes.',
  },
  {
    key: A.reload,
    origin: 'annotary',
    on: ['Workload'],
    values: '`auto`',
    description: 'Roll on changes of every Secret and ConfigMap the pod template references.',
  },
  {
    key: A.configHash,
    origin: 'annotary',
    on: ['PodTemplate'],
    written: true,
    values: 'sha256 hex',
    description: 'Digest of the referenced data; changing it is the rollout.',
  },
  {
    key: A.observedConfigHash,
    origin: 'annotary',
    on: ['Workload'],
    written: true,
    values: 'sha256 hex',
    description: 'Digest recorded at onboarding, without a rollout.',
  },
  {
    key: A.reloadConsumedKeysOnly,
    origin: 'annotary',
    on: ['Workload'],
    values: '`true`, `false` (default from --reload-consumed-keys-only)',
    description:
      'Roll only when a key the pod template reads changes (env `secretKeyRef`/`configMapKeyRef` keys, volume `items`); ' +
      'turning it on or off records the new digest without a rollout.',
  },
  {
    key: A.reloadFlapGuard,
    origin: 'annotary',
    on: ['Workload'],
    values: '`<N>/<Go duration>` (`5/10m`) or `off`',
    description:
      'Flap guard: after more than N changes of the watched objects within the duration, rollouts stop (Warning ReloadFlapping); ' +
      'one rollout follows once a whole duration passed without a change. Default: --reload-flap-guard.',
  },
  {
    key: A.reloadWindow,
    origin: 'annotary',
    on: ['Workload'],
    values: '`[<days>] HH:MM-HH:MM [<zone>]` (zone `UTC`, `UTC±HH:MM`), several joined by `;`',
    description:
      'Rollouts only inside these windows (deferred to the next opening, Event ReloadDeferred), except when the certificate ' +
      'the pods serve (served-not-after) expires less than an hour after the next opening: then at once.',
  },
  {
    key: A.servedNotAfter,
    origin: 'annotary',
    on: ['Workload'],
    written: true,
    values: 'RFC 3339 time',
    description:
      "With reload-window: the earliest notAfter of the watched Secrets' tls.crt when the pods were last rolled (or onboarded), " +
      'written with observed-config-hash.',
  },
  {
    key: A.expiryWarning,
    origin: 'annotary',
    on: ['Secret'],
    values: 'duration, e.g. `720h`',
    description: 'Warning Event when the certificate expires within this duration (default from --expiry-warning).',
  },
  // CA injection and trust bundles (docs/ca-injection.md)
  {
    key: A.injectCaFrom,
    origin: 'annotary',
    on: ['Webhooks', 'APIService', 'CRD', 'ConfigMap', 'Secret'],
    values: '`<namespace>/<secret>[:<key>]` (key default `ca.crt`)',
    description:
      "Inject the Secret's CA certificates: every webhook's clientConfig.caBundle, an APIService's spec.caBundle, a CRD's conversion " +
      'webhook caBundle, or `ca-bundle.crt` of a ConfigMap/Secret. Removing it leaves the last bundle.',
  },
  {
    key: A.allowCaInjection,
    origin: 'annotary',
    on: ['Secret'],
    values: '`true`',
    description:
      "Opt-in: this Secret's CA certificates may be injected into cluster-scoped objects (webhooks, APIServices, CRDs); " +
      'ConfigMaps/Secrets of other namespaces need share-with-namespaces.',
  },
  {
    key: A.trustBundle,
    origin: 'annotary',
    on: ['ConfigMap', 'Secret'],
    values: '`secret/<ns>/<name>[:key],configmap/<ns>/<name>[:key],inline:<key>,system`',
    description: 'Write `ca-bundle.crt`: the certificates of these sources, deduplicated and sorted (byte-stable).',
  },
  {
    key: A.trustBundleTruststores,
    origin: 'annotary',
    on: ['ConfigMap', 'Secret'],
    values: '`jks`, `pkcs12` or `jks,pkcs12`',
    description: 'With trust-bundle: also truststore.jks / truststore.p12 of the bundle (password as for keystores).',
  },
  {
    key: A.trustBundleNamespaces,
    origin: 'annotary',
    on: ['ConfigMap', 'Secret'],
    values: 'label selector, e.g. `team=a,env in (prod)`',
    description: 'Copy the bundle into an owned ConfigMap of the same name in every namespace whose labels match.',
  },
  {
    key: A.trustBundleCopyOf,
    origin: 'annotary',
    on: ['ConfigMap'],
    written: true,
    values: '`<namespace>/<name>`',
    description: 'This ConfigMap is the copy of that trust bundle: annotary updates and deletes it (and no ConfigMap without it).',
  },
  {
    key: A.cuInjectCaFromSecret,
    origin: 'cert-utils',
    on: ['Webhooks', 'APIService', 'CRD', 'ConfigMap', 'Secret'],
    values: '`<namespace>/<secret>`',
    description: 'As inject-ca-from (ca.crt); on ConfigMaps and Secrets the key is `ca.crt`, as cert-utils writes it.',
  },
  {
    key: A.cmInjectCaFromSecret,
    origin: 'cert-manager',
    on: ['Webhooks', 'APIService', 'CRD'],
    values: '`<namespace>/<secret>`',
    description: 'cainjector\'s: inject ca.crt of a Secret that has cert-manager.io/allow-direct-injection: "true".',
  },
  {
    key: A.cmAllowDirectInjection,
    origin: 'cert-manager',
    on: ['Secret'],
    values: '`true`',
    description: "cainjector's opt-in of a source Secret for inject-ca-from-secret (exactly `true`, in any namespace).",
  },
  {
    key: A.cmInjectApiserverCa,
    origin: 'cert-manager',
    on: ['Webhooks', 'APIService', 'CRD'],
    values: '`true`',
    description: 'Inject the CA annotary trusts the kube-apiserver with (its kubeconfig or in-cluster ca.crt).',
  },
  {
    key: A.ocInjectCabundle,
    origin: 'service-ca',
    on: ['Webhooks', 'APIService', 'CRD', 'ConfigMap'],
    values: '`true` (any case)',
    description: "OpenShift service-ca's: inject the service serving CA; on ConfigMaps the key `service-ca.crt`.",
  },
  {
    key: A.generate,
    origin: 'annotary',
    on: ['Secret'],
    values: '`type=<type>[,option=value…]` (see [generated secrets](generated-secrets.md))',
    description: 'Generate the data key `<key>` (and its companions, e.g. `<key>.pub`) once; existing values are never overwritten.',
  },
  {
    key: A.regenerate,
    origin: 'annotary',
    on: ['Secret'],
    values: 'any new value, e.g. a timestamp',
    description: 'Generate every declared key again, once per new value (keys annotary cannot prove it wrote are refused).',
  },
  {
    key: A.regenerated,
    origin: 'annotary',
    on: ['Secret'],
    written: true,
    values: 'the regenerate value',
    description: 'The annotary.io/regenerate value last honoured.',
  },
  {
    key: A.generatedKeys,
    origin: 'annotary',
    on: ['Secret'],
    written: true,
    values: 'comma list',
    description: 'Data keys the generated-secrets controller manages (a claim, not a proof: see generated-record).',
  },
  {
    key: A.generatedRecord,
    origin: 'annotary',
    on: ['Secret'],
    written: true,
    values: 'JSON: uid and a digest per generated key',
    description:
      "The generated-secrets controller's owner record, kept apart from the stores' owner-record so that the two controllers never claim each other's keys.",
  },
  {
    key: A.issuer,
    origin: 'annotary',
    on: ['Secret'],
    values: '`<ca-secret>`, `<namespace>/<ca-secret>` or `csr:<signerName>`',
    description:
      'Issue a certificate into this Secret (tls.crt, tls.key, ca.crt) and renew it: from a CA Secret (another namespace only with its share-with-namespaces opt-in) or the Kubernetes CSR API. Added to a Secret that holds a certificate of its own, it replaces that certificate (an Event says so).',
  },
  {
    key: A.dnsNames,
    origin: 'annotary',
    on: ['Secret'],
    values: 'comma list of DNS names (`*.` wildcards)',
    description: 'DNS subject alternative names of the issued certificate.',
  },
  {
    key: A.ipAddresses,
    origin: 'annotary',
    on: ['Secret'],
    values: 'comma list of IPv4/IPv6 addresses',
    description: 'IP subject alternative names of the issued certificate.',
  },
  {
    key: A.commonName,
    origin: 'annotary',
    on: ['Secret'],
    values: 'text (≤ 64 characters)',
    description: 'Subject common name. Default: none for a leaf (names in the SAN), the Secret name for a generated CA.',
  },
  {
    key: A.keyAlgorithm,
    origin: 'annotary',
    on: ['Secret'],
    values: '`rsa-2048` (default), `rsa-3072`, `rsa-4096`, `ec-p256`, `ec-p384`',
    description: 'Key of the issued certificate; a new key on every issuance.',
  },
  {
    key: A.duration,
    origin: 'annotary',
    on: ['Secret'],
    values: 'duration, e.g. `2160h` or `90d`',
    description: 'Lifetime of the issued certificate. Default 90d (a generated CA: 3650d).',
  },
  {
    key: A.renewBefore,
    origin: 'annotary',
    on: ['Secret'],
    values: 'duration, shorter than duration',
    description: 'Renew this long before notAfter (less a deterministic jitter of up to a tenth of it). Default a third of the duration.',
  },
  {
    key: A.usages,
    origin: 'annotary',
    on: ['Secret'],
    values: '`server`, `client` or `server,client` (default)',
    description: 'Extended key usages of the issued certificate.',
  },
  {
    key: A.generateCa,
    origin: 'annotary',
    on: ['Secret'],
    values: '`true`',
    description:
      'Make this Secret a self-signed root CA (a `ca` issuer for others), renewed like any certificate: a renewal is a CA rotation.',
  },
  {
    key: A.notAfter,
    origin: 'annotary',
    on: ['Secret'],
    written: true,
    values: 'RFC 3339 time',
    description: 'notAfter of the certificate annotary issued.',
  },
  {
    key: A.renewAt,
    origin: 'annotary',
    on: ['Secret'],
    written: true,
    values: 'RFC 3339 time',
    description: 'When annotary renews it (notAfter − renew-before − jitter).',
  },
  {
    key: A.issuedBy,
    origin: 'annotary',
    on: ['Secret'],
    written: true,
    values: '`<namespace>/<ca-secret>`, `csr:<signerName>`, `self`',
    description: 'The issuer of the certificate annotary wrote.',
  },
  {
    key: A.serial,
    origin: 'annotary',
    on: ['Secret'],
    written: true,
    values: 'hex',
    description: 'Serial number of the certificate annotary wrote.',
  },
  {
    key: A.issuedRecord,
    origin: 'annotary',
    on: ['Secret'],
    written: true,
    values: 'JSON',
    description:
      'Proof of the certificate annotary issued here (uid, digests of tls.crt, tls.key, ca.crt, the request, the CA) and the state of a CA rotation.',
  },
  {
    key: A.servingCertSecret,
    origin: 'annotary',
    on: ['Service'],
    values: 'Secret name',
    description:
      'A kubernetes.io/tls Secret of that name with a certificate for `<svc>.<ns>.svc` and `<svc>.<ns>.svc.cluster.local` (pod wildcards for a headless Service) from the serving CA (--serving-ca).',
  },
  {
    key: A.scServingCertSecretBeta,
    origin: 'service-ca',
    on: ['Service'],
    values: 'Secret name',
    description: 'As annotary.io/serving-cert-secret (OpenShift service-ca); the Secret also gets the originating-service annotations.',
  },
  {
    key: A.scServingCertSecretAlpha,
    origin: 'service-ca',
    on: ['Service'],
    values: 'Secret name',
    description: 'The alpha spelling of the above (OpenShift 3.x).',
  },
  {
    key: A.scOriginatingServiceNameBeta,
    origin: 'service-ca',
    on: ['Secret'],
    written: true,
    values: 'Service name',
    description: 'On a serving-certificate Secret made for the beta key: the Service it is for (as service-ca writes it).',
  },
  {
    key: A.scOriginatingServiceUidBeta,
    origin: 'service-ca',
    on: ['Secret'],
    written: true,
    values: 'uid',
    description: 'The uid of that Service.',
  },
  {
    key: A.scOriginatingServiceNameAlpha,
    origin: 'service-ca',
    on: ['Secret'],
    written: true,
    values: 'Service name',
    description: 'As above, for the alpha key.',
  },
  {
    key: A.scOriginatingServiceUidAlpha,
    origin: 'service-ca',
    on: ['Secret'],
    written: true,
    values: 'uid',
    description: 'As above, for the alpha key.',
  },
  {
    key: A.csrUsages,
    origin: 'annotary',
    on: ['Secret'],
    values: '`server`, `client` or `server,client` (default)',
    description:
      'On a CA Secret: what annotary signs for CSRs addressed to its signer `annotary.io/<namespace>.<secret>`, whoever approved them.',
  },
  {
    key: A.csrApproveNamespaces,
    origin: 'annotary',
    on: ['Secret'],
    values: '`ns1,ns2`',
    description:
      "On a CA Secret: annotary approves its signer's CSRs from ServiceAccounts of these namespaces (see csr-approve-dns-suffixes).",
  },
  {
    key: A.csrApproveUsers,
    origin: 'annotary',
    on: ['Secret'],
    values: '`user1,user2`',
    description: "On a CA Secret: annotary approves its signer's CSRs from these usernames (see csr-approve-dns-suffixes).",
  },
  {
    key: A.csrApproveDnsSuffixes,
    origin: 'annotary',
    on: ['Secret'],
    values: '`team-a.svc,example.com`',
    description:
      'On a CA Secret: a CSR annotary approves by itself has every DNS name and its CN under one of these (none: no names) and no IP address.',
  },
  {
    key: A.csrForSecret,
    origin: 'annotary',
    on: ['CertificateSigningRequest'],
    written: true,
    values: '`<namespace>/<secret>`',
    description: 'On a CSR annotary made for `annotary.io/issuer: csr:<signer>`: the Secret it is for (also label annotary.io/secret-uid).',
  },
  {
    key: A.cuGenerateJavaKeystores,
    origin: 'cert-utils',
    on: ['Secret'],
    values: '`true`',
    description: 'keystore.jks (alias `alias`) and truststore.jks (`alias0`…); removing it removes both.',
  },
  {
    key: A.cuJavaKeystorePassword,
    origin: 'cert-utils',
    on: ['Secret'],
    values: 'literal password',
    description: 'Password for the cert-utils stores. Default `changeme`.',
  },
  { key: A.cuGenerateCertInfo, origin: 'cert-utils', on: ['Secret'], values: '`true`', description: 'tls.crt.info and ca.crt.info.' },
  {
    key: A.cuGenerateJavaTruststore,
    origin: 'cert-utils',
    on: ['ConfigMap'],
    values: '`true`',
    description: 'binaryData truststore.jks from the CA bundle.',
  },
  {
    key: A.cuSourceCaKey,
    origin: 'cert-utils',
    on: ['ConfigMap'],
    values: 'data key',
    description: 'CA bundle key. Default `ca-bundle.crt`.',
  },
  {
    key: A.cuCertsFromSecret,
    origin: 'cert-utils',
    on: ['Route'],
    values: '`<secret>`',
    description: 'As annotary.io/certs-from-secret on Routes (edge/reencrypt only).',
  },
  {
    key: A.cuDestinationCaFromSecret,
    origin: 'cert-utils',
    on: ['Route'],
    values: '`<secret>`',
    description: 'As annotary.io/destination-ca-from-secret on Routes.',
  },
  {
    key: A.cuInjectCa,
    origin: 'cert-utils',
    on: ['Route'],
    values: 'present and not `false`',
    description: 'Also inject ca.crt as spec.tls.caCertificate (off unless present).',
  },
  {
    key: A.cuGenerateCertExpiryAlert,
    origin: 'cert-utils',
    on: ['Secret'],
    values: '`true`',
    description:
      "The CertificateExpiring Warning with cert-utils' threshold and repetition (the keys below); annotary warns for every TLS " +
      'Secret anyway, at annotary.io/expiry-warning or --expiry-warning, once per certificate.',
  },
  {
    key: A.cuCertSoonToExpireThreshold,
    origin: 'cert-utils',
    on: ['Secret'],
    values: 'Go duration, e.g. `2160h`',
    description: 'With generate-cert-expiry-alert: warn when the certificate expires within this. Default 90 days.',
  },
  {
    key: A.cuCertSoonToExpireCheckFrequency,
    origin: 'cert-utils',
    on: ['Secret'],
    values: 'Go duration, e.g. `1h`',
    description:
      'With generate-cert-expiry-alert: repeat the Warning this often while the certificate is within the threshold. Default 1h.',
  },
  {
    key: A.cuCertExpiryCheckFrequency,
    origin: 'cert-utils',
    on: ['Secret'],
    values: 'Go duration',
    description:
      'Accepted and not needed: annotary looks again at the moment the threshold is crossed (cert-utils polls, default every 7 days).',
  },
  {
    key: A.rlSecretReload,
    origin: 'reloader',
    on: ['Workload', 'PodTemplate'],
    values: '`a,b` (anchored RE2 regexps)',
    description: 'Roll when a named Secret changes.',
  },
  {
    key: A.rlConfigMapReload,
    origin: 'reloader',
    on: ['Workload', 'PodTemplate'],
    values: '`c` (anchored RE2 regexps)',
    description: 'Roll when a named ConfigMap changes.',
  },
  {
    key: A.rlAuto,
    origin: 'reloader',
    on: ['Workload', 'PodTemplate'],
    values: '`true`',
    description: 'Roll on every referenced Secret and ConfigMap.',
  },
  {
    key: A.rlSecretAuto,
    origin: 'reloader',
    on: ['Workload', 'PodTemplate'],
    values: '`true`',
    description: 'Roll on every referenced Secret.',
  },
  {
    key: A.rlConfigMapAuto,
    origin: 'reloader',
    on: ['Workload', 'PodTemplate'],
    values: '`true`',
    description: 'Roll on every referenced ConfigMap.',
  },
  {
    key: A.rlSearch,
    origin: 'reloader',
    on: ['Workload', 'PodTemplate'],
    values: '`true`',
    description: 'Roll only for referenced objects annotated reloader.stakater.com/match.',
  },
  {
    key: A.rlMatch,
    origin: 'reloader',
    on: ['Secret', 'ConfigMap'],
    values: '`true`',
    description: 'This object triggers workloads in search mode.',
  },
  {
    key: A.rlSecretExclude,
    origin: 'reloader',
    on: ['Workload', 'PodTemplate'],
    values: '`a,b`',
    description: 'Never roll for these Secrets.',
  },
  {
    key: A.rlConfigMapExclude,
    origin: 'reloader',
    on: ['Workload', 'PodTemplate'],
    values: '`c`',
    description: 'Never roll for these ConfigMaps.',
  },
  {
    key: A.rlIgnore,
    origin: 'reloader',
    on: ['Secret', 'ConfigMap'],
    values: '`true`',
    description: 'This object never triggers a rollout.',
  },
  {
    key: A.rlRolloutStrategy,
    origin: 'reloader',
    on: ['Workload'],
    values: '`restart` or `rollout` (default)',
    description:
      'Argo Rollouts only: `restart` sets spec.restartAt (Argo restarts the pods, no new revision); anything else changes the pod template.',
  },
  {
    key: A.rlPausePeriod,
    origin: 'reloader',
    on: ['Workload'],
    values: 'a Go duration (`5m`, `1h30m`)',
    description:
      'Deployments only: a rollout also pauses the Deployment (spec.paused) for this long, so changes within it roll once, at the resume.',
  },
  {
    key: A.rlPausedAt,
    origin: 'reloader',
    on: ['Workload'],
    written: true,
    values: 'RFC 3339 time',
    description: 'When the pause of pause-period began; the Deployment is resumed (and this removed) once the period has passed.',
  },
  {
    key: A.sgAutogenerate,
    origin: 'secret-generator',
    on: ['Secret'],
    values: '`field1,field2`',
    description: 'Type `string`: generate these data keys (random bytes, encoded, cut to `length` characters); set values are kept.',
  },
  {
    key: A.sgType,
    origin: 'secret-generator',
    on: ['Secret'],
    values: '`string` (default), `ssh-keypair`, `basic-auth`',
    description: '`ssh-keypair`: ssh-privatekey (PKCS#1 PEM) and ssh-publickey; `basic-auth`: auth (htpasswd line), username, password.',
  },
  {
    key: A.sgLength,
    origin: 'secret-generator',
    on: ['Secret'],
    values: '`<n>` or `<n>B`',
    description: 'String length in characters (default 40); with B, n random bytes encoded whole; ssh-keypair: RSA bits (default 2048).',
  },
  {
    key: A.sgEncoding,
    origin: 'secret-generator',
    on: ['Secret'],
    values: '`base64` (default), `base64url`, `base32`, `hex`, `raw`',
    description: 'Encoding of the random bytes of string and basic-auth values.',
  },
  {
    key: A.sgRegenerate,
    origin: 'secret-generator',
    on: ['Secret'],
    values: 'string: `yes`/`true` or `field1,field2`; others: any value',
    description: 'Regenerate once (all fields, or the named ones); annotary removes the annotation afterwards, as mittwald does.',
  },
  {
    key: A.sgBasicAuthUsername,
    origin: 'secret-generator',
    on: ['Secret'],
    values: 'user name',
    description: 'User of the basic-auth htpasswd line. Default `admin`.',
  },
];

/** docs/annotations.md's table (`annotary annotations`). */
export function annotationsTable(): string {
  const rows = ANNOTATIONS.map(
    (a) => `| \`${a.key}\` | ${a.on.join(', ')} | ${a.origin}${a.written ? ' (written)' : ''} | ${a.values} | ${a.description} |`,
  );
  return ['| key | on | origin | values | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

const ORIGIN_OF = new Map(ANNOTATIONS.map((a) => [a.key, a.origin]));

/**
 * Reads annotations with the compat switch applied: with compat off, cert-utils and
 * Reloader keys read as absent, so every controller honours --compat the same way.
 */
export class AnnotationReader {
  constructor(readonly compat: boolean) {}

  get(annotations: Record<string, string> | undefined, key: AnnotationKey): string | undefined {
    if (!this.compat && ORIGIN_OF.get(key) !== 'annotary') return undefined;
    return annotations?.[key];
  }

  /** A flag-like annotation: "true" (case-insensitive, trimmed); exactly "true" for Reloader's keys, which Reloader compares so */
  isTrue(annotations: Record<string, string> | undefined, key: AnnotationKey): boolean {
    const v = this.get(annotations, key);
    return ORIGIN_OF.get(key) === 'reloader' ? v === 'true' : v?.trim().toLowerCase() === 'true';
  }

  /** Whether any key the operator reads (not writes) is present. */
  hasAny(annotations: Record<string, string> | undefined): boolean {
    if (!annotations) return false;
    return Object.keys(annotations).some((k) => {
      const origin = ORIGIN_OF.get(k);
      return origin !== undefined && (this.compat || origin === 'annotary');
    });
  }
}

/**
 * The one rule for boolean annotation values, by the key's origin in the table: Reloader's
 * keys take exactly what Go's strconv.ParseBool takes (as Reloader parses them), the others
 * true or false (any case, trimmed). Absent or empty: `empty`. Anything else is refused; the
 * reload controller turns a refused Reloader value into false and a Warning, as Reloader
 * counts it false (reloader-rules.ts).
 */
export function parseBoolValue(value: string | undefined, key: AnnotationKey, empty = false): boolean | Refusal {
  if (value === undefined) return false;
  if (ORIGIN_OF.get(key) === 'reloader') {
    if (value === '') return empty;
    if (GO_TRUE.has(value)) return true;
    if (GO_FALSE.has(value)) return false;
    return refuse('InvalidAnnotation', `${key}: "${value}" is not a Go boolean (true, false, 1, 0, t, f, True, FALSE, ...)`);
  }
  const v = value.trim().toLowerCase();
  if (v === '') return empty;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return refuse('InvalidAnnotation', `${key}: "${value}" is not true or false`);
}

// what Go's strconv.ParseBool accepts, which Reloader parses its boolean keys with: exactly these
// spellings, case and blanks included
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration (the durations of Reloader's and cert-utils-operator's keys), in milliseconds: "1h30m", "1.5s", ".5m", "300ms", "0"; undefined when Go refuses it. */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest) {
    // a number (digits, then optionally "." and digits; at least one digit in all), then a unit:
    // everything up to the next digit or "."
    const m = /^(\d*)(\.\d*)?([^\d.]+)/.exec(rest);
    if (!m || (m[1] === '' && (m[2] === undefined || m[2] === '.'))) return undefined;
    const unit = UNIT_MS[m[3]];
    if (unit === undefined) return undefined;
    total += Number(`${m[1] || '0'}${m[2] ?? ''}`) * unit;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

/** Splits a comma list, trimming blanks: "a, b,,c" → ["a","b","c"]. */
export function commaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
