// Kubernetes label selectors (apimachinery's labels.Parse), for the selectors annotary applies
// itself to objects already in a cache (--resource-label-selector): the caches are shared, so the
// selector cannot go to the apiserver as Reloader's does. Requirements are separated by commas
// outside parentheses: `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`,
// `key notin (a,b)`; all must hold. Stakater Reloader's legacy forms are accepted as Reloader
// rewrites them (common.GetResourceLabelSelector): `key:value` is `key=value`, `key:*` and
// `key=*` are `key`.

export type LabelPredicate = (labels: Record<string, string> | undefined) => boolean;

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** Splits at commas outside parentheses. */
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
  return out.map((s) => s.trim()).filter(Boolean);
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
  const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(item);
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

/** The predicate of a selector; undefined for an empty one (everything matches). Throws for a malformed selector. */
export function parseLabelSelector(text: string): LabelPredicate | undefined {
  const reqs = requirements(text).map((r) => requirement(reloaderLegacy(r)));
  if (!reqs.length) return undefined;
  return (labels) => reqs.every((r) => r(labels));
}
