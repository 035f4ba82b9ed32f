// Truststores from CA bundles in ConfigMaps (`annotary.io/truststore`, cert-utils'
// `generate-java-truststore`). Written to binaryData; same ownership rules as the
// Secret keystores: only keys listed in annotary.io/managed-keys are ever changed.
import { createHash } from 'node:crypto';
import { A, commaList } from '../annotations.js';
import type { ControllerModule } from './context.js';
import type { TruststoreSpec } from './store-specs.js';
import { cycleRefusal, findStoreCycle, parseTruststoreSpec, refKey } from './store-specs.js';
import type { Refusal } from './refusal.js';
import { isRefusal, refuse } from './refusal.js';
import { cachedStoreDeps, reportRefusal, resolvePassword, valueReader } from './sources.js';
import type { ManagedChange, OwnerRecord } from './managed-keys.js';
import {
  applyManagedKeys, checkDataSize, diffManagedKeys, digestOfDigests, parseOwnerRecord, reportManagedChange, writtenKeysIntact,
} from './managed-keys.js';
import { RejectedWrites } from '../kube/rejections.js';
import { ReferenceIndex } from '../kube/refindex.js';
import type { SlimData } from '../kube/slim.js';
import { valueDigest } from '../kube/slim.js';
import { ConfigMaps, objectKey, splitKey } from '../kube/types.js';
import { PkiError } from '../pki/errors.js';
import { buildTruststore } from '../pki/stores.js';

const CONTROLLER = 'truststores';

/** binaryData the ConfigMap should hold; undefined when it already does. */
export function desiredTruststoreData(o: {
  spec: TruststoreSpec | undefined; bundle: string | undefined; password: string | undefined;
  /** digests of the ConfigMap's current keys */
  digests: Record<string, string>; uid?: string; managed: string[]; record?: OwnerRecord; inputsHash: string; currentHash?: string;
}): ManagedChange | Refusal | undefined {
  const want: Record<string, string> = {};
  if (o.spec) {
    if (o.bundle === undefined) return refuse('MissingKey', `the ConfigMap has no key "${o.spec.sourceKey}"`);
    try {
      for (const [k, v] of Object.entries(buildTruststore(o.bundle, o.password ?? '', o.spec.formats, o.spec.aliasPrefix))) want[k] = v.toString('base64');
    } catch (err) {
      if (err instanceof PkiError) return refuse(err.reason, err.message);
      throw err;
    }
  }
  return diffManagedKeys({
    uid: o.uid, record: o.record, currentDigests: o.digests, want, managed: o.managed, inputsHash: o.inputsHash, currentHash: o.currentHash,
  });
}

/** Decoded size of each value: ConfigMaps are cached whole. */
function configMapSizes(cm: SlimData): Record<string, number> {
  return {
    ...Object.fromEntries(Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.byteLength(v)])),
    ...Object.fromEntries(Object.entries(cm.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').length])),
  };
}

function inputsHash(spec: TruststoreSpec | undefined, bundleDigest: string | undefined, passwordDigest: string | undefined): string {
  return createHash('sha256').update(JSON.stringify([spec && { ...spec, password: undefined }, bundleDigest, passwordDigest])).digest('hex').slice(0, 32);
}

export const truststoresController: ControllerModule = {
  name: CONTROLLER,
  async setup(ctx) {
    const { caches, annotations: reader, config } = ctx;
    const configMaps = caches.configMaps();
    const secrets = caches.secrets();
    const read = valueReader(ctx, caches);
    const refs = new ReferenceIndex();
    const rejected = new RejectedWrites();
    const wanted = (a: Record<string, string> | undefined) =>
      [A.truststore, A.cuGenerateJavaTruststore, A.managedKeys, A.ownerRecord].some((k) => reader.get(a, k) !== undefined);

    const loop = ctx.loop({
      name: CONTROLLER,
      async reconcile(key) {
        const cm = configMaps.get(key);
        if (!cm || cm.metadata.deletionTimestamp) { refs.remove(key); rejected.forget(key); return; }
        const { namespace, name } = splitKey(key);
        const ann = cm.metadata.annotations;
        const spec = parseTruststoreSpec(ann, reader, config.defaultPassword);
        if (isRefusal(spec)) return reportRefusal(ctx, CONTROLLER, cm, spec);
        const managed = commaList(ann?.[A.managedKeys]);
        const record = parseOwnerRecord(ann?.[A.ownerRecord]);
        if (!spec && managed.length === 0 && !record) return;
        refs.set(key, spec && 'secret' in spec.password ? [refKey('Secret', namespace, spec.password.secret)] : []);
        const cycle = findStoreCycle({ kind: 'ConfigMap', name }, cachedStoreDeps(caches, namespace, reader, config.defaultPassword));
        if (cycle) return reportRefusal(ctx, CONTROLLER, cm, cycleRefusal({ kind: 'ConfigMap', name }, cycle));
        const pwDigest = !spec ? undefined : 'literal' in spec.password
          ? valueDigest(spec.password.literal)
          : secrets.get(objectKey(namespace, spec.password.secret))?.digests[spec.password.key];
        const hash = inputsHash(spec, spec && cm.digests[spec.sourceKey], pwDigest);
        if (ann?.[A.sourceHash] === hash && writtenKeysIntact(cm.metadata, cm.digests)) return;
        const fingerprint = `${hash}/${digestOfDigests(cm.digests)}`;
        if (rejected.blocks(key, fingerprint)) return; // refused for good with exactly these inputs
        let password: string | undefined;
        if (spec) {
          const pw = await resolvePassword(spec.password, namespace, read);
          if (isRefusal(pw)) return reportRefusal(ctx, CONTROLLER, cm, pw);
          password = pw;
        }
        const change = desiredTruststoreData({
          spec, bundle: spec ? cm.data?.[spec.sourceKey] : undefined, password,
          digests: cm.digests, uid: cm.metadata.uid, managed, record, inputsHash: hash, currentHash: ann?.[A.sourceHash],
        });
        if (change === undefined) return;
        if (isRefusal(change)) return reportRefusal(ctx, CONTROLLER, cm, change);
        const rejection = checkDataSize(configMapSizes(cm), change, 'base64') ?? (await applyManagedKeys(ctx, CONTROLLER, ConfigMaps, cm, 'binaryData', change));
        if (rejection) { rejected.remember(key, fingerprint); return reportRefusal(ctx, CONTROLLER, cm, rejection); }
        rejected.forget(key);
        reportManagedChange(ctx, CONTROLLER, cm, change, 'TruststoreUpdated');
      },
    });
    const onConfigMap = (c: SlimData) => { if (wanted(c.metadata.annotations)) loop.enqueue(objectKey(c.metadata.namespace, c.metadata.name)); };
    configMaps.on({ add: onConfigMap, update: (_o, n) => onConfigMap(n), delete: onConfigMap });
    const onSecret = (s: SlimData) => { for (const r of refs.referrers(refKey('Secret', s.metadata.namespace!, s.metadata.name))) loop.enqueue(r); };
    secrets.on({ add: onSecret, update: (_o, n) => onSecret(n), delete: onSecret });
    return [loop];
  },
};
