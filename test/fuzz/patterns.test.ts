// User-supplied Reloader patterns (property): random patterns from a grammar of nested
// quantifiers and alternations (the shapes that make backtracking engines explode), against
// adversarial names (long runs of one character and a mismatch at the end), through the
// production path (parseReloadPolicy, selectWatched, the compiled patterns it holds).
//
// What is proven, and how:
//  (a) Semantics: the answer is the one of a backtracking reference, JavaScript's
//      /^(?:p)$/, where that reference is safe: on names short enough (safeLength).
//  (b) Linear evaluation, without a clock: the engine's steps are counted. re2js reads the
//      program only through prog.inst[pc] and the name only through input.step(pos); each of its
//      engines (DFA, one-pass, bounded backtracker, Pike VM) works in proportion to those reads
//      (a literal item is found by indexOf instead, linear too), so their count is a
//      deterministic measure of the work. It stays within 4 × (instructions + 1) × (name length
//      + 2): linear in the name for a given program. A backtracking engine needs exponentially
//      many steps for "(a|aa)+" against a⁶⁰b.
//  (c) The program itself is bounded before it is compiled: programBound(item), from the text
//      alone, is never below the size re2js compiles it to, and parseReloadPolicy refuses items
//      whose bounds add up to more than PATTERN_BUDGET. So with (b) a name costs about
//      4 × PATTERN_BUDGET × 255 steps per workload at most, whatever the patterns.
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { AnnotationReader } from '../../src/annotations.js';
import { isRefusal } from '../../src/kube/refusal.js';
import type { ReloadPolicy } from '../../src/controllers/reloader-rules.js';
import { PATTERN_BUDGET, parseReloadPolicy, programBound, selectWatched } from '../../src/controllers/reloader-rules.js';

const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const reader = new AnnotationReader(true);
const KEY = 'secret.reloader.stakater.com/reload';
const STEPS_PER_CELL = 4;

/** Alternations of concatenations of quantified atoms and groups, nested `depth` deep, `width` wide. */
function pattern(depth: number, width: number, quantifiers: string[], atoms: string[]): fc.Arbitrary<string> {
  const atom = fc.constantFrom(...atoms);
  const group = () => pattern(depth - 1, width, quantifiers, atoms).chain((p) => fc.constantFrom(`(?:${p})`, `(${p})`));
  const term = fc.tuple(depth === 0 ? atom : fc.oneof(atom, group()), fc.constantFrom('', '', ...quantifiers)).map(([u, q]) => u + q);
  const concat = fc.array(term, { minLength: 1, maxLength: width }).map((t) => t.join(''));
  return fc.array(concat, { minLength: 1, maxLength: width }).map((c) => c.join('|'));
}
const ATOMS = ['a', 'b', '0', '.', '-', '[ab]', '[^a]', '\\d', '[a-z0-9]'];
/** Over the characters of names, quantifiers without commas (Reloader splits items at commas), within the budget. */
const items = pattern(3, 2, ['*', '+', '?', '*?', '+?', '{2}', '{3}'], ATOMS).filter((p) => programBound(p) <= PATTERN_BUDGET);

/** A long run of one character (or pair) and a mismatch at the end: what makes backtracking retry every split. */
const adversarial = fc
  .tuple(fc.constantFrom('a', 'b', '0', 'ab', 'a0'), fc.integer({ min: 0, max: 125 }), fc.constantFrom('', 'a', 'b', 'c', '-', '.', '0'))
  .map(([run, n, end]) => run.repeat(n) + end)
  .filter((n) => n.length > 0);

/**
 * How long a name the backtracking reference can be given. Each character it consumes is one
 * of at most k choices (a quantifier or an alternative, replicated by counted repetitions), so
 * it explores at most (k + 1)^length paths: keep that under a million.
 */
function safeLength(item: string): number {
  const repeated = [...item.matchAll(/\{(\d+)\}/g)].reduce((n, m) => n * Number(m[1]), 1);
  const choices = (item.match(/[*+?|]/g)?.length ?? 0) * Math.min(1000, repeated);
  return Math.max(1, Math.min(12, Math.floor(Math.log(1e6) / Math.log(choices + 1))));
}

function compiled(item: string): ReloadPolicy | undefined {
  const p = parseReloadPolicy({ [KEY]: item }, undefined, reader);
  return p === undefined || isRefusal(p) ? undefined : p;
}

/** Whether the policy watches `name` (the production selection), given a namespace holding only that Secret. */
function watches(policy: ReloadPolicy, name: string): boolean {
  const view = { get: (_k: string, n: string) => (n === name ? {} : undefined), names: (k: string) => (k === 'Secret' ? [name] : []) };
  return selectWatched(policy, [], view, reader).watched.length > 0;
}

interface Counted {
  matched: boolean;
  steps: number;
  instructions: number;
}

/** The size of a compiled program (re2js' RE2 is untyped). */
const instructionsOf = (re: RE2JS): number => (re.re2() as unknown as { numberOfInstructions(): number }).numberOfInstructions();

/** Runs re.matches(name) and counts the engine's reads of its program and of the name (see (b) above). */
function countSteps(re: RE2JS, name: string): Counted {
  const re2 = re.re2() as unknown as {
    prog: { inst: unknown[] };
    onepass: { inst: unknown[] } | null;
    numberOfInstructions(): number;
    // function-typed properties (not methods): taken off the object and called with .call below
    executeEngine: (this: unknown, input: { step: (pos: number) => number }, ...rest: unknown[]) => unknown;
  };
  let steps = 0;
  const progs = [re2.prog, ...(re2.onepass ? [re2.onepass] : [])];
  const insts = progs.map((p) => p.inst);
  const isIndex = (k: string | symbol) => typeof k === 'string' && String(Number(k)) === k;
  for (const p of progs)
    p.inst = new Proxy(p.inst, {
      get: (t, k, r) => {
        if (isIndex(k)) steps++;
        return Reflect.get(t, k, r) as unknown;
      },
    });
  const exec = re2.executeEngine;
  re2.executeEngine = function (input, ...rest) {
    const step = input.step;
    input.step = (pos) => {
      steps++;
      return step.call(input, pos);
    };
    return exec.call(this, input, ...rest);
  };
  try {
    return { matched: re.matches(name), steps, instructions: re2.numberOfInstructions() };
  } finally {
    progs.forEach((p, i) => {
      p.inst = insts[i]!;
    });
    delete (re2 as { executeEngine?: unknown }).executeEngine; // back to the prototype's
  }
}

const bound = (c: Counted, name: string) => STEPS_PER_CELL * (c.instructions + 1) * (name.length + 2);

describe('Reloader patterns are evaluated by a linear-time engine (property)', () => {
  it('(a) the answer is the backtracking reference /^(?:p)$/ on names short enough for it', () => {
    fc.assert(
      fc.property(items, fc.array(adversarial, { minLength: 1, maxLength: 6 }), (item, names) => {
        const policy = compiled(item);
        expect(policy).toBeDefined(); // every pattern of the grammar is valid RE2 and within the budget
        const reference = new RegExp(`^(?:${item})$`);
        const safe = safeLength(item);
        for (const long of names) {
          const name = long.slice(-safe);
          expect(watches(policy!, name)).toBe(reference.test(name));
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('(b) steps stay within 4 × (instructions + 1) × (name length + 2) on adversarial names up to 253 characters', () => {
    fc.assert(
      fc.property(items, adversarial, (item, name) => {
        const policy = compiled(item)!;
        const c = countSteps(policy.Secret.patterns[0], name);
        expect(c.steps).toBeLessThanOrEqual(bound(c, name));
        expect(c.matched).toBe(watches(policy, name));
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  // Patterns known to take exponential (or high polynomial) time in a backtracking engine on these names.
  const explosive: [string, string, boolean][] = [
    ['(a|aa)+', `${'a'.repeat(60)}b`, false],
    ['(a|aa)+', 'a'.repeat(60), true],
    ['(a+)+', `${'a'.repeat(252)}b`, false],
    ['((a*)*)*c', `${'a'.repeat(252)}b`, false],
    ['(?:a|a?)+', `${'a'.repeat(252)}-`, false],
    ['(.*a){12}', `${'a'.repeat(252)}b`, false],
    ['(a|b|ab)*c', `${'ab'.repeat(126)}a`, false],
    ['(?:[ab]*a[ab]{20})', `${'ab'.repeat(126)}`, false], // the 21st character from the end is a b
    ['(?:[ab]*a[ab]{20})', `${'ab'.repeat(126)}a`, true],
    ['(?:(?:a|b)*a(?:a|b){30}){3}c', `${'a'.repeat(252)}b`, false],
  ];
  it.each(explosive)('(b) hostile case %#, %s: the right answer, in bounded steps', (item, name, expected) => {
    const policy = compiled(item)!;
    const c = countSteps(policy.Secret.patterns[0], name);
    expect(c.matched).toBe(expected);
    expect(watches(policy, name)).toBe(expected);
    expect(c.steps).toBeGreaterThan(name.length); // the counter sees the engine read the whole name
    expect(c.steps).toBeLessThanOrEqual(bound(c, name));
  });

  it('(c) programBound is never below the compiled program size, for any RE2 syntax', () => {
    const atoms = [
      ...ATOMS,
      '',
      '()',
      '(?:)',
      '|',
      '^',
      '$',
      '\\b',
      '(?i)k',
      '\\pL',
      '[[:alpha:]]',
      '\\Q(a{5}\\E',
      '\\x{41}',
      '[]a]',
      '[a-]',
      '(?s).',
      '(?U)a*',
    ];
    const quantifiers = ['*', '+', '?', '??', '{0}', '{1}', '{3}', '{10}', '{0,5}', '{2,}', '{100}', '{1000}', '{0,1000}'];
    // (compiling is what the bound spares production; here it is limited to keep the test quick)
    const anyItem = pattern(3, 3, quantifiers, atoms).filter((p) => programBound(p) <= 20 * PATTERN_BUDGET);
    fc.assert(
      fc.property(anyItem, (item) => {
        let size: number;
        try {
          size = instructionsOf(RE2JS.compile(item));
        } catch {
          return;
        } // refused: nothing compiled
        expect(size).toBeLessThanOrEqual(programBound(item));
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('(c) the budget: what parseReloadPolicy accepts compiles to at most PATTERN_BUDGET instructions per workload', () => {
    const list = fc.array(items, { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(list, list, (secrets, configMaps) => {
        const ann = { [KEY]: secrets.join(','), 'configmap.reloader.stakater.com/reload': configMaps.join(',') };
        const p = parseReloadPolicy(ann, undefined, reader);
        const total = [...secrets, ...configMaps].reduce((n, i) => n + programBound(i), 0);
        if (total > PATTERN_BUDGET) {
          return void expect(isRefusal(p) && p.message).toMatch(/could compile to more than 10000 RE2 instructions/);
        }
        if (p === undefined || isRefusal(p)) throw new Error(`refused within the budget: ${JSON.stringify(p)}`);
        const size = [...p.Secret.patterns, ...p.ConfigMap.patterns].reduce((n, re) => n + instructionsOf(re), 0);
        expect(size).toBeLessThanOrEqual(PATTERN_BUDGET);
      }),
      { numRuns: Math.ceil(FUZZ_RUNS / 10) },
    );
  });
});
