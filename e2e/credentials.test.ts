// Credentials that change under a running client, against the real apiserver (token auth):
// an exec plugin whose token was replaced, and a token file that rotated (in-cluster
// ServiceAccount tokens do). A 401 makes the client resolve again, once, and retry.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError, KubeClient } from '../src/kube/client.js';
import { Namespaces } from '../src/kube/types.js';
import { adminKubeconfig, writeKubeconfig } from './harness/cluster.js';
import { scratchDir } from '../test/pki/fixtures.js';

const dir = scratchDir('e2e-credentials');
const ADMIN_TOKEN = adminKubeconfig().users[0].user.token;
const kubeconfigWith = (name: string, user: object) => writeKubeconfig(path.join(dir, `${name}.yaml`), user);

const status = (p: Promise<unknown>) =>
  p.then(
    () => 200,
    (e: unknown) => {
      if (e instanceof ApiError) return e.status;
      throw e;
    },
  );

describe('an exec credential plugin is run again when the apiserver answers 401', () => {
  test('a replaced token is picked up by the next request; the plugin runs only after a 401', async () => {
    const tokenFile = path.join(dir, 'exec-token');
    const runs = path.join(dir, 'exec-runs');
    writeFileSync(tokenFile, 'not-a-valid-token');
    writeFileSync(runs, '');
    const plugin = path.join(dir, 'plugin.sh');
    const credential = '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}';
    writeFileSync(plugin, `#!/bin/sh\necho run >> '${runs}'\nprintf '${credential}' "$(cat '${tokenFile}')"\n`, { mode: 0o755 });
    const client = KubeClient.fromOptions({
      kubeconfig: kubeconfigWith('exec', { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: plugin } }),
    });
    const pluginRuns = () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length;

    // resolved (run 1) → 401 → resolved again (run 2) → still 401: the error reaches the caller
    expect(await status(client.get(Namespaces, undefined, 'default'))).toBe(401);
    expect(pluginRuns()).toBe(2);

    writeFileSync(tokenFile, ADMIN_TOKEN);
    // the held token is stale: 401 → run 3 → the new token works
    expect(await status(client.get(Namespaces, undefined, 'default'))).toBe(200);
    expect(pluginRuns()).toBe(3);
    // and is kept: no run without a 401
    expect(await status(client.get(Namespaces, undefined, 'kube-system'))).toBe(200);
    expect(pluginRuns()).toBe(3);
  });
});

describe('a token file (the in-cluster ServiceAccount token) is read again after a 401', () => {
  test('a rotated token file is used by the retry of the request that got 401', async () => {
    const tokenFile = path.join(dir, 'sa-token');
    writeFileSync(tokenFile, 'expired-token');
    const client = KubeClient.fromOptions({
      kubeconfig: kubeconfigWith('tokenfile', { 'auth-provider': { name: 'tokenFile', config: { tokenFile } } }),
    });
    expect(await status(client.get(Namespaces, undefined, 'default'))).toBe(401);
    writeFileSync(tokenFile, `${ADMIN_TOKEN}\n`);
    expect(await status(client.get(Namespaces, undefined, 'default'))).toBe(200);
  });
});
