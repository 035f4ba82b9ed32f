import { describe, expect, test } from '@jest/globals';
import { A, ANNOTATIONS, AnnotationReader, annotationsTable, commaList, type AnnotationKey } from '../src/annotations.js';

const allKeys = Object.values(A) as AnnotationKey[];
const originOf = (k: string) => ANNOTATIONS.find((a) => a.key === k)!.origin;
const everyKeySet = Object.fromEntries(allKeys.map((k) => [k, 'true']));

describe('AnnotationReader honours --compat', () => {
  test('compat=false hides every cert-utils and Reloader key, never an annotary key', () => {
    const off = new AnnotationReader(false);
    for (const k of allKeys) {
      if (originOf(k) === 'annotary') expect(off.get(everyKeySet, k)).toBe('true');
      else expect(off.get(everyKeySet, k)).toBeUndefined();
    }
    expect(off.isTrue(everyKeySet, A.cuGenerateJavaKeystores)).toBe(false);
    expect(off.isTrue(everyKeySet, A.rlAuto)).toBe(false);
    expect(off.isTrue(everyKeySet, A.certInfo)).toBe(true);
  });

  test('compat=true reads every key', () => {
    const on = new AnnotationReader(true);
    for (const k of allKeys) expect(on.get(everyKeySet, k)).toBe('true');
  });

  test('missing annotations read as absent', () => {
    const on = new AnnotationReader(true);
    expect(on.get(undefined, A.keystores)).toBeUndefined();
    expect(on.get({}, A.keystores)).toBeUndefined();
    expect(on.isTrue(undefined, A.certInfo)).toBe(false);
  });

  test('isTrue accepts "true" in any case with blanks around, nothing else', () => {
    const r = new AnnotationReader(true);
    for (const v of ['true', ' TRUE ', 'True']) expect(r.isTrue({ [A.certInfo]: v }, A.certInfo)).toBe(true);
    for (const v of ['yes', '1', 'false', '', 'truee']) expect(r.isTrue({ [A.certInfo]: v }, A.certInfo)).toBe(false);
  });

  test('hasAny: known keys only, and compat keys only with compat on', () => {
    const on = new AnnotationReader(true);
    const off = new AnnotationReader(false);
    expect(on.hasAny(undefined)).toBe(false);
    expect(on.hasAny({ 'example.com/other': 'x' })).toBe(false);
    expect(on.hasAny({ [A.rlAuto]: 'true' })).toBe(true);
    expect(off.hasAny({ [A.rlAuto]: 'true', [A.cuGenerateJavaKeystores]: 'true' })).toBe(false);
    expect(off.hasAny({ [A.reload]: 'auto' })).toBe(true);
  });
});

describe('the annotation table lists every key exactly once', () => {
  test('every A.* key appears exactly once in ANNOTATIONS, and ANNOTATIONS has no other key', () => {
    for (const k of allKeys) expect(ANNOTATIONS.filter((a) => a.key === k)).toHaveLength(1);
    expect(ANNOTATIONS.map((a) => a.key).sort()).toEqual([...allKeys].sort());
  });

  test("the origin matches the key's domain", () => {
    for (const a of ANNOTATIONS) {
      if (a.key.startsWith('annotary.io/')) expect(a.origin).toBe('annotary');
      else if (a.key.startsWith('cert-utils-operator.redhat-cop.io/')) expect(a.origin).toBe('cert-utils');
      else if (a.key.startsWith('secret-generator.v1.mittwald.de/')) expect(a.origin).toBe('secret-generator');
      else if (/^service\.(alpha|beta)\.openshift\.io\//.test(a.key)) expect(a.origin).toBe('service-ca');
      else if (a.key.startsWith('cert-manager.io/')) expect(a.origin).toBe('cert-manager');
      else {
        expect(a.key).toMatch(/reloader\.stakater\.com\//);
        expect(a.origin).toBe('reloader');
      }
    }
  });

  test('every row says where it applies, its values and its meaning', () => {
    for (const a of ANNOTATIONS) {
      expect(a.on.length).toBeGreaterThan(0);
      expect(a.values.trim()).not.toBe('');
      expect(a.description.trim()).not.toBe('');
    }
  });
});

describe('commaList splits and trims', () => {
  test.each([
    [undefined, []],
    ['', []],
    ['a', ['a']],
    ['a, b,,c ', ['a', 'b', 'c']],
    [' , ,', []],
  ])('%p → %p', (input, out) => {
    expect(commaList(input)).toEqual(out);
  });
});

describe('`annotary annotations` prints a markdown row per key', () => {
  test('annotationsTable() is the markdown docs/annotations.md embeds', () => {
    const table = annotationsTable();
    const lines = table.split('\n');
    expect(lines[0]).toBe('| key | on | origin | values | meaning |');
    expect(lines[1]).toBe('|---|---|---|---|---|');
    const rows = lines.slice(2);
    expect(rows).toHaveLength(ANNOTATIONS.length);
    for (const a of ANNOTATIONS) {
      const row = rows.filter((r) => r.startsWith(`| \`${a.key}\` |`));
      expect(row).toHaveLength(1);
      expect(row[0].split('|')).toHaveLength(7); // no stray "|" inside a cell breaks the markdown
      expect(row[0]).toContain(`| ${a.origin}${a.written ? ' (written)' : ''} |`);
      expect(row[0]).toContain(a.on.join(', '));
    }
  });
});
