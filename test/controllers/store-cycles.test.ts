// Reference cycles through annotary's own outputs: found from the annotations alone, before
// any write, whatever their length and the kinds on them.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { A, AnnotationReader } from '../../src/annotations.js';
import type { StoreDeps, StoreNode } from '../../src/controllers/store-specs.js';
import { cycleRefusal, findStoreCycle, storeDeps } from '../../src/controllers/store-specs.js';

const reader = new AnnotationReader(true);
type Objects = Record<string, Record<string, string>>; // "Secret/x" → annotations

const lookup =
  (objects: Objects) =>
  (n: StoreNode): StoreDeps | undefined => {
    const ann = objects[`${n.kind}/${n.name}`];
    return ann && storeDeps(n, ann, reader, 'changeit');
  };
const secret = (name: string): StoreNode => ({ kind: 'Secret', name });
const stores = (extra: Record<string, string> = {}) => ({ [A.keystores]: 'jks', ...extra });

describe('reference cycles through annotary outputs are found', () => {
  test('length 1: a keystore whose password is its own keystore', () => {
    const objects = { 'Secret/x': stores({ [A.keystorePasswordSecret]: 'x/keystore.jks' }) };
    expect(findStoreCycle(secret('x'), lookup(objects))).toEqual([{ kind: 'Secret', name: 'x', key: 'keystore.jks' }]);
  });

  test('length 2 through passwords (the write loop of the issue)', () => {
    const objects = {
      'Secret/x': stores({ [A.keystorePasswordSecret]: 'y/keystore.jks' }),
      'Secret/y': stores({ [A.keystorePasswordSecret]: 'x/keystore.jks' }),
    };
    for (const start of ['x', 'y']) expect(findStoreCycle(secret(start), lookup(objects))).toHaveLength(2);
    const r = cycleRefusal(secret('x'), findStoreCycle(secret('x'), lookup(objects))!);
    expect(r.reason).toBe('ReferenceCycle');
    expect(r.message).toBe(
      'Secret "x" reads keystore.jks of Secret "y", which reads keystore.jks of Secret "x": ' +
        "annotary's outputs would rewrite each other without end; break the cycle",
    );
  });

  test('length 3 through a password, a truststore reference and a ConfigMap truststore', () => {
    const objects = {
      'Secret/a': stores({ [A.keystorePasswordSecret]: 'b/truststore.jks' }),
      'Secret/b': stores({ [A.truststoreFrom]: 'configmap/c:truststore.p12' }),
      'ConfigMap/c': { [A.truststore]: 'pkcs12', [A.keystorePasswordSecret]: 'a/keystore.jks' },
    };
    expect(findStoreCycle(secret('a'), lookup(objects))?.map((r) => `${r.kind}/${r.name}:${r.key}`)).toEqual([
      'Secret/b:truststore.jks',
      'ConfigMap/c:truststore.p12',
      'Secret/a:keystore.jks',
    ]);
    expect(findStoreCycle({ kind: 'ConfigMap', name: 'c' }, lookup(objects))).toHaveLength(3);
  });

  test('a ConfigMap whose bundle key is its own truststore', () => {
    const objects = { 'ConfigMap/c': { [A.truststore]: 'jks', [A.sourceCaKey]: 'truststore.jks' } };
    expect(findStoreCycle({ kind: 'ConfigMap', name: 'c' }, lookup(objects))).toHaveLength(1);
  });

  test('keys claimed by managed-keys count as outputs (stores an earlier configuration wrote)', () => {
    const objects = {
      'Secret/x': stores({ [A.keystorePasswordSecret]: 'y/old.jks' }),
      'Secret/y': { [A.managedKeys]: 'old.jks', [A.keystorePasswordSecret]: 'x/keystore.jks', [A.keystores]: 'jks' },
    };
    expect(findStoreCycle(secret('x'), lookup(objects))).toHaveLength(2);
  });

  test('no cycle when the references read inputs the user owns (ca.crt, a password key)', () => {
    const objects = {
      'Secret/x': stores({ [A.keystorePasswordSecret]: 'y/password', [A.truststoreFrom]: 'y' }),
      'Secret/y': stores({ [A.keystorePasswordSecret]: 'x/password', [A.truststoreFrom]: 'x' }),
    };
    expect(findStoreCycle(secret('x'), lookup(objects))).toBeUndefined();
  });

  test('a chain into a cycle that does not come back is not a cycle of the start', () => {
    const objects = {
      'Secret/s': stores({ [A.keystorePasswordSecret]: 'x/keystore.jks' }),
      'Secret/x': stores({ [A.keystorePasswordSecret]: 'y/keystore.jks' }),
      'Secret/y': stores({ [A.keystorePasswordSecret]: 'x/keystore.jks' }),
    };
    expect(findStoreCycle(secret('s'), lookup(objects))).toBeUndefined();
    expect(findStoreCycle(secret('x'), lookup(objects))).toHaveLength(2);
  });

  test('property: a cycle is reported exactly when following output reads from the start comes back (brute-force oracle)', () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...names), fc.constantFrom(...names), fc.constantFrom('keystore.jks', 'password')), {
          maxLength: 8,
        }),
        (edges) => {
          // each Secret reads at most one password: the first edge from it wins
          const pw = new Map<string, [string, string]>();
          for (const [from, to, key] of edges) if (!pw.has(from)) pw.set(from, [to, key]);
          const objects: Objects = Object.fromEntries(
            names.map((n) => [`Secret/${n}`, stores(pw.has(n) ? { [A.keystorePasswordSecret]: `${pw.get(n)![0]}/${pw.get(n)![1]}` } : {})]),
          );
          // oracle: walk the single password edge while it reads an output, at most |names| steps
          const comesBack = (start: string) => {
            let cur = start;
            for (let i = 0; i < names.length; i++) {
              const e = pw.get(cur);
              if (!e || e[1] !== 'keystore.jks') return false;
              if (e[0] === start) return true;
              cur = e[0];
            }
            return false;
          };
          for (const n of names) expect(findStoreCycle(secret(n), lookup(objects)) !== undefined).toBe(comesBack(n));
        },
      ),
      { numRuns: 300 },
    );
  });
});
