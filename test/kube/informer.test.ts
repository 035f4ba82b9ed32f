import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { ApiError } from '../../src/kube/client.js';
import { Informer, type InformerOptions } from '../../src/kube/informer.js';
import { slimDataObject, valueDigest, type SlimData } from '../../src/kube/slim.js';
import { ConfigMaps, Secrets, keyOf, type KubeObject } from '../../src/kube/types.js';
import { createMetrics } from '../../src/metrics.js';
import { inNamespace, secret, withBase64Data, withResourceVersion } from '../gen.js';
import { FakeKube, obj, page } from './fake-kube.js';
import { deferred, settle, silentLogger, until } from './helpers.js';

const metrics = createMetrics();
const log = silentLogger();
const informers: Informer<KubeObject>[] = [];

afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
  jest.useRealTimers();
});

function fakeTimers(): void {
  jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
}

function start(fake: FakeKube, opts: Partial<InformerOptions<KubeObject>> = {}) {
  const inf = new Informer<KubeObject>({
    client: fake.client,
    resource: ConfigMaps,
    namespaces: [],
    transform: (o) => o,
    log,
    metrics,
    pageSize: 2,
    ...opts,
  });
  const events: string[] = [];
  const rv = (o: KubeObject) => o.metadata.resourceVersion;
  inf.on({
    add: (o) => events.push(`add ${keyOf(o)}@${rv(o)}`),
    update: (a, b) => events.push(`update ${keyOf(b)}@${rv(a)}->${rv(b)}`),
    delete: (o) => events.push(`delete ${keyOf(o)}@${rv(o)}`),
  });
  informers.push(inf);
  inf.start();
  return { inf, events };
}

describe('Informer: the initial list is paged, fills the cache and fires add', () => {
  test('two pages via continue, then a watch from the list resourceVersion', async () => {
    const fake = new FakeKube();
    fake.listImpl = ({ query }) =>
      query.continue === undefined ? page([obj('a', 'x', '3'), obj('a', 'y', '4')], '10', 'tok-1') : page([obj('b', 'z', '5')], '10');
    const { inf, events } = start(fake, { labelSelector: 'app=web' });
    await inf.synced;
    expect(fake.lists.map((l) => l.query)).toEqual([
      { limit: 2, continue: undefined, labelSelector: 'app=web' },
      { limit: 2, continue: 'tok-1', labelSelector: 'app=web' },
    ]);
    expect(fake.lists.every((l) => l.namespace === undefined && l.rt === ConfigMaps)).toBe(true);
    expect(events).toEqual(['add a/x@3', 'add a/y@4', 'add b/z@5']);
    expect(inf.size).toBe(3);
    expect(inf.hasSynced()).toBe(true);
    expect(inf.get('a/y')?.metadata.resourceVersion).toBe('4');
    expect(inf.list('a').map(keyOf).sort()).toEqual(['a/x', 'a/y']);
    expect(inf.list().length).toBe(3);

    await until(() => fake.watches.length === 1, 'watch opened');
    const w = fake.lastWatch();
    expect(w.path).toBe('/api/v1/configmaps');
    expect(w.query).toMatchObject({ resourceVersion: '10', allowWatchBookmarks: true, labelSelector: 'app=web' });
  });

  test('the cache holds what transform returns (lean Secrets: digests, no data)', async () => {
    const fake = new FakeKube();
    fake.listImpl = () => page([secret('s', inNamespace('a'), withResourceVersion('1'), withBase64Data({ k: 'dmFs' }))], '1');
    const inf = new Informer<SlimData>({
      client: fake.client,
      resource: Secrets,
      namespaces: [],
      transform: slimDataObject('Secret', () => undefined),
      log,
      metrics,
    });
    informers.push(inf);
    inf.start();
    await inf.synced;
    expect(inf.get('a/s')?.data).toBeUndefined();
    expect(inf.get('a/s')?.digests).toEqual({ k: valueDigest('dmFs') });
  });
});

describe('Informer: watch events keep the cache current', () => {
  test('ADDED → add, MODIFIED → update(old, new), DELETED → delete of the cached object', async () => {
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '1'), obj('a', 'y', '2')], '10');
    const { inf, events } = start(fake);
    await inf.synced;
    await until(() => fake.watches.length === 1, 'watch');
    const w = fake.lastWatch();
    events.length = 0;
    w.event('ADDED', obj('a', 'new', '11'));
    w.event('MODIFIED', obj('a', 'x', '12', { data: { k: 'v2' } }));
    w.event('DELETED', obj('a', 'y', '13'));
    expect(events).toEqual(['add a/new@11', 'update a/x@1->12', 'delete a/y@2']);
    expect(inf.get('a/x')?.data).toEqual({ k: 'v2' });
    expect(inf.get('a/y')).toBeUndefined();
    expect(inf.size).toBe(2);
  });

  test('an update with an unchanged resourceVersion fires nothing', async () => {
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '5')], '10');
    const { inf, events } = start(fake);
    await inf.synced;
    await until(() => fake.watches.length === 1, 'watch');
    events.length = 0;
    fake.lastWatch().event('MODIFIED', obj('a', 'x', '5'));
    fake.lastWatch().event('ADDED', obj('a', 'x', '5'));
    expect(events).toEqual([]);
  });

  test('a handler that throws does not stop the other handlers or the informer', async () => {
    const fake = new FakeKube();
    const { inf, events } = start(fake);
    const other: string[] = [];
    inf.on({
      add: () => {
        throw new Error('handler bug');
      },
    });
    inf.on({ add: (o) => other.push(keyOf(o)) });
    await inf.synced;
    await until(() => fake.watches.length === 1, 'watch');
    fake.lastWatch().event('ADDED', obj('a', 'x', '2'));
    fake.lastWatch().event('ADDED', obj('a', 'y', '3'));
    expect(events).toEqual(['add a/x@2', 'add a/y@3']);
    expect(other).toEqual(['a/x', 'a/y']);
  });
});

describe('Informer: 410 Gone relists and delivers the deletions missed meanwhile', () => {
  test('ERROR 410 event → relist; objects missing from the new list are deleted, changed ones updated', async () => {
    const fake = new FakeKube();
    let generation = 0;
    fake.listImpl = () =>
      generation === 0
        ? page([obj('a', 'x', '1'), obj('a', 'y', '2'), obj('a', 'z', '3')], '10')
        : page([obj('a', 'x', '1'), obj('a', 'z', '30'), obj('a', 'w', '31')], '40');
    const { inf, events } = start(fake);
    await inf.synced;
    await until(() => fake.watches.length === 1, 'watch');
    events.length = 0;
    generation = 1;
    const first = fake.lastWatch();
    first.error(410);
    expect(first.aborted).toBe(true);
    await until(() => fake.watches.length === 2, 'second watch');
    expect(fake.lists.length).toBe(2);
    expect(events.sort()).toEqual(['add a/w@31', 'delete a/y@2', 'update a/z@3->30']);
    expect(inf.list().map(keyOf).sort()).toEqual(['a/w', 'a/x', 'a/z']);
    expect(fake.lastWatch().query.resourceVersion).toBe('40');
  });

  test('a watch refused with HTTP 410 (statusCode on the error) also relists', async () => {
    const fake = new FakeKube();
    let generation = 0;
    fake.listImpl = () => (generation++ === 0 ? page([obj('a', 'x', '1')], '10') : page([], '50'));
    const { inf, events } = start(fake);
    await inf.synced;
    await until(() => fake.watches.length === 1, 'watch');
    fake.lastWatch().end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await until(() => fake.watches.length === 2, 'second watch');
    expect(events).toEqual(['add a/x@1', 'delete a/x@1']);
    expect(fake.lastWatch().query.resourceVersion).toBe('50');
  });

  test('a relist of one namespace scope never deletes objects of another scope', async () => {
    const fake = new FakeKube();
    let relisting = false;
    fake.listImpl = ({ namespace }) => (relisting && namespace === 'a' ? page([], '90') : page([obj(namespace!, 'o', '1')], '10'));
    const { inf, events } = start(fake, { namespaces: ['a', 'b'] });
    await inf.synced;
    await until(() => fake.watches.length === 2, 'two watches');
    relisting = true;
    fake.lastWatch('/api/v1/namespaces/a/configmaps').error(410);
    await until(() => fake.watches.length === 3, 'rewatch of a');
    expect(events).toEqual(['add a/o@1', 'add b/o@1', 'delete a/o@1']);
    expect(inf.get('b/o')).toBeDefined();
  });
});

describe('Informer: a dropped watch resumes from the last resourceVersion seen', () => {
  test("error end → backoff → new watch from the last event's resourceVersion, without a relist", async () => {
    fakeTimers();
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '1')], '10');
    const { inf, events } = start(fake);
    await inf.synced;
    await until(() => fake.watches.length === 1, 'watch');
    const w = fake.lastWatch();
    w.event('MODIFIED', obj('a', 'x', '11'));
    w.event('ADDED', obj('a', 'y', '12'));
    w.end(new Error('read ECONNRESET'));
    await settle();
    expect(fake.watches.length).toBe(1); // backing off
    await jest.advanceTimersByTimeAsync(10_000);
    await until(() => fake.watches.length === 2, 'resumed watch');
    expect(fake.lastWatch().query.resourceVersion).toBe('12');
    expect(fake.lists.length).toBe(1);
    expect(events).toEqual(['add a/x@1', 'update a/x@1->11', 'add a/y@12']);
  });

  test('an ERROR event other than 410 (e.g. 500) backs off before re-watching, like a stream error', async () => {
    // client-go's reflector treats a watch ERROR as a failed watch and backs off; re-watching at
    // once turns an apiserver that keeps answering ERROR into a tight request loop.
    fakeTimers();
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '1')], '10');
    const { inf } = start(fake);
    await inf.synced;
    await until(() => fake.watches.length === 1, 'watch');
    fake.lastWatch().event('MODIFIED', obj('a', 'x', '11'));
    fake.lastWatch().error(500, 'etcdserver: request timed out');
    await settle();
    expect(fake.watches.length).toBe(1); // still backing off
    await jest.advanceTimersByTimeAsync(10_000);
    await until(() => fake.watches.length === 2, 'resumed watch');
    expect(fake.lastWatch().query.resourceVersion).toBe('11');
    expect(fake.lists.length).toBe(1);
  });

  test('BOOKMARK advances the resourceVersion without any event', async () => {
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '1')], '10');
    const { inf, events } = start(fake);
    await inf.synced;
    await until(() => fake.watches.length === 1, 'watch');
    events.length = 0;
    fake.lastWatch().event('BOOKMARK', { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '77' } } as KubeObject);
    expect(events).toEqual([]);
    expect(inf.size).toBe(1);
    fake.lastWatch().end(); // server-side timeout: re-watch at once
    await until(() => fake.watches.length === 2, 're-watch');
    expect(fake.lastWatch().query.resourceVersion).toBe('77');
    expect(fake.lists.length).toBe(1);
  });

  test('a failed list is retried after a backoff and then syncs', async () => {
    fakeTimers();
    const fake = new FakeKube();
    let calls = 0;
    fake.listImpl = () => {
      if (calls++ === 0) throw new Error('connection refused');
      return page([obj('a', 'x', '1')], '10');
    };
    const { inf } = start(fake);
    await settle();
    expect(inf.hasSynced()).toBe(false);
    await jest.advanceTimersByTimeAsync(10_000);
    await inf.synced;
    expect(inf.size).toBe(1);
    expect(fake.lists.length).toBe(2);
  });
});

describe('Informer.synced resolves after the first list of every namespace scope', () => {
  test('two namespaces: not synced until the second list returns', async () => {
    const fake = new FakeKube();
    const slow = deferred<ReturnType<typeof page>>();
    fake.listImpl = ({ namespace }) => (namespace === 'b' ? slow.promise : page([obj('a', 'x', '1')], '10'));
    const { inf } = start(fake, { namespaces: ['a', 'b'] });
    let synced = false;
    void inf.synced.then(() => {
      synced = true;
    });
    await until(() => fake.watches.length === 1, 'a watching');
    await settle();
    expect(synced).toBe(false);
    expect(inf.hasSynced()).toBe(false);
    expect(fake.lists.map((l) => l.namespace).sort()).toEqual(['a', 'b']);
    slow.resolve(page([obj('b', 'y', '2')], '20'));
    await inf.synced;
    expect(inf.hasSynced()).toBe(true);
    await until(() => fake.watches.length === 2, 'b watching');
    expect(fake.watches.map((w) => w.path).sort()).toEqual(['/api/v1/namespaces/a/configmaps', '/api/v1/namespaces/b/configmaps']);
  });
});

describe('Informer.resync re-delivers every cached object as an update', () => {
  test('resync() fires update(obj, obj) once per cached object', async () => {
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '1'), obj('a', 'y', '2')], '10');
    const { inf, events } = start(fake);
    await inf.synced;
    events.length = 0;
    inf.resync();
    expect(events.sort()).toEqual(['update a/x@1->1', 'update a/y@2->2']);
  });

  test('resyncMs resyncs periodically', async () => {
    fakeTimers();
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '1')], '10');
    const { inf, events } = start(fake, { resyncMs: 60_000 });
    await inf.synced;
    events.length = 0;
    await jest.advanceTimersByTimeAsync(59_999);
    expect(events).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(events).toEqual(['update a/x@1->1']);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(events).toEqual(['update a/x@1->1', 'update a/x@1->1']);
  });
});

describe('Informer.stop ends the list/watch loops', () => {
  test('stop aborts the open watch, resolves, and nothing is listed or watched afterwards', async () => {
    fakeTimers();
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '1')], '10');
    const { inf } = start(fake, { namespaces: ['a', 'b'], resyncMs: 1000 });
    await inf.synced;
    await until(() => fake.watches.length === 2, 'watching');
    await inf.stop();
    expect(fake.watches.every((w) => w.aborted && w.ended)).toBe(true);
    const lists = fake.lists.length;
    await jest.advanceTimersByTimeAsync(60_000);
    await settle();
    expect(fake.lists.length).toBe(lists);
    expect(fake.watches.length).toBe(2);
  });

  test('stop during a backoff sleep returns at once', async () => {
    fakeTimers();
    const fake = new FakeKube();
    fake.listImpl = () => {
      throw new Error('apiserver down');
    };
    const { inf } = start(fake);
    await settle();
    await inf.stop(); // would hang until the fake clock advanced if the sleep were not woken
    expect(fake.lists.length).toBe(1);
  });
});

describe('Informer: a list or watch refused with 403 is reported and retried until the permission is granted', () => {
  const forbidden = (verb: string, ns?: string) =>
    new ApiError(
      403,
      'Forbidden',
      'configmaps is forbidden: User "system:serviceaccount:x:annotary" ' +
        `cannot ${verb} resource "configmaps" in API group ""${ns ? ` in the namespace "${ns}"` : ' at the cluster scope'}`,
    );

  test('a refused list: forbidden() names verb, resource and scope, not synced; retried with backoff; synced once allowed', async () => {
    fakeTimers();
    const fake = new FakeKube();
    let allowed = false;
    fake.listImpl = () => {
      if (!allowed) throw forbidden('list');
      return page([obj('a', 'x', '1')], '10');
    };
    const { inf } = start(fake);
    let changes = 0;
    inf.onChange(() => changes++);
    await settle();
    expect(inf.forbidden()).toEqual({ verb: 'list', resource: ConfigMaps, namespace: undefined, message: forbidden('list').message });
    expect(inf.hasSynced()).toBe(false);
    expect(changes).toBe(1);
    expect(fake.watches).toEqual([]);

    await jest.advanceTimersByTimeAsync(60_000); // still refused: retried, reported once
    expect(fake.lists.length).toBeGreaterThan(2);
    expect(changes).toBe(1);
    expect(inf.forbidden()?.verb).toBe('list');

    allowed = true;
    await jest.advanceTimersByTimeAsync(30_000);
    await inf.synced;
    expect(inf.forbidden()).toBeUndefined();
    expect(inf.size).toBe(1);
    expect(changes).toBe(2);
    expect(fake.openWatches().length).toBe(1);
  });

  test('a refused list is retried at most every 30 s once backed off, not every 10 s like other failures', async () => {
    fakeTimers();
    const fake = new FakeKube();
    const at: number[] = []; // the fake clock's time of each list
    fake.listImpl = () => {
      at.push(Date.now());
      throw forbidden('list');
    };
    start(fake);
    await jest.advanceTimersByTimeAsync(300_000);
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    expect(gaps.slice(0, 3)).toEqual([500, 1000, 2000]); // backing off ...
    expect(gaps.slice(-3)).toEqual([30_000, 30_000, 30_000]); // ... to the cap
  });

  test('one refused namespace scope: the cache is not synced and names that namespace; the other scope is listed and watched', async () => {
    const fake = new FakeKube();
    fake.listImpl = ({ namespace }) => {
      if (namespace === 'b') throw forbidden('list', 'b');
      return page([obj('a', 'x', '1')], '10');
    };
    const { inf } = start(fake, { namespaces: ['a', 'b'] });
    await until(() => fake.watches.length === 1 && inf.forbidden() !== undefined, 'a watching, b refused');
    expect(fake.lastWatch().path).toBe('/api/v1/namespaces/a/configmaps');
    expect(inf.forbidden()).toMatchObject({ verb: 'list', namespace: 'b' });
    expect(inf.hasSynced()).toBe(false);
  });

  test('a refused watch after an allowed list (list-only grant): not synced, forbidden watch; the watch is retried, not the list', async () => {
    fakeTimers();
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '1')], '10');
    let watchAllowed = false;
    fake.watchRefusal = () => (watchAllowed ? undefined : forbidden('watch'));
    const { inf, events } = start(fake);
    await settle();
    expect(events).toEqual(['add a/x@1']); // the list filled the cache
    expect(inf.forbidden()).toMatchObject({ verb: 'watch', resource: ConfigMaps, namespace: undefined });
    expect(inf.hasSynced()).toBe(false);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(fake.watches.length).toBeGreaterThan(2);
    expect(fake.lists.length).toBe(1);

    watchAllowed = true;
    await jest.advanceTimersByTimeAsync(30_000);
    await inf.synced;
    expect(inf.forbidden()).toBeUndefined();
    expect(fake.openWatches().length).toBe(1);
    expect(fake.lastWatch().query.resourceVersion).toBe('10');
  });

  test('a synced cache whose watch is refused later reports it, and clears it when a watch is accepted again', async () => {
    fakeTimers();
    const fake = new FakeKube();
    fake.listImpl = () => page([obj('a', 'x', '1')], '10');
    const { inf } = start(fake);
    await inf.synced;
    await until(() => fake.watches.length === 1, 'watch');
    fake.watchRefusal = () => forbidden('watch');
    fake.lastWatch().end(); // server timeout: re-watch, refused
    await settle();
    expect(inf.forbidden()?.verb).toBe('watch');
    expect(inf.hasSynced()).toBe(true);
    fake.watchRefusal = () => undefined;
    await jest.advanceTimersByTimeAsync(30_000);
    expect(inf.forbidden()).toBeUndefined();
    expect(fake.openWatches().length).toBe(1);
  });
});
