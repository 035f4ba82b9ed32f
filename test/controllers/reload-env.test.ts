// The env-vars reload strategy: Reloader's variable names, the container that gets each one, and
// that only a rollout writes them (a Reloader install's leftover STAKATER_* variables roll nothing).
import { A } from '../../src/annotations.js';
import { containerFor, envVarName, withEnvVars } from '../../src/controllers/reload-env.js';
import type { EnvPodSpec } from '../../src/controllers/reload-env.js';
import type { Workload } from '../../src/controllers/reload.js';
import { desiredReload, reloadPatchBody } from '../../src/controllers/reload.js';

test.each([
  ['Secret', 'my-secret', 'STAKATER_MY_SECRET_SECRET'],
  ['ConfigMap', 'app.config', 'STAKATER_APP_CONFIG_CONFIGMAP'],
  ['Secret', 'a..b', 'STAKATER_A_B_SECRET'],
  ['Secret', 'x-', 'STAKATER_X__SECRET'],
] as const)("Reloader's ConvertToEnvVarName: %s %s is %s", (kind, name, expected) => expect(envVarName(kind, name)).toBe(expected));

const spec: EnvPodSpec = {
  volumes: [{ name: 'tls', secret: { secretName: 'web-tls' } }],
  containers: [
    { name: 'app', env: [{ name: 'STAKATER_WEB_TLS_SECRET', value: 'old' }], envFrom: [{ configMapRef: { name: 'cfg' } }] },
    { name: 'proxy', volumeMounts: [{ name: 'tls' }] },
  ],
};

test('the container that uses the object gets its variable; an object no container uses, the first', () => {
  expect(containerFor(spec, 'Secret', 'web-tls')).toBe(1);
  expect(containerFor(spec, 'ConfigMap', 'cfg')).toBe(0);
  expect(containerFor(spec, 'Secret', 'named-only')).toBe(0);
  expect(containerFor({ containers: [] }, 'Secret', 'x')).toBeUndefined();
});

test('a variable is set in place or appended; the input is not changed', () => {
  const out = withEnvVars(spec, { 'Secret/web-tls': 'd1', 'ConfigMap/cfg': 'd2' });
  expect(out[0].env).toEqual([
    { name: 'STAKATER_WEB_TLS_SECRET', value: 'old' },
    { name: 'STAKATER_CFG_CONFIGMAP', value: 'd2' },
  ]);
  expect(out[1].env).toEqual([{ name: 'STAKATER_WEB_TLS_SECRET', value: 'd1' }]);
  expect(spec.containers![1].env).toBeUndefined();
});

test("null removes an object's variable (a deletion, as Reloader's delete handler does)", () =>
  expect(withEnvVars({ ...spec, containers: withEnvVars(spec, { 'Secret/web-tls': 'd1' }) }, { 'Secret/web-tls': null })[1].env).toEqual(
    [],
  ));

describe('--reload-strategy env-vars', () => {
  const wl: Workload = {
    metadata: { name: 'web', resourceVersion: '3' },
    spec: { template: { spec: spec } },
  };
  const observed = { strategy: 'env-vars' as const, envVars: { 'Secret/web-tls': 'd1' }, now: new Date(0) };

  test('a rollout sets the variables of the changed objects and no pod-template annotation', () => {
    const change = desiredReload({ ...observed, digest: 'b', observedHash: 'a', absorb: false })!;
    expect(change.template).toBeUndefined();
    const body = reloadPatchBody(wl, change) as { spec: { template: { spec: { containers: EnvPodSpec['containers'] } } } };
    expect(body.spec.template.spec.containers![1].env).toEqual([{ name: 'STAKATER_WEB_TLS_SECRET', value: 'd1' }]);
  });

  test("onboarding a workload with a Reloader install's leftover STAKATER_* variables writes the record only", () => {
    const change = desiredReload({ ...observed, digest: 'b', absorb: false })!;
    expect(change.action).toBe('onboard');
    expect(reloadPatchBody(wl, change)).toEqual({ metadata: { resourceVersion: '3', annotations: { [A.observedConfigHash]: 'b' } } });
  });
});
