// The merge-patch simulator the controller tests apply patch bodies with: RFC 7386's own
// examples (Appendix A), and the resourceVersion precondition.
import { mergePatch, patched } from './merge-patch.js';

describe('mergePatch follows RFC 7386', () => {
  test.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j patched with %j is %j', (target, patch, result) => {
    const before = structuredClone(target);
    expect(mergePatch(target, patch)).toEqual(result);
    expect(target).toEqual(before); // the target is not changed in place
  });
});

describe('patched: the resourceVersion precondition', () => {
  const obj = { metadata: { name: 'x', resourceVersion: '7', annotations: { a: '1' } } };

  test("a patch of the object's resourceVersion applies", () => {
    expect(patched(obj, { metadata: { resourceVersion: '7', annotations: { a: null, b: '2' } } }).metadata).toEqual({
      name: 'x',
      resourceVersion: '7',
      annotations: { b: '2' },
    });
  });

  test('a patch of another resourceVersion is a conflict', () => {
    expect(() => patched(obj, { metadata: { resourceVersion: '6' } })).toThrow(/409 Conflict/);
  });
});
