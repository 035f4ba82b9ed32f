// Keystores and truststores from TLS Secrets.
//
// Pure part: parseKeystoreSpec (annotations → what the user asked for), keystoreInputsHash
// (digest of every input, computable from the lean cache alone) and desiredKeystoreData
// (inputs → the exact data keys to set/remove, or nothing). The reload controller uses
// keystoreInputsHash too: a Secret whose annotary.io/source-hash differs from it is
// not yet consistent, and a rollout waits for it.
import { createHash } from 'node:crypto';
import { A, AnnotationReader, commaList } from '../annotations.js';
import type { ControllerContext, ControllerModule } from './context.js';
import type { Refusal } from './refusal.js';
import { isRefusal, refuse } from './refusal.js';
import { ReferenceIndex } from '../kube/refindex.js';
import type { SlimData } from '../kube/slim.js';
import { valueDigest } from '../kube/slim.js';
import { Secrets, objectKey, splitKey } from '../kube/types.js';
import { cachedDigests, pemText, reportRefusal, resolvePassword, valueReader } from './sources.js';
import type { ManagedChange } from './managed-keys.js';
import { applyManagedKeys, diffManagedKeys } from './managed-keys.js';
import { PkiError } from '../pki/errors.js';
import type { StoreFormat } from '../pki/stores.js';
import { buildStores } from '../pki/stores.js';
import { describeChain } from '../pki/certinfo.js';
import { parseCertificates } from '../pki/pem.js';

export const CONTROLLER = 'keystores';
const FORMATS: Record<string, StoreFormat> = { jks: 'jks', pkcs12: 'pkcs12', p12: 'pkcs12' };
const CERT_UTILS_PASSWORD = 'changeme';

export type TrustRef = { kind: 'Secret' | 'ConfigMap'; name: string; key: string };
export type PasswordRef = { literal: string } | { secret: string; key: string };

export interface KeystoreSpec {
  flavour: 'annotary' | 'cert-utils';
  formats: StoreFormat[];
  alias: string;
  trustAliasPrefix: string;
  password: PasswordRef;
  trustFrom: TrustRef[];
}

export interface SecretWants {
  stores?: KeystoreSpec;
  certInfo: boolean;
  /** keys cert-utils-operator wrote, handed over by users who keep its annotations (migration) */
  handover?: string[];
}

const ALIAS_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const KEY_RE = /^[-._a-zA-Z0-9]+$/;

export function parseBoolAnnotation(value: string | undefined, key: string): boolean | Refusal {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  return refuse('InvalidAnnotation', `${key}: "${value}" is not true or false`);
}

/** `name`, `secret/name`, `configmap/name`, each optionally `:key` */
export function parseTrustRef(item: string): TrustRef | Refusal {
  const m = /^(?:(secret|configmap)\/)?([^/:]+)(?::([^/:]+))?$/i.exec(item);
  if (!m || !NAME_RE.test(m[2]) || (m[3] && !KEY_RE.test(m[3]))) {
    return refuse('InvalidAnnotation', `${A.truststoreFrom}: "${item}" is not [secret/|configmap/]<name>[:<key>]`);
  }
  const kind = m[1]?.toLowerCase() === 'configmap' ? 'ConfigMap' : 'Secret';
  return { kind, name: m[2], key: m[3] ?? (kind === 'Secret' ? 'ca.crt' : 'ca-bundle.crt') };
}

/** `jks`, `pkcs12`/`p12` or both, comma separated. */
export function parseFormats(value: string, key: string): StoreFormat[] | Refusal {
  const formats: StoreFormat[] = [];
  for (const f of commaList(value.toLowerCase())) {
    const fmt = FORMATS[f];
    if (!fmt) return refuse('InvalidAnnotation', `${key}: unknown format "${f}" (use jks, pkcs12 or jks,pkcs12)`);
    if (!formats.includes(fmt)) formats.push(fmt);
  }
  if (formats.length === 0) return refuse('InvalidAnnotation', `${key}: no format given (use jks, pkcs12 or jks,pkcs12)`);
  return formats;
}

/** The store password: a `<secret>/<key>` reference (preferred), a literal, or the default. */
export function parsePasswordRef(annotations: Record<string, string> | undefined, reader: AnnotationReader, defaultPassword: string): PasswordRef | Refusal {
  const pwRef = reader.get(annotations, A.keystorePasswordSecret);
  const pwLiteral = reader.get(annotations, A.keystorePassword);
  if (pwRef !== undefined) {
    const [name, key, ...rest] = pwRef.trim().split('/');
    if (!name || !key || rest.length || !NAME_RE.test(name) || !KEY_RE.test(key)) {
      return refuse('InvalidAnnotation', `${A.keystorePasswordSecret}: "${pwRef}" is not <secret>/<key>`);
    }
    return { secret: name, key };
  }
  if (pwLiteral !== undefined) {
    if (pwLiteral === '') return refuse('InvalidAnnotation', `${A.keystorePassword} is empty`);
    return { literal: pwLiteral };
  }
  return { literal: defaultPassword };
}

/** Reads what a Secret's annotations ask for. undefined stores = no keystores wanted. */
export function parseKeystoreSpec(annotations: Record<string, string> | undefined, reader: AnnotationReader, defaultPassword: string): SecretWants | Refusal {
  const native = reader.get(annotations, A.keystores);
  const cuStores = parseBoolAnnotation(reader.get(annotations, A.cuGenerateJavaKeystores), A.cuGenerateJavaKeystores);
  if (isRefusal(cuStores)) return cuStores;
  const nativeInfo = parseBoolAnnotation(reader.get(annotations, A.certInfo), A.certInfo);
  if (isRefusal(nativeInfo)) return nativeInfo;
  const cuInfo = parseBoolAnnotation(reader.get(annotations, A.cuGenerateCertInfo), A.cuGenerateCertInfo);
  if (isRefusal(cuInfo)) return cuInfo;
  const certInfo = nativeInfo || cuInfo;
  // what cert-utils-operator wrote is handed over only where its annotation is the one in effect
  const handoverOf = (stores: boolean) => {
    const keys = [...(stores ? ['keystore.jks', 'truststore.jks'] : []), ...(cuInfo ? ['tls.crt.info', 'ca.crt.info'] : [])];
    return keys.length ? { handover: keys } : {};
  };

  if (native !== undefined) {
    const formats = parseFormats(native, A.keystores);
    if (isRefusal(formats)) return formats;
    const alias = (reader.get(annotations, A.keystoreAlias) ?? 'certificate').trim();
    if (!ALIAS_RE.test(alias)) return refuse('InvalidAnnotation', `${A.keystoreAlias}: "${alias}" is not a valid alias`);
    const password = parsePasswordRef(annotations, reader, defaultPassword);
    if (isRefusal(password)) return password;
    const trustFrom: TrustRef[] = [];
    for (const item of commaList(reader.get(annotations, A.truststoreFrom))) {
      const ref = parseTrustRef(item);
      if (isRefusal(ref)) return ref;
      trustFrom.push(ref);
    }
    return { certInfo, ...handoverOf(false), stores: { flavour: 'annotary', formats, alias: alias.toLowerCase(), trustAliasPrefix: 'ca', password, trustFrom } };
  }
  if (cuStores) {
    const pw = reader.get(annotations, A.cuJavaKeystorePassword);
    return {
      certInfo, ...handoverOf(true),
      stores: { flavour: 'cert-utils', formats: ['jks'], alias: 'alias', trustAliasPrefix: 'alias', password: { literal: pw || CERT_UTILS_PASSWORD }, trustFrom: [] },
    };
  }
  return { certInfo, ...handoverOf(false) };
}

/** Data keys the wanted outputs occupy (truststores only when there are CA certificates). */
export function storeKeys(spec: KeystoreSpec, hasTrust: boolean): string[] {
  const keys: string[] = [];
  if (spec.formats.includes('jks')) keys.push('keystore.jks', ...(hasTrust ? ['truststore.jks'] : []));
  if (spec.formats.includes('pkcs12')) keys.push('keystore.p12', ...(hasTrust ? ['truststore.p12'] : []));
  return keys;
}

export const refKey = (kind: 'Secret' | 'ConfigMap', namespace: string, name: string) => `${kind}:${objectKey(namespace, name)}`;

/** The Secret's own keys a keystore is built from: the Secret cache keeps their values. */
export const KEYSTORE_INPUTS = ['tls.crt', 'tls.key', 'ca.crt'] as const;

/** Looks up digests of other objects in the lean caches. */
export type DigestLookup = (kind: 'Secret' | 'ConfigMap', name: string, key: string) => string | undefined | null;
// undefined = object missing, null = object present but key missing

/**
 * Digest of every input of the Secret's generated keys, from cached per-key digests only
 * (no Secret data needed). A Refusal when a referenced input is missing.
 */
export function keystoreInputsHash(wants: SecretWants, digests: Record<string, string>, lookup: DigestLookup): string | Refusal {
  const h = createHash('sha256');
  const part = (s: string) => h.update(`${s.length}:${s}`);
  part(JSON.stringify({ ...wants.stores, password: undefined, trustFrom: undefined }));
  part(String(wants.certInfo));
  for (const k of KEYSTORE_INPUTS) part(digests[k] ?? '-');
  const spec = wants.stores;
  if (spec) {
    // labelled: a literal and a Secret value with the same digest are different inputs
    if ('literal' in spec.password) part(`literal:${valueDigest(spec.password.literal)}`);
    else {
      const d = lookup('Secret', spec.password.secret, spec.password.key);
      if (d === undefined) return refuse('PasswordSecretMissing', `password Secret "${spec.password.secret}" does not exist`);
      if (d === null) return refuse('PasswordKeyMissing', `password Secret "${spec.password.secret}" has no key "${spec.password.key}"`);
      part(`secret:${d}`);
    }
    for (const ref of spec.trustFrom) {
      const d = lookup(ref.kind, ref.name, ref.key);
      if (d === undefined) return refuse('TruststoreSourceMissing', `${ref.kind} "${ref.name}" named in ${A.truststoreFrom} does not exist`);
      if (d === null) return refuse('TruststoreSourceMissing', `${ref.kind} "${ref.name}" has no key "${ref.key}"`);
      part(`${ref.kind}/${ref.name}:${ref.key}=${d}`);
    }
  }
  return h.digest('hex').slice(0, 32);
}

export interface KeystoreObserved {
  wants: SecretWants;
  /** the Secret's inputs (base64 values): tls.crt, tls.key, ca.crt, when present */
  data: Record<string, string>;
  /** digests of every data key (the cache keeps the inputs' values only) */
  digests: Record<string, string>;
  /** keys annotary wrote before (annotary.io/managed-keys) */
  managed: string[];
  password?: string;
  extraTrustPem: string[];
  inputsHash: string;
  currentHash?: string;
}

export interface DataChange extends ManagedChange { warnings: string[] }

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
        certPem, keyPem, caPem: pemText(o.data['ca.crt']), extraTrustPem: o.extraTrustPem,
        password: o.password ?? '', alias: spec.alias, formats: spec.formats, trustAliasPrefix: spec.trustAliasPrefix,
      });
      warnings.push(...built.warnings);
      for (const [k, v] of Object.entries(built.files)) want[k] = v.toString('base64');
    }
    if (o.wants.certInfo) {
      const crt = pemText(o.data['tls.crt']);
      const ca = pemText(o.data['ca.crt']);
      if (crt) want['tls.crt.info'] = Buffer.from(certInfoText(crt)).toString('base64');
      if (ca && ca.trim()) want['ca.crt.info'] = Buffer.from(certInfoText(ca)).toString('base64');
    }
  } catch (err) {
    if (err instanceof PkiError) return refuse(err.reason, err.message);
    throw err;
  }
  const change = diffManagedKeys({
    currentDigests: o.digests, want, managed: o.managed, inputsHash: o.inputsHash, currentHash: o.currentHash, takeover: o.wants.handover,
  });
  return change && !isRefusal(change) ? { ...change, warnings } : change;
}

export function keystoreAnnotated(annotations: Record<string, string> | undefined, reader: AnnotationReader): boolean {
  return [A.keystores, A.cuGenerateJavaKeystores, A.certInfo, A.cuGenerateCertInfo, A.managedKeys].some((k) => reader.get(annotations, k) !== undefined);
}

/** Wiring: caches → reconcile → patch. */
export const keystoresController: ControllerModule = {
  name: CONTROLLER,
  async setup(ctx: ControllerContext) {
    const { caches, annotations: reader, events, config, log } = ctx;
    caches.keepSecretData((a) => keystoreAnnotated(a, reader), KEYSTORE_INPUTS);
    const secrets = caches.secrets();
    const configMaps = caches.configMaps();
    const refs = new ReferenceIndex();

    const read = valueReader(ctx, caches);
    const refuseOn = (secret: SlimData, r: Refusal) => reportRefusal(ctx, CONTROLLER, secret, r);

    const loop = ctx.loop({
      name: CONTROLLER,
      async reconcile(key) {
        const secret = secrets.get(key);
        if (!secret || secret.metadata.deletionTimestamp) { refs.remove(key); return; }
        const { namespace } = splitKey(key);
        const ann = secret.metadata.annotations;
        const wants = parseKeystoreSpec(ann, reader, config.defaultPassword);
        if (isRefusal(wants)) { refs.remove(key); return refuseOn(secret, wants); }
        const spec = wants.stores;
        refs.set(key, spec ? [
          ...('secret' in spec.password ? [refKey('Secret', namespace, spec.password.secret)] : []),
          ...spec.trustFrom.map((r) => refKey(r.kind, namespace, r.name)),
        ] : []);
        const managed = commaList(ann?.[A.managedKeys]);
        if (!spec && !wants.certInfo && managed.length === 0) return;
        const inputsHash = keystoreInputsHash(wants, secret.digests, cachedDigests(caches, namespace));
        if (isRefusal(inputsHash)) return refuseOn(secret, inputsHash);
        // fast path: stores were built from exactly these inputs and are all still there
        if (ann?.[A.sourceHash] === inputsHash && managed.every((k) => k in secret.digests)) return;

        let password: string | undefined;
        if (spec) {
          const pw = await resolvePassword(spec.password, namespace, read);
          if (isRefusal(pw)) return refuseOn(secret, pw);
          password = pw;
        }
        const extraTrustPem: string[] = [];
        for (const ref of spec?.trustFrom ?? []) {
          const pem = await read(ref.kind, namespace, ref.name, ref.key, pemText);
          if (pem === undefined) return refuseOn(secret, refuse('TruststoreSourceMissing', `${ref.kind} "${ref.name}" has no key "${ref.key}"`));
          extraTrustPem.push(pem);
        }
        const change = desiredKeystoreData({
          wants, data: secret.data ?? {}, digests: secret.digests, managed, password, extraTrustPem, inputsHash, currentHash: ann?.[A.sourceHash],
        });
        if (change === undefined) return;
        if (isRefusal(change)) return refuseOn(secret, change);

        await applyManagedKeys(ctx, CONTROLLER, Secrets, secret, 'data', change);
        for (const w of change.warnings) {
          ctx.metrics.invalidInputTotal.inc({ controller: CONTROLLER, reason: 'CertificateWarning' }); // every Warning counts (README)
          events.emit(secret, 'Warning', 'CertificateWarning', w);
        }
        const written = Object.keys(change.set);
        if (written.length) events.emit(secret, 'Normal', 'StoresUpdated', `wrote ${written.join(', ')} (inputs ${change.inputsHash.slice(0, 12)})`);
        if (change.remove.length) events.emit(secret, 'Normal', 'StoresRemoved', `removed ${change.remove.join(', ')}`);
        log.debug('secret updated', { key, set: written, removed: change.remove });
      },
    });

    const onSecret = (s: SlimData) => {
      const key = objectKey(s.metadata.namespace, s.metadata.name);
      if (keystoreAnnotated(s.metadata.annotations, reader)) loop.enqueue(key);
      for (const r of refs.referrers(refKey('Secret', s.metadata.namespace!, s.metadata.name))) loop.enqueue(r);
    };
    secrets.on({ add: onSecret, update: (_o, n) => onSecret(n), delete: onSecret });
    const onConfigMap = (c: SlimData) => {
      for (const r of refs.referrers(refKey('ConfigMap', c.metadata.namespace!, c.metadata.name))) loop.enqueue(r);
    };
    configMaps.on({ add: onConfigMap, update: (_o, n) => onConfigMap(n), delete: onConfigMap });
    return [loop];
  },
};
