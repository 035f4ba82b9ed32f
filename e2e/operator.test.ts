// The operator core on the real local control plane: readiness, metrics, scoping,
// the compat switch, surviving an apiserver restart, and a clean SIGTERM.
import { Secrets } from '../src/kube/types.js';
import { adminClient, cluster, deleteNamespace, eventsFor, newNamespace, sleep, waitFor, withOperator } from './harness/cluster.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Data, Secret } from '../test/gen.js';
import { inNamespace, ofType, secret, withAnnotations, withTLS } from '../test/gen.js';

const client = adminClient();
const pem = chainFixture('p256');

/** a kubernetes.io/tls Secret in `ns` */
const tlsSecret = (ns: string, name: string, annotations: Data) =>
  secret(name, inNamespace(ns), ofType('kubernetes.io/tls'), withTLS(pem), withAnnotations(annotations));

const hasStore = (ns: string, name: string) => async () => (await client.get<Secret>(Secrets, ns, name)).data?.['keystore.jks'];

describe('annotary run becomes ready and reports on itself', () => {
  test('/readyz after the first sync, /healthz, and Prometheus metrics', async () => {
    await withOperator('core', [], async (_ns, op) => {
      const base = `http://127.0.0.1:${op.port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const text = await op.metrics();
      expect(text).toMatch(/^annotary_relists_total\{resource="secrets"\} \d+/m);
      expect(text).toMatch(/^annotary_process_resident_memory_bytes \d+/m);
      expect(op.logs.some((l) => /caches synced, ready/.test(l))).toBe(true);
    });
  });
});

describe('--namespaces limits what the operator sees and touches', () => {
  test('a Secret outside the watched namespaces is left alone', () =>
    withOperator('in', [], async (watched) => {
      const other = await newNamespace(client, 'out');
      try {
        await client.create(Secrets, other, tlsSecret(other, 'elsewhere', { 'annotary.io/keystores': 'jks' }));
        await client.create(Secrets, watched, tlsSecret(watched, 'here', { 'annotary.io/keystores': 'jks' }));
        await waitFor('store in watched namespace', hasStore(watched, 'here'));
        await sleep(1000);
        expect((await client.get<Secret>(Secrets, other, 'elsewhere')).data?.['keystore.jks']).toBeUndefined();
      } finally {
        await deleteNamespace(client, other);
      }
    }));
});

describe('--compat=false turns the cert-utils and Reloader keys off', () => {
  test('a cert-utils annotation is ignored, the native one still works', async () => {
    await withOperator('compat', ['--compat=false'], async (ns) => {
      await client.create(Secrets, ns, tlsSecret(ns, 'legacy', { 'cert-utils-operator.redhat-cop.io/generate-java-keystores': 'true' }));
      await client.create(Secrets, ns, tlsSecret(ns, 'native', { 'annotary.io/keystores': 'jks' }));
      await waitFor('native store', hasStore(ns, 'native'));
      await sleep(1000);
      expect((await client.get<Secret>(Secrets, ns, 'legacy')).data?.['keystore.jks']).toBeUndefined();
    });
  });
});

describe('watches survive an apiserver restart', () => {
  test('the operator keeps running and reacts to changes made after the restart', async () => {
    await withOperator('restart', [], async (ns, op) => {
      await client.create(Secrets, ns, tlsSecret(ns, 'before', { 'annotary.io/keystores': 'jks' }));
      await waitFor('store before restart', hasStore(ns, 'before'));
      cluster('stop-apiserver');
      await sleep(2000); // the operator sees its watches fail and backs off
      cluster('start-apiserver');
      await client.create(Secrets, ns, tlsSecret(ns, 'after', { 'annotary.io/keystores': 'jks' }));
      await waitFor('store after restart', hasStore(ns, 'after'), 60_000);
      expect(op.proc.exitCode).toBeNull();
      expect(await op.metric('annotary_watch_restarts_total', { resource: 'secrets' })).toBeGreaterThan(0);
      expect((await eventsFor(client, ns, 'after')).some((e) => e.reason === 'StoresUpdated')).toBe(true);
    });
  });
});

describe('SIGTERM stops the operator cleanly', () => {
  test('exit code 0 after in-flight work and watches are closed', () =>
    withOperator('term', [], async (_ns, op) => {
      const code = await op.stop('SIGTERM');
      expect(code).toBe(0);
      expect(op.logs.some((l) => /"message":"stopped"/.test(l))).toBe(true);
    }));
});
