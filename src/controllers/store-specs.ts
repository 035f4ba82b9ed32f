// What the store annotations ask for, for every object annotary writes Java stores into:
// keystore Secrets (annotary.io/keystores, cert-utils' generate-java-keystores) and
// truststore ConfigMaps (annotary.io/truststore, cert-utils' generate-java-truststore).
// Pure: annotations in, a spec (or a Refusal) out. The controllers (keystores.ts,
// truststores.ts), the reload controller (which waits for consistent stores) and the
// reference-cycle check (store-graph.ts) all read the annotations through these functions.
import { A, AnnotationReader, commaList, parseBoolValue } from '../annotations.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import { isDnsSubdomain } from '../kube/names.js';
import { digestOfParts, valueDigest } from '../kube/slim.js';
import { objectKey } from '../kube/types.js';
import type { StoreFormat } from '../pki/stores.js';
import { FILE_NAMES } from '../pki/stores.js';
import { PKCS12_PROFILES } from '../pki/pkcs12.js';

const FORMATS: Record<string, StoreFormat> = { jks: 'jks', pkcs12: 'pkcs12', p12: 'pkcs12' };
const CERT_UTILS_PASSWORD = 'changeme';

export type TrustRef = { kind: 'Secret' | 'ConfigMap'; name: string; key: string };
export type PasswordRef = { literal: string } | { secret: string; key: string };

export interface KeystoreSpec {
  flavour: 'annotary' | 'cert-utils';
  formats: StoreFormat[];
  /** set only when not the default (modern): the inputs hash of existing Secrets stays the same */
  pkcs12Profile?: 'legacy-des';
  /** annotary.io/store-keys: the data key of a store file, by its default name; set only when given */
  keyNames?: Record<string, string>;
  alias: string;
  trustAliasPrefix: string;
  password: PasswordRef;
  trustFrom: TrustRef[];
}

export interface SecretWants {
  stores?: KeystoreSpec;
  certInfo: boolean;
  /**
   * What annotary.io/keystores kept of cert-utils-operator's conventions on a Secret that still
   * asks cert-utils for stores (for the Event): the app reads the stores cert-utils made.
   */
  keptCertUtils?: string[];
  /** keys cert-utils-operator wrote, handed over by users who keep its annotations (migration) */
  handover?: string[];
}

const ALIAS_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CERT_INFO_KEYS_LIST = ['tls.crt.info', 'ca.crt.info'] as const;

/** The four store files, by their default names. */
const STORE_FILES: string[] = Object.values(FILE_NAMES).flatMap((f) => [f.keystore, f.truststore]);
/** The keys a store may not be written to: the inputs it is built from and the certificate details. */
const RESERVED_KEYS = new Set<string>(['tls.crt', 'tls.key', 'ca.crt', 'ca-bundle.crt', ...CERT_INFO_KEYS_LIST]);

/**
 * annotary.io/store-keys: "keystore.jks=server.jks, truststore.p12=trust.p12" names the data keys
 * the stores are written to (cert-utils-operator's issue #96). {} when absent. Every resulting
 * name must be a valid data key, none an input or another store's key.
 */
function parseStoreKeys(
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
  formats: StoreFormat[],
): { keyNames?: Record<string, string> } | Refusal {
  const items = commaList(reader.get(annotations, A.storeKeys));
  if (!items.length) return {};
  const keyNames: Record<string, string> = {};
  for (const item of items) {
    const [from, to, ...rest] = item.split('=').map((x) => x.trim());
    if (rest.length || !from || !to) return refuse('InvalidAnnotation', `${A.storeKeys}: "${item}" is not <store file>=<data key>`);
    if (!STORE_FILES.includes(from))
      return refuse('InvalidAnnotation', `${A.storeKeys}: "${from}" is not a store file (${STORE_FILES.join(', ')})`);
    if (!KEY_RE.test(to) || to.length > 253) return refuse('InvalidAnnotation', `${A.storeKeys}: "${to}" is not a valid data key`);
    if (RESERVED_KEYS.has(to)) return refuse('InvalidAnnotation', `${A.storeKeys}: "${to}" is an input or annotary's certificate details`);
    keyNames[from] = to;
  }
  const produced = formats.flatMap((f) => [FILE_NAMES[f].keystore, FILE_NAMES[f].truststore]).map((f) => keyNames[f] ?? f);
  const twice = produced.find((k, i) => produced.indexOf(k) !== i);
  if (twice) return refuse('InvalidAnnotation', `${A.storeKeys}: two stores would be written to "${twice}"`);
  return { keyNames };
}

/** The data key a store file goes to: its own name unless annotary.io/store-keys renames it. */
export const storeKeyOf = (spec: { keyNames?: Record<string, string> }, file: string) => spec.keyNames?.[file] ?? file;

/** annotary.io/pkcs12-profile: {} for the default (modern), { pkcs12Profile } for legacy-des. */
function parsePkcs12Profile(
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
): { pkcs12Profile?: 'legacy-des' } | Refusal {
  const v = reader.get(annotations, A.pkcs12Profile)?.trim().toLowerCase();
  if (v === undefined || v === '' || v === 'modern') return {};
  if (v === 'legacy-des') return { pkcs12Profile: v };
  return refuse('InvalidAnnotation', `${A.pkcs12Profile}: "${v}" is not a PKCS#12 profile (use ${PKCS12_PROFILES.join(' or ')})`);
}
const KEY_RE = /^[-._a-zA-Z0-9]+$/;

/** `name`, `secret/name`, `configmap/name`, each optionally `:key` */
export function parseTrustRef(item: string): TrustRef | Refusal {
  const m = /^(?:(secret|configmap)\/)?([^/:]+)(?::([^/:]+))?$/i.exec(item);
  if (!m || !isDnsSubdomain(m[2]) || (m[3] && !KEY_RE.test(m[3]))) {
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
export function parsePasswordRef(
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
  defaultPassword: string,
): PasswordRef | Refusal {
  const pwRef = reader.get(annotations, A.keystorePasswordSecret);
  const pwLiteral = reader.get(annotations, A.keystorePassword);
  if (pwRef !== undefined) {
    const [name, key, ...rest] = pwRef.trim().split('/');
    if (!name || !key || rest.length || !isDnsSubdomain(name) || !KEY_RE.test(key)) {
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
export function parseKeystoreSpec(
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
  defaultPassword: string,
): SecretWants | Refusal {
  const native = reader.get(annotations, A.keystores);
  const cuStores = parseBoolValue(reader.get(annotations, A.cuGenerateJavaKeystores), A.cuGenerateJavaKeystores);
  if (isRefusal(cuStores)) return cuStores;
  const nativeInfo = parseBoolValue(reader.get(annotations, A.certInfo), A.certInfo);
  if (isRefusal(nativeInfo)) return nativeInfo;
  const cuInfo = parseBoolValue(reader.get(annotations, A.cuGenerateCertInfo), A.cuGenerateCertInfo);
  if (isRefusal(cuInfo)) return cuInfo;
  const certInfo = nativeInfo || cuInfo;
  // what cert-utils-operator wrote is handed over only where its annotation is the one in effect
  const handoverOf = (stores: boolean) => {
    const keys = [...(stores ? [FILE_NAMES.jks.keystore, FILE_NAMES.jks.truststore] : []), ...(cuInfo ? CERT_INFO_KEYS : [])];
    return keys.length ? { handover: keys } : {};
  };

  const cuPassword = reader.get(annotations, A.cuJavaKeystorePassword) || CERT_UTILS_PASSWORD;
  if (native !== undefined) {
    const formats = parseFormats(native, A.keystores);
    if (isRefusal(formats)) return formats;
    const profile = parsePkcs12Profile(annotations, reader);
    if (isRefusal(profile)) return profile;
    // Added to a Secret that still asks cert-utils for stores, annotary.io/keystores keeps what
    // the app already opens them with (cert-utils' alias, truststore aliases and password),
    // except what the user sets explicitly with annotary's own keys.
    const kept: string[] = [];
    const aliasSet = reader.get(annotations, A.keystoreAlias);
    if (cuStores && aliasSet === undefined) kept.push('key alias "alias"');
    if (cuStores) kept.push('truststore aliases alias0, alias1, …');
    const passwordSet = [A.keystorePassword, A.keystorePasswordSecret].some((k) => reader.get(annotations, k) !== undefined);
    if (cuStores && !passwordSet) kept.push(`the password of ${A.cuJavaKeystorePassword} (default changeme)`);
    const alias = (aliasSet ?? (cuStores ? 'alias' : 'certificate')).trim();
    if (!ALIAS_RE.test(alias)) return refuse('InvalidAnnotation', `${A.keystoreAlias}: "${alias}" is not a valid alias`);
    const password = parsePasswordRef(annotations, reader, cuStores ? cuPassword : defaultPassword);
    if (isRefusal(password)) return password;
    const trustFrom: TrustRef[] = [];
    for (const item of commaList(reader.get(annotations, A.truststoreFrom))) {
      const ref = parseTrustRef(item);
      if (isRefusal(ref)) return ref;
      trustFrom.push(ref);
    }
    const trustAliasPrefix = cuStores ? 'alias' : 'ca';
    // cert-utils' annotation still asks for keystore.jks: it stays, whatever annotary.io/keystores lists
    if (cuStores && !formats.includes('jks')) {
      formats.unshift('jks');
      kept.push('keystore.jks and truststore.jks');
    }
    const names = parseStoreKeys(annotations, reader, formats);
    if (isRefusal(names)) return names;
    return {
      certInfo,
      ...handoverOf(cuStores),
      ...(kept.length ? { keptCertUtils: kept } : {}),
      stores: { flavour: 'annotary', formats, ...profile, ...names, alias: alias.toLowerCase(), trustAliasPrefix, password, trustFrom },
    };
  }
  if (cuStores) {
    return {
      certInfo,
      ...handoverOf(true),
      stores: {
        flavour: 'cert-utils',
        formats: ['jks'],
        alias: 'alias',
        trustAliasPrefix: 'alias',
        password: { literal: cuPassword },
        trustFrom: [],
      },
    };
  }
  return { certInfo, ...handoverOf(false) };
}

/** Data keys the wanted outputs occupy (truststores only when there are CA certificates). */
export function storeKeys(spec: KeystoreSpec, hasTrust: boolean): string[] {
  return spec.formats
    .flatMap((f) => [FILE_NAMES[f].keystore, ...(hasTrust ? [FILE_NAMES[f].truststore] : [])])
    .map((k) => storeKeyOf(spec, k));
}

/** The readable certificate details annotary.io/cert-info writes. */
export const CERT_INFO_KEYS = CERT_INFO_KEYS_LIST;

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
  const parts: string[] = [];
  const part = (s: string) => parts.push(s);
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
      if (d === undefined)
        return refuse('TruststoreSourceMissing', `${ref.kind} "${ref.name}" named in ${A.truststoreFrom} does not exist`);
      if (d === null) return refuse('TruststoreSourceMissing', `${ref.kind} "${ref.name}" has no key "${ref.key}"`);
      part(`${ref.kind}/${ref.name}:${ref.key}=${d}`);
    }
  }
  return digestOfParts(parts);
}

export function keystoreAnnotated(annotations: Record<string, string> | undefined, reader: AnnotationReader): boolean {
  return [A.keystores, A.cuGenerateJavaKeystores, A.certInfo, A.cuGenerateCertInfo, A.managedKeys, A.ownerRecord].some(
    (k) => reader.get(annotations, k) !== undefined,
  );
}

export interface TruststoreSpec {
  formats: StoreFormat[];
  pkcs12Profile?: 'legacy-des';
  keyNames?: Record<string, string>;
  /** the truststore cert-utils-operator wrote, handed over where its annotation is the one in effect (migration) */
  handover?: string[];
  sourceKey: string;
  password: PasswordRef;
  aliasPrefix: string;
}

/** What a ConfigMap's annotations ask for; undefined = nothing. */
export function parseTruststoreSpec(
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
  defaultPassword: string,
): TruststoreSpec | Refusal | undefined {
  const native = reader.get(annotations, A.truststore);
  if (native !== undefined) {
    const formats = parseFormats(native, A.truststore);
    if (isRefusal(formats)) return formats;
    const profile = parsePkcs12Profile(annotations, reader);
    if (isRefusal(profile)) return profile;
    const names = parseStoreKeys(annotations, reader, formats);
    if (isRefusal(names)) return names;
    const password = parsePasswordRef(annotations, reader, defaultPassword);
    if (isRefusal(password)) return password;
    return {
      formats,
      ...profile,
      ...names,
      password,
      aliasPrefix: 'ca',
      sourceKey: reader.get(annotations, A.sourceCaKey)?.trim() || 'ca-bundle.crt',
    };
  }
  const cu = parseBoolValue(reader.get(annotations, A.cuGenerateJavaTruststore), A.cuGenerateJavaTruststore);
  if (isRefusal(cu)) return cu;
  if (!cu) return undefined;
  return {
    formats: ['jks'],
    handover: [FILE_NAMES.jks.truststore],
    aliasPrefix: 'alias',
    password: { literal: reader.get(annotations, A.cuJavaKeystorePassword) || 'changeme' },
    sourceKey: reader.get(annotations, A.cuSourceCaKey)?.trim() || 'ca-bundle.crt',
  };
}

// ---------------------------------------------------------------- reference cycles
//
// A store object reads keys of other objects of its namespace (a password Secret, trusted CA
// sources, a ConfigMap's own bundle). When a key it reads is one annotary itself writes into
// that object (a keystore used as a password, say), each rebuild changes the other's input;
// around a cycle that is a write loop without end. The cycle is found from the annotations
// alone (what each object asks for, and what annotary.io/managed-keys claims), before any
// write, and every object on it is refused.

export type StoreKind = 'Secret' | 'ConfigMap';
export interface StoreNode {
  kind: StoreKind;
  name: string;
}
export interface StoreRead extends StoreNode {
  key: string;
}

/** What annotary writes into one object, and which keys of objects in its namespace it reads to do so. */
export interface StoreDeps {
  outputs: readonly string[];
  reads: readonly StoreRead[];
}

const passwordReads = (p: PasswordRef): StoreRead[] => ('secret' in p ? [{ kind: 'Secret', name: p.secret, key: p.key }] : []);

export function storeDeps(
  node: StoreNode,
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
  defaultPassword: string,
): StoreDeps {
  const claimed = commaList(annotations?.[A.managedKeys]);
  if (node.kind === 'Secret') {
    const wants = parseKeystoreSpec(annotations, reader, defaultPassword);
    if (isRefusal(wants)) return { outputs: claimed, reads: [] };
    const spec = wants.stores;
    return {
      outputs: [...claimed, ...(spec ? storeKeys(spec, true) : []), ...(wants.certInfo ? CERT_INFO_KEYS : [])],
      reads: spec ? [...passwordReads(spec.password), ...spec.trustFrom] : [],
    };
  }
  const spec = parseTruststoreSpec(annotations, reader, defaultPassword);
  if (!spec || isRefusal(spec)) return { outputs: claimed, reads: [] };
  return {
    outputs: [...claimed, ...spec.formats.map((f) => storeKeyOf(spec, FILE_NAMES[f].truststore))],
    reads: [...passwordReads(spec.password), { ...node, key: spec.sourceKey }],
  };
}

/**
 * The reads that lead from `start` through annotary's own outputs back to `start`, or
 * undefined. Breadth first, each object visited once: linear in the objects and references
 * of the namespace, whatever users write.
 */
export function findStoreCycle(start: StoreNode, lookup: (n: StoreNode) => StoreDeps | undefined): StoreRead[] | undefined {
  const id = (n: StoreNode) => `${n.kind}/${n.name}`;
  // each object's annotations are parsed once, though it is looked at as a target and as a node
  const parsed = new Map<string, StoreDeps | undefined>();
  const depsOf = (n: StoreNode) => {
    if (!parsed.has(id(n))) parsed.set(id(n), lookup(n));
    return parsed.get(id(n));
  };
  const via = new Map<string, StoreRead[]>([[id(start), []]]);
  const queue: StoreNode[] = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i];
    const path = via.get(id(node))!;
    for (const r of depsOf(node)?.reads ?? []) {
      if (!depsOf(r)?.outputs.includes(r.key)) continue; // an input the user owns: no feedback
      if (id(r) === id(start)) return [...path, r];
      if (via.has(id(r))) continue;
      via.set(id(r), [...path, r]);
      queue.push(r);
    }
  }
  return undefined;
}

/** The refusal for a cycle, naming each hop (objects and keys, never values). */
export function cycleRefusal(start: StoreNode, cycle: StoreRead[]): Refusal {
  const hops = cycle.map((r) => `${r.key} of ${r.kind} "${r.name}"`).join(', which reads ');
  return refuse(
    'ReferenceCycle',
    `${start.kind} "${start.name}" reads ${hops}: annotary's outputs would rewrite each other without end; break the cycle`,
  );
}
