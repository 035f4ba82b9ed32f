import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ReferenceIndex } from '../../src/kube/refindex.js';
import type { ObjectRef } from '../../src/kube/types.js';
import { ANY_NAME, refId } from '../../src/kube/types.js';

const secret = (name: string, namespace = 'ns'): ObjectRef => ({ kind: 'Secret', namespace, name });
const configMap = (name: string): ObjectRef => ({ kind: 'ConfigMap', namespace: 'ns', name });
const ids = (refs: ObjectRef[]) => refs.map(refId).sort();

describe('ReferenceIndex: set / replace / remove', () => {
  test('set records the referrers of each target', () => {
    const idx = new ReferenceIndex();
    idx.set(secret('keystore'), [secret('pw'), configMap('bundle')]);
    expect(idx.referrers(secret('pw'))).toEqual([secret('keystore')]);
    expect(idx.referrers(configMap('bundle'))).toEqual([secret('keystore')]);
    expect(idx.referrers(secret('bundle'))).toEqual([]); // kinds are part of the key
  });

  test('set replaces the previous targets: a dropped target no longer lists the referrer', () => {
    const idx = new ReferenceIndex();
    idx.set(secret('r'), [secret('a'), secret('b')]);
    idx.set(secret('r'), [secret('b'), secret('c')]);
    expect(idx.referrers(secret('a'))).toEqual([]);
    expect(idx.referrers(secret('b'))).toEqual([secret('r')]);
    expect(idx.referrers(secret('c'))).toEqual([secret('r')]);
  });

  test('set with no targets and remove both forget the referrer; duplicates count once', () => {
    const idx = new ReferenceIndex();
    idx.set(secret('r1'), [secret('a'), secret('a')]);
    idx.set(secret('r2'), [secret('a')]);
    idx.set(secret('r1'), []);
    expect(idx.referrers(secret('a'))).toEqual([secret('r2')]);
    idx.remove(secret('r2'));
    expect(idx.referrers(secret('a'))).toEqual([]);
    idx.remove(secret('never-set')); // no-op
  });

  test('a reference by pattern (ANY_NAME) finds every object of that kind in that namespace only', () => {
    const idx = new ReferenceIndex();
    idx.set({ kind: 'Deployment', namespace: 'ns', name: 'app' }, [secret(ANY_NAME), secret('exact')]);
    expect(idx.referrers(secret('created-later'))).toEqual([{ kind: 'Deployment', namespace: 'ns', name: 'app' }]);
    expect(idx.referrers(secret('exact'))).toHaveLength(1); // once, though matched by name and by pattern
    expect(idx.referrers(secret('x', 'other'))).toEqual([]);
    expect(idx.referrers(configMap('x'))).toEqual([]);
  });
});

describe('ReferenceIndex: referrers of a target are every object that points at it', () => {
  test('several keystore Secrets sharing one password Secret are all found (cert-utils #83)', () => {
    const idx = new ReferenceIndex();
    for (let i = 0; i < 5; i++) idx.set(secret(`ks${i}`), [secret('shared-pw'), secret(`own${i}`)]);
    expect(ids(idx.referrers(secret('shared-pw')))).toEqual([0, 1, 2, 3, 4].map((i) => `Secret/ns/ks${i}`));
    expect(idx.referrers(secret('own3'))).toEqual([secret('ks3')]);
  });

  test('the returned arrays are copies: mutating them does not change the index', () => {
    const idx = new ReferenceIndex();
    idx.set(secret('r'), [secret('a')]);
    idx.referrers(secret('a')).push(secret('x'));
    expect(idx.referrers(secret('a'))).toEqual([secret('r')]);
  });
});

describe('ReferenceIndex property: the reverse index is always the exact inverse of what was set', () => {
  const referrers = ['r1', 'r2', 'r3', 'r4'];
  const targets = ['t1', 't2', 't3', 't4', 't5'];
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('set' as const),
      referrer: fc.constantFrom(...referrers),
      targets: fc.array(fc.constantFrom(...targets), { maxLength: 6 }),
    }),
    fc.record({ kind: fc.constant('remove' as const), referrer: fc.constantFrom(...referrers) }),
  );

  test('after any sequence of set/remove, referrers() matches a model', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const idx = new ReferenceIndex();
        const model = new Map<string, Set<string>>();
        for (const o of ops) {
          if (o.kind === 'set') {
            idx.set(
              secret(o.referrer),
              o.targets.map((t) => secret(t)),
            );
            if (o.targets.length) model.set(o.referrer, new Set(o.targets));
            else model.delete(o.referrer);
          } else {
            idx.remove(secret(o.referrer));
            model.delete(o.referrer);
          }
          for (const t of targets) {
            const expected = referrers.filter((r) => model.get(r)?.has(t)).map((r) => `Secret/ns/${r}`);
            expect(ids(idx.referrers(secret(t)))).toEqual(expected);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
