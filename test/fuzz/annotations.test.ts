// Annotation fuzzing (fast-check): every controller's annotation parser, fed arbitrary
// annotation maps (every key annotary reads, with arbitrary and near-miss values, plus noise
// keys), never throws and answers either a well-formed spec or a Refusal whose reason is one
// of the Event reasons docs/events.md documents for annotations. Both compat settings.
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { A, AnnotationReader } from '../../src/annotations.js';
import { warningThreshold } from '../../src/controllers/expiry.js';
import { ingressWants } from '../../src/controllers/ingresses.js';
import { parseKeystoreSpec } from '../../src/controllers/store-specs.js';
import type { Refusal } from '../../src/kube/refusal.js';
import { isRefusal } from '../../src/kube/refusal.js';
import { parseReloadPolicy } from '../../src/controllers/reloader-rules.js';
import { routeWants } from '../../src/controllers/routes.js';
import { parseTruststoreSpec } from '../../src/controllers/store-specs.js';
import { ingress as ingressOf, inNamespace, withAnnotations, withRules } from '../gen.js';

export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
/** Parsers refuse annotation values with this reason only (PKI and reference reasons come later, from data). */
const KNOWN_REASONS = new Set(['InvalidAnnotation']);
const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const nearMiss = fc.constantFrom(
  '',
  ' ',
  'true',
  'TRUE',
  ' false ',
  't',
  '0',
  'yes',
  'auto',
  'AUTO ',
  'jks',
  'pkcs12',
  'p12',
  'jks,pkcs12',
  'jks,,',
  ',',
  'jceks',
  'web-tls',
  'ns/web-tls',
  'a/b/c',
  '/x',
  'x/',
  'Web_TLS',
  'secret/x',
  'configmap/',
  'configmap/b:ca.crt',
  'x:y:z',
  '*',
  'ns1,ns2',
  '720h',
  '-1h',
  '1.5h',
  '99999999999h',
  'pw/password',
  'a'.repeat(300),
  '(oops',
  '.*',
  'a)|(b',
  '\u0000',
  'ä/ö',
  '\\',
  '$(x)',
);
const value = fc.oneof(
  nearMiss,
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.array(nearMiss, { maxLength: 4 }).map((a) => a.join(',')),
);
const keys = fc.constantFrom(...Object.values(A), 'unrelated.example/key', 'annotary.io/unknown');
const annotations = fc.option(fc.dictionary(keys, value, { maxKeys: 8 }), { nil: undefined });
const readers = fc.constantFrom(new AnnotationReader(true), new AnnotationReader(false));

/** Either a Refusal with a known reason and a message naming the annotation, or `ok(spec)` holds. */
function verdict<T>(fn: () => T | Refusal, ok: (spec: T) => void): void {
  const out = fn(); // a throw fails the property
  if (isRefusal(out)) {
    expect(KNOWN_REASONS.has(out.reason)).toBe(true);
    expect(typeof out.message).toBe('string');
    expect(out.message.length).toBeGreaterThan(0);
  } else ok(out);
}

describe('annotation parsers never throw and answer a spec or a known refusal (property)', () => {
  it('parseKeystoreSpec (Secrets)', () => {
    fc.assert(
      fc.property(annotations, readers, (ann, reader) =>
        verdict(
          () => parseKeystoreSpec(ann, reader, 'changeit'),
          (w) => {
            expect(typeof w.certInfo).toBe('boolean');
            if (w.stores) {
              expect(w.stores.formats.length).toBeGreaterThan(0);
              for (const f of w.stores.formats) expect(['jks', 'pkcs12']).toContain(f);
              expect(w.stores.alias).toMatch(/^[a-z0-9][a-z0-9._-]{0,63}$/);
              if ('secret' in w.stores.password) expect(w.stores.password.secret).toMatch(NAME_RE);
              else expect(w.stores.password.literal.length).toBeGreaterThan(0);
              for (const t of w.stores.trustFrom) expect(t.name).toMatch(NAME_RE);
            }
          },
        ),
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('parseTruststoreSpec (ConfigMaps)', () => {
    fc.assert(
      fc.property(annotations, readers, (ann, reader) =>
        verdict(
          () => parseTruststoreSpec(ann, reader, 'changeit'),
          (spec) => {
            if (spec === undefined) return;
            expect(spec.formats.length).toBeGreaterThan(0);
            expect(spec.sourceKey.length).toBeGreaterThan(0);
          },
        ),
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('routeWants (Routes)', () => {
    fc.assert(
      fc.property(annotations, readers, (ann, reader) =>
        verdict(
          () => routeWants(ann, reader, 'ns'),
          (w) => {
            if (w.certs) {
              expect(w.certs.secret).toMatch(NAME_RE);
              expect(typeof w.certs.injectCa).toBe('boolean');
            }
            if (w.destinationCa) expect(w.destinationCa.secret).toMatch(NAME_RE);
          },
        ),
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('ingressWants (Ingresses), with arbitrary names and rule hosts', () => {
    const ingress = fc.record({
      name: fc.oneof(fc.constant('shop'), fc.string({ minLength: 1, maxLength: 260 })),
      ann: annotations,
      hosts: fc.array(fc.option(fc.string({ maxLength: 30 }), { nil: undefined }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(ingress, readers, ({ name, ann, hosts }, reader) =>
        verdict(
          () =>
            ingressWants(ingressOf(name, inNamespace('ns'), withAnnotations(ann), withRules(...hosts.map((host) => ({ host })))), reader),
          (w) => {
            for (const r of [w.certs, w.destinationCa])
              if (r) {
                expect(r.name).toMatch(NAME_RE);
                expect(r.namespace.length).toBeGreaterThan(0);
              }
            expect(new Set(w.hosts).size).toBe(w.hosts.length);
          },
        ),
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('parseReloadPolicy (workloads: metadata and pod-template annotations)', () => {
    fc.assert(
      fc.property(annotations, annotations, readers, (meta, template, reader) =>
        verdict(
          () => parseReloadPolicy(meta, template, reader),
          (p) => {
            if (p === undefined) return;
            for (const k of ['Secret', 'ConfigMap'] as const) {
              for (const n of p[k].names) expect(n).toMatch(NAME_RE);
              for (const re of p[k].patterns) expect(re).toBeInstanceOf(RE2JS);
            }
          },
        ),
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('warningThreshold (expiry)', () => {
    fc.assert(
      fc.property(fc.option(value, { nil: undefined }), (v) =>
        verdict(
          () => warningThreshold(v, 720 * 3600_000),
          (ms) => {
            expect(Number.isFinite(ms)).toBe(true);
            expect(ms).toBeGreaterThanOrEqual(0);
          },
        ),
      ),
      { numRuns: FUZZ_RUNS },
    );
  });
});
