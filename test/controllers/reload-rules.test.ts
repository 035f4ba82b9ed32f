// Which objects a workload watches: annotary's keys and stakater Reloader's keys with
// Reloader's precedence (ignore > exclude > named > search/match > auto).
import fc from 'fast-check';
import { AnnotationReader } from '../../src/annotations.js';
import type { PodRef, RefKind } from '../../src/controllers/pod-refs.js';
import type { Refusal } from '../../src/kube/refusal.js';
import { isRefusal } from '../../src/kube/refusal.js';
import type { ObjectView, ReloadPolicy } from '../../src/controllers/reloader-rules.js';
import { PATTERN_BUDGET, parseReloadPolicy, programBound, reloadOnCreateFor, selectWatched } from '../../src/controllers/reloader-rules.js';

const reader = new AnnotationReader(true);
type Ann = Record<string, string>;

/** A namespace: objects by "Kind/name" with their annotations. */
function view(objects: Record<string, Ann>): ObjectView {
  return {
    get: (kind, name) => (`${kind}/${name}` in objects ? { annotations: objects[`${kind}/${name}`] } : undefined),
    names: (kind) =>
      Object.keys(objects)
        .filter((k) => k.startsWith(`${kind}/`))
        .map((k) => k.slice(kind.length + 1)),
  };
}
const ref = (kind: RefKind, name: string, optional = false): PodRef => ({ kind, name, optional });

function policy(meta: Ann | undefined, template?: Ann, r = reader): ReloadPolicy {
  const p = parseReloadPolicy(meta, template, r);
  if (p === undefined || isRefusal(p)) throw new Error(`expected a policy, got ${JSON.stringify(p)}`);
  return p;
}

/** The policy and the Reloader values it ignored, as Reloader ignores them. */
function ignoring(meta: Ann) {
  const ignored: Refusal[] = [];
  const p = parseReloadPolicy(meta, undefined, reader, ignored);
  return { policy: p, ignored: ignored.map((i) => `${i.reason}: ${i.message}`) };
}

function watched(meta: Ann | undefined, refs: PodRef[], objects: Record<string, Ann>, template?: Ann, r = reader) {
  const sel = selectWatched(policy(meta, template, r), refs, view(objects), r);
  return { watched: sel.watched.map((w) => `${w.kind}/${w.name}`), missing: sel.missing.map((w) => `${w.kind}/${w.name}`) };
}

describe('annotary keys', () => {
  it('reload-on-secrets / reload-on-configmaps name exact objects, referenced or not', () => {
    expect(
      watched({ 'annotary.io/reload-on-secrets': 'a, b', 'annotary.io/reload-on-configmaps': 'c' }, [], {
        'Secret/a': {},
        'Secret/b': {},
        'ConfigMap/c': {},
        'Secret/ab': {},
      }),
    ).toEqual({ watched: ['ConfigMap/c', 'Secret/a', 'Secret/b'], missing: [] });
  });

  it('reload: auto watches every referenced Secret and ConfigMap', () => {
    expect(
      watched({ 'annotary.io/reload': 'auto' }, [ref('Secret', 's'), ref('ConfigMap', 'c')], {
        'Secret/s': {},
        'ConfigMap/c': {},
        'Secret/other': {},
      }),
    ).toEqual({ watched: ['ConfigMap/c', 'Secret/s'], missing: [] });
  });

  it('a named object that does not exist is missing; an optional reference is not', () => {
    expect(watched({ 'annotary.io/reload-on-secrets': 'gone' }, [], {})).toEqual({ watched: [], missing: ['Secret/gone'] });
    expect(watched({ 'annotary.io/reload': 'auto' }, [ref('Secret', 'req'), ref('Secret', 'opt', true)], {})).toEqual({
      watched: [],
      missing: ['Secret/req'],
    });
  });

  it('refuses unknown values and bad names', () => {
    for (const meta of [
      { 'annotary.io/reload': 'true' },
      { 'annotary.io/reload-on-secrets': 'Bad_Name' },
      { 'annotary.io/reload-on-configmaps': 'a/b' },
    ] as Ann[]) {
      const p = parseReloadPolicy(meta, undefined, reader);
      expect(isRefusal(p) && p.reason).toBe('InvalidAnnotation');
    }
  });

  it('no reload keys: no policy', () => {
    expect(parseReloadPolicy(undefined, undefined, reader)).toBeUndefined();
    expect(
      parseReloadPolicy(
        { 'annotary.io/observed-config-hash': 'x', other: 'y' },
        { 'secrets.exclude.reloader.stakater.com/reload': 'a' },
        reader,
      ),
    ).toBeUndefined();
    expect(parseReloadPolicy({ 'reloader.stakater.com/auto': 'false' }, undefined, reader)).toBeUndefined();
  });
});

describe('Reloader named mode: comma lists of anchored regular expressions', () => {
  const objects = { 'Secret/app': {}, 'Secret/app-tls': {}, 'Secret/myapp': {}, 'ConfigMap/app': {} };
  it('an item matches whole names only', () => {
    expect(watched({ 'secret.reloader.stakater.com/reload': 'app' }, [], objects).watched).toEqual(['Secret/app']);
    expect(watched({ 'secret.reloader.stakater.com/reload': 'app-.*' }, [], objects).watched).toEqual(['Secret/app-tls']);
    expect(watched({ 'secret.reloader.stakater.com/reload': '.*app' }, [], objects).watched).toEqual(['Secret/app', 'Secret/myapp']);
  });

  it('an alternation stays anchored as a whole', () => {
    expect(watched({ 'secret.reloader.stakater.com/reload': 'xx|app' }, [], objects).watched).toEqual(['Secret/app']);
  });

  it('configmap.reloader.stakater.com/reload names ConfigMaps only', () => {
    expect(watched({ 'configmap.reloader.stakater.com/reload': 'app' }, [], objects).watched).toEqual(['ConfigMap/app']);
  });

  it('a plain name that matches nothing is missing; a pattern that matches nothing is not', () => {
    expect(watched({ 'secret.reloader.stakater.com/reload': 'nope,zz-.*' }, [], objects)).toEqual({
      watched: [],
      missing: ['Secret/nope'],
    });
  });

  it('an invalid regular expression is skipped with a Warning; the other items still match (as in Reloader)', () => {
    const meta = { 'secret.reloader.stakater.com/reload': 'app,(unclosed' };
    const { ignored } = ignoring(meta);
    expect(ignored).toHaveLength(1);
    expect(ignored[0]).toMatch(/^ReloaderValueIgnored: .*"\(unclosed" is not a valid regular expression.*skipped/);
    expect(watched(meta, [], objects).watched).toEqual(['Secret/app']);
  });

  it('an item that would break out of the anchors is skipped, not matched unanchored', () => {
    const meta = { 'secret.reloader.stakater.com/reload': 'app)|(.*' };
    expect(ignoring(meta)).toEqual({ policy: undefined, ignored: [expect.stringMatching(/^ReloaderValueIgnored: /)] });
    expect(watched({ ...meta, 'reloader.stakater.com/auto': 'true' }, [], objects).watched).toEqual([]);
  });

  it('anchoring (property): a literal name matches exactly itself among any names', () => {
    const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(name, fc.array(name, { maxLength: 8 }), (target, others) => {
        const objs = Object.fromEntries([target, ...others].map((n) => [`Secret/${n}`, {}]));
        expect(watched({ 'secret.reloader.stakater.com/reload': target }, [], objs).watched).toEqual([`Secret/${target}`]);
      }),
    );
  });
});

describe("Reloader items are Go's regular expressions (RE2), evaluated in linear time", () => {
  const objects = { 'Secret/app.tls': {}, 'Secret/appxtls': {}, 'Secret/app-tls': {}, 'Secret/app': {} };
  const refusal = (value: string, key = 'secret.reloader.stakater.com/reload') => {
    const p = parseReloadPolicy({ [key]: value }, undefined, reader);
    return isRefusal(p) ? p : undefined;
  };

  it('RE2 syntax that JavaScript lacks works as in Reloader', () => {
    expect(watched({ 'secret.reloader.stakater.com/reload': '\\Qapp.tls\\E' }, [], objects).watched).toEqual(['Secret/app.tls']);
    expect(watched({ 'secret.reloader.stakater.com/reload': '(?P<name>app)-tls' }, [], objects).watched).toEqual(['Secret/app-tls']);
    expect(watched({ 'secret.reloader.stakater.com/reload': '(?i)APP' }, [], objects).watched).toEqual(['Secret/app']);
    expect(watched({ 'secret.reloader.stakater.com/reload': '[[:alpha:]]+' }, [], objects).watched).toEqual([
      'Secret/app',
      'Secret/appxtls',
    ]);
  });

  it('what Go refuses is skipped as Reloader skips it: backreferences and lookarounds, which need backtracking', () => {
    for (const item of ['(app)\\1', 'app(?=-tls)', '(?<=a)pp', '(?<!x)app', '(?!x)app']) {
      const { policy: p, ignored } = ignoring({ 'secret.reloader.stakater.com/reload': `app,${item}` });
      expect(isRefusal(p)).toBe(false);
      expect(ignored).toHaveLength(1);
      expect(ignored[0]).toContain(`"${item}" is not a valid regular expression (RE2 syntax, as in Reloader: `);
    }
  });

  it('programBound: two per character plus four, times the counted repetitions (at most 1000)', () => {
    expect(programBound('app-.*')).toBe(16);
    expect(programBound('a{3}b{5}')).toBe(15 * 20);
    expect(programBound('[a-z]{1000}'.repeat(3))).toBe(1000 * (2 * 33 + 4));
    expect(programBound('x{0,7}y{2,}')).toBe(14 * (2 * 11 + 4));
  });

  it('patterns that could compile past the budget are refused before compiling', () => {
    // 1.39 million RE2 instructions: Go accepts it; compiling it would block the operator for about a second
    const r = refusal('[a-z]{1000}'.repeat(1390));
    expect(r?.reason).toBe('InvalidAnnotation');
    expect(r?.message).toContain(`could compile to more than ${PATTERN_BUDGET} RE2 instructions`);
    expect(refusal('a{1000}')?.message).toContain('could compile to more than'); // no Kubernetes name is that long anyway
  });

  it('the budget counts every item of both kinds; ordinary lists fit', () => {
    const names = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(12, '0')}`).join(',');
    const [secrets, configMaps] = ['secret.reloader.stakater.com/reload', 'configmap.reloader.stakater.com/reload'];
    expect(refusal(names(150, 'secret'), secrets)).toBeUndefined();
    expect(refusal(names(150, 'config'), configMaps)).toBeUndefined();
    const both = parseReloadPolicy({ [secrets]: names(150, 'secret'), [configMaps]: names(150, 'config') }, undefined, reader);
    expect(isRefusal(both) && both.message).toMatch(/reload: the Reloader patterns of this workload could compile to more than 10000/);
  });
});

describe('Reloader precedence: ignore > exclude > named > search/match > auto', () => {
  const refs = [ref('Secret', 's1'), ref('Secret', 's2'), ref('ConfigMap', 'c1')];
  const objects: Record<string, Ann> = {
    'Secret/s1': {},
    'Secret/s2': { 'reloader.stakater.com/match': 'true' },
    'ConfigMap/c1': {},
    'Secret/unreferenced': { 'reloader.stakater.com/match': 'true' },
    'Secret/ignored': { 'reloader.stakater.com/ignore': 'true' },
  };
  const table: [string, Ann, string[]][] = [
    ['auto: every referenced object', { 'reloader.stakater.com/auto': 'true' }, ['ConfigMap/c1', 'Secret/s1', 'Secret/s2']],
    ['typed auto: referenced Secrets only', { 'secret.reloader.stakater.com/auto': 'true' }, ['Secret/s1', 'Secret/s2']],
    ['typed auto: referenced ConfigMaps only', { 'configmap.reloader.stakater.com/auto': 'true' }, ['ConfigMap/c1']],
    ['search: referenced objects annotated match', { 'reloader.stakater.com/search': 'true' }, ['Secret/s2']],
    [
      'search with auto on is auto',
      { 'reloader.stakater.com/search': 'true', 'reloader.stakater.com/auto': 'true' },
      ['ConfigMap/c1', 'Secret/s1', 'Secret/s2'],
    ],
    ['named beats "not referenced"', { 'secret.reloader.stakater.com/reload': 'unreferenced' }, ['Secret/unreferenced']],
    [
      'named beats search: match not needed',
      { 'reloader.stakater.com/search': 'true', 'secret.reloader.stakater.com/reload': 's1' },
      ['Secret/s1', 'Secret/s2'],
    ],
    [
      'exclude beats auto',
      { 'reloader.stakater.com/auto': 'true', 'secrets.exclude.reloader.stakater.com/reload': 's1' },
      ['ConfigMap/c1', 'Secret/s2'],
    ],
    [
      'exclude beats named',
      { 'secret.reloader.stakater.com/reload': 's1,s2', 'secrets.exclude.reloader.stakater.com/reload': 's2' },
      ['Secret/s1'],
    ],
    ['exclude beats search', { 'reloader.stakater.com/search': 'true', 'secrets.exclude.reloader.stakater.com/reload': 's2' }, []],
    [
      'exclude of ConfigMaps leaves Secrets',
      { 'reloader.stakater.com/auto': 'true', 'configmaps.exclude.reloader.stakater.com/reload': 'c1' },
      ['Secret/s1', 'Secret/s2'],
    ],
    ['ignore beats named', { 'secret.reloader.stakater.com/reload': 'ignored' }, []],
    ['ignore beats annotary names too', { 'annotary.io/reload-on-secrets': 'ignored,s1' }, ['Secret/s1']],
  ];
  it.each(table)('%s', (_what, meta, expected) => {
    expect(watched(meta, refs, objects).watched).toEqual(expected);
  });

  it('an ignored object referenced by the pod is not watched in auto mode', () => {
    expect(watched({ 'reloader.stakater.com/auto': 'true' }, [ref('Secret', 'ignored')], objects).watched).toEqual([]);
  });
});

describe('where Reloader keys are read from', () => {
  it('pod template annotations when the metadata has no mode key of that kind', () => {
    expect(watched(undefined, [ref('Secret', 's')], { 'Secret/s': {} }, { 'reloader.stakater.com/auto': 'true' }).watched).toEqual([
      'Secret/s',
    ]);
  });

  it('the metadata wins when it has a mode key: the template is not read', () => {
    const objs = { 'Secret/a': {}, 'Secret/b': {} };
    expect(
      watched({ 'secret.reloader.stakater.com/reload': 'a' }, [ref('Secret', 'b')], objs, { 'reloader.stakater.com/auto': 'true' }).watched,
    ).toEqual(['Secret/a']);
  });

  it('excludes: metadata first, then the template', () => {
    const objs = { 'Secret/a': {}, 'Secret/b': {} };
    const refs = [ref('Secret', 'a'), ref('Secret', 'b')];
    expect(
      watched({ 'reloader.stakater.com/auto': 'true' }, refs, objs, { 'secrets.exclude.reloader.stakater.com/reload': 'a' }).watched,
    ).toEqual(['Secret/b']);
    expect(
      watched({ 'reloader.stakater.com/auto': 'true', 'secrets.exclude.reloader.stakater.com/reload': 'b' }, refs, objs, {
        'secrets.exclude.reloader.stakater.com/reload': 'a',
      }).watched,
    ).toEqual(['Secret/a']);
  });

  it("flags take exactly Go's ParseBool spellings; anything else counts as false with a Warning (as in Reloader)", () => {
    const refs = [ref('Secret', 's')];
    for (const v of ['true', 'TRUE', 'True', 't', 'T', '1'])
      expect(watched({ 'reloader.stakater.com/auto': v }, refs, { 'Secret/s': {} }).watched).toEqual(['Secret/s']);
    for (const key of ['reloader.stakater.com/auto', 'secret.reloader.stakater.com/auto']) {
      for (const v of ['yes', 'tRuE', ' true', 'on']) {
        const { policy: p, ignored } = ignoring({ [key]: v, 'secret.reloader.stakater.com/reload': 's' });
        expect(isRefusal(p)).toBe(false);
        expect(ignored).toEqual([
          `ReloaderValueIgnored: ${key}: "${v}" is not a Go boolean (true, false, 1, 0, t, f, True, FALSE, ...): counted as false, as Reloader does`,
        ]);
        expect(parseReloadPolicy({ [key]: v }, undefined, reader)).toBeUndefined(); // false: no reloads
      }
    }
  });

  it('search, match and ignore are on only for exactly "true", as Reloader compares them', () => {
    const refs = [ref('Secret', 's')];
    const objs = (match: string) => ({ 'Secret/s': { 'reloader.stakater.com/match': match } });
    expect(watched({ 'reloader.stakater.com/search': 'true' }, refs, objs('true')).watched).toEqual(['Secret/s']);
    for (const v of ['True', 'TRUE', '1', ' true']) {
      expect(watched({ 'reloader.stakater.com/search': 'true' }, refs, objs(v)).watched).toEqual([]);
      expect(parseReloadPolicy({ 'reloader.stakater.com/search': v }, undefined, reader)).toBeUndefined();
      const ignoredObj = { 'Secret/s': { 'reloader.stakater.com/ignore': v } };
      expect(watched({ 'reloader.stakater.com/auto': 'true' }, refs, ignoredObj).watched).toEqual(['Secret/s']);
    }
    expect(
      watched({ 'reloader.stakater.com/auto': 'true' }, refs, { 'Secret/s': { 'reloader.stakater.com/ignore': 'true' } }).watched,
    ).toEqual([]);
  });

  it('--compat=false: Reloader keys read as absent, annotary keys still work', () => {
    const off = new AnnotationReader(false);
    expect(
      parseReloadPolicy({ 'reloader.stakater.com/auto': 'true' }, { 'secret.reloader.stakater.com/reload': 'a' }, off),
    ).toBeUndefined();
    expect(parseReloadPolicy({ 'reloader.stakater.com/auto': 'not-a-bool' }, undefined, off)).toBeUndefined();
    // the ignore key on an object is a Reloader key too
    expect(
      watched(
        { 'annotary.io/reload-on-secrets': 'ignored' },
        [],
        { 'Secret/ignored': { 'reloader.stakater.com/ignore': 'true' } },
        undefined,
        off,
      ).watched,
    ).toEqual(['Secret/ignored']);
  });
});

describe("Reloader's flags: --auto-reload-all, --resource-label-selector", () => {
  const refs = [ref('Secret', 'creds'), ref('ConfigMap', 'cfg')];
  test('--auto-reload-all: a workload without any key watches what it references, as with auto: "true"', () => {
    expect(parseReloadPolicy(undefined, undefined, reader)).toBeUndefined();
    const p = parseReloadPolicy(undefined, undefined, reader, [], true);
    if (!p || isRefusal(p)) throw new Error('expected a policy');
    expect(selectWatched(p, refs, view({ 'Secret/creds': {}, 'ConfigMap/cfg': {} }), reader).watched).toHaveLength(2);
  });
  test('--auto-reload-all does not override an auto key set to false, nor a typed one (common.ShouldReload)', () => {
    const metas: Ann[] = [{ 'reloader.stakater.com/auto': 'false' }, { 'secret.reloader.stakater.com/auto': 'false' }];
    for (const meta of metas) {
      const p = parseReloadPolicy(meta, undefined, reader, [], true);
      const autos = p && !isRefusal(p) ? [p.Secret.auto, p.ConfigMap.auto] : [];
      expect(autos).not.toEqual([true, true]);
    }
    const p = parseReloadPolicy({ 'reloader.stakater.com/auto': 'false' }, undefined, reader, [], true);
    expect(p).toBeUndefined();
  });
  test('--resource-label-selector: an object it does not select is not watched, as if ignored', () => {
    const labelled: ObjectView = {
      get: (_kind, name) => ({ annotations: {}, labels: name === 'creds' ? { reload: 'yes' } : undefined }),
      names: () => [],
    };
    const p = policy({ 'reloader.stakater.com/auto': 'true' });
    const sel = selectWatched(p, refs, labelled, reader, (l) => l?.reload === 'yes');
    expect(sel.watched.map((w) => w.name)).toEqual(['creds']);
    expect(sel.missing).toEqual([]);
  });
});

describe('--reload-on-create by-keys (the default): each workload gets the default of the tool whose keys it uses', () => {
  const reloader = { 'reloader.stakater.com/auto': 'true' };
  it("annotary's reload keys: annotary's default, true", () => {
    const keys: Ann[] = [
      { 'annotary.io/reload': 'auto' },
      { 'annotary.io/reload-on-secrets': 'a' },
      { 'annotary.io/reload-on-configmaps': 'b' },
    ];
    for (const meta of keys) expect(reloadOnCreateFor('by-keys', meta, reader)).toBe(true);
    expect(reloadOnCreateFor('by-keys', { ...reloader, 'annotary.io/reload': 'auto' }, reader)).toBe(true);
  });
  it("Reloader's keys only, or none (--auto-reload-all): Reloader's default, false", () => {
    expect(reloadOnCreateFor('by-keys', reloader, reader)).toBe(false);
    expect(reloadOnCreateFor('by-keys', { 'secret.reloader.stakater.com/reload': 'a' }, reader)).toBe(false);
    expect(reloadOnCreateFor('by-keys', undefined, reader)).toBe(false);
  });
  it('an explicit --reload-on-create wins over both', () => {
    expect(reloadOnCreateFor(true, reloader, reader)).toBe(true);
    expect(reloadOnCreateFor(false, { 'annotary.io/reload': 'auto' }, reader)).toBe(false);
  });
});
