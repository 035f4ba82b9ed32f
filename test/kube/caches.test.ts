// API discovery belongs to the cache layer: a resource the cluster may serve only later (the
// Route CRD) is looked for at setup, polled for every 30 s while it is not served, and its
// cache is created and started once it is.
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { SharedCaches } from '../../src/kube/caches.js';
import type { KubeClient } from '../../src/kube/client.js';
import { ApiError } from '../../src/kube/client.js';
import { CertificateSigningRequests, CronJobs, CronJobsV1beta1, Routes } from '../../src/kube/types.js';
import { createMetrics } from '../../src/metrics.js';
import { silentLogger } from './helpers.js';

/** `lists`: what each served group version lists (discovery), by path */
function fakeCaches(served: () => boolean, lists: Record<string, string[]> = { '/apis/route.openshift.io/v1': ['routes'] }) {
  const request = jest.fn(async (_method: string, path: string) => {
    if (!served() || !lists[path]) throw new ApiError(404, 'NotFound', 'not served');
    return { resources: lists[path].map((name) => ({ name })) };
  });
  const list = jest.fn(async () => ({ metadata: { resourceVersion: '1' }, items: [] }));
  // a watch that stays open until the cache stops it
  const watch = async (_path: string, _query: unknown, _onEvent: unknown, done: (err?: unknown) => void) => {
    const a = new AbortController();
    a.signal.addEventListener('abort', () => done(Object.assign(new Error('aborted'), { name: 'AbortError' })));
    return a;
  };
  const client = { request, list, watch } as unknown as KubeClient;
  const caches = new SharedCaches({ client, namespaces: [], resyncMs: 0, log: silentLogger(), metrics: createMetrics() });
  return { caches, request, list };
}

describe('the Route API is detected by the cache layer, and polled for when it is not served', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  test('served: the Route cache exists at once and starts with the others', async () => {
    const { caches, list } = fakeCaches(() => true);
    const routes = await caches.whenServed(Routes);
    expect(caches.all()).toEqual([routes]);
    expect(list).not.toHaveBeenCalled(); // the operator starts its caches
    caches.start();
    expect(list).toHaveBeenCalledTimes(1);
    await caches.stop();
  });

  test('not served: checked every 30 s; once served, the cache is created and started (the others run already)', async () => {
    jest.useFakeTimers();
    let served = false;
    const { caches, request, list } = fakeCaches(() => served);
    caches.start();
    let routes: unknown;
    void caches.whenServed(Routes).then((r) => (routes = r));
    await jest.advanceTimersByTimeAsync(30_000);
    expect(request).toHaveBeenCalledTimes(2);
    expect(routes).toBeUndefined();
    served = true;
    await jest.advanceTimersByTimeAsync(30_000);
    expect(routes).toBe(caches.all()[0]);
    expect(list).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(90_000);
    expect(request).toHaveBeenCalledTimes(3); // no polling once served
    await caches.stop();
  });

  test('stopping the caches before the API appears stops the polling', async () => {
    jest.useFakeTimers();
    const { caches, request } = fakeCaches(() => false);
    void caches.whenServed(Routes);
    await jest.advanceTimersByTimeAsync(0);
    await caches.stop();
    await jest.advanceTimersByTimeAsync(120_000);
    expect(request).toHaveBeenCalledTimes(1);
  });
});

describe('a cluster-scoped kind (CSRs) whose status its controllers read', () => {
  test('is listed at the cluster scope whatever --namespaces says, and cached with its status and kind', async () => {
    const item = {
      metadata: { name: 'c', resourceVersion: '5', managedFields: [{ manager: 'kubectl' }] },
      spec: { signerName: 'annotary.io/ns.ca' },
      status: { conditions: [{ type: 'Approved', status: 'True' }] },
    };
    const list = jest.fn(async (_rt: unknown, _ns: string | undefined) => ({ metadata: { resourceVersion: '5' }, items: [item] }));
    const watch = async (_path: string, _query: unknown, _onEvent: unknown, done: (err?: unknown) => void) => {
      const a = new AbortController();
      a.signal.addEventListener('abort', () => done(Object.assign(new Error('aborted'), { name: 'AbortError' })));
      return a;
    };
    const client = { list, watch } as unknown as KubeClient;
    const caches = new SharedCaches({ client, namespaces: ['a', 'b'], resyncMs: 0, log: silentLogger(), metrics: createMetrics() });
    const csrs = caches.of(CertificateSigningRequests);
    caches.start();
    await csrs.synced;
    expect(list.mock.calls.map((c) => c[1])).toEqual([undefined]);
    expect(csrs.get('c')).toEqual({
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: expect.objectContaining({ name: 'c', resourceVersion: '5' }),
      spec: item.spec,
      status: item.status,
    });
    expect(csrs.get('c')!.metadata).not.toHaveProperty('managedFields');
    await caches.stop();
  });
});

describe('a resource in one of several versions (CronJobs: batch/v1 from 1.21, batch/v1beta1 before)', () => {
  test('a group version served without the resource does not count (1.20: batch/v1 lists Jobs only)', async () => {
    const { caches } = fakeCaches(() => true, { '/apis/batch/v1': ['jobs'], '/apis/batch/v1beta1': ['cronjobs'] });
    const cronJobs = await caches.whenServed(CronJobs, CronJobsV1beta1);
    expect(cronJobs.resource).toBe(CronJobsV1beta1);
    await caches.stop();
  });

  test('the first version listed that the cluster serves wins', async () => {
    const { caches } = fakeCaches(() => true, { '/apis/batch/v1': ['jobs', 'cronjobs'], '/apis/batch/v1beta1': ['cronjobs'] });
    expect((await caches.whenServed(CronJobs, CronJobsV1beta1)).resource).toBe(CronJobs);
    await caches.stop();
  });
});
