// The CA rotation state machine: every step of a rotation, its waits, and a CA that changes again.
import { rotationStep, type RotationInput } from '../../src/controllers/ca-rotation.js';

const GRACE = 60_000;
const at = (nowMs: number, over: Partial<RotationInput> = {}): RotationInput => ({
  issuedCa: 'A',
  currentCa: 'A',
  rotation: undefined,
  nowMs,
  graceMs: GRACE,
  ...over,
});

describe('rotationStep', () => {
  it('does nothing while the CA stays', () => {
    expect(rotationStep(at(1000))).toEqual({ step: 'none' });
  });

  it('walks trust-both → reissue → drop-old, a grace period apart', () => {
    expect(rotationStep(at(1000, { currentCa: 'B' }))).toEqual({ step: 'trust-both' });
    const trusting = { stage: 'trust-both' as const, sinceMs: 1000 };
    expect(rotationStep(at(1000 + GRACE - 1, { currentCa: 'B', rotation: trusting }))).toEqual({ step: 'wait', ms: 1 });
    expect(rotationStep(at(1000 + GRACE, { currentCa: 'B', rotation: trusting }))).toEqual({ step: 'reissue' });
    // after the re-issue the leaf is the new CA's
    const reissued = { stage: 'reissued' as const, sinceMs: 1000 + GRACE };
    expect(rotationStep(at(1000 + GRACE + 10, { issuedCa: 'B', currentCa: 'B', rotation: reissued }))).toEqual({
      step: 'wait',
      ms: GRACE - 10,
    });
    expect(rotationStep(at(1000 + 2 * GRACE, { issuedCa: 'B', currentCa: 'B', rotation: reissued }))).toEqual({ step: 'drop-old' });
  });

  it('starts over at trust-both when the CA changes again after the re-issue', () => {
    const reissued = { stage: 'reissued' as const, sinceMs: 5000 };
    expect(rotationStep(at(5001, { issuedCa: 'B', currentCa: 'C', rotation: reissued }))).toEqual({ step: 'trust-both' });
  });

  it('never re-issues before a full grace period of trusting both, whatever the clock did before', () => {
    for (const since of [0, 10_000, 99_999]) {
      const r = rotationStep(at(since + GRACE / 2, { currentCa: 'B', rotation: { stage: 'trust-both', sinceMs: since } }));
      expect(r).toEqual({ step: 'wait', ms: GRACE / 2 });
    }
  });
});
