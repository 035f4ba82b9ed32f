// desiredIngress: which copies, spec.tls entry and ingress-nginx annotations annotary keeps
// for an Ingress, decided from the Ingress, its sources and the current copies alone.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { AnnotationReader } from '../../src/annotations.js';
import type { Ingress, IngressChange, IngressObserved, IngressTLS } from '../../src/controllers/ingresses.js';
import {
  NGINX,
  copyCreateBody,
  copyPatchBody,
  desiredIngress,
  describeIngressChange,
  ingressPatchBody,
  isIngressTlsHost,
} from '../../src/controllers/ingresses.js';
import { isRefusal } from '../../src/kube/refusal.js';
import { isNeedsData } from '../../src/controllers/cert-sources.js';
import type { SlimData } from '../../src/kube/slim.js';
import { ec, full, lean, next, rsa } from './tls-fixtures.js';
import type { Data, Mod, Secret } from '../gen.js';
import {
  b64,
  ingress as ingressOf,
  inNamespace,
  secret,
  tlsPem,
  withAnnotations,
  withData,
  withIngressTLS,
  withLabels,
  withOwners,
  withResourceVersion,
  withRules,
  withUid,
} from '../gen.js';
import { patched } from '../merge-patch.js';

const NS = 'shop';
const reader = new AnnotationReader(true);
/** a source Secret as the cache holds it: whole, or (keep false) digests only */
const source = (ns: string, name: string, pem: Data, annotations: Data = {}, keep = true) =>
  (keep ? full : lean)(secret(name, inNamespace(ns), withAnnotations(annotations), withData(pem)));

/** The Ingress "shop": rules for a.example, b.example, a.example again and one without a host. */
function ingress(annotations: Record<string, string>, tls?: IngressTLS[]): Ingress {
  return ingressOf(
    'shop',
    inNamespace(NS),
    withUid('ing-uid'),
    withResourceVersion('3'),
    withAnnotations(annotations),
    withRules({ host: 'a.example' }, { host: 'b.example' }, { host: 'a.example' }, {}),
    ...(tls ? [withIngressTLS(tls)] : []),
  );
}

type World = Omit<IngressObserved, 'reader'>;

function run(w: World, rdr = reader) {
  return desiredIngress({ ...w, reader: rdr });
}
function change(w: World): IngressChange {
  const c = run(w);
  if (c === undefined || isRefusal(c) || isNeedsData(c)) throw new Error(`expected a change, got ${JSON.stringify(c)}`);
  return c;
}

/** What the apiserver (and the garbage collector) make of a change. */
function apply(w: World, c: IngressChange): World {
  const body = ingressPatchBody(w.ingress, c);
  const ing = body ? patched(w.ingress, body) : w.ingress;
  // the copies as the controller writes them: created from copyCreateBody, patched with copyPatchBody
  const copies = { ...w.copies };
  for (const cw of c.writeCopies) {
    const kind = cw.name.endsWith('-tls') ? 'tls' : 'ca';
    const existing = copies[kind];
    // (the cached copy is held whole, so the patch applies to it; full() computes its digests anew)
    copies[kind] = full(existing ? patched(existing, copyPatchBody(existing, cw)) : copyCreateBody(ing, cw));
  }
  for (const n of c.deleteCopies) delete copies[n.endsWith('-tls') ? 'tls' : 'ca'];
  return { ...w, ingress: ing, copies };
}

describe('same-namespace source: a kubernetes.io/tls copy and a spec.tls entry for the rule hosts', () => {
  const w: World = {
    ingress: ingress({ 'annotary.io/certs-from-secret': 'site' }),
    sources: { [`${NS}/site`]: source(NS, 'site', tlsPem(ec)) },
    copies: {},
  };

  test('copy holds tls.crt, tls.key and ca.crt; the entry names it for each distinct host', () => {
    const c = change(w);
    expect(c.writeCopies).toEqual([
      {
        name: 'shop-annotary-tls',
        type: 'kubernetes.io/tls',
        from: `${NS}/site`,
        data: { 'tls.crt': b64(ec.certPem(2)), 'tls.key': b64(ec.keyPkcs8), 'ca.crt': b64(ec.ca) },
      },
    ]);
    expect(c.tls).toEqual([{ hosts: ['a.example', 'b.example'], secretName: 'shop-annotary-tls' }]);
    expect(c.annotations).toEqual({ 'annotary.io/managed-fields': 'spec.tls' });
    expect(describeIngressChange(c)).toBe(`copied Secret "${NS}/site" into "shop-annotary-tls"; updated spec.tls`);
  });

  test('annotary.io/tls-hosts overrides the rule hosts', () => {
    const c = change({
      ...w,
      ingress: ingress({ 'annotary.io/certs-from-secret': 'site', 'annotary.io/tls-hosts': 'x.example, y.example' }),
    });
    expect(c.tls).toEqual([{ hosts: ['x.example', 'y.example'], secretName: 'shop-annotary-tls' }]);
  });

  test('user-written spec.tls entries stay as they are and where they are', () => {
    const user = [{ hosts: ['u.example'], secretName: 'user-cert' }];
    const w1 = apply(
      { ...w, ingress: ingress({ 'annotary.io/certs-from-secret': 'site' }, user) },
      change({ ...w, ingress: ingress({ 'annotary.io/certs-from-secret': 'site' }, user) }),
    );
    expect(w1.ingress.spec!.tls).toEqual([...user, { hosts: ['a.example', 'b.example'], secretName: 'shop-annotary-tls' }]);
    const reordered = { ...w1, ingress: { ...w1.ingress, spec: { ...w1.ingress.spec, tls: [w1.ingress.spec!.tls![1], ...user] } } };
    expect(run(reordered)).toBeUndefined();
  });

  test('the Ingress patch is preconditioned on its resourceVersion', () => {
    expect(ingressPatchBody(w.ingress, change(w))).toMatchObject({
      metadata: { resourceVersion: '3' },
      spec: { tls: [{ secretName: 'shop-annotary-tls' }] },
    });
  });

  test('a missing source → SourceSecretMissing; an invalid one → SourceSecretInvalid; nothing is written', () => {
    const missing = run({ ...w, sources: { [`${NS}/site`]: undefined } });
    expect(isRefusal(missing) && missing.reason).toBe('SourceSecretMissing');
    for (const pem of [
      { 'tls.crt': ec.certPem(1) } as Record<string, string>,
      { 'tls.crt': 'junk', 'tls.key': ec.keyPkcs8 },
      { 'tls.crt': ec.certPem(2), 'tls.key': rsa.keyPkcs8 },
    ]) {
      const bad = run({ ...w, sources: { [`${NS}/site`]: source(NS, 'site', pem) } });
      expect(isRefusal(bad) && bad.reason).toBe('SourceSecretInvalid');
    }
  });

  test("a Secret with the copy's name that annotary does not own → CopyConflict", () => {
    const foreign = source(NS, 'shop-annotary-tls', { 'tls.crt': 'x' });
    const r = run({ ...w, copies: { tls: foreign } });
    expect(isRefusal(r) && r.reason).toBe('CopyConflict');
  });
});

describe("annotary deletes only the copies it created: a controller ownerReference with this Ingress's uid", () => {
  const owner = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'shop' };
  const copy = (...mods: Mod<Secret>[]): SlimData =>
    full(secret('shop-annotary-tls', inNamespace(NS), withAnnotations({}), withData(tlsPem(ec)), ...mods));
  const lookalikes: [string, SlimData][] = [
    ["only annotary's label", copy(withLabels({ 'app.kubernetes.io/managed-by': 'annotary' }))],
    [
      'an owner reference to an Ingress of that name with another uid (a copied manifest)',
      copy(withOwners({ ...owner, uid: 'old-uid', controller: true })),
    ],
    ['an owner reference with this uid that is not the controller', copy(withOwners({ ...owner, uid: 'ing-uid' }))],
  ];

  test.each(lookalikes)('%s: never deleted, and a CopyConflict when a copy is wanted', (_t, lookalike) => {
    const gone = run({ ingress: ingress({ 'annotary.io/managed-fields': 'spec.tls' }), sources: {}, copies: { tls: lookalike } });
    expect(gone === undefined || (!isRefusal(gone) && !isNeedsData(gone) && gone.deleteCopies.length === 0)).toBe(true);
    const sources = { [`${NS}/site`]: source(NS, 'site', tlsPem(ec)) };
    const wanted = run({ ingress: ingress({ 'annotary.io/certs-from-secret': 'site' }), sources, copies: { tls: lookalike } });
    expect(isRefusal(wanted) && wanted.reason).toBe('CopyConflict');
  });

  test('the copy annotary created is deleted once it is no longer wanted', () => {
    const mine = copy(withOwners({ ...owner, uid: 'ing-uid', controller: true }));
    const c = change({ ingress: ingress({ 'annotary.io/managed-fields': 'spec.tls' }), sources: {}, copies: { tls: mine } });
    expect(c.deleteCopies).toEqual(['shop-annotary-tls']);
  });
});

describe('cross-namespace sources are copied only while they opt in (security boundary)', () => {
  const ann = { 'annotary.io/certs-from-secret': 'certs/wildcard' };
  const src = (share?: string) =>
    source('certs', 'wildcard', tlsPem(ec), share === undefined ? {} : { 'annotary.io/share-with-namespaces': share });
  const world = (share?: string): World => ({ ingress: ingress(ann), sources: { 'certs/wildcard': src(share) }, copies: {} });

  test.each([[`${NS}`], ['other, shop'], ['*']])('shared with "%s" → copied', (share) => {
    expect(change(world(share)).writeCopies.map((c) => c.from)).toEqual(['certs/wildcard']);
  });

  test.each([[undefined], [''], ['other'], ['shop-2'], ['shop*']])(
    'share-with-namespaces %j → NotSharedWithNamespace, nothing copied',
    (share) => {
      const r = run(world(share));
      expect(isRefusal(r) && r.reason).toBe('NotSharedWithNamespace');
    },
  );

  test('a missing source and one that is not shared get the same answer: existence elsewhere is not revealed', () => {
    const answers = [undefined, '', 'other'].map((share) => run(world(share)));
    answers.push(run({ ...world(), sources: { 'certs/wildcard': undefined } }));
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(isRefusal(answers[0]) && answers[0].message).toBe(
      'Secret "certs/wildcard" does not exist or is not shared with namespace "shop" (annotary.io/share-with-namespaces)',
    );
  });

  test("withdrawing the opt-in removes the copy and annotary's entry, with a warning", () => {
    const w1 = apply(world('*'), change(world('*')));
    const c = change({ ...w1, sources: { 'certs/wildcard': src('other') } });
    expect(c.deleteCopies).toEqual(['shop-annotary-tls']);
    expect(c.tls).toBeNull();
    expect(c.annotations).toEqual({ 'annotary.io/managed-fields': null });
    expect(c.warnings.map((x) => x.reason)).toEqual(['NotSharedWithNamespace']);
    const w2 = apply({ ...w1, sources: { 'certs/wildcard': src('other') } }, c);
    const again = run(w2);
    expect(isRefusal(again) && again.reason).toBe('NotSharedWithNamespace');
  });

  test('a deleted cross-namespace source cannot show its opt-in: the copy goes too', () => {
    const w1 = apply(world('*'), change(world('*')));
    expect(change({ ...w1, sources: { 'certs/wildcard': undefined } }).deleteCopies).toEqual(['shop-annotary-tls']);
  });

  test('an explicit own namespace needs no opt-in', () => {
    const w: World = {
      ingress: ingress({ 'annotary.io/certs-from-secret': `${NS}/site` }),
      sources: { [`${NS}/site`]: source(NS, 'site', tlsPem(ec)) },
      copies: {},
    };
    expect(change(w).writeCopies).toHaveLength(1);
  });
});

describe('destination-ca-from-secret: a CA copy and the ingress-nginx proxy-ssl annotations', () => {
  const w: World = {
    ingress: ingress({ 'annotary.io/destination-ca-from-secret': 'backend-ca' }),
    sources: { [`${NS}/backend-ca`]: source(NS, 'backend-ca', { 'ca.crt': rsa.ca }) },
    copies: {},
  };

  test('copy with ca.crt only, and the three annotations', () => {
    const c = change(w);
    expect(c.writeCopies).toEqual([
      { name: 'shop-annotary-ca', type: 'Opaque', from: `${NS}/backend-ca`, data: { 'ca.crt': b64(rsa.ca) } },
    ]);
    expect(c.annotations).toEqual({
      [NGINX.proxySslSecret]: `${NS}/shop-annotary-ca`,
      [NGINX.proxySslVerify]: 'on',
      [NGINX.backendProtocol]: 'HTTPS',
      'annotary.io/managed-fields': `${NGINX.proxySslSecret},${NGINX.proxySslVerify},${NGINX.backendProtocol}`,
      'annotary.io/owner-record': expect.stringContaining('"uid":"ing-uid"'),
    });
    expect(c.tls).toBeUndefined();
  });

  test("a user's different value for one of them → AnnotationConflict", () => {
    const r = run({ ...w, ingress: ingress({ ...w.ingress.metadata.annotations, [NGINX.backendProtocol]: 'GRPCS' }) });
    expect(isRefusal(r) && r.reason).toBe('AnnotationConflict');
  });

  test("removing the annotation removes the copy and exactly annotary's annotations", () => {
    const w1 = apply(w, change(w));
    const ann: Record<string, string> = { ...w1.ingress.metadata.annotations, 'user/own': 'keep' };
    delete ann['annotary.io/destination-ca-from-secret'];
    const c = change({ ...w1, ingress: { ...w1.ingress, metadata: { ...w1.ingress.metadata, annotations: ann } }, sources: {} });
    expect(c.deleteCopies).toEqual(['shop-annotary-ca']);
    expect(c.annotations).toEqual({
      [NGINX.proxySslSecret]: null,
      [NGINX.proxySslVerify]: null,
      [NGINX.backendProtocol]: null,
      'annotary.io/managed-fields': null,
      'annotary.io/owner-record': null,
    });
  });

  test("a copied managed-fields (no record of this Ingress) removes none of the user's ingress-nginx annotations and overwrites none", () => {
    const own = { [NGINX.backendProtocol]: 'GRPCS', [NGINX.proxySslVerify]: 'off' };
    const copied = ingress({ 'annotary.io/managed-fields': `${NGINX.backendProtocol},${NGINX.proxySslVerify}`, ...own });
    const c = change({ ...w, ingress: copied, sources: {} });
    expect(c.annotations).toEqual({ 'annotary.io/managed-fields': null });
    expect(c.released).toEqual([NGINX.backendProtocol, NGINX.proxySslVerify]);
    const r = run({ ...w, ingress: ingress({ ...w.ingress.metadata.annotations, ...copied.metadata.annotations }) });
    expect(isRefusal(r) && r.reason).toBe('AnnotationConflict');
  });

  test('a source without ca.crt → SourceSecretInvalid', () => {
    const r = run({ ...w, sources: { [`${NS}/backend-ca`]: source(NS, 'backend-ca', { 'tls.crt': ec.certPem(1) }) } });
    expect(isRefusal(r) && r.reason).toBe('SourceSecretInvalid');
  });
});

describe('rotation updates the copy; the cached digests decide whether to read the source', () => {
  const ann = { 'annotary.io/certs-from-secret': 'site' };
  const w0: World = { ingress: ingress(ann), sources: { [`${NS}/site`]: source(NS, 'site', tlsPem(ec)) }, copies: {} };
  const w1 = apply(w0, change(w0));

  test('unchanged source, lean cache: nothing to do, nothing to read', () => {
    expect(run({ ...w1, sources: { [`${NS}/site`]: source(NS, 'site', tlsPem(ec), {}, false) } })).toBeUndefined();
  });

  test('rotated source: read it, then rewrite the copy', () => {
    expect(run({ ...w1, sources: { [`${NS}/site`]: source(NS, 'site', tlsPem(next), {}, false) } })).toEqual({ needsData: [`${NS}/site`] });
    const c = change({ ...w1, sources: { [`${NS}/site`]: source(NS, 'site', tlsPem(next)) } });
    expect(c.writeCopies[0].data['tls.crt']).toBe(b64(next.certPem(2)));
    expect(c.tls).toBeUndefined();
  });

  test('ca.crt dropped from the source: dropped from the copy', () => {
    const c = change({ ...w1, sources: { [`${NS}/site`]: source(NS, 'site', { 'tls.crt': ec.certPem(2), 'tls.key': ec.keyPkcs8 }) } });
    expect(Object.keys(c.writeCopies[0].data).sort()).toEqual(['tls.crt', 'tls.key']);
  });

  test('removing certs-from-secret removes the copy and the entry', () => {
    const c = change({
      ...w1,
      ingress: { ...w1.ingress, metadata: { ...w1.ingress.metadata, annotations: { 'annotary.io/managed-fields': 'spec.tls' } } },
      sources: {},
    });
    expect(c).toMatchObject({ deleteCopies: ['shop-annotary-tls'], tls: null, annotations: { 'annotary.io/managed-fields': null } });
  });
});

describe('invalid annotations', () => {
  test.each([['a/b/c'], ['Bad_Name'], ['ns/']])('certs-from-secret %j → InvalidAnnotation', (v) => {
    const r = run({ ingress: ingress({ 'annotary.io/certs-from-secret': v }), sources: {}, copies: {} });
    expect(isRefusal(r) && r.reason).toBe('InvalidAnnotation');
  });
});

describe('annotary.io/tls-hosts: hosts as Kubernetes validates Ingress TLS hosts', () => {
  test.each(['a.example', 'shop', 'x-1.y-2.example', '*.example.com', '0.0.0.0', `${'a'.repeat(63)}.example`, `${'a.'.repeat(125)}ab`])(
    '%s is a host',
    (h) => expect(isIngressTlsHost(h)).toBe(true),
  );

  test.each([
    'Not A Host!',
    '*.*.bad',
    'A.example',
    '-a.example',
    'a-.example',
    'a..example',
    '.example',
    'example.',
    '*',
    '*.',
    'a.*.example',
    'a*.example',
    '*a.example',
    'a_b.example',
    'a.example:443',
    `${'a.'.repeat(126)}ab`,
  ])('%j is not', (h) => expect(isIngressTlsHost(h)).toBe(false));

  test('an invalid host → InvalidAnnotation naming every bad one; nothing is written', () => {
    const ann = { 'annotary.io/certs-from-secret': 'site', 'annotary.io/tls-hosts': 'ok.example,Not A Host!,*.*.bad' };
    const r = run({ ingress: ingress(ann), sources: { [`${NS}/site`]: source(NS, 'site', tlsPem(ec)) }, copies: {} });
    expect(r).toEqual({
      refuse: true,
      reason: 'InvalidAnnotation',
      message: 'annotary.io/tls-hosts: "Not A Host!", "*.*.bad" are not host names (a DNS-1123 subdomain, or "*." and one)',
    });
  });

  test('the message stays bounded for many bad hosts', () => {
    const hosts = Array.from({ length: 500 }, (_, i) => `Bad${i}`).join(',');
    const ann = { 'annotary.io/certs-from-secret': 'site', 'annotary.io/tls-hosts': hosts };
    const r = run({ ingress: ingress(ann), sources: {}, copies: {} });
    expect(isRefusal(r) && r.message).toMatch(/"Bad9" and 490 more are not host names/);
  });
});

describe('properties', () => {
  const arbWorld = fc
    .record({
      certs: fc.constantFrom(undefined, 'site', 'certs/wildcard', 'missing'),
      dest: fc.constantFrom(undefined, 'backend-ca', 'certs/wildcard'),
      share: fc.constantFrom(undefined, '*', NS, 'other'),
      rotated: fc.boolean(),
      hosts: fc.constantFrom(undefined, 'x.example', 'x.example,y.example'),
      userTls: fc.constantFrom<IngressTLS[]>([], [{ secretName: 'user-cert', hosts: ['u.example'] }]),
      userAnn: fc.constantFrom({}, { [NGINX.proxySslVerify]: 'on' }, { 'user/x': 'y' }),
    })
    .map((p): World => {
      const ann: Record<string, string> = { ...p.userAnn };
      if (p.certs) ann['annotary.io/certs-from-secret'] = p.certs;
      if (p.dest) ann['annotary.io/destination-ca-from-secret'] = p.dest;
      if (p.hosts) ann['annotary.io/tls-hosts'] = p.hosts;
      const f = p.rotated ? next : ec;
      return {
        ingress: ingress(ann, p.userTls),
        sources: {
          [`${NS}/site`]: source(NS, 'site', tlsPem(f)),
          [`${NS}/backend-ca`]: source(NS, 'backend-ca', { 'ca.crt': rsa.ca }),
          'certs/wildcard': source('certs', 'wildcard', tlsPem(f), p.share ? { 'annotary.io/share-with-namespaces': p.share } : {}),
          [`${NS}/missing`]: undefined,
        },
        copies: {},
      };
    });

  test('desired is idempotent: after applying the change (twice, as after a rotation), desired is undefined or the same refusal', () => {
    fc.assert(
      fc.property(arbWorld, (w0) => {
        const c = run(w0);
        if (c === undefined || isRefusal(c)) return;
        if (isNeedsData(c)) throw new Error('data was given');
        const w1 = apply(w0, c);
        const again = run(w1);
        if (isRefusal(again)) expect(c.warnings.map((x) => x.reason)).toContain(again.reason);
        else expect(again).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  test('never touches what it does not manage: user spec.tls entries and user annotations survive any change', () => {
    fc.assert(
      fc.property(arbWorld, (w0) => {
        const c = run(w0);
        if (c === undefined || isRefusal(c) || isNeedsData(c)) return;
        const w1 = apply(w0, c);
        for (const t of w0.ingress.spec!.tls ?? []) expect(w1.ingress.spec!.tls).toContainEqual(t);
        for (const [k, v] of Object.entries(w0.ingress.metadata.annotations ?? {})) {
          if (!Object.values(NGINX).includes(k as never) && k !== 'annotary.io/managed-fields')
            expect(w1.ingress.metadata.annotations![k]).toBe(v);
        }
        // a cross-namespace source that does not opt in is never copied
        const shared = (w0.sources['certs/wildcard']!.metadata.annotations ?? {})['annotary.io/share-with-namespaces'];
        if (shared !== '*' && shared !== NS) expect(c.writeCopies.map((x) => x.from)).not.toContain('certs/wildcard');
      }),
      { numRuns: 300 },
    );
  });
});
