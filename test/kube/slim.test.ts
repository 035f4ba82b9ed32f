import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { slimDataObject, slimMeta, slimObject, valueDigest } from '../../src/kube/slim.js';
import type { KubeObject } from '../../src/kube/types.js';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

const secret = (over: Partial<KubeObject> = {}, meta: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'kubernetes.io/tls',
  metadata: {
    name: 'web',
    namespace: 'app',
    uid: 'u1',
    resourceVersion: '7',
    labels: { app: 'web' },
    annotations: { 'annotary.io/keystores': 'jks', [LAST_APPLIED]: '{"data":{"tls.key":"c2VjcmV0"}}' },
    managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    ...meta,
  } as KubeObject['metadata'],
  data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'c2VjcmV0' },
  ...over,
});

describe('slim Secrets keep digests, not data, unless keepData selects them', () => {
  test('without keepData: digests for every key, no data', () => {
    const slim = slimDataObject('Secret', () => undefined)(secret());
    expect(slim.data).toBeUndefined();
    expect(slim.binaryData).toBeUndefined();
    expect(slim.digests).toEqual({ 'tls.crt': valueDigest('Y2VydA=='), 'tls.key': valueDigest('c2VjcmV0') });
    expect(JSON.stringify(slim)).not.toContain('c2VjcmV0');
    expect(slim.type).toBe('kubernetes.io/tls');
    expect(slim.kind).toBe('Secret');
  });

  test('with keepData: the data is kept as stored, digests too', () => {
    const slim = slimDataObject('Secret', (m) => (m.annotations?.['annotary.io/keystores'] !== undefined ? 'all' : undefined))(secret());
    expect(slim.data).toEqual({ 'tls.crt': 'Y2VydA==', 'tls.key': 'c2VjcmV0' });
    expect(Object.keys(slim.digests).sort()).toEqual(['tls.crt', 'tls.key']);
  });

  test('keepData naming keys keeps only those that exist; digests still cover every key', () => {
    const s = secret({ data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'c2VjcmV0', 'keystore.jks': 'AAEC' } });
    const slim = slimDataObject('Secret', () => ['tls.crt', 'tls.key', 'ca.crt'])(s);
    expect(slim.data).toEqual({ 'tls.crt': 'Y2VydA==', 'tls.key': 'c2VjcmV0' });
    expect(Object.keys(slim.digests).sort()).toEqual(['keystore.jks', 'tls.crt', 'tls.key']);
    expect(JSON.stringify(slim)).not.toContain('AAEC');
  });

  test('keepData sees the slimmed metadata (no last-applied copy of the data)', () => {
    const seen: unknown[] = [];
    slimDataObject('Secret', (m) => {
      seen.push(m);
      return undefined;
    })(secret());
    expect(JSON.stringify(seen)).not.toContain(LAST_APPLIED);
  });

  test('ConfigMap binaryData gets digests as well and is kept only with keepData', () => {
    const cm: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'b', namespace: 'app' },
      data: { 'ca-bundle.crt': 'PEM' },
      binaryData: { 'truststore.jks': 'AAEC' },
    };
    const lean = slimDataObject('ConfigMap', () => undefined)(cm);
    expect(lean.digests).toEqual({ 'ca-bundle.crt': valueDigest('PEM'), 'truststore.jks': valueDigest('AAEC') });
    expect(lean.binaryData).toBeUndefined();
    const full = slimDataObject('ConfigMap', () => 'all')(cm);
    expect(full.binaryData).toEqual({ 'truststore.jks': 'AAEC' });
    expect(full.kind).toBe('ConfigMap');
  });

  test('an object without data has empty digests (and empty data when kept)', () => {
    const s = secret({ data: undefined });
    expect(slimDataObject('Secret', () => undefined)(s).digests).toEqual({});
    expect(slimDataObject('Secret', () => 'all')(s).data).toEqual({});
  });
});

describe('slim drops kubectl last-applied-configuration and managedFields, keeps the rest of metadata', () => {
  test('Secrets', () => {
    const slim = slimDataObject('Secret', () => 'all')(secret());
    expect(slim.metadata.annotations).toEqual({ 'annotary.io/keystores': 'jks' });
    expect('managedFields' in slim.metadata).toBe(false);
    expect(slim.metadata).toMatchObject({ name: 'web', namespace: 'app', uid: 'u1', resourceVersion: '7', labels: { app: 'web' } });
  });

  test('other kinds: spec kept, status, managedFields and last-applied dropped', () => {
    const route: KubeObject = {
      apiVersion: 'route.openshift.io/v1',
      kind: 'Route',
      metadata: {
        name: 'r',
        namespace: 'app',
        generation: 3,
        annotations: { [LAST_APPLIED]: '{}', a: 'b' },
        managedFields: [{}],
      } as KubeObject['metadata'],
      spec: { host: 'x.example.com' },
      status: { ingress: [] },
    };
    const slim = slimObject(route);
    expect(slim.spec).toEqual({ host: 'x.example.com' });
    expect(slim.status).toBeUndefined();
    expect(slim.metadata.annotations).toEqual({ a: 'b' });
    expect(slim.metadata.generation).toBe(3);
    expect('managedFields' in slim.metadata).toBe(false);
    expect(route.metadata.annotations).toHaveProperty([LAST_APPLIED]); // input not mutated
  });

  test('annotations without last-applied are passed through unchanged', () => {
    const annotations = { a: '1' };
    expect(slimMeta({ name: 'x', annotations }).annotations).toBe(annotations);
    expect(slimMeta({ name: 'x' }).annotations).toBeUndefined();
  });
});

describe('digests are deterministic and change when a value changes', () => {
  test('valueDigest is 32 hex chars of sha256 of the stored text', () => {
    expect(valueDigest('')).toBe('e3b0c44298fc1c149afbf4c8996fb924');
    expect(valueDigest('abc')).toMatch(/^[0-9a-f]{32}$/);
  });

  test('property: equal values give equal digests, different values different digests', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(valueDigest(a)).toBe(valueDigest(a));
        if (a !== b) expect(valueDigest(a)).not.toBe(valueDigest(b));
      }),
    );
  });

  test('property: slimming twice gives the same digests; changing one value changes only its digest', () => {
    const transform = slimDataObject('Secret', () => undefined);
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z.]{1,8}$/), fc.base64String(), { minKeys: 1, maxKeys: 6 }),
        fc.base64String(),
        (data, replacement) => {
          const a = transform(secret({ data }));
          expect(transform(secret({ data: { ...data } })).digests).toEqual(a.digests);
          const key = Object.keys(data)[0];
          const b = transform(secret({ data: { ...data, [key]: replacement } }));
          for (const k of Object.keys(data)) {
            if (k === key && replacement !== data[k]) expect(b.digests[k]).not.toBe(a.digests[k]);
            else expect(b.digests[k]).toBe(a.digests[k]);
          }
        },
      ),
    );
  });
});
