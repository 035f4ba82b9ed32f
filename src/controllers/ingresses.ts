// Certificates from Secrets for Ingresses (networking.k8s.io/v1).
//
// An Ingress can only name a Secret of its own namespace, so annotary keeps copies there,
// owned by the Ingress (garbage-collected with it):
//   <ingress>-annotary-tls  kubernetes.io/tls copy of annotary.io/certs-from-secret, named
//                           by an spec.tls entry for the Ingress's hosts
//   <ingress>-annotary-ca   ca.crt copy of annotary.io/destination-ca-from-secret, named by
//                           ingress-nginx's proxy-ssl-secret annotation (+ verify, HTTPS backend)
// A source in another namespace is copied only while it opts in with
// annotary.io/share-with-namespaces; without it (or once it is withdrawn, or the source is
// gone) the copies and annotary's entries are removed. This is a security boundary.
//
// A refused Ingress is not written at all (except that copies of withdrawn sources are removed);
// its Event reasons: docs/events.md, generated from src/event-reasons.ts.
import { A, AnnotationReader, commaList } from '../annotations.js';
import { ApiError } from '../kube/client.js';
import { listOf } from '../kube/events.js';
import { isDnsSubdomain } from '../kube/names.js';
import type { SlimData } from '../kube/slim.js';
import type { KubeObject, ObjectRef, OwnerReference } from '../kube/types.js';
import { Ingresses, Secrets, apiVersionOf, objectKey } from '../kube/types.js';
import type { ControllerContext, ControllerModule } from './context.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import type { Claims, OwnerRecord } from './managed-keys.js';
import { ownerRecordValue, parseOwnerRecord, provenKeys, releasedKeys, reportReleased, sameRecord } from './managed-keys.js';
import { sameEntries, valueDigest } from '../kube/slim.js';
import type { NeedsData, SecretRef } from './cert-sources.js';
import { checkCaSecret, checkTlsSecret, fullSecret, isNeedsData, parseSecretRef, refKeyOf, sharedWith } from './cert-sources.js';

export const CONTROLLER = 'ingresses';
/**
 * Sources outside the watched namespaces (--namespaces) send no watch events: they are
 * read with GET, and re-read this often so that their rotation reaches the copies.
 */
export const UNWATCHED_SOURCE_POLL_MS = 30_000;
/**
 * An Ingress whose copy was forbidden (403) is looked at again this often: the RoleBinding
 * that allows it, when added, sends this controller no event.
 */
export const FORBIDDEN_RECHECK_MS = 60_000;

export const NGINX = {
  proxySslSecret: 'nginx.ingress.kubernetes.io/proxy-ssl-secret',
  proxySslVerify: 'nginx.ingress.kubernetes.io/proxy-ssl-verify',
  backendProtocol: 'nginx.ingress.kubernetes.io/backend-protocol',
} as const;
/** managed-fields entry for annotary's spec.tls entry (the others are annotation keys) */
export const TLS_ENTRY = 'spec.tls';

export const tlsCopyName = (ingress: string) => `${ingress}-annotary-tls`;
export const caCopyName = (ingress: string) => `${ingress}-annotary-ca`;

export interface IngressTLS {
  hosts?: string[];
  secretName?: string;
}
export type Ingress = KubeObject & { spec?: { tls?: IngressTLS[]; rules?: { host?: string }[] } };

/**
 * Kubernetes' validation of an Ingress TLS host (ValidateIngressTLS): a DNS-1123 subdomain
 * of at most 253 characters, or a wildcard, "*." and one (the "*" only as the whole first
 * label). Checked label by label, so the work is linear in the length of the host.
 */
export function isIngressTlsHost(host: string): boolean {
  return host.length <= 253 && isDnsSubdomain(host.startsWith('*.') ? host.slice(2) : host);
}

export interface IngressWants {
  certs?: SecretRef;
  destinationCa?: SecretRef;
  hosts: string[];
}

export function ingressWants(ingress: Ingress, reader: AnnotationReader): IngressWants | Refusal {
  const ann = ingress.metadata.annotations;
  const ns = ingress.metadata.namespace ?? '';
  const wants: IngressWants = { hosts: [] };
  const certs = reader.get(ann, A.certsFromSecret);
  if (certs !== undefined) {
    const ref = parseSecretRef(certs, A.certsFromSecret, ns, true);
    if (isRefusal(ref)) return ref;
    wants.certs = ref;
  }
  const dest = reader.get(ann, A.destinationCaFromSecret);
  if (dest !== undefined) {
    const ref = parseSecretRef(dest, A.destinationCaFromSecret, ns, true);
    if (isRefusal(ref)) return ref;
    wants.destinationCa = ref;
  }
  const hosts = reader.get(ann, A.tlsHosts);
  wants.hosts =
    hosts !== undefined
      ? [...new Set(commaList(hosts))]
      : [...new Set((ingress.spec?.rules ?? []).map((r) => r.host).filter((h): h is string => !!h))];
  // the rules' hosts are validated by the apiserver; the annotation's would only be at the
  // patch of spec.tls, after the copy was written, and that rejection is not bad input
  const badHosts = hosts !== undefined ? wants.hosts.filter((h) => !isIngressTlsHost(h)) : [];
  if (badHosts.length) {
    const list = listOf(badHosts.map((h) => `"${h}"`));
    const verb = badHosts.length > 1 ? 'are not host names' : 'is not a host name';
    return refuse('InvalidAnnotation', `${A.tlsHosts}: ${list} ${verb} (a DNS-1123 subdomain, or "*." and one)`);
  }
  const longest = Math.max(tlsCopyName(ingress.metadata.name).length, caCopyName(ingress.metadata.name).length);
  if ((wants.certs || wants.destinationCa) && longest > 253) {
    return refuse('InvalidAnnotation', `the Ingress name is too long for the copy Secret names (${longest} > 253 characters)`);
  }
  return wants;
}

export interface IngressObserved {
  ingress: Ingress;
  reader: AnnotationReader;
  /** referenced source Secrets by "ns/name" (undefined: missing); data only once read */
  sources: Record<string, SlimData | undefined>;
  /** the current copies in the Ingress's namespace, if any */
  copies: { tls?: SlimData; ca?: SlimData };
}

export interface CopyWrite {
  name: string;
  type: string;
  /** the complete data of the copy (base64); keys of an existing copy not listed here are removed */
  data: Record<string, string>;
  from: string;
}

export interface IngressChange {
  writeCopies: CopyWrite[];
  deleteCopies: string[];
  /** new spec.tls (null: remove the field), undefined: unchanged */
  tls?: IngressTLS[] | null;
  /** annotation changes (null: remove), including annotary.io/managed-fields */
  annotations: Record<string, string | null>;
  /** sources that are not (or no longer) shared: reported as NotSharedWithNamespace */
  warnings: Refusal[];
  /** annotations managed-fields claimed that annotary cannot prove it set: left as they are */
  released: string[];
}

const COPY_KEYS = { tls: ['tls.crt', 'tls.key', 'ca.crt'], ca: ['ca.crt'] } as const;
const COPY_TYPE = { tls: 'kubernetes.io/tls', ca: 'Opaque' } as const;

function ownedBy(copy: SlimData, ingress: Ingress): boolean {
  return !!copy.metadata.ownerReferences?.some((r) => r.uid === ingress.metadata.uid && r.controller === true);
}

const equalJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The heart of the controller. undefined: copies, spec.tls and annotations are exactly as
 * wanted; a Refusal: bad input, write nothing; NeedsData: a copy must be written and its
 * source's PEM has not been read yet; otherwise the change.
 */
export function desiredIngress(o: IngressObserved): IngressChange | undefined | Refusal | NeedsData {
  const { ingress } = o;
  const ns = ingress.metadata.namespace ?? '';
  const wants = ingressWants(ingress, o.reader);
  if (isRefusal(wants)) return wants;
  const warnings: Refusal[] = [];

  /** The source Secret if it may be copied; undefined when a cross-namespace source is not shared. */
  const usable = (ref: SecretRef | undefined): SlimData | undefined | Refusal => {
    if (!ref) return undefined;
    const src = o.sources[refKeyOf(ref)];
    if (ref.namespace === ns) return src ?? refuse('SourceSecretMissing', `Secret "${ref.name}" does not exist in namespace "${ns}"`);
    if (!src || !sharedWith(src.metadata.annotations?.[A.shareWithNamespaces], ns)) {
      // A missing source cannot show its opt-in either: treated like a withdrawn one, and
      // answered alike, so that Ingresses do not tell which Secrets exist in other namespaces.
      const why = `does not exist or is not shared with namespace "${ns}" (${A.shareWithNamespaces})`;
      warnings.push(refuse('NotSharedWithNamespace', `Secret "${refKeyOf(ref)}" ${why}`));
      return undefined;
    }
    return src;
  };
  const certs = usable(wants.certs);
  if (isRefusal(certs)) return certs;
  const dest = usable(wants.destinationCa);
  if (isRefusal(dest)) return dest;
  if (certs)
    for (const k of ['tls.crt', 'tls.key'])
      if (!(k in certs.digests)) return refuse('SourceSecretInvalid', `Secret "${certs.metadata.name}" has no ${k}`);
  if (dest && !('ca.crt' in dest.digests)) return refuse('SourceSecretInvalid', `Secret "${dest.metadata.name}" has no ca.crt`);

  // copies
  const writeCopies: CopyWrite[] = [];
  const deleteCopies: string[] = [];
  const unread: string[] = [];
  const plan = (kind: 'tls' | 'ca', src: SlimData | undefined, copyName: string): Refusal | undefined => {
    const copy = o.copies[kind];
    if (copy && !ownedBy(copy, ingress)) {
      return src ? refuse('CopyConflict', `Secret "${copyName}" exists and is not owned by this Ingress; rename or delete it`) : undefined;
    }
    if (!src) {
      if (copy) deleteCopies.push(copyName);
      return undefined;
    }
    const wantDigests = Object.fromEntries(COPY_KEYS[kind].filter((k) => k in src.digests).map((k) => [k, src.digests[k]]));
    // (the type is not compared: it is immutable, and annotary creates its copies with the right one)
    if (copy && sameEntries(copy.digests, wantDigests)) return undefined;
    const from = refKeyOf({ namespace: src.metadata.namespace ?? ns, name: src.metadata.name });
    if (!src.data) {
      unread.push(from);
      return undefined;
    }
    const bad = kind === 'tls' ? checkTlsSecret(src) : checkCaSecret(src);
    if (bad) return bad;
    writeCopies.push({
      name: copyName,
      type: COPY_TYPE[kind],
      data: Object.fromEntries(Object.keys(wantDigests).map((k) => [k, src.data![k]])),
      from,
    });
    return undefined;
  };
  const tlsName = tlsCopyName(ingress.metadata.name);
  const caName = caCopyName(ingress.metadata.name);
  const conflict = plan('tls', certs, tlsName) ?? plan('ca', dest, caName);
  if (conflict) return conflict;

  // spec.tls: user entries stay as they are and where they are; annotary's entry names its copy
  const current = ingress.spec?.tls ?? [];
  const entry: IngressTLS = { ...(wants.hosts.length ? { hosts: wants.hosts } : {}), secretName: tlsName };
  const ours = current.findIndex((t) => t.secretName === tlsName);
  let tls = current.filter((t) => t.secretName !== tlsName);
  if (certs) tls = ours < 0 ? [...tls, entry] : [...tls.slice(0, ours), entry, ...tls.slice(ours)];

  // ingress-nginx annotations for the destination CA
  const ann = ingress.metadata.annotations ?? {};
  const wantAnn: Record<string, string> = dest
    ? { [NGINX.proxySslSecret]: `${ns}/${caName}`, [NGINX.proxySslVerify]: 'on', [NGINX.backendProtocol]: 'HTTPS' }
    : {};
  // annotary changes or removes an ingress-nginx annotation only when it can prove it set it
  // (managed-keys.ts' rule): a managed-fields list copied with a manifest proves nothing
  const nginxKeys = Object.values(NGINX) as string[];
  const claims: Claims = {
    uid: ingress.metadata.uid,
    record: parseOwnerRecord(ann[A.ownerRecord]),
    claimed: commaList(ann[A.managedFields]).filter((k) => nginxKeys.includes(k)),
    currentDigests: Object.fromEntries(nginxKeys.filter((k) => ann[k] !== undefined).map((k) => [k, valueDigest(ann[k])])),
    wantDigests: Object.fromEntries(Object.entries(wantAnn).map(([k, v]) => [k, valueDigest(v)])),
  };
  const proven = provenKeys(claims);
  const annotations: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(wantAnn)) {
    if (ann[k] === v) continue;
    if (ann[k] !== undefined && !proven.has(k)) {
      return refuse('AnnotationConflict', `annotation ${k} is set to "${ann[k]}" by someone else; annotary needs "${v}"`);
    }
    annotations[k] = v;
  }
  for (const k of nginxKeys) if (!(k in wantAnn) && proven.has(k) && ann[k] !== undefined) annotations[k] = null;
  const released = releasedKeys(claims, proven);
  const managed = [...(certs ? [TLS_ENTRY] : []), ...Object.keys(wantAnn)];
  const managedValue = managed.length ? managed.join(',') : undefined;
  if (ann[A.managedFields] !== managedValue) annotations[A.managedFields] = managedValue ?? null;
  const record: OwnerRecord = { uid: ingress.metadata.uid ?? '', keys: claims.wantDigests };
  if (!sameRecord(claims.record, record)) annotations[A.ownerRecord] = Object.keys(record.keys).length ? ownerRecordValue(record) : null;

  if (unread.length) return { needsData: unread };
  const tlsChanged = !equalJson(tls, current);
  if (!writeCopies.length && !deleteCopies.length && !tlsChanged && !Object.keys(annotations).length) {
    return warnings.length ? warnings[0] : undefined;
  }
  return {
    writeCopies,
    deleteCopies,
    annotations,
    warnings,
    released,
    ...(tlsChanged ? { tls: tls.length ? tls : null } : {}),
  };
}

/** The merge patch of the Ingress, preconditioned on the Ingress it was computed from; undefined: none needed. */
export function ingressPatchBody(ingress: Ingress, change: IngressChange): Record<string, unknown> | undefined {
  if (change.tls === undefined && !Object.keys(change.annotations).length) return undefined;
  return {
    metadata: {
      resourceVersion: ingress.metadata.resourceVersion,
      ...(Object.keys(change.annotations).length ? { annotations: change.annotations } : {}),
    },
    ...(change.tls !== undefined ? { spec: { tls: change.tls } } : {}),
  };
}

/** Names copies, sources and fields, never their contents. */
export function describeIngressChange(change: IngressChange): string {
  const parts = change.writeCopies.map((c) => `copied Secret "${c.from}" into "${c.name}"`);
  if (change.deleteCopies.length) parts.push(`deleted ${change.deleteCopies.map((n) => `"${n}"`).join(', ')}`);
  if (change.tls !== undefined) parts.push('updated spec.tls');
  const keys = Object.keys(change.annotations).filter((k) => k !== A.managedFields && k !== A.ownerRecord);
  if (keys.length) parts.push(`updated annotations ${keys.join(', ')}`);
  return parts.length ? parts.join('; ') : 'recorded managed fields';
}

/** The copy as annotary creates it: owned by the Ingress (the only mark that lets annotary delete it). */
export function copyCreateBody(ingress: Ingress, c: CopyWrite): KubeObject {
  const owner: OwnerReference = {
    apiVersion: apiVersionOf(Ingresses),
    kind: 'Ingress',
    name: ingress.metadata.name,
    uid: ingress.metadata.uid!,
    controller: true,
    // no blockOwnerDeletion: setting it needs update rights on ingresses/finalizers where
    // OwnerReferencesPermissionEnforcement is on (OpenShift), and nothing needs to block
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: c.type,
    data: c.data,
    metadata: {
      name: c.name,
      namespace: ingress.metadata.namespace,
      ownerReferences: [owner],
      labels: { 'app.kubernetes.io/managed-by': 'annotary' },
    },
  };
}

/** The merge patch of an existing copy: its data becomes exactly the source's copied keys. */
export function copyPatchBody(existing: SlimData, c: CopyWrite): Record<string, unknown> {
  const remove = Object.keys(existing.digests).filter((k) => !Object.hasOwn(c.data, k));
  return {
    metadata: { resourceVersion: existing.metadata.resourceVersion },
    data: { ...c.data, ...Object.fromEntries(remove.map((k) => [k, null])) },
  };
}

/** The Secrets an Ingress reads: its sources (maybe in other namespaces) and its own copies. */
function ingressRefs(ingress: Ingress, reader: AnnotationReader): ObjectRef[] {
  const wants = ingressWants(ingress, reader);
  const sources = isRefusal(wants) ? [] : [wants.certs, wants.destinationCa].filter((r): r is SecretRef => !!r);
  const namespace = ingress.metadata.namespace ?? '';
  const copies = [tlsCopyName(ingress.metadata.name), caCopyName(ingress.metadata.name)].map((name) => ({ namespace, name }));
  return [...sources, ...copies].map((r) => ({ kind: 'Secret', ...r }));
}

/** The declaration: Ingresses, and the source Secrets and copies they read. */
export const ingressesController: ControllerModule = {
  name: CONTROLLER,
  declare(ctx: ControllerContext) {
    const { caches, annotations: reader, client, log, config } = ctx;
    const secrets = caches.secrets();
    const ingresses = caches.of(Ingresses);
    const write = ctx.writer(CONTROLLER);
    const watched = (ns: string) => config.namespaces.length === 0 || config.namespaces.includes(ns);

    /**
     * Creating or deleting a copy. The install grants that only in the namespaces it lists (a
     * RoleBinding to the ingress-copies ClusterRole, docs/operations.md#permissions); elsewhere the
     * apiserver answers 403 Forbidden: a refusal saying what is missing and where, not an
     * error to retry with backoff.
     */
    const copyWrite = async (
      verb: 'create' | 'delete',
      namespace: string,
      send: () => Promise<Refusal | undefined>,
    ): Promise<Refusal | undefined> => {
      try {
        return await send();
      } catch (err) {
        if (!(err instanceof ApiError && err.isForbidden)) throw err;
        const grant = 'a RoleBinding to the ingress-copies ClusterRole (overlays/ingress-copies, Helm ingressCopies.namespaces)';
        return refuse(
          'CopyForbidden',
          `annotary may not ${verb} Secrets in namespace "${namespace}": its Ingress copies need create and delete` +
            ` on secrets there, from ${grant}`,
        );
      }
    };

    return [
      {
        name: CONTROLLER,
        for: ingresses,
        watches: [{ source: secrets, refsOf: (i) => ingressRefs(i, reader) }],
        async reconcile({ namespace, name }) {
          const ingress = ingresses.get(objectKey(namespace, name));
          if (!ingress || ingress.metadata.deletionTimestamp) return; // copies go with it (ownerReferences)
          const wants = ingressWants(ingress, reader);
          const srcRefs = isRefusal(wants) ? [] : [wants.certs, wants.destinationCa].filter((r): r is SecretRef => !!r);
          const copies = {
            tls: secrets.get(objectKey(namespace, tlsCopyName(name))),
            ca: secrets.get(objectKey(namespace, caCopyName(name))),
          };
          const bookkeeping = [A.managedFields, A.ownerRecord].some((k) => ingress.metadata.annotations?.[k] !== undefined);
          if (!isRefusal(wants) && !srcRefs.length && !copies.tls && !copies.ca && !bookkeeping) return;

          const read = async (r: SecretRef) => {
            const fresh = await client.tryGet(Secrets, r.namespace, r.name);
            return fresh && fullSecret(fresh);
          };
          const sources: Record<string, SlimData | undefined> = {};
          for (const r of srcRefs) sources[refKeyOf(r)] = watched(r.namespace) ? secrets.get(refKeyOf(r)) : await read(r);
          const observed: IngressObserved = { ingress, reader, sources, copies };
          let change = desiredIngress(observed);
          if (isNeedsData(change)) {
            for (const r of srcRefs) if (change.needsData.includes(refKeyOf(r))) sources[refKeyOf(r)] = await read(r);
            change = desiredIngress(observed);
          }
          const outcome = srcRefs.some((r) => !watched(r.namespace)) ? { requeueAfterMs: UNWATCHED_SOURCE_POLL_MS } : undefined;
          if (change === undefined) return outcome;
          if (isRefusal(change)) {
            write.warn(ingress, change);
            return outcome;
          }
          if (isNeedsData(change)) throw new Error('Secret data still missing after reading it'); // unreachable: the Secrets were just read in full

          const refused = (r: Refusal) => {
            write.warn(ingress, r);
            return outcome ?? { requeueAfterMs: FORBIDDEN_RECHECK_MS };
          };
          for (const c of change.writeCopies) {
            const existing = c.name === tlsCopyName(name) ? copies.tls : copies.ca;
            const denied = existing
              ? await write.patch(Secrets, existing, copyPatchBody(existing, c))
              : await copyWrite('create', namespace, () => write.create(Secrets, namespace, copyCreateBody(ingress, c)));
            if (denied) return refused(denied); // nothing of this change written after it
          }
          const body = ingressPatchBody(ingress, change);
          const rejected = body && (await write.patch(Ingresses, ingress, body));
          if (rejected) return refused(rejected);
          for (const n of change.deleteCopies) {
            const denied = await copyWrite('delete', namespace, () => write.delete(Secrets, namespace, n));
            if (denied) return refused(denied);
          }
          for (const w of change.warnings) write.warn(ingress, w);
          reportReleased(write, ingress, A.managedFields, change.released);
          write.note(ingress, 'IngressTLSUpdated', describeIngressChange(change));
          log.debug('ingress updated', {
            ingress: objectKey(namespace, name),
            copies: change.writeCopies.map((c) => c.name),
            deleted: change.deleteCopies,
          });
          return outcome;
        },
      },
    ];
  },
};
