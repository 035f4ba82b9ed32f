// Which Secrets and ConfigMaps a workload watches, from annotary's own keys and stakater
// Reloader's keys (read through AnnotationReader, so --compat=false turns the latter off).
//
// Reloader's precedence, per object: ignore > exclude > named > search/match > auto.
//   - `reloader.stakater.com/ignore: "true"` on the object: never watched.
//   - excludes (exact names) on the workload: never watched.
//   - named: annotary's exact names, Reloader's comma list of ANCHORED regexps. Named objects
//     are watched whether or not the pod template references them (as Reloader does).
//   - search: referenced objects annotated `reloader.stakater.com/match: "true"`.
//   - auto: every referenced object (of that kind, for the typed auto keys).
// The modes are a union: search with auto on behaves as auto, which is what Reloader does.
// As in Reloader, the mode keys of a kind are read from the workload's metadata when any
// of them is there, else from the pod template's annotations.
//
// Reloader's items are Go regular expressions (RE2 syntax), evaluated here by re2js, a port of
// the same linear-time engine: any user can write them, and a backtracking engine (JavaScript's
// RegExp) can spend exponential time on "(a|aa)+" against a long name, freezing the operator.
import { RE2JS } from 're2js';
import type { AnnotationKey, AnnotationReader } from '../annotations.js';
import { A, commaList, parseBoolValue } from '../annotations.js';
import type { PodRef, RefKind } from './pod-refs.js';
import { compareRefs } from './pod-refs.js';
import type { Refusal } from '../kube/refusal.js';
import { isDnsSubdomain } from '../kube/names.js';
import { ANY_NAME } from '../kube/types.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import type { LabelPredicate } from '../kube/labels.js';
import type { ReloadOnCreate } from '../config.js';

export const REF_KINDS: RefKind[] = ['ConfigMap', 'Secret'];

export interface KindPolicy {
  /** exact names that must exist (annotary's lists, and Reloader items that are plain names) */
  names: string[];
  /** Reloader's items, each matched against the whole name of existing objects (matches()) */
  patterns: RE2JS[];
  auto: boolean;
  search: boolean;
  exclude: Set<string>;
}

export type ReloadPolicy = Record<RefKind, KindPolicy>;

/**
 * How large the compiled programs of one workload's Reloader items may be, together. RE2 matches
 * a name in steps proportional to program size × name length, and compiles in time proportional
 * to program size; but like Go it accepts programs of 1.4 million instructions (about a second
 * to compile, from 15 kB of text), so the program size is what user text must not control.
 * It is bounded BEFORE compiling, by programBound().
 */
export const PATTERN_BUDGET = 10_000;

// a counted repetition {n}, {n,} or {n,m}; linear: each digit run follows at most one "{"
const REPEAT = /\{(\d+)(?:,(\d*))?\}/g;

/**
 * An upper bound on the number of RE2 instructions an item compiles to, from its text alone:
 * at most two per character plus the program's own four, and only counted repetitions multiply
 * (by their largest count; along any nesting RE2 refuses a product over 1000, so the product
 * of all of them, capped at 1000, is an upper bound). Counting digits in braces that are not
 * repetitions (inside a class, "\x{10}") only makes the bound larger.
 */
export function programBound(item: string): number {
  let product = 1;
  for (const m of item.matchAll(REPEAT)) product = Math.min(1000, product * Math.max(1, Number(m[1]), Number(m[2] || 0)));
  return (2 * item.length + 4) * product;
}

const RELOADER_KEYS: Record<RefKind, { named: AnnotationKey; typedAuto: AnnotationKey; exclude: AnnotationKey }> = {
  Secret: { named: A.rlSecretReload, typedAuto: A.rlSecretAuto, exclude: A.rlSecretExclude },
  ConfigMap: { named: A.rlConfigMapReload, typedAuto: A.rlConfigMapAuto, exclude: A.rlConfigMapExclude },
};
const NATIVE_NAMES: Record<RefKind, AnnotationKey> = { Secret: A.reloadOnSecrets, ConfigMap: A.reloadOnConfigMaps };

type Annotations = Record<string, string> | undefined;

/**
 * Reloader parses its flags with Go's strconv.ParseBool (parseBoolValue knows the key's origin)
 * and counts a value it cannot parse as false: so does annotary, with a Warning in `ignored`.
 */
function flag(annotations: Annotations, key: AnnotationKey, reader: AnnotationReader, ignored: Refusal[]): boolean {
  const v = parseBoolValue(reader.get(annotations, key), key);
  if (!isRefusal(v)) return v;
  const r = refuse('ReloaderValueIgnored', `${v.message}: counted as false, as Reloader does`);
  if (!ignored.some((i) => i.message === r.message)) ignored.push(r); // reloader.stakater.com/auto is read for both kinds
  return false;
}

function kindPolicy(
  kind: RefKind,
  meta: Annotations,
  template: Annotations,
  reader: AnnotationReader,
  nativeAuto: boolean,
  budget: { left: number },
  ignored: Refusal[],
  autoReloadAll: boolean,
): KindPolicy | Refusal {
  const keys = RELOADER_KEYS[kind];
  const names: string[] = [];
  const patterns: RE2JS[] = [];
  for (const name of commaList(reader.get(meta, NATIVE_NAMES[kind]))) {
    if (!isDnsSubdomain(name)) return refuse('InvalidAnnotation', `${NATIVE_NAMES[kind]}: "${name}" is not a ${kind} name`);
    names.push(name);
  }
  const modeKeys = [keys.named, A.rlAuto, keys.typedAuto, A.rlSearch];
  const src = modeKeys.some((k) => reader.get(meta, k) !== undefined) ? meta : template;
  for (const item of commaList(reader.get(src, keys.named))) {
    budget.left -= programBound(item);
    if (budget.left < 0) {
      return refuse(
        'InvalidAnnotation',
        `${keys.named}: the Reloader patterns of this workload could compile to more than ` +
          `${PATTERN_BUDGET} RE2 instructions (about two per character, times the counted repetitions {n}); use fewer or simpler ones`,
      );
    }
    try {
      // compiled on its own and matched against the whole name: "a)|(b" cannot escape anchors
      patterns.push(RE2JS.compile(item));
    } catch (err) {
      // Go refuses what RE2 refuses: backreferences, lookarounds, possessive quantifiers.
      // Reloader skips such an item and matches the others: so does annotary, with a Warning.
      const why = (err as Error).message;
      const text = `${keys.named}: "${item}" is not a valid regular expression (RE2 syntax, as in Reloader: ${why})`;
      ignored.push(refuse('ReloaderValueIgnored', `${text}; skipped, the other items still match, as in Reloader`));
      continue;
    }
    if (isDnsSubdomain(item)) names.push(item);
  }
  const auto = flag(src, A.rlAuto, reader, ignored);
  const typedAuto = flag(src, keys.typedAuto, reader, ignored);
  // Reloader compares search with "true" exactly, not with ParseBool
  const search = reader.isTrue(src, A.rlSearch);
  // Reloader's --auto-reload-all: auto for a workload whose auto keys are unset or empty (common.ShouldReload)
  const autoUnset = !reader.get(src, A.rlAuto) && !reader.get(src, keys.typedAuto);
  const exclude = new Set(commaList(reader.get(meta, keys.exclude) ?? reader.get(template, keys.exclude)));
  return { names: [...new Set(names)], patterns, auto: nativeAuto || auto || typedAuto || (autoReloadAll && autoUnset), search, exclude };
}

/**
 * The workload's reload policy; undefined when it asks for no reloads at all, a Refusal for
 * invalid values of annotary's keys (an unknown mode, a bad name) and for Reloader patterns
 * over the budget. Reloader values Reloader itself ignores (a boolean Go cannot parse, a
 * regexp that does not compile) are ignored as Reloader does, and reported in `ignored`.
 */
export function parseReloadPolicy(
  meta: Annotations,
  template: Annotations,
  reader: AnnotationReader,
  ignored: Refusal[] = [],
  autoReloadAll = false,
): ReloadPolicy | Refusal | undefined {
  const native = reader.get(meta, A.reload);
  if (native !== undefined && native.trim().toLowerCase() !== 'auto') {
    return refuse('InvalidAnnotation', `${A.reload}: "${native}" is not auto`);
  }
  const policy = {} as ReloadPolicy;
  const budget = { left: PATTERN_BUDGET }; // shared by both kinds: it bounds the workload's reconcile
  for (const kind of REF_KINDS) {
    const p = kindPolicy(kind, meta, template, reader, native !== undefined, budget, ignored, autoReloadAll);
    if (isRefusal(p)) return p;
    policy[kind] = p;
  }
  const active = REF_KINDS.some((k) => policy[k].names.length || policy[k].patterns.length || policy[k].auto || policy[k].search);
  return active ? policy : undefined;
}

/** What the selection needs to know of the namespace's objects (from the lean caches). */
export interface ObjectView {
  /** annotations of an existing object; undefined when it does not exist */
  get(kind: RefKind, name: string): { annotations?: Record<string, string>; labels?: Record<string, string> } | undefined;
  names(kind: RefKind): string[];
}

export interface WatchRef {
  kind: RefKind;
  name: string;
}
export interface Selection {
  watched: WatchRef[];
  missing: WatchRef[];
}

/** Applies the precedence table to the candidates: named, searched and auto objects. */
export function selectWatched(
  policy: ReloadPolicy,
  refs: PodRef[],
  view: ObjectView,
  reader: AnnotationReader,
  /** --resource-label-selector: an object it does not select is not watched (as if ignored; Reloader never sees it) */
  selects: LabelPredicate = () => true,
): Selection {
  const watched: WatchRef[] = [];
  const missing: WatchRef[] = [];
  for (const kind of REF_KINDS) {
    const p = policy[kind];
    const required = new Map<string, boolean>(); // candidate name → must exist
    const want = (name: string, mustExist: boolean) => required.set(name, (required.get(name) ?? false) || mustExist);
    for (const n of p.names) want(n, true);
    if (p.patterns.length) for (const n of view.names(kind)) if (p.patterns.some((re) => re.matches(n))) want(n, false);
    for (const r of refs) {
      if (r.kind !== kind) continue;
      if (p.auto) want(r.name, !r.optional);
      else if (p.search && reader.isTrue(view.get(kind, r.name)?.annotations, A.rlMatch)) want(r.name, false);
    }
    for (const [name, mustExist] of required) {
      if (p.exclude.has(name)) continue;
      const obj = view.get(kind, name);
      if (!obj) {
        if (mustExist) missing.push({ kind, name });
        continue;
      }
      if (reader.isTrue(obj.annotations, A.rlIgnore) || !selects(obj.labels)) continue;
      watched.push({ kind, name });
    }
  }
  return { watched: watched.sort(compareRefs), missing: missing.sort(compareRefs) };
}

/**
 * Every object the policy can ever watch, from the workload alone (the reload controller's
 * index): the named objects, the pod template's references, and for kinds with patterns any
 * object of that kind (ANY_NAME: an object created later may match).
 */
export function candidateRefs(policy: ReloadPolicy, refs: PodRef[]): WatchRef[] {
  return [
    ...refs.map((r) => ({ kind: r.kind, name: r.name })),
    ...REF_KINDS.flatMap((kind) => policy[kind].names.map((name) => ({ kind, name }))),
    ...REF_KINDS.filter((kind) => policy[kind].patterns.length).map((kind) => ({ kind, name: ANY_NAME })),
  ];
}

/**
 * --reload-on-create for one workload. true or false as given; by-keys (the default) gives the
 * workload the default of the tool whose keys it is reloaded through: annotary's (true) when it
 * carries one of annotary's reload keys, stakater Reloader's (false: Reloader's Add handler
 * does nothing unless --reload-on-create) when only Reloader's keys or --auto-reload-all make
 * it reload. A user who keeps Reloader's annotations keeps Reloader's behaviour without a flag.
 */
export function reloadOnCreateFor(flag: ReloadOnCreate, meta: Annotations, reader: AnnotationReader): boolean {
  if (flag !== 'by-keys') return flag;
  return [A.reload, ...Object.values(NATIVE_NAMES)].some((k) => reader.get(meta, k) !== undefined);
}
