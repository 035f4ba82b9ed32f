// Certificates annotary issues into Secrets (annotary.io/issuer, annotary.io/generate-ca) and
// renews: a new key on every issuance, renewal at renew-at (with a deterministic jitter), and
// CA rotation (ca-rotation.ts) when the issuing CA changes.
//
// Pure part: parseIssueSpec (annotations → request or refusal), renewAtMs (the jitter) and
// issuingDecision (what the Secret holds → issue, rewrite ca.crt, or wait). Ownership of
// tls.crt/tls.key/ca.crt is proven as managed-keys.ts proves it (an owner record bound to the
// Secret's uid with the digest of every value), in annotary.io/issued-record, which is the
// issuing controller's own: the keystores controller's record lists the stores it writes into
// the same Secret, and each controller proves only its keys.
//
// Writes are whole: a new certificate is written in one patch with its key and CA, or not at
// all (a failed or refused renewal leaves the valid certificate in place and is retried).
import { isIP } from 'node:net';
import { A, commaList, parseBoolValue, type AnnotationReader } from '../annotations.js';
import { parseDuration } from '../config.js';
import { caChain, caIssuer } from '../issuers/ca.js';
import { csrIssuing } from '../issuers/csr.js';
import { BACKDATE_MS, isIssued, isPending, type IssueResult, type Issuer, type Pending } from '../issuers/issuer.js';
import { isDnsSubdomain } from '../kube/names.js';
import { isRefusal, refuse, type Refusal } from '../kube/refusal.js';
import { digestOfParts, valueDigest, type SlimData } from '../kube/slim.js';
import { ApiError } from '../kube/client.js';
import { objectKey, Secrets, type ObjectRef } from '../kube/types.js';
import type { Writer } from '../kube/writer.js';
import { errorText } from '../log.js';
import type { IssueWhy } from '../metrics.js';
import { dedupe } from '../pki/chain.js';
import { PkiError } from '../pki/errors.js';
import { parseCertificates } from '../pki/pem.js';
import { createCsr, generateKey, KEY_ALGORITHMS, selfSignedCa, USAGES, type KeyAlgorithm, type Usage } from '../pki/x509.js';
import { pemText } from './cache-reads.js';
import { fullSecret, sharedWith, textDigest } from './cert-sources.js';
import { rotationStep, type RotationState } from './ca-rotation.js';
import type { ControllerContext, ControllerModule } from './context.js';
import { parseOwnerRecord, ownerRecordValue, type OwnerRecord } from './managed-keys.js';

export const CONTROLLER = 'issuing';
export const ISSUED_KEYS = ['tls.crt', 'tls.key', 'ca.crt'] as const;
const DAY_MS = 86_400_000;

const DEFAULT_DURATION_MS = 90 * DAY_MS;
const DEFAULT_CA_DURATION_MS = 3650 * DAY_MS;
// setTimeout holds at most ~24.8 days; looking again twice a day is cheap (a decision from the cache)
const MAX_WAIT_MS = 12 * 3_600_000;
// an issuer that has not signed yet (a CSR awaiting approval) is asked again this often
const PENDING_RECHECK_MS = 15_000;

// ---------------------------------------------------------------- the request

export type IssuerRef = { kind: 'ca'; namespace: string; name: string } | { kind: 'csr'; signerName: string } | { kind: 'self' };

export interface IssueSpec {
  issuer: IssuerRef;
  commonName?: string;
  dnsNames: string[];
  ipAddresses: string[];
  keyAlgorithm: KeyAlgorithm;
  durationMs: number;
  renewBeforeMs: number;
  usages: Usage[];
  isCA: boolean;
}

/** How annotations, Events and issued-by name an issuer. */
export function issuerName(r: IssuerRef): string {
  return r.kind === 'ca' ? `${r.namespace}/${r.name}` : r.kind === 'csr' ? `csr:${r.signerName}` : 'self';
}

/** Whether a Secret asks for a certificate (the controller's filter). */
export function requestsCertificate(a: Record<string, string> | undefined, reader: AnnotationReader): boolean {
  return reader.get(a, A.issuer) !== undefined || reader.get(a, A.generateCa) !== undefined;
}

/** `<secret>`, `<namespace>/<secret>` or `csr:<signerName>`. */
export function parseIssuerRef(value: string, home: string): IssuerRef | Refusal {
  const v = value.trim();
  if (v.startsWith('csr:')) {
    const signerName = v.slice(4);
    // a signerName is a qualified name: a DNS subdomain, a "/", a path
    if (/^[a-z0-9.-]+\/[A-Za-z0-9._/-]+$/.test(signerName) && isDnsSubdomain(signerName.split('/')[0])) return { kind: 'csr', signerName };
    return refuse('UnknownIssuer', `${A.issuer}: "${value}" is not csr:<domain>/<path> (a Kubernetes signerName)`);
  }
  const parts = v.split('/');
  const [namespace, name] = parts.length === 2 ? parts : [home, parts.length === 1 ? parts[0] : ''];
  if (!name || !isDnsSubdomain(name) || !isDnsSubdomain(namespace) || namespace.includes('.'))
    return refuse('UnknownIssuer', `${A.issuer}: "${value}" is not <ca-secret>, <namespace>/<ca-secret> or csr:<signerName>`);
  return { kind: 'ca', namespace, name };
}

/** A DNS SAN: RFC 1123 labels, lower case; `*` only as the whole first label of a name with two labels more. */
export function isDnsName(s: string): boolean {
  const rest = s.startsWith('*.') ? s.slice(2) : s;
  return isDnsSubdomain(rest) && (rest === s || rest.includes('.'));
}

function duration(value: string | undefined, key: string, dflt: number): number | Refusal {
  if (value === undefined) return dflt;
  try {
    const ms = parseDuration(value);
    if (ms > 0) return ms;
  } catch {
    // the refusal below says what a duration is
  }
  return refuse('InvalidDuration', `${key}: "${value}" is not a positive duration (e.g. 2160h, 90d)`);
}

/**
 * The request a Secret's annotations make, or why it cannot be served. `undefined` when the
 * Secret asks for nothing (generate-ca false and no issuer).
 */
export function parseIssueSpec(
  a: Record<string, string> | undefined,
  home: string,
  secretName: string,
  reader: AnnotationReader,
): IssueSpec | Refusal | undefined {
  const isCA = parseBoolValue(reader.get(a, A.generateCa), A.generateCa);
  if (isRefusal(isCA)) return isCA;
  const issuerValue = reader.get(a, A.issuer);
  if (issuerValue !== undefined && isCA)
    return refuse('InvalidAnnotation', `${A.issuer} and ${A.generateCa} exclude each other: a generated CA is self-signed`);
  if (issuerValue === undefined && !isCA) return undefined;
  const issuer: IssuerRef | Refusal = isCA ? { kind: 'self' } : parseIssuerRef(issuerValue!, home);
  if (isRefusal(issuer)) return issuer;

  const dnsNames = commaList(reader.get(a, A.dnsNames)).map((n) => n.toLowerCase());
  const badDns = dnsNames.find((n) => !isDnsName(n));
  if (badDns !== undefined) return refuse('InvalidDNSName', `${A.dnsNames}: "${badDns}" is not a DNS name`);
  const ipAddresses = commaList(reader.get(a, A.ipAddresses));
  const badIp = ipAddresses.find((ip) => !isIP(ip));
  if (badIp !== undefined) return refuse('InvalidIPAddress', `${A.ipAddresses}: "${badIp}" is not an IP address`);
  const cn = reader.get(a, A.commonName)?.trim();
  // X.520 ub-common-name: 64 characters
  if (cn !== undefined && (cn === '' || cn.length > 64))
    return refuse('InvalidAnnotation', `${A.commonName}: a common name has 1 to 64 characters`);
  const commonName = cn ?? (isCA ? secretName : undefined);
  if (!commonName && dnsNames.length === 0 && ipAddresses.length === 0)
    return refuse('InvalidName', `the certificate needs a name: ${A.dnsNames}, ${A.ipAddresses} or ${A.commonName}`);

  const alg = reader.get(a, A.keyAlgorithm)?.trim() ?? 'rsa-2048';
  if (!(KEY_ALGORITHMS as readonly string[]).includes(alg))
    return refuse('InvalidAnnotation', `${A.keyAlgorithm}: "${alg}" is not one of ${KEY_ALGORITHMS.join(', ')}`);
  const durationMs = duration(reader.get(a, A.duration), A.duration, isCA ? DEFAULT_CA_DURATION_MS : DEFAULT_DURATION_MS);
  if (isRefusal(durationMs)) return durationMs;
  const renewBeforeMs = duration(reader.get(a, A.renewBefore), A.renewBefore, Math.floor(durationMs / 3));
  if (isRefusal(renewBeforeMs)) return renewBeforeMs;
  if (renewBeforeMs >= durationMs)
    return refuse('InvalidDuration', `${A.renewBefore} (${renewBeforeMs}ms) must be shorter than ${A.duration} (${durationMs}ms)`);
  const usageList = reader.get(a, A.usages) === undefined ? [...USAGES] : commaList(reader.get(a, A.usages));
  const badUsage = usageList.find((u) => !(USAGES as readonly string[]).includes(u));
  if (badUsage !== undefined || usageList.length === 0)
    return refuse('InvalidAnnotation', `${A.usages}: "${reader.get(a, A.usages)}" is not server, client or server,client`);
  const usages = USAGES.filter((u) => usageList.includes(u));
  return {
    issuer,
    ...(commonName ? { commonName } : {}),
    dnsNames,
    ipAddresses,
    keyAlgorithm: alg as KeyAlgorithm,
    durationMs,
    renewBeforeMs,
    usages,
    isCA,
  };
}

/** Digest of everything in a request that shapes the certificate: a change re-issues. */
export function specDigest(s: IssueSpec): string {
  return digestOfParts([
    issuerName(s.issuer),
    s.commonName ?? '',
    s.dnsNames.join(','),
    s.ipAddresses.join(','),
    s.keyAlgorithm,
    String(s.durationMs),
    String(s.renewBeforeMs),
    s.usages.join(','),
    String(s.isCA),
  ]);
}

// ---------------------------------------------------------------- what was issued

/** annotary.io/issued-record: the owner record of tls.crt/tls.key/ca.crt, and what they were issued from. */
export interface IssuedRecord extends OwnerRecord {
  /** specDigest of the request the certificate answers */
  spec: string;
  /** identity of the issuing CA (the digest of its CA Secret's tls.crt; the issuer name otherwise) */
  ca: string;
  notAfterMs: number;
  renewAtMs: number;
  rotation?: RotationState;
}

export function parseIssuedRecord(value: string | undefined): IssuedRecord | undefined {
  const owner = parseOwnerRecord(value);
  if (!owner) return undefined;
  const r = JSON.parse(value!) as Partial<IssuedRecord>;
  if (typeof r.spec !== 'string' || typeof r.ca !== 'string' || typeof r.notAfterMs !== 'number' || typeof r.renewAtMs !== 'number')
    return undefined;
  const rot = r.rotation;
  const rotation =
    rot && (rot.stage === 'trust-both' || rot.stage === 'reissued') && typeof rot.sinceMs === 'number'
      ? { stage: rot.stage, sinceMs: rot.sinceMs }
      : undefined;
  return { ...owner, spec: r.spec, ca: r.ca, notAfterMs: r.notAfterMs, renewAtMs: r.renewAtMs, ...(rotation ? { rotation } : {}) };
}

export function issuedRecordValue(r: IssuedRecord): string {
  const owner = JSON.parse(ownerRecordValue(r)) as OwnerRecord;
  return JSON.stringify({ ...owner, spec: r.spec, ca: r.ca, notAfterMs: r.notAfterMs, renewAtMs: r.renewAtMs, rotation: r.rotation });
}

/**
 * When to renew: renew-before ahead of notAfter, earlier by a jitter of up to a tenth of
 * renew-before, fixed per certificate (`seed`: the Secret's uid and the serial), so certificates
 * issued together spread their renewals over that window and the same certificate always
 * renews at the same moment. A renew-before longer than the lifetime the issuer granted (a CA
 * that expires sooner) is a third of that lifetime, as cert-manager does.
 */
export function renewAtMs(notBeforeMs: number, notAfterMs: number, renewBeforeMs: number, seed: string): number {
  const lifetime = notAfterMs - notBeforeMs;
  const before = renewBeforeMs < lifetime ? renewBeforeMs : Math.floor(lifetime / 3);
  const spread = Math.floor(before / 10);
  const fraction = parseInt(valueDigest(seed).slice(0, 8), 16) / 2 ** 32;
  return notAfterMs - before - Math.floor(fraction * spread);
}

export interface IssuingObserved {
  spec: IssueSpec;
  uid: string | undefined;
  /** digests of the Secret's data values (the cache's) */
  digests: Record<string, string>;
  record: IssuedRecord | undefined;
  /** identity of the issuer's CA now (see IssuedRecord.ca) */
  currentCa: string;
  nowMs: number;
  graceMs: number;
}

export type IssuingDecision =
  | { issue: IssueWhy }
  /** rewrite ca.crt alone: trust the new CA too, or drop the old one */
  | { bundle: 'trust-both' | 'drop-old' }
  | { waitMs: number };

const at = (m: Record<string, string>, k: string): string | undefined => (Object.hasOwn(m, k) ? m[k] : undefined);
const EMPTY = valueDigest('');

/** Whether tls.crt holds anything: a kubernetes.io/tls Secret made empty (as serving-certs creates it) holds nothing to keep. */
export function holdsCertificate(digests: Record<string, string>): boolean {
  const d = at(digests, 'tls.crt');
  return d !== undefined && d !== EMPTY;
}

/** Whether tls.crt/tls.key/ca.crt are exactly what annotary wrote into this Secret. */
export function issuedIntact(record: IssuedRecord | undefined, uid: string | undefined, digests: Record<string, string>): boolean {
  return (
    record !== undefined &&
    uid !== undefined &&
    record.uid === uid &&
    Object.keys(record.keys).length > 0 &&
    Object.entries(record.keys).every(([k, d]) => at(digests, k) === d)
  );
}

export function issuingDecision(o: IssuingObserved): IssuingDecision {
  if (!issuedIntact(o.record, o.uid, o.digests)) {
    // the user added annotary.io/issuer to a Secret holding a certificate of theirs: that is the consent
    return { issue: holdsCertificate(o.digests) ? 'replaced_user_certificate' : 'new' };
  }
  const r = o.record!;
  // a new CA first: no leaf of it is served before its peers trust it (a changed request, a new issuer included, waits)
  const rot = rotationStep({ issuedCa: r.ca, currentCa: o.currentCa, rotation: r.rotation, nowMs: o.nowMs, graceMs: o.graceMs });
  if (rot.step === 'trust-both' || rot.step === 'drop-old') return { bundle: rot.step };
  if (rot.step === 'reissue') return { issue: 'ca_rotation' };
  if (rot.step === 'wait' && r.rotation?.stage === 'trust-both') return { waitMs: Math.min(rot.ms, MAX_WAIT_MS) };
  if (r.spec !== specDigest(o.spec)) return { issue: 'request_changed' };
  const renewIn = r.renewAtMs - o.nowMs;
  if (renewIn <= 0) return { issue: 'renewal' };
  return { waitMs: Math.min(renewIn, rot.step === 'wait' ? rot.ms : Infinity, MAX_WAIT_MS) };
}

/** PEM blocks, each once, in order. */
export function bundleUnion(...pems: (string | undefined)[]): string {
  const certs = dedupe(pems.flatMap((p) => (p?.trim() ? parseCertificates(p, 'CA bundle') : [])));
  return certs.map((c) => c.toString().trimEnd() + '\n').join('');
}

// ---------------------------------------------------------------- wiring

/** A generated CA: the request's own key signs a self-signed certificate. */
function selfIssuer(commonName: string, keyPem: string): Issuer {
  return {
    name: 'self',
    async sign(req): Promise<IssueResult> {
      const notBefore = new Date(req.now.getTime() - BACKDATE_MS);
      const cert = await selfSignedCa(keyPem, commonName, { notBefore, notAfter: new Date(req.now.getTime() + req.profile.durationMs) });
      return { chain: [cert], ca: cert };
    },
  };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** The CA Secret of a `ca` issuer as a requester may use it, or why it may not. */
export function caSecretVisible(
  ca: SlimData | undefined,
  ref: { namespace: string; name: string },
  requester: string,
): Refusal | undefined {
  if (ref.namespace !== requester) {
    // one answer for "missing" and "not shared": a Secret cannot probe which Secrets exist elsewhere (as Ingresses)
    if (!ca || !sharedWith(ca.metadata.annotations?.[A.shareWithNamespaces], requester))
      return refuse(
        'NotSharedWithNamespace',
        `CA Secret "${ref.namespace}/${ref.name}" does not exist or is not shared with namespace "${requester}" (${A.shareWithNamespaces})`,
      );
    return undefined;
  }
  if (!ca) return refuse('IssuerNotFound', `CA Secret "${ref.name}" does not exist`);
  return undefined;
}

export const issuingController: ControllerModule = {
  name: CONTROLLER,
  declare(ctx: ControllerContext) {
    const { caches, annotations: reader, config, log, metrics, client } = ctx;
    const secrets = caches.secrets();
    const write: Writer = ctx.writer(CONTROLLER);
    const failures = new Map<string, number>();

    const specOf = (s: SlimData) => parseIssueSpec(s.metadata.annotations, s.metadata.namespace ?? '', s.metadata.name, reader);
    const caRefOf = (s: SlimData): ObjectRef[] => {
      const spec = specOf(s);
      return spec && !isRefusal(spec) && spec.issuer.kind === 'ca'
        ? [{ kind: 'Secret', namespace: spec.issuer.namespace, name: spec.issuer.name }]
        : [];
    };
    // the csr: issuers (src/issuers/csr.ts): their watch of the CSR cache, and the key a waiting request keeps
    const csr = csrIssuing(ctx, write, (s) => {
      const spec = specOf(s);
      return !!spec && !isRefusal(spec) && spec.issuer.kind === 'csr';
    });

    /**
     * The issuer a request names, with the identity of its CA, or why there is none: decided
     * before a key is made. A generated CA (`self`) signs with the key of the request itself, so
     * it is made with that key.
     */
    async function resolveIssuer(
      spec: IssueSpec,
      secret: SlimData,
    ): Promise<{ issuer: (keyPem: string) => Issuer; ca: string; keyFor?: (a: KeyAlgorithm) => Promise<string> } | Pending | Refusal> {
      const ref = spec.issuer;
      if (ref.kind === 'self') return { issuer: (keyPem) => selfIssuer(spec.commonName!, keyPem), ca: 'self' };
      if (ref.kind === 'csr') {
        const r = csr.resolve(ref.signerName, secret);
        return isRefusal(r) ? r : { issuer: () => r.issuer, ca: issuerName(ref), keyFor: r.keyFor };
      }
      const cached = secrets.get(objectKey(ref.namespace, ref.name));
      const hidden = caSecretVisible(cached, ref, secret.metadata.namespace ?? '');
      if (hidden) return hidden;
      const got = await client.tryGet<SlimData>(Secrets, ref.namespace, ref.name);
      if (!got) return refuse('IssuerNotFound', `CA Secret "${issuerName(ref)}" does not exist`);
      const full = fullSecret(got);
      const data = full.data ?? {};
      // a CA annotary is about to generate (both Secrets applied together): not an error, its change re-queues this one
      if (!holdsCertificate(full.digests) && requestsCertificate(full.metadata.annotations, reader))
        return { pending: `CA Secret "${issuerName(ref)}" has no certificate yet: annotary generates it` };
      const signer = caIssuer(issuerName(ref), {
        certPem: pemText(data['tls.crt']) ?? '',
        keyPem: pemText(data['tls.key']) ?? '',
        caBundlePem: pemText(data['ca.crt']),
      });
      return {
        issuer: () => signer,
        ca: full.digests['tls.crt'] ?? '',
      };
    }

    /** The Secret's current value of a key (the cache keeps digests only): one GET. */
    async function currentText(secret: SlimData, key: string): Promise<string | undefined> {
      const got = await client.tryGet<SlimData>(Secrets, secret.metadata.namespace, secret.metadata.name);
      return pemText(got?.data?.[key]);
    }

    async function writeIssued(
      secret: SlimData,
      values: Record<(typeof ISSUED_KEYS)[number], string>,
      record: IssuedRecord,
      extra: Record<string, string | null>,
    ): Promise<boolean> {
      const keys = Object.fromEntries(ISSUED_KEYS.map((k) => [k, textDigest(values[k])]));
      const full: IssuedRecord = { ...record, uid: secret.metadata.uid ?? '', keys };
      const body = {
        metadata: {
          resourceVersion: secret.metadata.resourceVersion,
          annotations: { ...extra, [A.issuedRecord]: issuedRecordValue(full) },
        },
        data: Object.fromEntries(ISSUED_KEYS.map((k) => [k, b64(values[k])])),
      };
      const rejected = await write.patch(Secrets, secret, body);
      if (rejected) write.warn(secret, rejected);
      return !rejected;
    }

    /** A refused renewal is asked again with backoff (its Warning each time): the certificate in place stays meanwhile. */
    const refused = (secret: SlimData, spec: IssueSpec, r: Refusal) => {
      write.warn(secret, r);
      if (!holdsCertificate(secret.digests)) return; // nothing to keep valid: the next change of the inputs retries
      metrics.issuanceFailures.inc({ issuer: spec.issuer.kind });
      const key = objectKey(secret.metadata.namespace, secret.metadata.name);
      const n = (failures.get(key) ?? 0) + 1;
      failures.set(key, n);
      return { requeueAfterMs: Math.min(config.retryBaseMs * 2 ** Math.min(n - 1, 20), config.retryMaxMs) };
    };

    const pending = (secret: SlimData, p: Pending) => {
      write.note(secret, 'IssuancePending', p.pending);
      return { requeueAfterMs: PENDING_RECHECK_MS };
    };

    async function issue(secret: SlimData, spec: IssueSpec, why: IssueWhy, prev: IssuedRecord | undefined) {
      const resolved = await resolveIssuer(spec, secret);
      if (isRefusal(resolved)) return refused(secret, spec, resolved);
      if (isPending(resolved)) return pending(secret, resolved);
      const now = new Date();
      const keyPem = await (resolved.keyFor ?? generateKey)(spec.keyAlgorithm);
      const issuer = resolved.issuer(keyPem);
      const ca = resolved.ca;
      let result: IssueResult;
      try {
        const csr = await createCsr(keyPem, spec);
        result = await issuer.sign({ csr, profile: { durationMs: spec.durationMs, usages: spec.usages, isCA: spec.isCA }, now });
      } catch (err) {
        if (!(err instanceof PkiError)) throw err;
        result = refuse(err.reason, err.message);
      }
      if (isRefusal(result)) return refused(secret, spec, result);
      if (isPending(result)) return pending(secret, result);
      if (!isIssued(result)) return;
      // during a rotation (this re-issue, or a renewal or changed request after it) the bundle keeps the CAs
      // trusted so far until the old one is dropped
      const rotating = why === 'ca_rotation';
      const rotation = rotating ? { stage: 'reissued' as const, sinceMs: now.getTime() } : prev?.rotation;
      const caPem = rotation ? bundleUnion(result.ca, await currentText(secret, 'ca.crt')) : result.ca;
      const [leaf] = parseCertificates(result.chain[0], 'issued certificate');
      const notBeforeMs = Date.parse(leaf.validFrom);
      const notAfterMs = Date.parse(leaf.validTo);
      const renewAt = renewAtMs(notBeforeMs, notAfterMs, spec.renewBeforeMs, `${secret.metadata.uid ?? ''}/${leaf.serialNumber}`);
      const record: IssuedRecord = {
        uid: '',
        keys: {},
        spec: specDigest(spec),
        ca,
        notAfterMs,
        renewAtMs: renewAt,
        ...(rotation ? { rotation } : {}),
      };
      const extra = {
        [A.notAfter]: new Date(notAfterMs).toISOString(),
        [A.renewAt]: new Date(renewAt).toISOString(),
        [A.issuedBy]: issuer.name,
        [A.serial]: leaf.serialNumber.toLowerCase(),
      };
      if (!(await writeIssued(secret, { 'tls.crt': result.chain.join(''), 'tls.key': keyPem, 'ca.crt': caPem }, record, extra))) return;
      failures.delete(objectKey(secret.metadata.namespace, secret.metadata.name));
      csr.issued(secret);
      metrics.certificatesIssued.inc({ issuer: spec.issuer.kind, why });
      if (why === 'replaced_user_certificate')
        write.note(secret, 'UserCertificateReplaced', `${A.issuer} was added: the certificate that was in tls.crt is replaced`);
      if (rotating) write.note(secret, 'CARotation', `leaf re-issued by the new CA of ${issuer.name}; ca.crt trusts old and new CA`);
      write.note(
        secret,
        'CertificateIssued',
        `${why}: serial ${extra[A.serial]} from ${issuer.name}, notAfter ${extra[A.notAfter]}, renew at ${extra[A.renewAt]}`,
      );
      log.info('certificate issued', { key: objectKey(secret.metadata.namespace, secret.metadata.name), why, issuer: issuer.name });
      return { requeueAfterMs: Math.min(Math.max(renewAt - Date.now(), 0), MAX_WAIT_MS) };
    }

    /** The rotation steps that rewrite ca.crt alone (the leaf and its key stay). */
    async function rebundle(secret: SlimData, spec: IssueSpec, record: IssuedRecord, step: 'trust-both' | 'drop-old') {
      // only a `ca` issuer's CA changes under its leaves (a csr signer's identity is its name)
      if (spec.issuer.kind !== 'ca') return;
      const hidden = caSecretVisible(
        secrets.get(objectKey(spec.issuer.namespace, spec.issuer.name)),
        spec.issuer,
        secret.metadata.namespace ?? '',
      );
      if (hidden) return refused(secret, spec, hidden);
      const got = await client.tryGet<SlimData>(Secrets, secret.metadata.namespace, secret.metadata.name);
      const data = got ? (fullSecret(got).data ?? {}) : {};
      const caGot = await client.tryGet<SlimData>(Secrets, spec.issuer.namespace, spec.issuer.name);
      const caData = caGot ? (fullSecret(caGot).data ?? {}) : {};
      let newCa: string;
      try {
        newCa = caChain({ certPem: pemText(caData['tls.crt']) ?? '', keyPem: '', caBundlePem: pemText(caData['ca.crt']) }).ca;
      } catch (err) {
        if (!(err instanceof PkiError)) throw err;
        return refused(secret, spec, refuse('IssuerNotCA', `CA Secret ${issuerName(spec.issuer)}: ${err.message} (${err.reason})`));
      }
      const caPem = step === 'trust-both' ? bundleUnion(newCa, pemText(data['ca.crt'])) : newCa;
      const next: IssuedRecord = {
        ...record,
        ...(step === 'trust-both' ? { rotation: { stage: 'trust-both' as const, sinceMs: Date.now() } } : { rotation: undefined }),
      };
      const values = { 'tls.crt': pemText(data['tls.crt']) ?? '', 'tls.key': pemText(data['tls.key']) ?? '', 'ca.crt': caPem };
      if (!(await writeIssued(secret, values, next, {}))) return;
      write.note(
        secret,
        'CARotation',
        step === 'trust-both'
          ? `the CA of ${issuerName(spec.issuer)} changed: ca.crt trusts old and new CA; the leaf is re-issued in ${config.caRotationGraceMs}ms`
          : 'the old CA is dropped from ca.crt',
      );
      return { requeueAfterMs: step === 'trust-both' ? config.caRotationGraceMs : 0 };
    }

    return [
      {
        name: CONTROLLER,
        for: secrets,
        filter: (s) => requestsCertificate(s.metadata.annotations, reader),
        // a change of the CA Secret (a new CA: rotation; the CA appearing or becoming shared) re-queues its leaves
        watches: [{ source: secrets, refsOf: caRefOf }, ...csr.watches],
        async reconcile({ namespace, name }) {
          const secret = secrets.get(objectKey(namespace, name));
          if (!secret || secret.metadata.deletionTimestamp) return void failures.delete(objectKey(namespace, name));
          const spec = specOf(secret);
          if (spec === undefined) return void failures.delete(objectKey(namespace, name));
          if (isRefusal(spec)) return write.warn(secret, spec);
          const record = parseIssuedRecord(secret.metadata.annotations?.[A.issuedRecord]);
          const ca = spec.issuer;
          const currentCa =
            ca.kind === 'ca' ? (secrets.get(objectKey(ca.namespace, ca.name))?.digests['tls.crt'] ?? record?.ca ?? '') : issuerName(ca);
          const decision = issuingDecision({
            spec,
            uid: secret.metadata.uid,
            digests: secret.digests,
            record,
            currentCa,
            nowMs: Date.now(),
            graceMs: config.caRotationGraceMs,
          });
          if ('waitMs' in decision) return { requeueAfterMs: decision.waitMs };
          try {
            if ('bundle' in decision) return await rebundle(secret, spec, record!, decision.bundle);
            return await issue(secret, spec, decision.issue, record);
          } catch (err) {
            // retried with the queue's backoff; the certificate in place (if any) stays. A 409 is the queue's normal retry.
            if (err instanceof ApiError && err.isConflict) throw err;
            metrics.issuanceFailures.inc({ issuer: spec.issuer.kind });
            log.warn('issuance failed; retrying', { key: objectKey(namespace, name), error: errorText(err) });
            throw err;
          }
        },
      },
    ];
  },
};
