// The REST client against the real apiserver: writes whose answer the operator does not read
// ask for the object's metadata only (#20): what it answers to each verb the operator uses, and
// that a refused write still carries its Status; and the apiserver is trusted through the
// kubeconfig's CA only (one TLS context serves every connection).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { ApiError, KubeClient } from '../src/kube/client.js';
import type { KubeObject } from '../src/kube/types.js';
import { Namespaces, Secrets } from '../src/kube/types.js';
import { generateKey, selfSignedCa } from '../src/pki/x509.js';
import { KUBECONFIG, adminClient, adminKubeconfig, deleteNamespace, newNamespace } from './harness/cluster.js';
import { b64, secret, withBase64Data, withData } from '../test/gen.js';
import { scratchDir } from '../test/pki/fixtures.js';

const client = adminClient();
let ns: string;
beforeAll(async () => (ns = await newNamespace(client, 'client')));
afterAll(() => deleteNamespace(client, ns));

const big = b64('x'.repeat(20_000));
/** each key of the stored data: whether it holds `big` (a boolean each, so a failure does not print 20 kB) */
const written = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v === big]));
/** what the answer holds: its kind, and whether any of the Secret's data came back */
const shape = (o: KubeObject) => ({
  kind: o.kind,
  hasData: 'data' in o,
  name: o.metadata.name,
  resourceVersion: typeof o.metadata.resourceVersion,
});

describe("a write asked for its metadata only: the apiserver's answer is PartialObjectMetadata, without the data", () => {
  test('create, merge patch and replace of a Secret; the object itself is written whole', async () => {
    const created = await client.create(Secrets, ns, secret('meta', withBase64Data({ store: big })), 'metadata');
    expect(shape(created)).toEqual({ kind: 'PartialObjectMetadata', hasData: false, name: 'meta', resourceVersion: 'string' });

    const patched = await client.patch(Secrets, ns, 'meta', { data: { more: big } }, 'merge', undefined, 'metadata');
    expect(shape(patched)).toEqual({ kind: 'PartialObjectMetadata', hasData: false, name: 'meta', resourceVersion: 'string' });
    expect(Number(patched.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));

    const whole = await client.get<KubeObject & { data: Record<string, string> }>(Secrets, ns, 'meta');
    expect(written(whole.data)).toEqual({ store: true, more: true });
    const replaced = await client.replace(Secrets, ns, 'meta', { ...whole, data: { store: big } }, 'metadata');
    expect(shape(replaced)).toEqual({ kind: 'PartialObjectMetadata', hasData: false, name: 'meta', resourceVersion: 'string' });
    expect(written((await client.get<KubeObject & { data: Record<string, string> }>(Secrets, ns, 'meta')).data)).toEqual({ store: true });
  });

  test('without the option the answer is the whole object, as the tests and tools expect', async () => {
    await client.create(Secrets, ns, secret('whole', withBase64Data({ store: big })));
    const patched = await client.patch<KubeObject>(Secrets, ns, 'whole', { data: { more: big } });
    expect(shape(patched)).toEqual({ kind: 'Secret', hasData: true, name: 'whole', resourceVersion: 'string' });
  });

  test('a refused write is still an ApiError with the Status reason (a stale resourceVersion: Conflict)', async () => {
    await client.create(Secrets, ns, secret('stale', withData({ a: b64('1') })), 'metadata');
    const err = await client
      .patch(Secrets, ns, 'stale', { metadata: { resourceVersion: '1' }, data: { a: b64('2') } }, 'merge', undefined, 'metadata')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect({ status: (err as ApiError).status, reason: (err as ApiError).reason }).toEqual({ status: 409, reason: 'Conflict' });
  });
});

describe("the apiserver is trusted through the kubeconfig's CA only", () => {
  test('the same kubeconfig naming another CA is refused at the TLS handshake; the right CA is accepted on every connection', async () => {
    const dir = scratchDir('e2e-client-ca');
    const key = await generateKey('ec-p256');
    const otherCa = path.join(dir, 'other-ca.crt');
    writeFileSync(
      otherCa,
      await selfSignedCa(key, 'not the apiserver CA', {
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
      }),
    );
    const config = adminKubeconfig();
    config.clusters[0].cluster['certificate-authority'] = otherCa;
    const wrong = path.join(dir, 'wrong-ca.yaml');
    writeFileSync(wrong, yaml.dump(config), { mode: 0o600 });

    const err = await KubeClient.fromOptions({ kubeconfig: wrong })
      .get(Namespaces, undefined, 'default')
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ApiError); // no HTTP answer was read at all
    expect((err as { code?: string }).code).toMatch(
      /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
    );

    // eight requests at once: several pooled connections, each verified with the one context
    const right = KubeClient.fromOptions({ kubeconfig: KUBECONFIG });
    const names = await Promise.all(
      Array.from({ length: 8 }, () => right.get(Namespaces, undefined, 'default').then((n) => n.metadata.name)),
    );
    expect(names).toEqual(Array(8).fill('default'));
  });
});
