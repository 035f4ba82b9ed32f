// Hardening (#19) on the real local control plane: what a hostile or careless namespace user
// could do to the store controllers, and the guarantee that stops each.
//   - a reference cycle through annotary's own outputs is refused, not written forever;
//   - a copied annotary.io/managed-keys never authorises a deletion or an overwrite;
//   - a write the apiserver refuses for good, or stores over the 1 MiB limit, are refused
//     with a Warning and not retried (nor rebuilt) until the inputs change;
//   - a store edited behind annotary's back is rebuilt at its update event, not at a resync.
import type { KubeObject } from '../src/kube/types.js';
import { ConfigMaps, Routes, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, eventsFor, sleep, waitFor, withOperator } from './harness/cluster.js';
import { caBundle, chainFixture } from '../test/pki/fixtures.js';
import type { ConfigMap, Data, Mod, Secret } from '../test/gen.js';
import {
  b64,
  configMap,
  inNamespace,
  ofType,
  route,
  secret,
  tlsData,
  withAnnotations,
  withBase64Data,
  withData,
  withRouteTLS,
  withTLS,
} from '../test/gen.js';

const client = adminClient();
const ec = chainFixture('p256');

/** a kubernetes.io/tls Secret of the ec chain in `ns` */
const tlsSecret = (ns: string, name: string, annotations: Data, ...mods: Mod<Secret>[]) =>
  secret(name, inNamespace(ns), ofType('kubernetes.io/tls'), withTLS(ec), withAnnotations(annotations), ...mods);

const getSecret = (ns: string, name: string) => client.get<Secret>(Secrets, ns, name);
const warning = (ns: string, name: string, reason: string) =>
  waitFor(`${reason} on ${name}`, async () => (await eventsFor(client, ns, name)).find((e) => e.type === 'Warning' && e.reason === reason));

/** Waits until the keystore controller reconciled `n` more times (resyncs every second), without a clock in the assertion. */
async function reconcilesLater(op: OperatorProcess, n: number): Promise<void> {
  const start = await op.metric('annotary_reconcile_total', { controller: 'keystores' });
  await waitFor(
    `${n} more reconciles`,
    async () => (await op.metric('annotary_reconcile_total', { controller: 'keystores' })) - start >= n,
    60_000,
  );
}

async function versions(ns: string, names: string[], kind: 'Secret' | 'ConfigMap' = 'Secret'): Promise<string[]> {
  return Promise.all(names.map(async (n) => (await client.get(kind === 'Secret' ? Secrets : ConfigMaps, ns, n)).metadata.resourceVersion!));
}

describe("a reference cycle through annotary's outputs is refused, and the writes stop", () => {
  const FAST_RESYNC = ['--controllers', 'keystores', '--resync', '1s'];

  test("length 2 through passwords: each Secret's password is the other's keystore", () =>
    withOperator('cyc2', FAST_RESYNC, async (ns, op) => {
      const literal = { 'annotary.io/keystores': 'jks', 'annotary.io/keystore-password': 'literal' };
      for (const n of ['x', 'y']) await client.create(Secrets, ns, tlsSecret(ns, n, literal));
      await waitFor('both built', async () =>
        (await Promise.all(['x', 'y'].map((n) => getSecret(ns, n)))).every((s) => s.data?.['keystore.jks']),
      );
      const swap = (other: string) => ({
        metadata: {
          annotations: { 'annotary.io/keystore-password': null, 'annotary.io/keystore-password-secret': `${other}/keystore.jks` },
        },
      });
      await client.patch(Secrets, ns, 'x', swap('y'));
      await client.patch(Secrets, ns, 'y', swap('x'));
      const w = await warning(ns, 'y', 'ReferenceCycle');
      expect(w.message).toContain('reads keystore.jks of Secret "x", which reads keystore.jks of Secret "y"');
      await warning(ns, 'x', 'ReferenceCycle');
      const before = await versions(ns, ['x', 'y']);
      const writes = await op.metric('annotary_writes_total', { controller: 'keystores' });
      await reconcilesLater(op, 10);
      expect(await versions(ns, ['x', 'y'])).toEqual(before);
      expect(await op.metric('annotary_writes_total', { controller: 'keystores' })).toBe(writes);
      expect(await op.metric('annotary_invalid_input_total', { controller: 'keystores', reason: 'ReferenceCycle' })).toBeGreaterThanOrEqual(
        2,
      );
    }));

  test('length 3 through a truststore reference and two passwords', () =>
    withOperator('cyc3', FAST_RESYNC, async (ns, op) => {
      // a trusts b's truststore, b's password is c's keystore, c's password is a's keystore
      await client.create(Secrets, ns, tlsSecret(ns, 'a', { 'annotary.io/keystores': 'jks' }));
      await client.create(Secrets, ns, tlsSecret(ns, 'b', { 'annotary.io/keystores': 'jks' }));
      await client.create(Secrets, ns, tlsSecret(ns, 'c', { 'annotary.io/keystores': 'jks' }));
      await waitFor('all built', async () =>
        (await Promise.all(['a', 'b', 'c'].map((n) => getSecret(ns, n)))).every((s) => s.data?.['keystore.jks']),
      );
      await client.patch(Secrets, ns, 'b', { metadata: { annotations: { 'annotary.io/keystore-password-secret': 'c/keystore.jks' } } });
      await client.patch(Secrets, ns, 'c', { metadata: { annotations: { 'annotary.io/keystore-password-secret': 'a/keystore.jks' } } });
      await client.patch(Secrets, ns, 'a', { metadata: { annotations: { 'annotary.io/truststore-from': 'b:truststore.jks' } } });
      for (const n of ['a', 'b', 'c']) await warning(ns, n, 'ReferenceCycle');
      const before = await versions(ns, ['a', 'b', 'c']);
      await reconcilesLater(op, 15);
      expect(await versions(ns, ['a', 'b', 'c'])).toEqual(before);
      // breaking the cycle lets every store be built again
      await client.patch(Secrets, ns, 'c', { metadata: { annotations: { 'annotary.io/keystore-password-secret': null } } });
      await waitFor('c rebuilt with the default password', async () => (await getSecret(ns, 'c')).metadata.resourceVersion !== before[2]);
    }));

  test("length 2 across kinds: a Secret trusting a ConfigMap truststore whose password is the Secret's keystore", () =>
    withOperator('cyc2k', ['--resync', '1s'], async (ns) => {
      await client.create(
        ConfigMaps,
        ns,
        configMap(
          'bundle',
          inNamespace(ns),
          withData({ 'ca-bundle.crt': ec.ca }),
          withAnnotations({ 'annotary.io/truststore': 'jks', 'annotary.io/keystore-password-secret': 's/keystore.jks' }),
        ),
      );
      await client.create(
        Secrets,
        ns,
        tlsSecret(ns, 's', { 'annotary.io/keystores': 'jks', 'annotary.io/truststore-from': 'configmap/bundle:truststore.jks' }),
      );
      await warning(ns, 's', 'ReferenceCycle');
      await warning(ns, 'bundle', 'ReferenceCycle');
      expect((await getSecret(ns, 's')).data?.['keystore.jks']).toBeUndefined();
      expect((await client.get<ConfigMap>(ConfigMaps, ns, 'bundle')).binaryData?.['truststore.jks']).toBeUndefined();
    }));
});

describe('a copied annotary.io/managed-keys authorises nothing', () => {
  test('user keys listed in a copied managed-keys are never deleted; a Warning says why', () =>
    withOperator('own', ['--controllers', 'keystores'], async (ns) => {
      const user = { 'app.conf': b64('user config'), 'db-password': b64("not annotary's") };
      await client.create(
        Secrets,
        ns,
        secret(
          'app',
          inNamespace(ns),
          ofType('Opaque'),
          withAnnotations({ 'annotary.io/managed-keys': 'app.conf,db-password', 'annotary.io/cert-info': 'true' }),
          withBase64Data(user),
        ),
      );
      await warning(ns, 'app', 'OwnershipNotProven');
      const s = await waitFor('claim dropped', async () => {
        const s = await getSecret(ns, 'app');
        return s.metadata.annotations?.['annotary.io/managed-keys'] ? undefined : s;
      });
      expect(s.data).toEqual(user);
    }));

  test('on a TLS Secret, a copied claim on tls.key and ca.crt: stores are written, the inputs stay, removing the annotation removes only the stores', () =>
    withOperator('own-tls', ['--controllers', 'keystores'], async (ns) => {
      const claim = { 'annotary.io/managed-keys': 'tls.key,ca.crt', 'annotary.io/keystores': 'jks' };
      await client.create(Secrets, ns, tlsSecret(ns, 'tls', claim));
      const built = await waitFor('stores', async () => {
        const s = await getSecret(ns, 'tls');
        return s.data?.['keystore.jks'] ? s : undefined;
      });
      expect(built.data!['tls.key']).toBe(tlsData(ec)['tls.key']);
      expect(built.metadata.annotations?.['annotary.io/managed-keys']).toBe('keystore.jks,truststore.jks');
      expect(JSON.parse(built.metadata.annotations!['annotary.io/owner-record'])).toMatchObject({ uid: built.metadata.uid });
      await warning(ns, 'tls', 'OwnershipNotProven');
      await client.patch(Secrets, ns, 'tls', { metadata: { annotations: { 'annotary.io/keystores': null } } });
      const after = await waitFor('stores removed', async () => {
        const s = await getSecret(ns, 'tls');
        return s.data?.['keystore.jks'] ? undefined : s;
      });
      expect(after.data).toEqual(tlsData(ec));
      expect(after.metadata.annotations?.['annotary.io/owner-record']).toBeUndefined();
    }));

  test("a Secret copied whole from another (its owner record names the other uid) keeps the user's edits", () =>
    withOperator('own-copy', ['--controllers', 'keystores'], async (ns) => {
      await client.create(Secrets, ns, tlsSecret(ns, 'orig', { 'annotary.io/keystores': 'jks' }));
      const orig = await waitFor('stores', async () => {
        const s = await getSecret(ns, 'orig');
        return s.data?.['keystore.jks'] ? s : undefined;
      });
      // the copy: same annotations (a manifest exported with them), the user's own keystore under the name
      const mine = b64("the user's own keystore");
      const { 'annotary.io/keystores': _k, ...status } = orig.metadata.annotations!;
      await client.create(
        Secrets,
        ns,
        secret(
          'copy',
          inNamespace(ns),
          ofType('kubernetes.io/tls'),
          withAnnotations(status),
          withBase64Data({ ...orig.data!, 'keystore.jks': mine }),
        ),
      );
      await warning(ns, 'copy', 'OwnershipNotProven');
      const copy = await getSecret(ns, 'copy');
      expect(copy.data!['keystore.jks']).toBe(mine); // not deleted: not annotary's bytes
      expect(copy.data!['truststore.jks']).toBeUndefined(); // byte for byte annotary's output: removed with the claim
    }));

  test('a Route with a copied managed-fields keeps the certificate and key its user set', () =>
    withOperator('own-route', ['--controllers', 'routes'], async (ns) => {
      const tls = { termination: 'edge', certificate: ec.certPem(1), key: ec.keyPkcs8 };
      await client.create(
        Routes,
        ns,
        route('web', inNamespace(ns), withRouteTLS(tls), withAnnotations({ 'annotary.io/managed-fields': 'certificate,key' })),
      );
      await warning(ns, 'web', 'OwnershipNotProven');
      const r = await waitFor('claim dropped', async () => {
        const r = await client.get<KubeObject & { spec: { tls: Record<string, string> } }>(Routes, ns, 'web');
        return r.metadata.annotations?.['annotary.io/managed-fields'] ? undefined : r;
      });
      expect(r.spec.tls).toEqual(tls);
    }));
});

describe('writes refused for good are reported once and not retried until the inputs change', () => {
  test('stores that would take the Secret over 1 MiB: StoresTooLarge, no write, no retry at resyncs; one format fits and is written', () =>
    withOperator('big', ['--controllers', 'keystores', '--resync', '1s'], async (ns, op) => {
      await client.create(
        Secrets,
        ns,
        tlsSecret(ns, 'big', { 'annotary.io/keystores': 'jks,pkcs12' }, withData({ 'ca.crt': caBundle(1000) })),
      );
      const w = await warning(ns, 'big', 'StoresTooLarge');
      expect(w.message).toMatch(/over the 1048576-byte limit of Kubernetes/);
      const rv = (await getSecret(ns, 'big')).metadata.resourceVersion;
      const built = await op.metric('annotary_reconcile_duration_seconds_count', { controller: 'keystores' });
      await reconcilesLater(op, 5);
      expect((await getSecret(ns, 'big')).metadata.resourceVersion).toBe(rv);
      expect((await eventsFor(client, ns, 'big')).find((e) => e.reason === 'StoresTooLarge')!.count).toBe(1);
      expect(await op.metric('annotary_invalid_input_total', { controller: 'keystores', reason: 'StoresTooLarge' })).toBe(1);
      expect(await op.metric('annotary_reconcile_duration_seconds_count', { controller: 'keystores' })).toBeGreaterThan(built);
      // the input changes: JKS alone fits (967,772 bytes with the inputs, measured)
      await client.patch(Secrets, ns, 'big', { metadata: { annotations: { 'annotary.io/keystores': 'jks' } } });
      await waitFor('jks written', async () => (await getSecret(ns, 'big')).data?.['truststore.jks']);
    }));

  test('a write the apiserver rejects (422: over the limit with a big user key annotary does not cache): WriteRejected, then quiet', () =>
    withOperator('rej', ['--controllers', 'keystores', '--resync', '1s'], async (ns, op) => {
      await client.create(
        Secrets,
        ns,
        tlsSecret(
          ns,
          'rej',
          { 'annotary.io/keystores': 'jks,pkcs12' },
          withData({ 'ca.crt': caBundle(400), 'blob.bin': Buffer.alloc(500 * 1024, 7) }),
        ),
      );
      const w = await warning(ns, 'rej', 'WriteRejected');
      expect(w.message).toMatch(/^the apiserver refused the patch \(422 Invalid\)/);
      expect(await op.metric('annotary_writes_rejected_total', { controller: 'keystores', status: '422' })).toBe(1);
      await reconcilesLater(op, 5);
      expect(await op.metric('annotary_writes_rejected_total', { controller: 'keystores' })).toBe(1);
      expect(await op.metric('annotary_queue_retries_total', { controller: 'keystores' })).toBe(0);
      await client.patch(Secrets, ns, 'rej', { data: { 'blob.bin': null } });
      await waitFor('written once the user made room', async () => (await getSecret(ns, 'rej')).data?.['keystore.p12']);
    }));
});

describe("a store edited behind annotary's back is rebuilt at its update event", () => {
  test('with resyncs off, an edited keystore.jks and a deleted truststore.jks come back', () =>
    withOperator('tamper', ['--controllers', 'keystores', '--resync', '0s'], async (ns) => {
      await client.create(Secrets, ns, tlsSecret(ns, 'web', { 'annotary.io/keystores': 'jks' }));
      const built = await waitFor('stores', async () => {
        const s = await getSecret(ns, 'web');
        return s.data?.['truststore.jks'] ? s : undefined;
      });
      await client.patch(Secrets, ns, 'web', { data: { 'keystore.jks': b64('tampered') } });
      await waitFor('keystore restored', async () => (await getSecret(ns, 'web')).data?.['keystore.jks'] === built.data!['keystore.jks']);
      await client.patch(Secrets, ns, 'web', { data: { 'truststore.jks': null } });
      await waitFor(
        'truststore restored',
        async () => (await getSecret(ns, 'web')).data?.['truststore.jks'] === built.data!['truststore.jks'],
      );
      await sleep(1000);
      expect((await getSecret(ns, 'web')).data).toEqual(built.data);
    }));
});
