import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { ApiError, type KubeClient } from '../../src/kube/client.js';
import { EventRecorder, LIST_ITEMS, MESSAGE_LIMIT, boundMessage, listOf } from '../../src/kube/events.js';
import { Events, type KubeObject, type ResourceType } from '../../src/kube/types.js';
import { createMetrics } from '../../src/metrics.js';
import { inNamespace, secret as secretOf, withResourceVersion, withUid } from '../gen.js';
import { settle, silentLogger } from './helpers.js';

interface Call {
  verb: 'create' | 'patch';
  rt: ResourceType;
  namespace: string | undefined;
  name: string;
  body: Record<string, unknown>;
}

/** Records writes; `failNext` makes the next create/patch reject with the given error. */
class FakeEventsClient {
  readonly calls: Call[] = [];
  readonly failNext: { create: Error[]; patch: Error[] } = { create: [], patch: [] };
  async create(rt: ResourceType, namespace: string | undefined, body: KubeObject): Promise<KubeObject> {
    this.calls.push({ verb: 'create', rt, namespace, name: body.metadata.name, body });
    const err = this.failNext.create.shift();
    if (err) throw err;
    return body;
  }
  async patch(rt: ResourceType, namespace: string | undefined, name: string, body: Record<string, unknown>): Promise<KubeObject> {
    this.calls.push({ verb: 'patch', rt, namespace, name, body });
    const err = this.failNext.patch.shift();
    if (err) throw err;
    return { metadata: { name } };
  }
  get client(): KubeClient {
    return this as unknown as KubeClient;
  }
}

const secret = secretOf('web-tls', inNamespace('shop'), withUid('uid-1'), withResourceVersion('42'));
const REPEAT = 10 * 60_000;
let now = Date.parse('2030-01-01T00:00:00Z');

function recorder() {
  const fake = new FakeEventsClient();
  const metrics = createMetrics();
  return { fake, metrics, rec: new EventRecorder(fake.client, silentLogger(), metrics, { repeatMs: REPEAT }) };
}

afterEach(() => {
  jest.restoreAllMocks();
});

function clock() {
  jest.spyOn(Date, 'now').mockImplementation(() => now);
  return {
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('EventRecorder: the first emit creates an Event on the object', () => {
  test('Event carries involvedObject, type, reason, message and count 1', async () => {
    clock();
    const { fake, rec, metrics } = recorder();
    rec.emit(secret, 'Warning', 'KeyConflict', 'data key "keystore.jks" exists');
    await settle();
    expect(fake.calls).toHaveLength(1);
    const [c] = fake.calls;
    expect(c).toMatchObject({ verb: 'create', rt: Events, namespace: 'shop' });
    expect(c.body).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: 'shop' },
      involvedObject: { apiVersion: 'v1', kind: 'Secret', name: 'web-tls', namespace: 'shop', uid: 'uid-1', resourceVersion: '42' },
      type: 'Warning',
      reason: 'KeyConflict',
      message: 'data key "keystore.jks" exists',
      count: 1,
      source: { component: 'annotary' },
      reportingComponent: 'annotary',
    });
    expect(c.name).toMatch(/^web-tls\.[0-9a-f]{16}$/);
    expect((c.body as { firstTimestamp: string }).firstTimestamp).toBe(new Date(now).toISOString());
    expect((await metrics.eventsTotal.get()).values).toEqual([{ labels: { type: 'Warning', reason: 'KeyConflict' }, value: 1 }]);
  });

  test('a cluster-scoped object (a CSR) gets its Event in "default", its involvedObject no namespace: what kubectl describe finds', async () => {
    const { fake, rec } = recorder();
    rec.emit({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', uid: 'n1' } }, 'Normal', 'Seen', 'hello');
    await settle();
    expect(fake.calls[0]).toMatchObject({ namespace: 'default', body: { involvedObject: { name: 'shop', kind: 'Namespace' } } });
    expect((fake.calls[0].body as { involvedObject: { namespace?: string } }).involvedObject.namespace).toBeUndefined();
  });
});

describe('EventRecorder with --events=warnings', () => {
  test('Normal Events are counted, not written; Warnings are written', async () => {
    const fake = new FakeEventsClient();
    const metrics = createMetrics();
    const rec = new EventRecorder(fake.client, silentLogger(), metrics, { written: 'warnings' });
    rec.emit(secret, 'Normal', 'StoresUpdated', 'wrote keystore.jks');
    rec.emit(secret, 'Warning', 'MissingKey', 'the Secret has no tls.key');
    await settle();
    expect(fake.calls.map((c) => [c.verb, c.body.reason])).toEqual([['create', 'MissingKey']]);
    expect((await metrics.eventsTotal.get()).values.map((v) => [v.labels.type, v.labels.reason, v.value])).toEqual([
      ['Normal', 'StoresUpdated', 1],
      ['Warning', 'MissingKey', 1],
    ]);
  });
});

describe('EventRecorder: repeats are aggregated, not re-written', () => {
  test('an identical repeat within repeatMs writes nothing', async () => {
    const { advance } = clock();
    const { fake, rec } = recorder();
    rec.emit(secret, 'Warning', 'R', 'same');
    await settle();
    for (let i = 0; i < 5; i++) {
      advance(60_000);
      rec.emit(secret, 'Warning', 'R', 'same');
    }
    await settle();
    expect(fake.calls.map((c) => c.verb)).toEqual(['create']);
  });

  test('after repeatMs the Event is patched with the aggregated count', async () => {
    const { advance } = clock();
    const { fake, rec } = recorder();
    rec.emit(secret, 'Warning', 'R', 'same');
    advance(1000);
    rec.emit(secret, 'Warning', 'R', 'same'); // count 2, not written
    advance(REPEAT);
    rec.emit(secret, 'Warning', 'R', 'same'); // count 3, written
    await settle();
    expect(fake.calls.map((c) => c.verb)).toEqual(['create', 'patch']);
    expect(fake.calls[1]).toMatchObject({
      rt: Events,
      namespace: 'shop',
      name: fake.calls[0].name,
      body: { count: 3, lastTimestamp: new Date(now).toISOString() },
    });
  });

  test('a different message, reason, type or object is a new Event', async () => {
    clock();
    const { fake, rec } = recorder();
    rec.emit(secret, 'Warning', 'R', 'one');
    rec.emit(secret, 'Warning', 'R', 'two');
    rec.emit(secret, 'Warning', 'R2', 'one');
    rec.emit(secret, 'Normal', 'R', 'one');
    rec.emit({ ...secret, metadata: { ...secret.metadata, uid: 'uid-2' } }, 'Warning', 'R', 'one');
    await settle();
    expect(fake.calls.map((c) => c.verb)).toEqual(['create', 'create', 'create', 'create', 'create']);
    expect(new Set(fake.calls.map((c) => c.name)).size).toBe(5);
  });
});

describe('EventRecorder: an Event left by an earlier run (AlreadyExists) is aggregated into', () => {
  test('create → 409 AlreadyExists → patch of the same Event with count 2', async () => {
    clock();
    const { fake, rec } = recorder();
    fake.failNext.create.push(new ApiError(409, 'AlreadyExists', 'events "web-tls.x" already exists'));
    rec.emit(secret, 'Warning', 'R', 'm');
    await settle();
    expect(fake.calls.map((c) => c.verb)).toEqual(['create', 'patch']);
    expect(fake.calls[1]).toMatchObject({ name: fake.calls[0].name, namespace: 'shop', body: { count: 2 } });
  });

  test('a failed write never throws out of emit (fire-and-forget)', async () => {
    const { fake, rec } = recorder();
    fake.failNext.create.push(new Error('connection refused'));
    expect(() => rec.emit(secret, 'Warning', 'R', 'm')).not.toThrow();
    await settle();
    expect(fake.calls).toHaveLength(1);
  });
});

describe('EventRecorder: Events that never got written or were garbage-collected are written again', () => {
  test("after repeatMs, a patch answered 404 (Event expired by the apiserver's event TTL) re-creates the Event", async () => {
    // kube-apiserver deletes Events after --event-ttl (1h by default); a warning that repeats
    // every resync for longer than that must not be patched into a void forever.
    const { advance } = clock();
    const { fake, rec } = recorder();
    rec.emit(secret, 'Warning', 'CertificateExpiring', 'expires in 5 days');
    await settle();
    advance(2 * 60 * 60_000);
    fake.failNext.patch.push(new ApiError(404, 'NotFound', 'events "web-tls.x" not found'));
    rec.emit(secret, 'Warning', 'CertificateExpiring', 'expires in 5 days');
    await settle();
    expect(fake.calls.map((c) => c.verb)).toEqual(['create', 'patch', 'create']);
  });

  test('a create that failed (not AlreadyExists) is not remembered as written: the next identical emit creates it', async () => {
    const { advance } = clock();
    const { fake, rec } = recorder();
    fake.failNext.create.push(new ApiError(503, 'ServiceUnavailable', 'apiserver is shutting down'));
    rec.emit(secret, 'Warning', 'KeyConflict', 'm');
    await settle();
    advance(60_000);
    rec.emit(secret, 'Warning', 'KeyConflict', 'm');
    await settle();
    expect(fake.calls.map((c) => c.verb)).toEqual(['create', 'create']);
  });
});

describe('Event messages are bounded', () => {
  test('listOf names every item of a short list', () => {
    expect(listOf([])).toBe('');
    expect(listOf(['a'])).toBe('a');
    expect(listOf(['a', 'b', 'c'])).toBe('a, b, c');
  });

  test('listOf names the first LIST_ITEMS items of a long list and counts the others', () => {
    const items = Array.from({ length: 100 }, (_, i) => `s${i}`);
    expect(listOf(items)).toBe(`${items.slice(0, LIST_ITEMS).join(', ')} and ${100 - LIST_ITEMS} more`);
  });

  test('listOf names fewer items when they are long, but always one', () => {
    const long = Array.from({ length: 100 }, (_, i) => `Secret "${'n'.repeat(190)}-${i}"`);
    const text = listOf(long);
    expect(text.length).toBeLessThan(500);
    expect(text).toMatch(/ and 9\d more$/);
    expect(listOf(['y'.repeat(2000), 'z'])).toBe(`${'y'.repeat(2000)} and 1 more`);
  });

  test('boundMessage keeps short messages and cuts long ones to MESSAGE_LIMIT bytes, on a character boundary', () => {
    expect(boundMessage('short')).toBe('short');
    const ascii = boundMessage('a'.repeat(5000));
    expect(Buffer.byteLength(ascii)).toBeLessThanOrEqual(MESSAGE_LIMIT);
    expect(ascii.endsWith('…')).toBe(true);
    const wide = boundMessage('é😀'.repeat(1000)); // 2- and 4-byte characters
    expect(Buffer.byteLength(wide)).toBeLessThanOrEqual(MESSAGE_LIMIT);
    expect(Buffer.byteLength(wide)).toBeGreaterThan(MESSAGE_LIMIT - 8);
    expect(wide).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/); // no half of a surrogate pair
  });

  test('the recorder writes (and aggregates) a message of any length within the limit', async () => {
    clock();
    const { fake, rec } = recorder();
    const long = `annotation "${'v'.repeat(300_000)}" is not valid`;
    rec.emit(secret, 'Warning', 'InvalidAnnotation', long);
    rec.emit(secret, 'Warning', 'InvalidAnnotation', long);
    await settle();
    expect(fake.calls).toHaveLength(1);
    const message = fake.calls[0].body.message as string;
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MESSAGE_LIMIT);
    expect(message.startsWith('annotation "vvv')).toBe(true);
  });
});
