// Truststores from CA bundles in ConfigMaps (`annotary.io/truststore`, cert-utils'
// `generate-java-truststore`). Written to binaryData; same ownership rules as the
// Secret keystores: only keys annotary proves it wrote are ever changed (managed-keys.ts).
import { A, commaList } from '../annotations.js';
import type { ControllerModule } from './context.js';
import type { TruststoreSpec } from './store-specs.js';
import { cycleRefusal, findStoreCycle, parseTruststoreSpec, storeKeyOf } from './store-specs.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import { cachedStoreDeps, resolvePassword, storeRefs, valueReader } from './cache-reads.js';
import type { ManagedChange, OwnerRecord } from './managed-keys.js';
import {
  configMapSizes,
  diffManagedKeys,
  parseOwnerRecord,
  reportManagedChange,
  writeFingerprint,
  writeManagedChange,
  writtenKeysIntact,
} from './managed-keys.js';
import { RejectedWrites } from '../kube/rejections.js';
import { digestOfParts, valueDigest } from '../kube/slim.js';
import { ConfigMaps, objectKey } from '../kube/types.js';
import { PkiError } from '../pki/errors.js';
import { buildTruststore } from '../pki/stores.js';

const CONTROLLER = 'truststores';

/** binaryData the ConfigMap should hold; undefined when it already does. */
export function desiredTruststoreData(o: {
  spec: TruststoreSpec | undefined;
  bundle: string | undefined;
  password: string | undefined;
  /** digests of the ConfigMap's current keys */
  digests: Record<string, string>;
  uid?: string;
  managed: string[];
  record?: OwnerRecord;
  inputsHash: string;
  currentHash?: string;
}): ManagedChange | Refusal | undefined {
  const want: Record<string, string> = {};
  if (o.spec) {
    if (o.bundle === undefined) return refuse('MissingKey', `the ConfigMap has no key "${o.spec.sourceKey}"`);
    try {
      for (const [k, v] of Object.entries(
        buildTruststore(o.bundle, o.password ?? '', o.spec.formats, o.spec.aliasPrefix, o.spec.pkcs12Profile),
      ))
        want[storeKeyOf(o.spec, k)] = v.toString('base64');
    } catch (err) {
      if (err instanceof PkiError) return refuse(err.reason, err.message);
      throw err;
    }
  }
  return diffManagedKeys({
    uid: o.uid,
    record: o.record,
    currentDigests: o.digests,
    want,
    managed: o.managed,
    inputsHash: o.inputsHash,
    currentHash: o.currentHash,
    takeover: o.spec?.handover,
  });
}

function inputsHash(spec: TruststoreSpec | undefined, bundleDigest: string | undefined, passwordDigest: string | undefined): string {
  // the hand-over is how the keys are claimed, not what they hold: outside the hash
  const what = spec && { ...spec, password: undefined, handover: undefined };
  return digestOfParts([JSON.stringify(what) ?? '-', bundleDigest ?? '-', passwordDigest ?? '-']);
}

export const truststoresController: ControllerModule = {
  name: CONTROLLER,
  declare(ctx) {
    const { caches, annotations: reader, config } = ctx;
    const configMaps = caches.configMaps();
    const secrets = caches.secrets();
    const read = valueReader(ctx, caches);
    const write = ctx.writer(CONTROLLER);
    const rejected = new RejectedWrites();

    return [
      {
        name: CONTROLLER,
        for: configMaps,
        filter: (c) =>
          [A.truststore, A.cuGenerateJavaTruststore, A.managedKeys, A.ownerRecord].some(
            (k) => reader.get(c.metadata.annotations, k) !== undefined,
          ),
        watches: [{ source: secrets, refsOf: storeRefs('ConfigMap', reader, config.defaultPassword)('Secret') }],
        async reconcile({ namespace, name }) {
          const key = objectKey(namespace, name);
          const cm = configMaps.get(key);
          if (!cm || cm.metadata.deletionTimestamp) return rejected.forget(key);
          const ann = cm.metadata.annotations;
          const spec = parseTruststoreSpec(ann, reader, config.defaultPassword);
          if (isRefusal(spec)) return write.warn(cm, spec);
          const managed = commaList(ann?.[A.managedKeys]);
          const record = parseOwnerRecord(ann?.[A.ownerRecord]);
          if (!spec && managed.length === 0 && !record) return;
          const cycle = findStoreCycle({ kind: 'ConfigMap', name }, cachedStoreDeps(caches, namespace, reader, config.defaultPassword));
          if (cycle) return write.warn(cm, cycleRefusal({ kind: 'ConfigMap', name }, cycle));
          const pwDigest = !spec
            ? undefined
            : 'literal' in spec.password
              ? valueDigest(spec.password.literal)
              : secrets.get(objectKey(namespace, spec.password.secret))?.digests[spec.password.key];
          const hash = inputsHash(spec, spec && cm.digests[spec.sourceKey], pwDigest);
          if (ann?.[A.sourceHash] === hash && writtenKeysIntact(cm.metadata, cm.digests)) return;
          if (rejected.blocks(key, writeFingerprint(hash, cm.digests))) return; // refused for good with exactly these inputs
          let password: string | undefined;
          if (spec) {
            const pw = await resolvePassword(spec.password, namespace, read);
            if (isRefusal(pw)) return write.warn(cm, pw);
            password = pw;
          }
          const change = desiredTruststoreData({
            spec,
            bundle: spec ? cm.data?.[spec.sourceKey] : undefined,
            password,
            digests: cm.digests,
            uid: cm.metadata.uid,
            managed,
            record,
            inputsHash: hash,
            currentHash: ann?.[A.sourceHash],
          });
          if (change === undefined) return;
          if (isRefusal(change)) return write.warn(cm, change);
          const target = { rt: ConfigMaps, obj: cm, field: 'binaryData', knownSizes: configMapSizes(cm) } as const;
          if (!(await writeManagedChange(write, rejected, target, change))) return;
          reportManagedChange(write, cm, change, 'TruststoreUpdated');
        },
      },
    ];
  },
};
