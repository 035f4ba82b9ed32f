// The README is the user's reference: it must name every annotation, flag and metric.
import { readFileSync } from 'node:fs';
import { ANNOTATIONS } from '../src/annotations.js';
import { FLAGS, helpText } from '../src/config.js';
import { createMetrics } from '../src/metrics.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('the README documents everything users can set or observe', () => {
  test.each(ANNOTATIONS.map((a) => [a.key]))('annotation %s', (key) => {
    expect(readme).toContain(`\`${key}\``);
  });

  test.each(FLAGS.map((f) => [f.name, f.env]))('flag --%s and its env var %s', (name, env) => {
    expect(readme).toContain(`--${name}`);
    expect(readme).toContain(env);
  });

  test('the Flags section is the output of --help', () => {
    expect(readme).toContain(`\`\`\`\n${helpText()}\n\`\`\``);
  });

  test('every annotary_ metric the operator registers', async () => {
    const names = (await createMetrics().registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((n) => !/^annotary_(process|nodejs)_/.test(n));
    expect(names.length).toBeGreaterThan(5);
    for (const n of names) expect(readme).toContain(`\`${n}\``);
  });
});
