// The Event reason table (src/event-reasons.ts) against the code: a scan of src/ finds every
// reason annotary can write, and each must have a row of the right type; each row must be
// written somewhere (no stale rows). Reasons reach Events by these paths:
//   - a controller's Writer: write.note(obj, 'Reason', …) for a Normal Event, and
//     write.warn(obj, refusal) for a Warning, the refusal made by refuse('Reason', …);
//   - events.emit(obj, 'Normal' | 'Warning', 'Reason', …) directly (the Writer itself, the
//     operator's own Events);
//   - PkiError reasons (new PkiError('Reason', …), guard('Reason', …), the PkiReason union),
//     which the store controllers turn into refusals with refuse(err.reason, …), and likewise
//     GenerateError reasons (new GenerateError('Reason', …), the GenerateReason union) for
//     the generated-secrets controller;
//   - reportManagedChange(…, 'Reason'): the Normal Event of a written change.
// A reason passed on in a variable must be one of FORWARDED, so a new path fails here
// until this scan learns it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_REASONS, eventReasonsTable } from '../src/event-reasons.js';

const SRC = new URL('../src/', import.meta.url).pathname;

function sources(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [{ path: path.slice(SRC.length), text: readFileSync(path, 'utf8') }] : [];
  });
}

/** Reason expressions that carry a reason found by another pattern, with where it comes from. */
const FORWARDED: Record<string, string> = {
  'r.reason': "Writer.warn's Refusal: refuse('…')",
  writtenReason: "reportManagedChange's argument: reportManagedChange(…, '…')",
  'err.reason': "a PkiError's or GenerateError's reason: new PkiError('…'), guard('…'), PkiReason, new GenerateError('…'), GenerateReason",
  reason: "guard's parameter (new PkiError(reason, …)): guard('…'); Writer.note's parameter: write.note(…, '…')",
};

interface Found {
  types: Set<string>;
  where: Set<string>;
}

function scan() {
  const found = new Map<string, Found>();
  const forwarded: string[] = [];
  const add = (reason: string, type: string, where: string) => {
    const f = found.get(reason) ?? { types: new Set(), where: new Set() };
    f.types.add(type);
    f.where.add(where);
    found.set(reason, f);
  };
  const LITERAL = /^'(\w+)'$/;
  const reasonArg = (expr: string, type: string, where: string) => {
    const lit = LITERAL.exec(expr.trim());
    if (lit) add(lit[1], type, where);
    else forwarded.push(`${where}: ${expr.trim()}`);
  };
  // events.emit calls, and calls of any .emit with an Event type, against those parsed
  const emits = { calls: 0, typed: 0, parsed: 0, notes: 0 };
  for (const { path, text } of sources(SRC)) {
    emits.calls += text.match(/\bevents\.emit\(/g)?.length ?? 0;
    emits.typed += text.match(/\.emit\([^,]+,\s*'(Normal|Warning)'/g)?.length ?? 0;
    for (const m of text.matchAll(/\bevents\.emit\([^,]+,\s*([^,]+),\s*([^,]+),/g)) {
      emits.parsed++;
      const type = LITERAL.exec(m[1].trim())?.[1] ?? `not a literal: ${m[1].trim()}`;
      reasonArg(m[2], type, path);
    }
    for (const m of text.matchAll(/\bwrite\.note\([^,]+,\s*([^,]+),/g)) {
      emits.notes++;
      reasonArg(m[1], 'Normal', path);
    }
    // refusal.ts' refuse(), where it is imported (the informer's own refuse() is its 403 bookkeeping)
    if (/import \{[^}]*\brefuse\b[^}]*\} from '[^']*refusal\.js'/.test(text)) {
      for (const m of text.matchAll(/(?<![.\w])refuse\(\s*([^,]+),/g)) reasonArg(m[1], 'Warning', path);
    }
    for (const m of text.matchAll(/\bnew PkiError\(\s*([^,]+),/g)) reasonArg(m[1], 'Warning', path);
    for (const m of text.matchAll(/\bnew GenerateError\(\s*([^,]+),/g)) reasonArg(m[1], 'Warning', path);
    for (const m of text.matchAll(/\bguard\(\s*'(\w+)'/g)) add(m[1], 'Warning', path);
    for (const m of text.matchAll(/(?<!function )\breportManagedChange\([^;]*?,\s*([^,;]+)\);/g)) reasonArg(m[1], 'Normal', path);
  }
  const union = /export type PkiReason =([^;]*);/.exec(readFileSync(join(SRC, 'pki/errors.ts'), 'utf8'))?.[1] ?? '';
  for (const m of union.matchAll(/'(\w+)'/g)) add(m[1], 'Warning', 'pki/errors.ts (PkiReason)');
  const generate = /export type GenerateReason =([^;]*);/.exec(readFileSync(join(SRC, 'generate/spec.ts'), 'utf8'))?.[1] ?? '';
  for (const m of generate.matchAll(/'(\w+)'/g)) add(m[1], 'Warning', 'generate/spec.ts (GenerateReason)');
  return { found, forwarded, emits };
}

const { found, forwarded, emits } = scan();

describe('the Event reason table matches the reasons the code writes', () => {
  test('the scan parses every Event call and finds the reasons', () => {
    // a call the emit pattern cannot parse (written differently, another recorder name) would otherwise go unseen
    expect(emits.calls).toBeGreaterThan(2);
    expect(emits.parsed).toBe(emits.calls);
    expect(emits.typed).toBe(emits.calls);
    expect(emits.notes).toBeGreaterThan(5);
    expect(found.size).toBeGreaterThan(30);
  });

  test('reasons passed on in variables come only from paths the scan covers', () => {
    for (const f of forwarded) expect(Object.keys(FORWARDED)).toContain(f.slice(f.indexOf(': ') + 2));
  });

  test.each([...found.keys()].sort().map((r) => [r]))('%s has a row of its type', (reason) => {
    const row = EVENT_REASONS.find((e) => e.reason === reason);
    expect(row).toBeDefined();
    expect([...found.get(reason)!.types]).toEqual([row!.type]);
  });

  test.each(EVENT_REASONS.map((e) => [e.reason]))('row %s is written somewhere in src/', (reason) => {
    expect(found.has(reason)).toBe(true);
  });

  test('one row per reason, each says where it appears and what it means', () => {
    expect(new Set(EVENT_REASONS.map((e) => e.reason)).size).toBe(EVENT_REASONS.length);
    for (const e of EVENT_REASONS) {
      expect(e.on.length).toBeGreaterThan(0);
      expect(e.meaning.trim()).not.toBe('');
    }
  });
});

describe('`annotary events` prints a markdown row per reason', () => {
  test('eventReasonsTable() has the header and one well-formed row per reason', () => {
    const lines = eventReasonsTable().split('\n');
    expect(lines[0]).toBe('| reason | type | on | meaning |');
    expect(lines[1]).toBe('|---|---|---|---|');
    const rows = lines.slice(2);
    expect(rows).toHaveLength(EVENT_REASONS.length);
    for (const e of EVENT_REASONS) {
      const row = rows.filter((r) => r.startsWith(`| \`${e.reason}\` | ${e.type} | ${e.on.join(', ')} |`));
      expect(row).toHaveLength(1);
      expect(row[0].split('|')).toHaveLength(6); // no stray "|" inside a cell breaks the markdown
    }
  });
});
