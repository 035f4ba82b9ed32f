// The one write-and-report path: what each answer of the apiserver becomes.
import { describe, expect, test } from '@jest/globals';
import type { KubeClient } from '../../src/kube/client.js';
import { ApiError } from '../../src/kube/client.js';
import type { EventSink } from '../../src/kube/events.js';
import { refuse } from '../../src/kube/refusal.js';
import { Secrets } from '../../src/kube/types.js';
import { Writer } from '../../src/kube/writer.js';
import { createMetrics } from '../../src/metrics.js';

const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns', resourceVersion: '7' } };

function writerAnswering(answer: () => Promise<unknown>) {
  const metrics = createMetrics();
  const events: string[] = [];
  const sink: EventSink = { emit: (_o, type, reason) => events.push(`${type} ${reason}`) };
  const client = { patch: answer, create: answer, delete: answer } as unknown as KubeClient;
  return { write: new Writer(client, metrics, sink, 'keystores'), metrics, events };
}
const value = async (c: { get(): Promise<{ values: { labels: object; value: number }[] }> }) => (await c.get()).values;

describe('Writer', () => {
  test('a write that succeeds is counted by controller, kind and verb', async () => {
    const { write, metrics } = writerAnswering(async () => ({}));
    expect(await write.patch(Secrets, secret, { metadata: { resourceVersion: '7' } })).toBeUndefined();
    expect(await value(metrics.writesTotal)).toEqual([{ labels: { controller: 'keystores', kind: 'Secret', verb: 'patch' }, value: 1 }]);
  });

  test('409 Conflict is counted and rethrown: the work queue retries from the newer cache', async () => {
    const { write, metrics } = writerAnswering(async () => {
      throw new ApiError(409, 'Conflict', 'modified');
    });
    await expect(write.patch(Secrets, secret, {})).rejects.toThrow('modified');
    expect(await value(metrics.conflictsTotal)).toEqual([{ labels: { controller: 'keystores', kind: 'Secret' }, value: 1 }]);
    expect(await value(metrics.writesTotal)).toEqual([]);
  });

  test.each([400, 413, 422])("%i is a refusal for good: WriteRejected with the apiserver's reason, counted, not thrown", async (status) => {
    const { write, metrics } = writerAnswering(async () => {
      throw new ApiError(status, 'Invalid', 'data: Too long');
    });
    const r = await write.patch(Secrets, secret, {});
    expect(r).toMatchObject({ reason: 'WriteRejected' });
    expect(r!.message).toBe(`the apiserver refused the patch (${status} Invalid): data: Too long`);
    expect(await value(metrics.writesRejectedTotal)).toEqual([
      { labels: { controller: 'keystores', kind: 'Secret', status: String(status) }, value: 1 },
    ]);
  });

  test('other errors (403, 500, timeouts) are rethrown for the queue to retry', async () => {
    for (const status of [403, 500]) {
      const { write } = writerAnswering(async () => {
        throw new ApiError(status, 'X', 'no');
      });
      await expect(write.create(Secrets, 'ns', secret)).rejects.toBeInstanceOf(ApiError);
    }
  });

  test('deleting what is already gone is done', async () => {
    const { write, metrics } = writerAnswering(async () => {
      throw new ApiError(404, 'NotFound', 'gone');
    });
    expect(await write.delete(Secrets, 'ns', 's')).toBeUndefined();
    expect(await value(metrics.writesTotal)).toEqual([{ labels: { controller: 'keystores', kind: 'Secret', verb: 'delete' }, value: 1 }]);
  });

  test('warn: a Warning Event and the invalid-input metric; note: a Normal Event', async () => {
    const { write, metrics, events } = writerAnswering(async () => ({}));
    write.warn(secret, refuse('KeyConflict', 'key "a" exists'));
    write.note(secret, 'StoresUpdated', 'wrote keystore.jks');
    expect(events).toEqual(['Warning KeyConflict', 'Normal StoresUpdated']);
    expect(await value(metrics.invalidInputTotal)).toEqual([{ labels: { controller: 'keystores', reason: 'KeyConflict' }, value: 1 }]);
  });
});
