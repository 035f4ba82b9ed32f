// The leader-election decision and the Lease a candidate writes (pure functions, no cluster),
// and the elector's release against an in-memory Lease.
import type { KubeClient } from '../../src/kube/client.js';
import { ApiError } from '../../src/kube/client.js';
import type { Lease } from '../../src/kube/leader.js';
import { LeaderElector, decideLease, leaseFor, microTime } from '../../src/kube/leader.js';
import type { Logger } from '../../src/log.js';
import { silentLogger } from './helpers.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const lease = (spec: Lease['spec'], resourceVersion = '7'): Lease => ({
  metadata: { name: 'annotary', namespace: 'ns', resourceVersion },
  spec,
});

describe('decideLease', () => {
  test('no Lease yet: acquire', () => {
    expect(decideLease(undefined, T0, 'me', 15_000)).toBe('acquire');
  });

  test('a released Lease (no holder): acquire', () => {
    expect(decideLease(lease({ holderIdentity: '', renewTime: microTime(T0) }), T0, 'me', 15_000)).toBe('acquire');
  });

  test('our own Lease: renew, even when it has expired', () => {
    expect(decideLease(lease({ holderIdentity: 'me', renewTime: microTime(T0), leaseDurationSeconds: 15 }), T0 + 1000, 'me', 15_000)).toBe(
      'renew',
    );
    expect(
      decideLease(lease({ holderIdentity: 'me', renewTime: microTime(T0), leaseDurationSeconds: 15 }), T0 + 60_000, 'me', 15_000),
    ).toBe('renew');
  });

  test("another holder's Lease: wait until renewTime + leaseDurationSeconds has passed, then acquire", () => {
    const other = lease({ holderIdentity: 'other', renewTime: microTime(T0), leaseDurationSeconds: 10 });
    expect(decideLease(other, T0, 'me', 15_000)).toBe('wait');
    expect(decideLease(other, T0 + 10_000, 'me', 15_000)).toBe('wait');
    expect(decideLease(other, T0 + 10_001, 'me', 15_000)).toBe('acquire');
  });

  test("the holder's leaseDurationSeconds counts, not ours", () => {
    const other = lease({ holderIdentity: 'other', renewTime: microTime(T0), leaseDurationSeconds: 60 });
    expect(decideLease(other, T0 + 30_000, 'me', 4_000)).toBe('wait');
  });

  test('without leaseDurationSeconds our duration applies; without renewTime the acquireTime', () => {
    expect(decideLease(lease({ holderIdentity: 'other', acquireTime: microTime(T0) }), T0 + 3_000, 'me', 4_000)).toBe('wait');
    expect(decideLease(lease({ holderIdentity: 'other', acquireTime: microTime(T0) }), T0 + 5_000, 'me', 4_000)).toBe('acquire');
  });

  test('a holder without any timestamp holds nothing', () => {
    expect(decideLease(lease({ holderIdentity: 'other' }), T0, 'me', 4_000)).toBe('acquire');
  });
});

describe('leaseFor', () => {
  const meta = { name: 'annotary', namespace: 'ns' };

  test('taking over keeps the resourceVersion (the precondition) and counts a transition', () => {
    const old = lease({
      holderIdentity: 'other',
      acquireTime: microTime(T0 - 99_000),
      renewTime: microTime(T0 - 20_000),
      leaseDurationSeconds: 15,
      leaseTransitions: 2,
    });
    const l = leaseFor('acquire', old, meta, 'me', 15_000, T0);
    expect(l.metadata.resourceVersion).toBe('7');
    expect(l.spec).toEqual({
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: microTime(T0),
      renewTime: microTime(T0),
      leaseTransitions: 3,
    });
  });

  test('renewing moves renewTime only', () => {
    const old = lease({
      holderIdentity: 'me',
      acquireTime: microTime(T0 - 10_000),
      renewTime: microTime(T0 - 5_000),
      leaseDurationSeconds: 15,
      leaseTransitions: 1,
    });
    expect(leaseFor('renew', old, meta, 'me', 15_000, T0).spec).toEqual({
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: microTime(T0 - 10_000),
      renewTime: microTime(T0),
      leaseTransitions: 1,
    });
  });

  test("keeps the observed Lease's labels and annotations (an installer's, e.g. Helm's ownership), whoever holds it", () => {
    const old = lease({ holderIdentity: 'other', renewTime: microTime(T0 - 20_000), leaseDurationSeconds: 15 });
    old.metadata.labels = { 'app.kubernetes.io/managed-by': 'Helm' };
    old.metadata.annotations = { 'meta.helm.sh/release-name': 'annotary' };
    for (const decision of ['acquire', 'renew'] as const) {
      const l = leaseFor(decision, old, meta, 'me', 15_000, T0);
      expect(l.metadata).toMatchObject({ labels: old.metadata.labels, annotations: old.metadata.annotations });
    }
  });

  test('the first Lease has no resourceVersion and no transitions; sub-second durations round up', () => {
    const l = leaseFor('acquire', undefined, meta, 'me', 500, T0);
    expect(l.metadata.resourceVersion).toBeUndefined();
    expect(l.spec?.leaseTransitions).toBe(0);
    expect(l.spec?.leaseDurationSeconds).toBe(1);
  });

  test('re-acquiring a Lease we released is not a transition', () => {
    expect(leaseFor('acquire', lease({ holderIdentity: '', leaseTransitions: 4 }), meta, 'me', 4_000, T0).spec?.leaseTransitions).toBe(4);
  });
});

test('microTime has the six fractional digits metav1.MicroTime requires', () => {
  expect(microTime(T0 + 123)).toBe('2026-01-01T00:00:00.123000Z');
});

describe('LeaderElector', () => {
  /** One Lease in memory with the apiserver's precondition; a renewal can be held in flight. */
  class LeaseStore {
    lease: Lease | undefined;
    private rv = 1;
    /** while set, the next replace waits until the next read (or a short timer), then commits; `held` resolves when it waits */
    private holdNextReplace: (() => void) | undefined;
    private onRead: (() => void) | undefined;

    holdNext(): Promise<void> {
      return new Promise((r) => (this.holdNextReplace = r));
    }

    get client(): KubeClient {
      return this as unknown as KubeClient;
    }
    async tryGet(): Promise<Lease | undefined> {
      const snapshot = structuredClone(this.lease);
      this.onRead?.();
      return snapshot;
    }
    async create(_rt: unknown, _ns: string, body: Lease): Promise<Lease> {
      return this.commit(body);
    }
    async replace(_rt: unknown, _ns: string, _name: string, body: Lease): Promise<Lease> {
      const held = this.holdNextReplace;
      if (held) {
        this.holdNextReplace = undefined;
        held();
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 50);
          this.onRead = () => {
            clearTimeout(t);
            this.onRead = undefined;
            resolve();
          };
        });
      }
      if (body.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) throw new ApiError(409, 'Conflict', 'modified');
      return this.commit(body);
    }
    private commit(body: Lease): Lease {
      this.lease = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
      return structuredClone(this.lease);
    }
  }

  test('stopped while a renewal is in flight, the leader still releases the Lease (one writer of it at a time)', async () => {
    const store = new LeaseStore();
    const lines: string[] = [];
    const log = { ...silentLogger(), info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) } as unknown as Logger;
    let led!: () => void;
    const leading = new Promise<void>((r) => (led = r));
    const elector = new LeaderElector({
      client: store.client,
      namespace: 'ns',
      name: 'annotary',
      identity: 'me',
      durationMs: 300, // a renewal every 100 ms
      log,
      onLeading: led,
      onLost: () => lines.push('lost'),
    });
    elector.start();
    await leading;
    await store.holdNext(); // the next renewal: sent, not yet committed
    await elector.stop();
    expect(store.lease?.spec?.holderIdentity).toBe('');
    expect(lines).toContain('released the lease');
  });
});
