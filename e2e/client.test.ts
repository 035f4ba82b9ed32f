// Writes whose answer the operator does not read ask for the object's metadata only (#20),
// against the real apiserver: what it answers to each verb the operator uses, and that a
// refused write still carries its Status.
import { ApiError } from '../src/kube/client.js';
import type { KubeObject } from '../src/kube/types.js';
import { Secrets } from '../src/kube/types.js';
import { adminClient, deleteNamespace, newNamespace } from './harness/cluster.js';
import { b64, secret, withBase64Data, withData } from '../test/gen.js';

const client = adminClient();
let ns: string;
beforeAll(async () => (ns = await newNamespace(client, 'client')));
afterAll(() => deleteNamespace(client, ns));

const big = b64('x'.repeat(20_000));
/** what the answer holds: its kind, and whether any of the Secret's data came back */
/** each key of the stored data: whether it holds `big` (a boolean each, so a failure does not print 20 kB) */
const written = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v === big]));
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
