// Kubernetes label selectors in their text form (apimachinery's labels.Parse, kubectl -l):
// requirements separated by commas outside parentheses, `key`, `!key`, `key=value`,
// `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`; all must hold. Parsed once into
// a predicate that annotary applies itself to objects already in a cache (the caches are shared,
// so a selector cannot go to the apiserver). Two readers of the one grammar:
//   - parseLabelSelector, for an annotation (a trust bundle's namespaces): a Refusal naming the
//     requirement that is malformed;
//   - parseReloaderSelector, for --resource-label-selector: stakater Reloader's legacy forms too,
//     as Reloader rewrites them (common.GetResourceLabelSelector): `key:value` is `key=value`,
//     `key:*` and `key=*` are `key`.
import type { Refusal } from './refusal.js';
import { refuse } from './refusal.js';

export type LabelPredicate = (labels: Record<string, string> | undefined) => boolean;

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?)?$/;

/** Splits at commas outside parentheses; each requirement trimmed (blank ones kept). */
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

function key(k: string): string {
  if (!KEY.test(k)) throw new Error(`"${k}" is not a label key`);
  return k;
}
function value(v: string): string {
  if (!VALUE.test(v)) throw new Error(`"${v}" is not a label value`);
  return v;
}

/** One requirement as a predicate; throws with a message for a malformed one. */
function requirement(item: string): LabelPredicate {
  const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(item);
  if (set) {
    const k = key(set[1]);
    const values = new Set(set[3].split(',').map((v) => value(v.trim())));
    return set[2] === 'in' ? (l) => l?.[k] !== undefined && values.has(l[k]) : (l) => l?.[k] === undefined || !values.has(l[k]);
  }
  const cmp = /^([^!=\s]+)\s*(==|!=|=)\s*(\S*)$/.exec(item);
  if (cmp) {
    const k = key(cmp[1]);
    const v = value(cmp[3]);
    return cmp[2] === '!=' ? (l) => l?.[k] !== v : (l) => l?.[k] === v;
  }
  if (item.startsWith('!')) {
    const k = key(item.slice(1).trim());
    return (l) => l?.[k] === undefined;
  }
  const k = key(item);
  return (l) => l?.[k] !== undefined;
}

const all =
  (reqs: LabelPredicate[]): LabelPredicate =>
  (labels) =>
    reqs.every((r) => r(labels));

/** An annotation's selector; an empty one matches everything (as in Kubernetes), a blank requirement in a list is refused. */
export function parseLabelSelector(text: string, what: string): LabelPredicate | Refusal {
  if (text.trim() === '') return all([]);
  const reqs: LabelPredicate[] = [];
  for (const r of requirements(text)) {
    try {
      if (r === '') throw new Error('blank');
      reqs.push(requirement(r));
    } catch {
      return refuse('InvalidAnnotation', `${what}: "${r}" is not a label selector requirement`);
    }
  }
  return all(reqs);
}

/** Reloader's rewrite of one item (see the header). */
function reloaderLegacy(item: string): string {
  let s = item;
  if (s.includes(':')) {
    const [k, v] = s.split(':');
    s = v === '*' ? k : `${k}=${v}`;
  }
  if (s.includes('=') && !/[!=]=/.test(s) && s.split('=')[1] === '*') s = s.split('=')[0];
  return s;
}

/** --resource-label-selector: undefined for an empty selector (everything matches); blank items skipped. Throws when malformed. */
export function parseReloaderSelector(text: string): LabelPredicate | undefined {
  const reqs = requirements(text)
    .filter(Boolean)
    .map((r) => requirement(reloaderLegacy(r)));
  return reqs.length ? all(reqs) : undefined;
}
