// Truststores from CA bundles in ConfigMaps (`annotary.io/truststore`, cert-utils'
// `generate-java-truststore`). Written to binaryData; same ownership rules as the
// Secret keystores: only keys listed in annotary.io/managed-keys are ever changed.
import { createHash } from 'node:crypto';
import { A, commaList } from '../annotations.js';
import type { ControllerModule } from './context.js';
import type { TruststoreSpec } from './store-specs.js';
import { parseTruststoreSpec, refKey } from './store-specs.js';
import type { Refusal } from './refusal.js';
import { isRefusal, refuse } from './refusal.js';
import { reportRefusal, resolvePassword, valueReader } from './sources.js';
import type { ManagedChange } from './managed-keys.js';
import { applyManagedKeys, diffManagedKeys } from './managed-keys.js';
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
  digests: Record<string, string>; managed: string[]; inputsHash: string; currentHash?: string;
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
  return diffManagedKeys({ currentDigests: o.digests, want, managed: o.managed, inputsHash: o.inputsHash, currentHash: o.currentHash });
}

function inputsHash(spec: TruststoreSpec | undefined, bundleDigest: string | undefined, passwordDigest: string | undefined): string {
  return createHash('sha256').update(JSON.stringify([spec && { ...spec, password: undefined }, bundleDigest, passwordDigest])).digest('hex').slice(0, 32);
}

export const truststoresController: ControllerModule = {
  name: CONTROLLER,
  async setup(ctx) {
    const { caches, annotations: reader, events, config } = ctx;
    const configMaps = caches.configMaps();
    const secrets = caches.secrets();
    const read = valueReader(ctx, caches);
    const refs = new ReferenceIndex();
    const wanted = (a: Record<string, string> | undefined) =>
      [A.truststore, A.cuGenerateJavaTruststore, A.managedKeys].some((k) => reader.get(a, k) !== undefined);

    const loop = ctx.loop({
      name: CONTROLLER,
      async reconcile(key) {
        const cm = configMaps.get(key);
        if (!cm || cm.metadata.deletionTimestamp) { refs.remove(key); return; }
        const { namespace } = splitKey(key);
        const ann = cm.metadata.annotations;
        const spec = parseTruststoreSpec(ann, reader, config.defaultPassword);
        if (isRefusal(spec)) return reportRefusal(ctx, CONTROLLER, cm, spec);
        const managed = commaList(ann?.[A.managedKeys]);
        if (!spec && managed.length === 0) return;
        refs.set(key, spec && 'secret' in spec.password ? [refKey('Secret', namespace, spec.password.secret)] : []);
        const pwDigest = !spec ? undefined : 'literal' in spec.password
          ? valueDigest(spec.password.literal)
          : secrets.get(objectKey(namespace, spec.password.secret))?.digests[spec.password.key];
        const hash = inputsHash(spec, spec && cm.digests[spec.sourceKey], pwDigest);
        if (ann?.[A.sourceHash] === hash && managed.every((k) => k in cm.digests)) return;
        let password: string | undefined;
        if (spec) {
          const pw = await resolvePassword(spec.password, namespace, read);
          if (isRefusal(pw)) return reportRefusal(ctx, CONTROLLER, cm, pw);
          password = pw;
        }
        const change = desiredTruststoreData({
          spec, bundle: spec ? cm.data?.[spec.sourceKey] : undefined, password,
          digests: cm.digests, managed, inputsHash: hash, currentHash: ann?.[A.sourceHash],
        });
        if (change === undefined) return;
        if (isRefusal(change)) return reportRefusal(ctx, CONTROLLER, cm, change);
        await applyManagedKeys(ctx, CONTROLLER, ConfigMaps, cm, 'binaryData', change);
        if (Object.keys(change.set).length) events.emit(cm, 'Normal', 'TruststoreUpdated', `wrote ${Object.keys(change.set).join(', ')}`);
        if (change.remove.length) events.emit(cm, 'Normal', 'StoresRemoved', `removed ${change.remove.join(', ')}`);
      },
    });
    const onConfigMap = (c: SlimData) => { if (wanted(c.metadata.annotations)) loop.enqueue(objectKey(c.metadata.namespace, c.metadata.name)); };
    configMaps.on({ add: onConfigMap, update: (_o, n) => onConfigMap(n), delete: onConfigMap });
    const onSecret = (s: SlimData) => { for (const r of refs.referrers(refKey('Secret', s.metadata.namespace!, s.metadata.name))) loop.enqueue(r); };
    secrets.on({ add: onSecret, update: (_o, n) => onSecret(n), delete: onSecret });
    return [loop];
  },
};
