import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ReferenceIndex } from '../../src/kube/refindex.js';

const sorted = (xs: string[]) => [...xs].sort();

describe('ReferenceIndex: set / replace / remove', () => {
  test('set records targets and their referrers', () => {
    const idx = new ReferenceIndex();
    idx.set('Secret:ns/keystore', ['Secret:ns/pw', 'ConfigMap:ns/bundle']);
    expect(sorted(idx.targets('Secret:ns/keystore'))).toEqual(['ConfigMap:ns/bundle', 'Secret:ns/pw']);
    expect(idx.referrers('Secret:ns/pw')).toEqual(['Secret:ns/keystore']);
    expect(idx.referrers('ConfigMap:ns/bundle')).toEqual(['Secret:ns/keystore']);
  });

  test('set replaces the previous targets: a dropped target no longer lists the referrer', () => {
    const idx = new ReferenceIndex();
    idx.set('r', ['a', 'b']);
    idx.set('r', ['b', 'c']);
    expect(sorted(idx.targets('r'))).toEqual(['b', 'c']);
    expect(idx.referrers('a')).toEqual([]);
    expect(idx.referrers('b')).toEqual(['r']);
    expect(idx.referrers('c')).toEqual(['r']);
  });

  test('set with no targets and remove both forget the referrer', () => {
    const idx = new ReferenceIndex();
    idx.set('r1', ['a']);
    idx.set('r2', ['a']);
    idx.set('r1', []);
    expect(idx.targets('r1')).toEqual([]);
    expect(idx.referrers('a')).toEqual(['r2']);
    idx.remove('r2');
    expect(idx.referrers('a')).toEqual([]);
    idx.remove('never-set'); // no-op
  });

  test('duplicate targets count once', () => {
    const idx = new ReferenceIndex();
    idx.set('r', ['a', 'a', 'a']);
    expect(idx.targets('r')).toEqual(['a']);
    expect(idx.referrers('a')).toEqual(['r']);
  });
});

describe('ReferenceIndex: referrers of a target are every object that points at it', () => {
  test('several keystore Secrets sharing one password Secret are all found (cert-utils #83)', () => {
    const idx = new ReferenceIndex();
    for (let i = 0; i < 5; i++) idx.set(`Secret:ns/ks${i}`, ['Secret:ns/shared-pw', `Secret:ns/own${i}`]);
    expect(sorted(idx.referrers('Secret:ns/shared-pw'))).toEqual([0, 1, 2, 3, 4].map((i) => `Secret:ns/ks${i}`));
    expect(idx.referrers('Secret:ns/own3')).toEqual(['Secret:ns/ks3']);
  });

  test('the returned arrays are copies: mutating them does not change the index', () => {
    const idx = new ReferenceIndex();
    idx.set('r', ['a']);
    idx.referrers('a').push('x');
    idx.targets('r').push('y');
    expect(idx.referrers('a')).toEqual(['r']);
    expect(idx.targets('r')).toEqual(['a']);
  });
});

describe('ReferenceIndex property: the reverse index is always the exact inverse of the forward index', () => {
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

  test('after any sequence of set/remove, targets() matches a model and referrers() is its inverse', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const idx = new ReferenceIndex();
        const model = new Map<string, Set<string>>();
        for (const o of ops) {
          if (o.kind === 'set') {
            idx.set(o.referrer, o.targets);
            if (o.targets.length) model.set(o.referrer, new Set(o.targets));
            else model.delete(o.referrer);
          } else {
            idx.remove(o.referrer);
            model.delete(o.referrer);
          }
          for (const r of referrers) expect(sorted(idx.targets(r))).toEqual(sorted([...(model.get(r) ?? [])]));
          for (const t of targets) {
            const expected = referrers.filter((r) => model.get(r)?.has(t));
            expect(sorted(idx.referrers(t))).toEqual(expected);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
