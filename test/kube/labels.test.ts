// Label selectors as apimachinery's labels.Parse reads them, and stakater Reloader's legacy forms.
import { parseReloaderSelector } from '../../src/kube/labels.js';

const sel = (text: string) => parseReloaderSelector(text)!;

test.each([
  ['app=web', { app: 'web' }, true],
  ['app=web', { app: 'api' }, false],
  ['app==web', { app: 'web' }, true],
  ['app!=web', {}, true],
  ['app!=web', { app: 'web' }, false],
  ['app', { app: '' }, true],
  ['!app', { app: 'x' }, false],
  ['!app', {}, true],
  ['tier in (a, b)', { tier: 'b' }, true],
  ['tier in (a,b)', {}, false],
  ['tier notin (a,b)', {}, true],
  ['tier notin (a,b)', { tier: 'a' }, false],
  ['app=web,tier in (a,b)', { app: 'web', tier: 'a' }, true],
  ['app=web,tier in (a,b)', { app: 'web', tier: 'c' }, false],
  ['example.com/team=x', { 'example.com/team': 'x' }, true],
  // Reloader's legacy forms (common.GetResourceLabelSelector)
  ['reloader:enabled', { reloader: 'enabled' }, true],
  ['reloader:*', { reloader: 'anything' }, true],
  ['reloader=*', { reloader: 'anything' }, true],
  ['reloader=*', {}, false],
])('%s on %j: %s', (text, labels, expected) => expect(sel(text)(labels)).toBe(expected));

test('an empty selector selects everything', () => expect(parseReloaderSelector(' ')).toBeUndefined());

test.each(['a b', 'app=(x)', 'tier in a,b', '-x=y', 'a=b=c'])('"%s" is refused', (text) =>
  expect(() => parseReloaderSelector(text)).toThrow(),
);
