// Kubernetes label selectors in their text form (kubectl -l, labelSelector=): `a=b`, `a==b`,
// `a!=b`, `a in (x,y)`, `a notin (x)`, `a` (exists), `!a` (does not exist), joined by commas.
// Parsed once into a predicate over an object's labels.
import { refuse } from './refusal.js';
import type { Refusal } from './refusal.js';

export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?)?$/;

/** Splits on the commas outside parentheses. */
function requirements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

/** The predicate of a selector; an empty selector matches everything (as in Kubernetes). */
export function parseLabelSelector(text: string, what: string): LabelMatcher | Refusal {
  const tests: LabelMatcher[] = [];
  const bad = (r: string) => refuse('InvalidAnnotation', `${what}: "${r}" is not a label selector requirement`);
  for (const r of requirements(text)) {
    if (r === '') {
      if (text.trim() === '') continue;
      return bad(r);
    }
    let m: RegExpExecArray | null;
    if ((m = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(r))) {
      const [, key, op, list] = m;
      const values = list.split(',').map((v) => v.trim());
      if (!KEY.test(key) || !values.every((v) => VALUE.test(v))) return bad(r);
      const set = new Set(values);
      tests.push(op === 'in' ? (l) => l?.[key] !== undefined && set.has(l[key]) : (l) => l?.[key] === undefined || !set.has(l[key]));
    } else if ((m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(r))) {
      const [, key, op, value] = m;
      if (!KEY.test(key) || !VALUE.test(value)) return bad(r);
      tests.push(op === '!=' ? (l) => l?.[key] !== value : (l) => l?.[key] === value);
    } else if ((m = /^!\s*(\S+)$/.exec(r))) {
      const key = m[1];
      if (!KEY.test(key)) return bad(r);
      tests.push((l) => l?.[key] === undefined);
    } else {
      if (!KEY.test(r)) return bad(r);
      tests.push((l) => l?.[r] !== undefined);
    }
  }
  return (labels) => tests.every((t) => t(labels));
}
