// The reload controller's memory, as pure transitions: the settle window, changes put back
// when a reconcile cannot act, and what a recorded digest stands for.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ReloadTracker } from '../../src/controllers/reload-tracker.js';

const SETTLE = 3000;
const W = 'Deployment/ns/app';

describe('the settle window', () => {
  test('the first change opens it: a reconcile inside it waits for the rest of the window, after it takes the change', () => {
    const t = new ReloadTracker(SETTLE);
    t.dataChanged(W, 1000);
    expect(t.begin(W, 1000)).toEqual({ waitMs: 3000 });
    expect(t.begin(W, 2500)).toEqual({ waitMs: 1500 });
    expect(t.begin(W, 4000)).toEqual({ taken: { firstSeen: 1000, windowEnd: 4000 } });
    expect(t.begin(W, 4001)).toEqual({ taken: undefined }); // taken once
  });

  test('later changes within the window do not push it back (a steady trickle cannot postpone a rollout)', () => {
    const t = new ReloadTracker(SETTLE);
    for (let now = 1000; now < 4000; now += 500) t.dataChanged(W, now);
    expect(t.begin(W, 4000)).toEqual({ taken: { firstSeen: 1000, windowEnd: 4000 } });
  });

  test('a change after a closed window of a blocked workload opens a new window, keeping the first change', () => {
    const t = new ReloadTracker(SETTLE);
    t.dataChanged(W, 1000);
    const begun = t.begin(W, 4000);
    if (!('taken' in begun)) throw new Error('expected the change');
    t.restore(W, begun.taken); // blocked: e.g. the keystore controller has not written yet
    t.dataChanged(W, 9000);
    expect(t.begin(W, 9000)).toEqual({ waitMs: 3000 });
    expect(t.begin(W, 12000)).toEqual({ taken: { firstSeen: 1000, windowEnd: 12000 } });
  });

  test('restored changes merge with changes that came meanwhile: the earliest first change wins', () => {
    const t = new ReloadTracker(SETTLE);
    t.dataChanged(W, 1000);
    const begun = t.begin(W, 5000);
    if (!('taken' in begun)) throw new Error('expected the change');
    t.dataChanged(W, 5500); // during the failed write
    t.restore(W, begun.taken);
    expect(t.begin(W, 9000)).toEqual({ taken: { firstSeen: 1000, windowEnd: 8500 } });
  });

  test('workloads have windows of their own; forget drops everything of one', () => {
    const t = new ReloadTracker(SETTLE);
    t.dataChanged(W, 1000);
    t.dataChanged('StatefulSet/ns/db', 2000);
    t.confirm(W, { digest: 'D1', objects: new Map([['Secret/a', 'd1']]) }, ['Secret/b']);
    t.forget(W);
    expect(t.begin(W, 1000)).toEqual({ taken: undefined });
    expect(t.knownDigests(W, 'D1')).toBeUndefined();
    expect(t.missingSince(W)).toEqual(new Set());
    expect(t.begin('StatefulSet/ns/db', 2000)).toEqual({ waitMs: 3000 });
  });

  test('property: a taken change was first seen no later than any change of its window, and never waited beyond settle', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 2000 })), { minLength: 1, maxLength: 30 }), (steps) => {
        const t = new ReloadTracker(SETTLE);
        let now = 0;
        let firstUntaken: number | undefined;
        for (const [change, dt] of steps) {
          now += dt;
          if (change) {
            t.dataChanged(W, now);
            firstUntaken ??= now;
            continue;
          }
          const b = t.begin(W, now);
          if ('waitMs' in b) {
            expect(b.waitMs).toBeLessThanOrEqual(SETTLE);
            expect(firstUntaken).toBeDefined();
            continue;
          }
          if (b.taken) {
            expect(b.taken.firstSeen).toBe(firstUntaken);
            expect(b.taken.windowEnd).toBeLessThanOrEqual(now);
          } else expect(firstUntaken).toBeUndefined();
          firstUntaken = undefined;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('what a recorded digest stands for', () => {
  const a1 = { digest: 'D1', objects: new Map([['Secret/a', 'd1']]) };
  test('missing objects accumulate until a digest is confirmed, which records the ones still missing', () => {
    const t = new ReloadTracker(SETTLE);
    t.sawMissing(W, ['Secret/a']);
    t.sawMissing(W, ['Secret/b']);
    expect(t.missingSince(W)).toEqual(new Set(['Secret/a', 'Secret/b']));
    t.confirm(W, a1, ['Secret/b']);
    expect(t.missingSince(W)).toEqual(new Set(['Secret/b']));
    expect(t.knownDigests(W, 'D1')).toEqual(new Map([['Secret/a', 'd1']]));
    t.confirm(W, undefined, []); // no digest (reload annotations gone): the known digests stay as they were
    expect(t.missingSince(W)).toEqual(new Set());
    expect(t.knownDigests(W, 'D1')).toEqual(new Map([['Secret/a', 'd1']]));
  });

  test('the per-object digests count only while the workload records the digest they were confirmed with', () => {
    const t = new ReloadTracker(SETTLE);
    t.confirm(W, a1, []);
    // a write whose answer was lost landed: the workload records D2, which this process never confirmed
    expect(t.knownDigests(W, 'D2')).toBeUndefined();
    expect(t.knownDigests(W, undefined)).toBeUndefined();
    expect(t.knownDigests(W, 'D1')).toBe(a1.objects);
  });
});
