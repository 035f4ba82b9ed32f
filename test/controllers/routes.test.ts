// desiredRoute: what annotary writes into a Route's spec.tls, decided from the Route and
// the referenced Secrets alone.
import fc from 'fast-check';
import { AnnotationReader } from '../../src/annotations.js';
import type { Refusal } from '../../src/kube/refusal.js';
import { isRefusal } from '../../src/kube/refusal.js';
import { ownerRecordValue } from '../../src/controllers/managed-keys.js';
import type { Route, RouteChange, RouteField, RouteTLS } from '../../src/controllers/routes.js';
import { ROUTE_FIELDS, describeRouteChange, desiredRoute, routePatchBody, routeWants } from '../../src/controllers/routes.js';
import { isNeedsData } from '../../src/controllers/cert-sources.js';
import type { SlimData } from '../../src/kube/slim.js';
import { ec, full, lean, next, rsa } from './tls-fixtures.js';
import { pemBodyLines } from '../pki/helpers.js';
import {
  route as routeOf,
  inNamespace,
  secret,
  tlsPem,
  withAnnotations,
  withData,
  withHost,
  withResourceVersion,
  withRouteTLS,
  withUid,
} from '../gen.js';
import { patched } from '../merge-patch.js';

const NS = 'apps';
const reader = new AnnotationReader(true);
/** a source Secret in NS as the cache holds it: whole, or (keep false) digests only */
const source = (name: string, pem: Record<string, string | Buffer>, keep = true) =>
  (keep ? full : lean)(secret(name, inNamespace(NS), withData(pem)));

/** The Route "web"; tls null: a Route without spec.tls */
function route(annotations: Record<string, string>, tls: RouteTLS | null = { termination: 'edge' }): Route {
  return routeOf(
    'web',
    inNamespace(NS),
    withUid('u1'),
    withResourceVersion('7'),
    withHost('x'),
    withAnnotations(annotations),
    withRouteTLS(tls),
  );
}

/** What the apiserver does with routePatchBody (a JSON merge patch). */
const apply = (r: Route, change: RouteChange): Route => patched(r, routePatchBody(r, change));

function run(r: Route, secrets: Record<string, SlimData | undefined>, rdr = reader) {
  return desiredRoute({ route: r, reader: rdr, secrets });
}
function change(r: Route, secrets: Record<string, SlimData | undefined>, rdr = reader): RouteChange {
  const c = run(r, secrets, rdr);
  if (c === undefined || isRefusal(c) || isNeedsData(c)) throw new Error(`expected a change, got ${JSON.stringify(c)}`);
  return c;
}

describe('annotations → what the Route wants', () => {
  test('native certs-from-secret injects the CA by default; inject-ca "false" turns it off', () => {
    expect(routeWants({ 'annotary.io/certs-from-secret': 's' }, reader, NS)).toEqual({ certs: { secret: 's', injectCa: true } });
    expect(routeWants({ 'annotary.io/certs-from-secret': 's', 'annotary.io/inject-ca': 'False' }, reader, NS)).toEqual({
      certs: { secret: 's', injectCa: false },
    });
  });

  test('cert-utils certs-from-secret injects the CA only when inject-CA is present and not "false"', () => {
    const cu = 'cert-utils-operator.redhat-cop.io/';
    expect(routeWants({ [`${cu}certs-from-secret`]: 's' }, reader, NS)).toEqual({ certs: { secret: 's', injectCa: false } });
    expect(routeWants({ [`${cu}certs-from-secret`]: 's', [`${cu}inject-CA`]: 'true' }, reader, NS)).toEqual({
      certs: { secret: 's', injectCa: true },
    });
    expect(routeWants({ [`${cu}certs-from-secret`]: 's', [`${cu}inject-CA`]: '' }, reader, NS)).toEqual({
      certs: { secret: 's', injectCa: true },
    });
    expect(routeWants({ [`${cu}certs-from-secret`]: 's', [`${cu}inject-CA`]: 'false' }, reader, NS)).toEqual({
      certs: { secret: 's', injectCa: false },
    });
    expect(routeWants({ [`${cu}destinationCA-from-secret`]: 'd' }, reader, NS)).toEqual({ destinationCa: { secret: 'd' } });
  });

  test('native keys win over cert-utils keys when both are present', () => {
    const cu = 'cert-utils-operator.redhat-cop.io/';
    expect(
      routeWants(
        {
          'annotary.io/certs-from-secret': 'native',
          [`${cu}certs-from-secret`]: 'compat',
          'annotary.io/destination-ca-from-secret': 'nd',
          [`${cu}destinationCA-from-secret`]: 'cd',
        },
        reader,
        NS,
      ),
    ).toEqual({ certs: { secret: 'native', injectCa: true }, destinationCa: { secret: 'nd' } });
  });

  test('--compat=false ignores the cert-utils keys', () => {
    expect(routeWants({ 'cert-utils-operator.redhat-cop.io/certs-from-secret': 's' }, new AnnotationReader(false), NS)).toEqual({});
  });

  test.each([
    [{ 'annotary.io/certs-from-secret': 'other-ns/s' }],
    [{ 'annotary.io/certs-from-secret': 'Not_A_Name' }],
    [{ 'annotary.io/certs-from-secret': '' }],
    [{ 'annotary.io/certs-from-secret': 's', 'annotary.io/inject-ca': 'maybe' }],
    [{ 'annotary.io/destination-ca-from-secret': 'a/b/c' }],
  ])('%j → InvalidAnnotation', (ann) => {
    const r = run(route(ann), {});
    expect(isRefusal(r) && r.reason).toBe('InvalidAnnotation');
  });
});

describe('edge and reencrypt Routes get certificate, key and CA from the Secret', () => {
  test.each(['edge', 'reencrypt'])('%s', (termination) => {
    const c = change(route({ 'annotary.io/certs-from-secret': 'tls' }, { termination }), { tls: source('tls', tlsPem(ec)) });
    expect(c.set).toEqual({ certificate: ec.certPem(2), key: ec.keyPkcs8, caCertificate: ec.ca });
    expect(c.managed).toEqual(['certificate', 'key', 'caCertificate']);
    expect(c.clear).toEqual([]);
  });

  test('the full chain of tls.crt is kept as it is', () => {
    const pem = { 'tls.crt': rsa.certPem(3), 'tls.key': rsa.keyTraditional };
    expect(change(route({ 'annotary.io/certs-from-secret': 'tls' }), { tls: source('tls', pem) }).set.certificate).toBe(rsa.certPem(3));
  });

  test('no ca.crt in the Secret: no caCertificate', () => {
    const c = change(route({ 'annotary.io/certs-from-secret': 'tls' }), {
      tls: source('tls', { 'tls.crt': ec.certPem(1), 'tls.key': ec.keyPkcs8 }),
    });
    expect(Object.keys(c.set)).toEqual(['certificate', 'key']);
  });

  test("the patch is a merge patch preconditioned on the Route's resourceVersion", () => {
    const r = route({ 'annotary.io/certs-from-secret': 'tls' });
    const body = routePatchBody(r, change(r, { tls: source('tls', tlsPem(ec)) })) as {
      metadata: Record<string, unknown>;
      spec: { tls: Record<string, unknown> };
    };
    expect(body.metadata).toMatchObject({
      resourceVersion: '7',
      annotations: { 'annotary.io/managed-fields': 'certificate,key,caCertificate' },
    });
    const record = JSON.parse((body.metadata.annotations as Record<string, string>)['annotary.io/owner-record']) as {
      uid: string;
      keys: object;
    };
    expect(record.uid).toBe('u1');
    expect(Object.keys(record.keys).sort()).toEqual(['caCertificate', 'certificate', 'key']);
    expect(Object.keys(body.spec.tls).sort()).toEqual(['caCertificate', 'certificate', 'key']);
  });
});

describe('destination-ca-from-secret sets destinationCACertificate on reencrypt Routes', () => {
  test('from ca.crt', () => {
    const c = change(route({ 'annotary.io/destination-ca-from-secret': 'backend-ca' }, { termination: 'reencrypt' }), {
      'backend-ca': source('backend-ca', { 'ca.crt': rsa.ca }),
    });
    expect(c.set).toEqual({ destinationCACertificate: rsa.ca });
    expect(c.managed).toEqual(['destinationCACertificate']);
  });

  test('on an edge Route → UnsupportedTermination (OpenShift rejects a destination CA there)', () => {
    const r = run(route({ 'annotary.io/destination-ca-from-secret': 'backend-ca' }), {
      'backend-ca': source('backend-ca', { 'ca.crt': rsa.ca }),
    });
    expect(isRefusal(r) && r.reason).toBe('UnsupportedTermination');
  });

  test('with the certificate on an edge Route: the certificate, key and CA are set, the destination CA is left unset with a Warning', () => {
    const unset: Refusal[] = [];
    const r = route({ 'annotary.io/certs-from-secret': 'tls', 'annotary.io/destination-ca-from-secret': 'backend-ca' });
    const c = desiredRoute(
      { route: r, reader, secrets: { tls: source('tls', tlsPem(ec)), 'backend-ca': source('backend-ca', { 'ca.crt': rsa.ca }) } },
      unset,
    );
    if (c === undefined || isRefusal(c) || isNeedsData(c)) throw new Error(`expected a change, got ${JSON.stringify(c)}`);
    expect(Object.keys(c.set).sort()).toEqual(['caCertificate', 'certificate', 'key']);
    expect(unset.map((u) => [u.reason, u.message])).toEqual([
      [
        'UnsupportedTermination',
        'a destination CA can only be set on reencrypt Routes, not on termination "edge": left unset; the certificate and key are set',
      ],
    ]);
    // converged: nothing more to write, the Warning stays
    const again: Refusal[] = [];
    expect(
      desiredRoute(
        {
          route: apply(r, c),
          reader,
          secrets: { tls: source('tls', tlsPem(ec)), 'backend-ca': source('backend-ca', { 'ca.crt': rsa.ca }) },
        },
        again,
      ),
    ).toBeUndefined();
    expect(again).toHaveLength(1);
  });

  test('a Secret without ca.crt → SourceSecretInvalid', () => {
    const r = run(route({ 'annotary.io/destination-ca-from-secret': 'd' }, { termination: 'reencrypt' }), {
      d: source('d', { 'tls.crt': ec.certPem(1) }),
    });
    expect(isRefusal(r) && r.reason).toBe('SourceSecretInvalid');
  });
});

describe('passthrough and Routes without spec.tls are refused with a reason', () => {
  test('passthrough → UnsupportedTermination', () => {
    const r = run(route({ 'annotary.io/certs-from-secret': 'tls' }, { termination: 'passthrough' }), { tls: source('tls', tlsPem(ec)) });
    expect(isRefusal(r) && r.reason).toBe('UnsupportedTermination');
    expect(isRefusal(r) && r.message).toMatch(/passthrough/);
  });

  test('no spec.tls → NoTLSSpec', () => {
    const r = run(route({ 'annotary.io/certs-from-secret': 'tls' }, null), { tls: source('tls', tlsPem(ec)) });
    expect(isRefusal(r) && r.reason).toBe('NoTLSSpec');
  });
});

describe('a missing or invalid Secret is refused and the Route is left alone', () => {
  const ann = { 'annotary.io/certs-from-secret': 'tls' };
  test('missing → SourceSecretMissing', () => {
    const r = run(route(ann), { tls: undefined });
    expect(isRefusal(r) && r.reason).toBe('SourceSecretMissing');
  });

  test.each([
    ['no tls.key', { 'tls.crt': ec.certPem(1) }],
    ['no tls.crt', { 'tls.key': ec.keyPkcs8 }],
    ['garbage certificate', { 'tls.crt': 'not a pem', 'tls.key': ec.keyPkcs8 }],
    ['truncated key', { 'tls.crt': ec.certPem(1), 'tls.key': ec.keyPkcs8.slice(0, 100) }],
    ['key of another certificate', { 'tls.crt': ec.certPem(2), 'tls.key': next.keyPkcs8 }],
    ['a foreign certificate in the chain', { 'tls.crt': ec.certPem(2) + rsa.root, 'tls.key': ec.keyPkcs8 }],
    ['garbage ca.crt', { ...tlsPem(ec), 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }],
  ])('%s → SourceSecretInvalid, and the message carries no key material', (_t, pem) => {
    const r = run(route(ann), { tls: source('tls', pem) });
    expect(isRefusal(r) && r.reason).toBe('SourceSecretInvalid');
    const msg = isRefusal(r) ? r.message : '';
    for (const line of [...pemBodyLines(ec.keyPkcs8), ...pemBodyLines(ec.certPem(2))]) expect(msg).not.toContain(line);
  });

  test('tls.crt that is not UTF-8 text → SourceSecretInvalid (it could never be stored back unchanged)', () => {
    const r = run(route(ann), { tls: source('tls', { 'tls.crt': Buffer.from([0xff, 0xfe, 0x41]), 'tls.key': ec.keyPkcs8 }) });
    expect(isRefusal(r) && r.reason).toBe('SourceSecretInvalid');
  });
});

describe('the cached digests decide; the PEM is read only to write', () => {
  test("a Route that carries the Secret's values needs no read and no write", () => {
    const r0 = route({ 'annotary.io/certs-from-secret': 'tls' });
    const r1 = apply(r0, change(r0, { tls: source('tls', tlsPem(ec)) }));
    expect(run(r1, { tls: source('tls', tlsPem(ec), false) })).toBeUndefined();
  });

  test('a rotated Secret asks for its data, then yields the new values', () => {
    const r0 = route({ 'annotary.io/certs-from-secret': 'tls' });
    const r1 = apply(r0, change(r0, { tls: source('tls', tlsPem(ec)) }));
    expect(run(r1, { tls: source('tls', tlsPem(next), false) })).toEqual({ needsData: [`${NS}/tls`] });
    const c = change(r1, { tls: source('tls', tlsPem(next)) });
    expect(c.set).toEqual({ certificate: next.certPem(2), key: next.keyPkcs8, caCertificate: next.ca });
    expect(describeRouteChange(c)).toBe('set certificate, key, caCertificate from Secret "tls"');
  });

  test('values already right but not yet recorded: only managed-fields is written', () => {
    const r = route(
      { 'annotary.io/certs-from-secret': 'tls' },
      { termination: 'edge', certificate: ec.certPem(2), key: ec.keyPkcs8, caCertificate: ec.ca },
    );
    const c = change(r, { tls: source('tls', tlsPem(ec), false) });
    expect(c.set).toEqual({});
    expect(routePatchBody(r, c)).toEqual({
      metadata: {
        resourceVersion: '7',
        annotations: {
          'annotary.io/managed-fields': 'certificate,key,caCertificate',
          'annotary.io/owner-record': ownerRecordValue(c.record),
        },
      },
    });
  });
});

describe('removing an annotation clears exactly the fields it filled', () => {
  test("certs-from-secret removed: annotary's fields cleared, the user's destinationCACertificate kept", () => {
    const r0 = route({ 'annotary.io/certs-from-secret': 'tls' }, { termination: 'reencrypt', destinationCACertificate: 'user value' });
    const r1 = apply(r0, change(r0, { tls: source('tls', tlsPem(ec)) }));
    const { 'annotary.io/certs-from-secret': _removed, ...bookkeeping } = r1.metadata.annotations!;
    const r2 = { ...r1, metadata: { ...r1.metadata, annotations: bookkeeping } };
    const c = change(r2, {});
    expect(c.clear).toEqual(['certificate', 'key', 'caCertificate']);
    const r3 = apply(r2, c);
    expect(r3.spec!.tls).toEqual({ termination: 'reencrypt', destinationCACertificate: 'user value' });
    expect(r3.metadata.annotations).toEqual({});
    expect(run(r3, {})).toBeUndefined();
  });

  test('inject-ca "false" later: only caCertificate is cleared', () => {
    const r0 = route({ 'annotary.io/certs-from-secret': 'tls' });
    const r1 = apply(r0, change(r0, { tls: source('tls', tlsPem(ec)) }));
    const c = change(
      { ...r1, metadata: { ...r1.metadata, annotations: { ...r1.metadata.annotations, 'annotary.io/inject-ca': 'false' } } },
      { tls: source('tls', tlsPem(ec), false) },
    );
    expect(c).toMatchObject({ set: {}, clear: ['caCertificate'], managed: ['certificate', 'key'] });
  });

  test("a copied managed-fields (no record of this Route) clears nothing: the user's own certificate and key stay", () => {
    const r = route(
      { 'annotary.io/managed-fields': 'certificate,key' },
      { termination: 'edge', certificate: 'user cert', key: 'user key' },
    );
    const c = change(r, {});
    expect(c.clear).toEqual([]);
    expect(c.released).toEqual(['certificate', 'key']);
    expect(apply(r, c).spec!.tls).toEqual({ termination: 'edge', certificate: 'user cert', key: 'user key' });
  });

  test('a record copied from another Route proves only fields whose value is exactly what it recorded', () => {
    const r0 = route({ 'annotary.io/certs-from-secret': 'tls' });
    const r1 = apply(r0, change(r0, { tls: source('tls', tlsPem(ec)) }));
    const { 'annotary.io/certs-from-secret': _removed, ...bookkeeping } = r1.metadata.annotations!;
    const copy = {
      ...r1,
      metadata: { ...r1.metadata, uid: 'other', annotations: bookkeeping },
      spec: { ...r1.spec, tls: { ...r1.spec!.tls!, key: 'user key' } },
    };
    const c = change(copy, {});
    expect(c.clear).toEqual(['certificate', 'caCertificate']);
    expect(c.released).toEqual(['key']);
  });

  test('a field that is already gone is not patched (no empty spec.tls is created)', () => {
    const r = route({ 'annotary.io/managed-fields': 'certificate,key' }, null);
    expect(routePatchBody(r, change(r, {}))).toEqual({
      metadata: { resourceVersion: '7', annotations: { 'annotary.io/managed-fields': null, 'annotary.io/owner-record': null } },
    });
  });
});

describe('properties', () => {
  const fieldValue = fc.constantFrom(undefined, 'user value', ec.certPem(2), ec.keyPkcs8, ec.ca, rsa.ca);
  const arbRoute = fc
    .record({
      certs: fc.constantFrom(undefined, 'tls', 'missing'),
      cuCerts: fc.constantFrom(undefined, 'tls'),
      inject: fc.constantFrom(undefined, 'true', 'false'),
      cuInject: fc.constantFrom(undefined, '', 'true', 'false'),
      dest: fc.constantFrom(undefined, 'ca'),
      managed: fc.subarray([...ROUTE_FIELDS]),
      termination: fc.constantFrom('edge', 'reencrypt', 'passthrough', undefined),
      values: fc.record({ certificate: fieldValue, key: fieldValue, caCertificate: fieldValue, destinationCACertificate: fieldValue }),
      rotated: fc.boolean(),
    })
    .map((p) => {
      const cu = 'cert-utils-operator.redhat-cop.io/';
      const ann: Record<string, string> = {};
      if (p.certs) ann['annotary.io/certs-from-secret'] = p.certs;
      if (p.cuCerts) ann[`${cu}certs-from-secret`] = p.cuCerts;
      if (p.inject) ann['annotary.io/inject-ca'] = p.inject;
      if (p.cuInject !== undefined) ann[`${cu}inject-CA`] = p.cuInject;
      if (p.dest) ann['annotary.io/destination-ca-from-secret'] = p.dest;
      if (p.managed.length) ann['annotary.io/managed-fields'] = p.managed.join(',');
      const tls =
        p.termination === undefined
          ? null
          : { termination: p.termination, ...Object.fromEntries(Object.entries(p.values).filter(([, v]) => v !== undefined)) };
      return {
        route: route(ann, tls),
        secrets: { tls: source('tls', tlsPem(p.rotated ? next : ec)), ca: source('ca', { 'ca.crt': rsa.ca }) },
      };
    });

  test('desired is idempotent: after applying the change, desired is undefined', () => {
    fc.assert(
      fc.property(arbRoute, ({ route: r, secrets }) => {
        const c = run(r, secrets);
        if (c === undefined || isRefusal(c)) return;
        if (isNeedsData(c)) throw new Error('data was given');
        expect(run(apply(r, c), secrets)).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });

  test('a managed-fields list without a record of this Route never clears anything (whatever the fields hold)', () => {
    fc.assert(
      fc.property(arbRoute, ({ route: r, secrets }) => {
        const c = run(r, secrets);
        if (c === undefined || isRefusal(c) || isNeedsData(c)) return;
        expect(c.clear).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  test('fields not in managed-fields are never cleared, and only wanted fields are set', () => {
    fc.assert(
      fc.property(arbRoute, ({ route: r, secrets }) => {
        const c = run(r, secrets);
        if (c === undefined || isRefusal(c) || isNeedsData(c)) return;
        const managedBefore = (r.metadata.annotations?.['annotary.io/managed-fields'] ?? '').split(',');
        for (const f of c.clear) expect(managedBefore).toContain(f);
        for (const f of Object.keys(c.set) as RouteField[]) expect(c.managed).toContain(f);
      }),
      { numRuns: 400 },
    );
  });

  test('no input makes desired throw, with or without Secret data; refusals name no PEM', () => {
    fc.assert(
      fc.property(arbRoute, fc.boolean(), ({ route: r, secrets }, digestsOnly) => {
        const s = digestsOnly ? { tls: source('tls', tlsPem(ec), false), ca: source('ca', { 'ca.crt': rsa.ca }, false) } : secrets;
        const c = run(r, s);
        if (isRefusal(c)) expect(c.message).not.toMatch(/BEGIN|MII/);
        if (isNeedsData(c)) expect(digestsOnly).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
