// Reloader's deployment.reloader.stakater.com/pause-period: Go's duration syntax, when a rollout
// pauses, when the pause ends (pure functions of the annotations, spec.paused and a given time).
import { A, AnnotationReader } from '../../src/annotations.js';
import { parseGoDuration } from '../../src/annotations.js';
import { pauseOnRollout, resumeDue, resumePatchBody } from '../../src/controllers/reload-pause.js';
import { isRefusal } from '../../src/kube/refusal.js';

const reader = new AnnotationReader(true);
const T0 = Date.parse('2026-01-01T00:00:00Z');

describe("Go's time.ParseDuration", () => {
  test.each([
    ['0', 0],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['.5m', 30_000],
    ['5.s', 5000],
    ['300ms', 300],
    ['2us', 0.002],
    ['-1s', -1000],
    ['+2s', 2000],
  ])('%s is %d ms', (text, ms) => expect(parseGoDuration(text)).toBe(ms));
  test.each(['', '5', '1d', '.s', 'm', '5 m', ' 5m', '1h-5m', '5M'])('"%s" is refused, as Go refuses it', (text) =>
    expect(parseGoDuration(text)).toBeUndefined(),
  );
});

describe('a rollout pauses a Deployment with a pause period', () => {
  const ann = { [A.rlPausePeriod]: '10m' };
  test('not paused: paused now, the time recorded', () =>
    expect(pauseOnRollout({ annotations: ann, paused: false, now: T0 }, reader)).toEqual({
      paused: true,
      pausedAt: '2026-01-01T00:00:00Z',
    }));
  test('paused already (by the operator or anyone): nothing more', () =>
    expect(pauseOnRollout({ annotations: ann, paused: true, now: T0 }, reader)).toBeUndefined());
  test('no period, or --compat=false: no pause', () => {
    expect(pauseOnRollout({ annotations: {}, paused: false, now: T0 }, reader)).toBeUndefined();
    expect(pauseOnRollout({ annotations: ann, paused: false, now: T0 }, new AnnotationReader(false))).toBeUndefined();
  });
  test('a period Go cannot parse: refused (Reloader fails that reload)', () => {
    const r = pauseOnRollout({ annotations: { [A.rlPausePeriod]: '10 minutes' }, paused: false, now: T0 }, reader);
    expect(isRefusal(r) && r.reason).toBe('InvalidAnnotation');
  });
});

describe('the resume', () => {
  const pausedAt = { [A.rlPausePeriod]: '10m', [A.rlPausedAt]: '2026-01-01T00:00:00Z' };
  test('within the period: wait for the rest of it; at its end: resume', () => {
    expect(resumeDue({ annotations: pausedAt, paused: true, now: T0 + 60_000 }, reader)).toEqual({ waitMs: 540_000 });
    expect(resumeDue({ annotations: pausedAt, paused: true, now: T0 + 600_000 }, reader)).toBe('resume');
  });
  test('not paused, or paused by someone else (no paused-at): not ours to resume', () => {
    expect(resumeDue({ annotations: pausedAt, paused: false, now: T0 }, reader)).toBeUndefined();
    expect(resumeDue({ annotations: { [A.rlPausePeriod]: '10m' }, paused: true, now: T0 }, reader)).toBeUndefined();
  });
  test('paused-at not a time, or the period removed or invalid meanwhile: resume at once', () => {
    expect(resumeDue({ annotations: { ...pausedAt, [A.rlPausedAt]: 'yesterday' }, paused: true, now: T0 }, reader)).toBe('resume');
    expect(resumeDue({ annotations: { [A.rlPausedAt]: '2026-01-01T00:00:00Z' }, paused: true, now: T0 }, reader)).toBe('resume');
  });
  test('the resume patch: unpaused, paused-at removed, preconditioned', () =>
    expect(resumePatchBody('42')).toEqual({
      metadata: { resourceVersion: '42', annotations: { [A.rlPausedAt]: null } },
      spec: { paused: false },
    }));
});
