// Keystores and truststores from TLS Secrets.
//
// Pure part: desiredKeystoreData (inputs → the exact data keys to set/remove, or nothing).
// What the annotations ask for and the digest of every input (keystoreInputsHash, which
// the reload controller uses to wait for consistent stores) live in store-specs.ts.
import { A, commaList } from '../annotations.js';
import type { ControllerContext, ControllerModule } from './context.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import { Secrets, objectKey } from '../kube/types.js';
import { cachedDigests, cachedStoreDeps, pemText, resolvePassword, storeRefs, valueReader } from './cache-reads.js';
import type { SecretWants } from './store-specs.js';
import {
  CERT_INFO_KEYS,
  KEYSTORE_INPUTS,
  cycleRefusal,
  findStoreCycle,
  keystoreAnnotated,
  keystoreInputsHash,
  parseKeystoreSpec,
  storeKeyOf,
} from './store-specs.js';
import type { ManagedChange, OwnerRecord } from './managed-keys.js';
import {
  diffManagedKeys,
  parseOwnerRecord,
  reportManagedChange,
  writeFingerprint,
  writeManagedChange,
  writtenKeysIntact,
} from './managed-keys.js';
import { RejectedWrites } from '../kube/rejections.js';
import { PkiError } from '../pki/errors.js';
import { buildStores } from '../pki/stores.js';
import { describeChain } from '../pki/certinfo.js';
import { parseCertificates } from '../pki/pem.js';

export const CONTROLLER = 'keystores';

export interface KeystoreObserved {
  wants: SecretWants;
  /** the Secret's inputs (base64 values): tls.crt, tls.key, ca.crt, when present */
  data: Record<string, string>;
  /** digests of every data key (the cache keeps the inputs' values only) */
  digests: Record<string, string>;
  /** the Secret's uid, what its owner record must be bound to */
  uid?: string;
  /** keys claimed for annotary (annotary.io/managed-keys) */
  managed: string[];
  /** annotary.io/owner-record, parsed: what annotary proves it wrote */
  record?: OwnerRecord;
  password?: string;
  extraTrustPem: string[];
  inputsHash: string;
  currentHash?: string;
}

export interface DataChange extends ManagedChange {
  warnings: string[];
}

const [CRT_INFO, CA_INFO] = CERT_INFO_KEYS;
const certInfoText = (pem: string) => describeChain(parseCertificates(pem));

/**
 * The heart of the controller: which data keys should hold what. Returns undefined when
 * the Secret already holds exactly that (byte-stable stores make this the common case),
 * a Refusal for bad input (nothing is written), or the minimal change.
 */
export function desiredKeystoreData(o: KeystoreObserved): DataChange | Refusal | undefined {
  const want: Record<string, string> = {};
  const warnings: string[] = [];
  const spec = o.wants.stores;
  try {
    if (spec) {
      const certPem = pemText(o.data['tls.crt']);
      const keyPem = pemText(o.data['tls.key']);
      if (!certPem) return refuse('MissingKey', 'the Secret has no tls.crt');
      if (!keyPem) return refuse('MissingKey', 'the Secret has no tls.key');
      const built = buildStores({
        certPem,
        keyPem,
        caPem: pemText(o.data['ca.crt']),
        extraTrustPem: o.extraTrustPem,
        password: o.password ?? '',
        alias: spec.alias,
        formats: spec.formats,
        trustAliasPrefix: spec.trustAliasPrefix,
        pkcs12Profile: spec.pkcs12Profile,
      });
      warnings.push(...built.warnings);
      for (const [k, v] of Object.entries(built.files)) want[storeKeyOf(spec, k)] = v.toString('base64');
    }
    if (o.wants.certInfo) {
      const crt = pemText(o.data['tls.crt']);
      const ca = pemText(o.data['ca.crt']);
      if (crt) want[CRT_INFO] = Buffer.from(certInfoText(crt)).toString('base64');
      if (ca && ca.trim()) want[CA_INFO] = Buffer.from(certInfoText(ca)).toString('base64');
    }
  } catch (err) {
    if (err instanceof PkiError) return refuse(err.reason, err.message);
    throw err;
  }
  const change = diffManagedKeys({
    uid: o.uid,
    record: o.record,
    currentDigests: o.digests,
    want,
    managed: o.managed,
    inputsHash: o.inputsHash,
    currentHash: o.currentHash,
    takeover: o.wants.handover,
  });
  return change && !isRefusal(change) ? { ...change, warnings } : change;
}

/** The declaration: keystore Secrets, and the password Secrets and trust sources they read. */
export const keystoresController: ControllerModule = {
  name: CONTROLLER,
  declare(ctx: ControllerContext) {
    const { caches, annotations: reader, config, log } = ctx;
    caches.keepSecretData((a) => keystoreAnnotated(a, reader), KEYSTORE_INPUTS);
    const secrets = caches.secrets();
    const write = ctx.writer(CONTROLLER);
    const rejected = new RejectedWrites();
    const read = valueReader(ctx, caches);
    const refsOf = storeRefs('Secret', reader, config.defaultPassword);

    return [
      {
        name: CONTROLLER,
        for: secrets,
        filter: (s) => keystoreAnnotated(s.metadata.annotations, reader),
        watches: [
          { source: secrets, refsOf: refsOf('Secret') },
          { source: caches.configMaps(), refsOf: refsOf('ConfigMap') },
        ],
        async reconcile({ namespace, name }) {
          const key = objectKey(namespace, name);
          const secret = secrets.get(key);
          if (!secret || secret.metadata.deletionTimestamp) return rejected.forget(key);
          const ann = secret.metadata.annotations;
          const wants = parseKeystoreSpec(ann, reader, config.defaultPassword);
          if (isRefusal(wants)) return write.warn(secret, wants);
          const spec = wants.stores;
          const managed = commaList(ann?.[A.managedKeys]);
          const record = parseOwnerRecord(ann?.[A.ownerRecord]);
          if (!spec && !wants.certInfo && managed.length === 0 && !record) return;
          const cycle = findStoreCycle({ kind: 'Secret', name }, cachedStoreDeps(caches, namespace, reader, config.defaultPassword));
          if (cycle) return write.warn(secret, cycleRefusal({ kind: 'Secret', name }, cycle));
          const inputsHash = keystoreInputsHash(wants, secret.digests, cachedDigests(caches, namespace));
          if (isRefusal(inputsHash)) return write.warn(secret, inputsHash);
          // fast path: stores were built from exactly these inputs and hold what annotary wrote
          if (ann?.[A.sourceHash] === inputsHash && writtenKeysIntact(secret.metadata, secret.digests)) return;
          // refused for good with exactly these inputs and data: neither rebuilt nor sent again
          if (rejected.blocks(key, writeFingerprint(inputsHash, secret.digests))) return;

          let password: string | undefined;
          if (spec) {
            const pw = await resolvePassword(spec.password, namespace, read);
            if (isRefusal(pw)) return write.warn(secret, pw);
            password = pw;
          }
          const extraTrustPem: string[] = [];
          for (const ref of spec?.trustFrom ?? []) {
            const pem = await read(ref.kind, namespace, ref.name, ref.key, pemText);
            if (pem === undefined)
              return write.warn(secret, refuse('TruststoreSourceMissing', `${ref.kind} "${ref.name}" has no key "${ref.key}"`));
            extraTrustPem.push(pem);
          }
          const change = desiredKeystoreData({
            wants,
            data: secret.data ?? {},
            digests: secret.digests,
            uid: secret.metadata.uid,
            managed,
            record,
            password,
            extraTrustPem,
            inputsHash,
            currentHash: ann?.[A.sourceHash],
          });
          if (change === undefined) return;
          if (isRefusal(change)) return write.warn(secret, change);
          // the cache keeps the inputs' values: their sizes count, other keys' the apiserver checks
          const knownSizes = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').length]));
          if (!(await writeManagedChange(write, rejected, { rt: Secrets, obj: secret, field: 'data', knownSizes }, change))) return;
          for (const w of change.warnings) write.warn(secret, refuse('CertificateWarning', w));
          reportManagedChange(write, secret, change, 'StoresUpdated');
          if (wants.keptCertUtils && Object.keys(change.set).length) {
            const what = wants.keptCertUtils.join(', ');
            write.note(secret, 'CertUtilsConventionsKept', `cert-utils-operator's annotation is still here: kept ${what}`);
          }
          log.debug('secret updated', { key, set: Object.keys(change.set), removed: change.remove });
        },
      },
    ];
  },
};
