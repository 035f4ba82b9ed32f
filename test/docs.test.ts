// The docs are the user's reference: each kind of thing users can set or observe is named in
// the file that owns it (annotations, flags, Event reasons, metrics), the generated blocks are
// exactly what their generators print, and README.md and docs/ link to each other with links
// that resolve.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ANNOTATIONS, annotationsTable } from '../src/annotations.js';
import { FLAGS, helpText } from '../src/config.js';
import { EVENT_REASONS, eventReasonsTable } from '../src/event-reasons.js';
import { GENERATE_TYPES, generateTypesTable } from '../src/generate/spec.js';
import { createMetrics } from '../src/metrics.js';

const ROOT = new URL('..', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCS = readdirSync(join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => `docs/${f}`);
const MARKDOWN = ['README.md', ...DOCS];

describe('docs/annotations.md names every annotation', () => {
  const doc = read('docs/annotations.md');
  test.each(ANNOTATIONS.map((a) => [a.key]))('annotation %s', (key) => {
    expect(doc).toContain(`\`${key}\``);
  });

  test('its table is the output of `annotary annotations`', () => {
    expect(doc).toContain(`\n${annotationsTable()}\n`);
  });
});

describe('docs/flags.md names every flag', () => {
  const doc = read('docs/flags.md');
  test.each(FLAGS.map((f) => [f.name, f.env]))('flag --%s and its env var %s', (name, env) => {
    expect(doc).toContain(`--${name}`);
    expect(doc).toContain(env);
  });

  test('its block is the output of --help', () => {
    expect(doc).toContain(`\`\`\`\n${helpText()}\n\`\`\``);
  });
});

describe('docs/events.md names every Event reason', () => {
  const doc = read('docs/events.md');
  test.each(EVENT_REASONS.map((e) => [e.reason]))('reason %s', (reason) => {
    expect(doc).toContain(`\`${reason}\``);
  });

  test('its table is the output of `annotary events`', () => {
    expect(doc).toContain(`\n${eventReasonsTable()}\n`);
  });
});

describe('docs/generated-secrets.md names every type', () => {
  const doc = read('docs/generated-secrets.md');
  test.each(GENERATE_TYPES.map((t) => [t.type]))('type %s', (type) => {
    expect(doc).toContain(`\`${type}\``);
  });

  test('its table is the output of `annotary generate-types`', () => {
    expect(doc).toContain(`\n${generateTypesTable()}\n`);
  });
});

/** Metric names created anywhere in src/ (the reload controller registers its own). */
function metricNamesInSource(dir = join(ROOT, 'src')): string[] {
  return readdirSync(dir).flatMap((f) => {
    const path = join(dir, f);
    if (statSync(path).isDirectory()) return metricNamesInSource(path);
    if (!f.endsWith('.ts')) return [];
    return [...readFileSync(path, 'utf8').matchAll(/\bname: '(annotary_\w+)'/g)].map((m) => m[1]);
  });
}

describe('docs/metrics.md names every metric', () => {
  const doc = read('docs/metrics.md');
  test('every annotary_ metric the operator registers', async () => {
    const names = (await createMetrics().registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((n) => !/^annotary_(process|nodejs)_/.test(n));
    expect(names.length).toBeGreaterThan(5);
    for (const n of names) expect(doc).toContain(`\`${n}\``);
  });

  test('every annotary_ metric created in src/', () => {
    const names = metricNamesInSource();
    expect(names).toContain('annotary_rollouts_total');
    for (const n of names) expect(doc).toContain(`\`${n}\``);
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of withoutCode(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    out.add(
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  }
  return out;
}

function withoutCode(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
}

function links(file: string): string[] {
  return [...withoutCode(read(file)).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
}

describe('README.md is the front door to docs/', () => {
  test('there are docs to link', () => {
    expect(DOCS.length).toBeGreaterThan(10);
  });

  test.each(DOCS.map((d) => [d]))('README links to %s, and it links back', (doc) => {
    expect(links('README.md').map((l) => l.split('#')[0])).toContain(doc);
    expect(links(doc).map((l) => l.split('#')[0])).toContain('../README.md');
  });

  test.each(MARKDOWN.map((f) => [f]))('every relative link of %s resolves, anchors included', (file) => {
    const found = links(file);
    for (const link of found) {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : relative(ROOT, join(ROOT, dirname(file), path));
      expect([link, existsSync(join(ROOT, target))]).toEqual([link, true]);
      if (anchor !== undefined) expect([link, anchors(read(target)).has(anchor)]).toEqual([link, true]);
    }
  });
});
