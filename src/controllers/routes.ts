// Certificates from Secrets into OpenShift Routes (route.openshift.io/v1).
//
// A refused Route is not written at all (its Event reasons: docs/events.md, generated from src/event-reasons.ts).
//
// Pure part: routeWants (annotations → sources) and desiredRoute (Route + Secrets → the
// minimal change of spec.tls, or nothing). Fields annotary filled are listed in
// annotary.io/managed-fields and proven by annotary.io/owner-record (managed-keys.ts' rule), so
// removing an annotation clears exactly those, and a copied managed-fields clears nothing.
import { A, AnnotationReader, commaList, parseBoolValue } from '../annotations.js';
import type { SlimData } from '../kube/slim.js';
import type { KubeObject } from '../kube/types.js';
import { Routes, Secrets, objectKey } from '../kube/types.js';
import type { ControllerContext, ControllerModule } from './context.js';
import type { Refusal } from '../kube/refusal.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import type { Claims, OwnerRecord } from './managed-keys.js';
import { ownerRecordValue, parseOwnerRecord, provenKeys, releasedKeys, reportReleased, sameRecord } from './managed-keys.js';
import type { NeedsData } from './cert-sources.js';
import { checkCaSecret, checkTlsSecret, fullSecret, isNeedsData, parseSecretRef, textDigest, textOf } from './cert-sources.js';

export const CONTROLLER = 'routes';

export const ROUTE_FIELDS = ['certificate', 'key', 'caCertificate', 'destinationCACertificate'] as const;
export type RouteField = (typeof ROUTE_FIELDS)[number];
const isRouteField = (s: string): s is RouteField => (ROUTE_FIELDS as readonly string[]).includes(s);

/** Which Secret data key fills which spec.tls field. */
const SOURCE_KEY: Record<RouteField, string> = {
  certificate: 'tls.crt',
  key: 'tls.key',
  caCertificate: 'ca.crt',
  destinationCACertificate: 'ca.crt',
};

export interface RouteWants {
  certs?: { secret: string; injectCa: boolean };
  destinationCa?: { secret: string };
}

export type RouteTLS = Partial<Record<RouteField, string>> & { termination?: string };
export type Route = KubeObject & { spec?: { tls?: RouteTLS; [field: string]: unknown } };

const isFalse = (v: string | undefined) => v?.trim().toLowerCase() === 'false';

/** annotary.io/inject-ca: present and empty means on, as cert-utils' inject-CA. */
const parseInjectCa = (value: string) => parseBoolValue(value, A.injectCa, true);

/**
 * Native keys win over the cert-utils ones. CA injection: annotary.io/inject-ca when set;
 * otherwise on for the native source and, as in cert-utils-operator, off for the compat
 * source unless inject-CA is present and not "false".
 */
export function routeWants(
  annotations: Record<string, string> | undefined,
  reader: AnnotationReader,
  namespace: string,
): RouteWants | Refusal {
  const wants: RouteWants = {};
  const nativeCerts = reader.get(annotations, A.certsFromSecret);
  const certsKey = nativeCerts !== undefined ? A.certsFromSecret : A.cuCertsFromSecret;
  const certs = nativeCerts ?? reader.get(annotations, A.cuCertsFromSecret);
  if (certs !== undefined) {
    const ref = parseSecretRef(certs, certsKey, namespace, false);
    if (isRefusal(ref)) return ref;
    const nativeInject = reader.get(annotations, A.injectCa);
    let injectCa: boolean | Refusal;
    if (nativeInject !== undefined) injectCa = parseInjectCa(nativeInject);
    else if (nativeCerts !== undefined) injectCa = true;
    else {
      const cu = reader.get(annotations, A.cuInjectCa);
      injectCa = cu !== undefined && !isFalse(cu);
    }
    if (isRefusal(injectCa)) return injectCa;
    wants.certs = { secret: ref.name, injectCa };
  }
  const nativeDest = reader.get(annotations, A.destinationCaFromSecret);
  const dest = nativeDest ?? reader.get(annotations, A.cuDestinationCaFromSecret);
  if (dest !== undefined) {
    const ref = parseSecretRef(dest, nativeDest !== undefined ? A.destinationCaFromSecret : A.cuDestinationCaFromSecret, namespace, false);
    if (isRefusal(ref)) return ref;
    wants.destinationCa = { secret: ref.name };
  }
  return wants;
}

export interface RouteObserved {
  route: Route;
  reader: AnnotationReader;
  /** the referenced Secrets of the Route's namespace by name (undefined: missing); data only once read */
  secrets: Record<string, SlimData | undefined>;
}

export interface RouteChange {
  set: Partial<Record<RouteField, string>>;
  clear: RouteField[];
  /** the new annotary.io/managed-fields, in ROUTE_FIELDS order */
  managed: RouteField[];
  /** field → Secret it was taken from, for the Event */
  from: Partial<Record<RouteField, string>>;
  /** the proof of what annotary filled, written with the change (see managed-keys.ts) */
  record: OwnerRecord;
  /** fields managed-fields claimed that annotary cannot prove it filled: left as they are */
  released: RouteField[];
}

export function managedFieldsOf(route: Route): RouteField[] {
  return commaList(route.metadata.annotations?.[A.managedFields]).filter(isRouteField);
}

/**
 * The heart of the controller. undefined: the Route already carries exactly what the
 * annotations ask for; a Refusal: bad input, write nothing; NeedsData: a field must be
 * written and the Secret's PEM has not been read yet; otherwise the minimal change.
 * `unset`: what is asked for but does not apply while the rest does (as cert-utils sets what
 * applies): a destination CA on an edge Route whose certificate is set.
 */
export function desiredRoute(o: RouteObserved, unset: Refusal[] = []): RouteChange | undefined | Refusal | NeedsData {
  const { route } = o;
  const ns = route.metadata.namespace ?? '';
  const asked = routeWants(route.metadata.annotations, o.reader, ns);
  if (isRefusal(asked)) return asked;
  let wants = asked;
  const tls = route.spec?.tls;
  if (wants.certs || wants.destinationCa) {
    if (!tls) return refuse('NoTLSSpec', 'the Route has no spec.tls; set spec.tls.termination to edge or reencrypt');
    if (wants.certs && tls.termination !== 'edge' && tls.termination !== 'reencrypt') {
      return refuse(
        'UnsupportedTermination',
        `certificates can only be set on edge or reencrypt Routes, not on termination "${tls.termination ?? ''}"`,
      );
    }
    if (wants.destinationCa && tls.termination !== 'reencrypt') {
      const why = `a destination CA can only be set on reencrypt Routes, not on termination "${tls.termination ?? ''}"`;
      if (!wants.certs) return refuse('UnsupportedTermination', why);
      unset.push(refuse('UnsupportedTermination', `${why}: left unset; the certificate and key are set`));
      wants = { ...wants, destinationCa: undefined };
    }
  }

  const from: Partial<Record<RouteField, string>> = {};
  const sourceOf = (name: string): SlimData | Refusal =>
    o.secrets[name] ?? refuse('SourceSecretMissing', `Secret "${name}" does not exist in namespace "${ns}"`);
  if (wants.certs) {
    const s = sourceOf(wants.certs.secret);
    if (isRefusal(s)) return s;
    for (const k of ['tls.crt', 'tls.key'])
      if (!(k in s.digests)) return refuse('SourceSecretInvalid', `Secret "${wants.certs.secret}" has no ${k}`);
    from.certificate = from.key = wants.certs.secret;
    if (wants.certs.injectCa && 'ca.crt' in s.digests) from.caCertificate = wants.certs.secret;
  }
  if (wants.destinationCa) {
    const s = sourceOf(wants.destinationCa.secret);
    if (isRefusal(s)) return s;
    if (!('ca.crt' in s.digests)) return refuse('SourceSecretInvalid', `Secret "${wants.destinationCa.secret}" has no ca.crt`);
    from.destinationCACertificate = wants.destinationCa.secret;
  }

  const managed = ROUTE_FIELDS.filter((f) => from[f] !== undefined);
  const wantDigests = Object.fromEntries(managed.map((f) => [f, o.secrets[from[f]!]!.digests[SOURCE_KEY[f]]]));
  const currentDigests = Object.fromEntries(ROUTE_FIELDS.filter((f) => tls?.[f] !== undefined).map((f) => [f, textDigest(tls![f]!)]));
  const stale = managed.filter((f) => currentDigests[f] !== wantDigests[f]);
  // clear only what annotary can prove it filled (a copied managed-fields proves nothing), and
  // only what is there (a merge patch of null into a missing spec.tls would create an empty,
  // invalid tls object)
  const claims: Claims = {
    uid: route.metadata.uid,
    record: parseOwnerRecord(route.metadata.annotations?.[A.ownerRecord]),
    claimed: managedFieldsOf(route),
    currentDigests,
    wantDigests,
  };
  const proven = provenKeys(claims);
  const clear = ROUTE_FIELDS.filter((f) => proven.has(f) && from[f] === undefined && tls?.[f] !== undefined);
  const released = releasedKeys(claims, proven).filter(isRouteField);
  const record: OwnerRecord = { uid: route.metadata.uid ?? '', keys: wantDigests };
  const sameManaged = route.metadata.annotations?.[A.managedFields] === (managed.length ? managed.join(',') : undefined);
  if (!stale.length && !clear.length && sameManaged && sameRecord(claims.record, record)) return undefined;

  const sources = [...new Set(stale.map((f) => from[f]!))];
  const unread = sources.filter((n) => o.secrets[n]!.data === undefined);
  if (unread.length) return { needsData: unread.map((n) => `${ns}/${n}`) };
  for (const n of sources) {
    const s = o.secrets[n]!;
    const bad = n === wants.certs?.secret ? checkTlsSecret(s) : undefined;
    if (bad) return bad;
    const badCa = n === wants.destinationCa?.secret ? checkCaSecret(s) : undefined;
    if (badCa) return badCa;
  }
  const set: Partial<Record<RouteField, string>> = {};
  for (const f of stale) set[f] = textOf(o.secrets[from[f]!]!, SOURCE_KEY[f]) as string; // checked above
  return { set, clear, managed, from, record, released };
}

/** The merge patch for a change, preconditioned on the Route it was computed from. */
export function routePatchBody(route: Route, change: RouteChange): Record<string, unknown> {
  const tls: Record<string, string | null> = { ...change.set };
  for (const f of change.clear) tls[f] = null;
  return {
    metadata: {
      resourceVersion: route.metadata.resourceVersion,
      annotations: change.managed.length
        ? { [A.managedFields]: change.managed.join(','), [A.ownerRecord]: ownerRecordValue(change.record) }
        : { [A.managedFields]: null, [A.ownerRecord]: null },
    },
    ...(Object.keys(tls).length ? { spec: { tls } } : {}),
  };
}

/** Names the fields and their sources, never their contents. */
export function describeRouteChange(change: RouteChange): string {
  const bySource = new Map<string, string[]>();
  for (const f of Object.keys(change.set) as RouteField[]) {
    const s = change.from[f]!;
    bySource.set(s, [...(bySource.get(s) ?? []), f]);
  }
  const parts = [...bySource].map(([s, fs]) => `set ${fs.join(', ')} from Secret "${s}"`);
  if (change.clear.length) parts.push(`cleared ${change.clear.join(', ')}`);
  return parts.length ? parts.join('; ') : `recorded managed fields: ${change.managed.join(', ') || 'none'}`;
}

/** The Secrets a Route's annotations name (its namespace). */
function sourcesOf(wants: RouteWants | Refusal): string[] {
  return isRefusal(wants) ? [] : [wants.certs?.secret, wants.destinationCa?.secret].filter((n): n is string => !!n);
}

/** The declaration: Routes (once the cluster serves them), and the Secrets they name. */
export const routesController: ControllerModule = {
  name: CONTROLLER,
  declare(ctx: ControllerContext) {
    const { caches, annotations: reader, client, log } = ctx;
    const secrets = caches.secrets();
    const write = ctx.writer(CONTROLLER);
    // plain Kubernetes without the Route CRD: the cache layer keeps looking, it may come later
    const served = caches.whenServed(Routes);

    return [
      {
        name: CONTROLLER,
        for: served,
        watches: [
          {
            source: secrets,
            refsOf: (r) => {
              const namespace = r.metadata.namespace ?? '';
              return sourcesOf(routeWants(r.metadata.annotations, reader, namespace)).map((name) => ({ kind: 'Secret', namespace, name }));
            },
          },
        ],
        async reconcile({ namespace, name }) {
          // reconciles come only from the Route cache's events: it is served by then
          const route = (await served).get(objectKey(namespace, name));
          if (!route || route.metadata.deletionTimestamp) return;
          const wants = routeWants(route.metadata.annotations, reader, namespace);
          const names = sourcesOf(wants);
          const bookkeeping = [A.managedFields, A.ownerRecord].some((k) => route.metadata.annotations?.[k] !== undefined);
          if (!names.length && !bookkeeping && !isRefusal(wants)) return;

          const observed: RouteObserved = {
            route,
            reader,
            secrets: Object.fromEntries(names.map((n) => [n, secrets.get(objectKey(namespace, n))])),
          };
          const unset: Refusal[] = [];
          let change = desiredRoute(observed, unset);
          if (isNeedsData(change)) {
            for (const n of names) {
              const fresh = await client.tryGet(Secrets, namespace, n);
              observed.secrets[n] = fresh && fullSecret(fresh);
            }
            unset.length = 0;
            change = desiredRoute(observed, unset);
          }
          for (const u of unset) write.warn(route, u); // asked for, does not apply; the rest is set
          if (change === undefined) return;
          if (isRefusal(change)) return write.warn(route, change);
          if (isNeedsData(change)) throw new Error('Secret data still missing after reading it'); // unreachable: the Secrets were just read in full

          const rejected = await write.patch(Routes, route, routePatchBody(route, change));
          if (rejected) return write.warn(route, rejected);
          write.note(route, 'RouteUpdated', describeRouteChange(change));
          reportReleased(write, route, A.managedFields, change.released);
          log.debug('route updated', { key: objectKey(namespace, name), set: Object.keys(change.set), cleared: change.clear });
        },
      },
    ];
  },
};
