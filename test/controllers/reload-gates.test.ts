// The reload gates as pure functions and transitions (the time is always an argument): the
// flap guard's grammar and history, kubectl's rollout-status rule, the rollout budget, and
// restart windows with their deadline.
import { describe, expect, test } from '@jest/globals';
import { isRefusal } from '../../src/kube/refusal.js';
import type { KubeObject } from '../../src/kube/types.js';
import { FlapHistory, RolloutBudget, flapLimit, parseFlapGuard, rolloutInProgress } from '../../src/controllers/reload-gates.js';
import type { ReloadWindow } from '../../src/controllers/reload-window.js';
import {
  DEADLINE_MARGIN_MS,
  parseReloadWindow,
  parseServedNotAfter,
  servedNotAfterValue,
  windowAt,
  windowVerdict,
} from '../../src/controllers/reload-window.js';

const W = 'Deployment/ns/app';
const S = 1000;
const H = 3_600_000;

describe('the flap guard', () => {
  test('N/M parses; off and empty mean no guard; bad values are refused with the key named', () => {
    expect(parseFlapGuard('5/10m')).toEqual({ changes: 5, withinMs: 600_000, text: '5/10m' });
    expect(parseFlapGuard(' 3/20s ')).toEqual({ changes: 3, withinMs: 20_000, text: '3/20s' });
    expect(parseFlapGuard('off')).toBe('off');
    expect(parseFlapGuard('')).toBeUndefined();
    for (const bad of ['5', '5/', '/10m', '0/10m', '101/10m', '5/10', '5/500ms', '5/25h', 'five/10m', '5/10m/1m']) {
      const r = parseFlapGuard(bad);
      expect(isRefusal(r) && r.reason === 'InvalidAnnotation' && r.message.includes('annotary.io/reload-flap-guard')).toBe(true);
    }
  });

  test("the workload's annotation wins over the flag's default; off turns the default off", () => {
    const dflt = { changes: 5, withinMs: 600_000, text: '5/10m' };
    expect(flapLimit(undefined, dflt)).toBe(dflt);
    expect(flapLimit(undefined, null)).toBeUndefined();
    expect(flapLimit('off', dflt)).toBeUndefined();
    expect(flapLimit('2/1m', dflt)).toEqual({ changes: 2, withinMs: 60_000, text: '2/1m' });
    expect(isRefusal(flapLimit('2/x', dflt))).toBe(true);
  });

  const limit = { changes: 3, withinMs: 20 * S, text: '3/20s' };

  test('N changes within M roll; the N+1st is held once (entered), until M without a change; then one rollout', () => {
    const f = new FlapHistory();
    for (const t of [0, 2, 4]) {
      f.changed(W, t * S);
      expect(f.verdict(W, limit, t * S)).toEqual({ hold: false });
    }
    f.changed(W, 6 * S);
    expect(f.verdict(W, limit, 6 * S)).toEqual({ hold: true, entered: true, untilMs: 26 * S, count: 4 });
    f.changed(W, 8 * S);
    expect(f.verdict(W, limit, 8 * S)).toEqual({ hold: true, entered: false, untilMs: 28 * S, count: 5 });
    // N or fewer changes are left within M, but it has not been quiet for M yet: still held
    expect(f.verdict(W, limit, 25 * S)).toEqual({ hold: true, entered: false, untilMs: 28 * S, count: 2 });
    expect(f.verdict(W, limit, 28 * S)).toEqual({ hold: false, heldSince: 6 * S });
    expect(f.verdict(W, limit, 29 * S)).toEqual({ hold: false }); // released once
  });

  test('changes spread wider than M never hold; a guard removed releases a hold; forget drops the history', () => {
    const f = new FlapHistory();
    for (let t = 0; t < 100; t += 7) {
      f.changed(W, t * S);
      expect(f.verdict(W, limit, t * S).hold).toBe(false);
    }
    const g = new FlapHistory();
    for (const t of [0, 1, 2, 3]) g.changed(W, t * S);
    expect(g.verdict(W, limit, 3 * S).hold).toBe(true);
    expect(g.verdict(W, undefined, 4 * S)).toEqual({ hold: false, heldSince: 3 * S });
    for (const t of [10, 11, 12, 13]) g.changed(W, t * S);
    g.forget(W);
    expect(g.verdict(W, limit, 14 * S)).toEqual({ hold: false });
  });

  test('a restarted operator (a new history) holds nothing: the pending rollout happens once, then the guard counts again', () => {
    const before = new FlapHistory();
    for (const t of [0, 1, 2, 3]) before.changed(W, t * S);
    expect(before.verdict(W, limit, 3 * S).hold).toBe(true);
    const after = new FlapHistory();
    expect(after.verdict(W, limit, 4 * S)).toEqual({ hold: false });
  });
});

const deploy = (generation: number, spec: object, status: object): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd', generation },
  spec,
  status,
});

describe("a rollout in progress: kubectl rollout status's rule", () => {
  test('Deployments: spec not observed yet, replicas not updated, old ones not gone, updated ones not available; a passed deadline is done', () => {
    const done = { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1 };
    expect(rolloutInProgress('Deployment', deploy(2, { replicas: 1 }, done))).toBe(false);
    expect(rolloutInProgress('Deployment', deploy(3, { replicas: 1 }, done))).toBe(true);
    expect(rolloutInProgress('Deployment', deploy(2, { replicas: 1 }, { ...done, updatedReplicas: 0 }))).toBe(true);
    expect(rolloutInProgress('Deployment', deploy(2, { replicas: 1 }, { ...done, replicas: 2 }))).toBe(true);
    expect(rolloutInProgress('Deployment', deploy(2, { replicas: 1 }, { ...done, availableReplicas: 0 }))).toBe(true);
    // replicas: 0 completes as soon as the spec is observed (the e2e tests use this: no kubelet there)
    expect(rolloutInProgress('Deployment', deploy(2, { replicas: 0 }, { observedGeneration: 2 }))).toBe(false);
    const timedOut = { ...done, updatedReplicas: 0, conditions: [{ type: 'Progressing', reason: 'ProgressDeadlineExceeded' }] };
    expect(rolloutInProgress('Deployment', deploy(2, { replicas: 1 }, timedOut))).toBe(false);
  });

  test('StatefulSets: observed, ready, partition, revisions; OnDelete never counts', () => {
    const sts = (spec: object, status: object) => ({ ...deploy(2, spec, status), kind: 'StatefulSet' });
    const ok = { observedGeneration: 2, readyReplicas: 2, updatedReplicas: 2, currentRevision: 'a', updateRevision: 'a' };
    expect(rolloutInProgress('StatefulSet', sts({ replicas: 2 }, ok))).toBe(false);
    expect(rolloutInProgress('StatefulSet', sts({ replicas: 2 }, { ...ok, observedGeneration: 0 }))).toBe(true);
    expect(rolloutInProgress('StatefulSet', sts({ replicas: 2 }, { ...ok, readyReplicas: 1 }))).toBe(true);
    expect(rolloutInProgress('StatefulSet', sts({ replicas: 2 }, { ...ok, updateRevision: 'b' }))).toBe(true);
    const part = { replicas: 2, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } };
    expect(rolloutInProgress('StatefulSet', sts(part, { ...ok, updatedReplicas: 1, updateRevision: 'b' }))).toBe(false);
    expect(rolloutInProgress('StatefulSet', sts(part, { ...ok, updatedReplicas: 0 }))).toBe(true);
    expect(rolloutInProgress('StatefulSet', sts({ updateStrategy: { type: 'OnDelete' } }, {}))).toBe(false);
  });

  test('DaemonSets: observed, updated and available on every scheduled node', () => {
    const ds = (status: object) => ({ ...deploy(2, {}, status), kind: 'DaemonSet' });
    const ok = { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 };
    expect(rolloutInProgress('DaemonSet', ds(ok))).toBe(false);
    expect(rolloutInProgress('DaemonSet', ds({ ...ok, observedGeneration: 1 }))).toBe(true);
    expect(rolloutInProgress('DaemonSet', ds({ ...ok, updatedNumberScheduled: 2 }))).toBe(true);
    expect(rolloutInProgress('DaemonSet', ds({ ...ok, numberAvailable: 2 }))).toBe(true);
  });
});

describe('the rollout budget', () => {
  const rolling = deploy(2, { replicas: 1 }, { observedGeneration: 2, updatedReplicas: 0 });
  const settled = (g: number) => deploy(g, { replicas: 0 }, { observedGeneration: g });
  const of = (id: string, wl: KubeObject) => ({ id, kind: 'Deployment', wl });

  test('under the limit a rollout takes a place; at it, it waits; a completed rollout frees its place; 0 is no limit', () => {
    const b = new RolloutBudget(1);
    expect(b.take('a', 1, [of('a', settled(1)), of('b', rolling)])).toEqual({ ok: false, inProgress: 1 });
    expect(b.take('a', 1, [of('a', settled(1)), of('b', settled(2))])).toEqual({ ok: true, inProgress: 0 });
    expect(new RolloutBudget(0).take('a', 1, [of('b', rolling), of('c', rolling)])).toEqual({ ok: true, inProgress: 2 });
  });

  test('a place taken counts until the cache shows the write (generation moved), then the status decides; release gives it back', () => {
    const b = new RolloutBudget(1);
    expect(b.take('a', 1, [of('a', settled(1)), of('b', settled(1))]).ok).toBe(true);
    // the cache still shows a at generation 1: b cannot take the last place
    expect(b.take('b', 1, [of('a', settled(1)), of('b', settled(1))])).toEqual({ ok: false, inProgress: 1 });
    // a's write is cached and its rollout completed
    expect(b.take('b', 1, [of('a', settled(2)), of('b', settled(1))]).ok).toBe(true);
    b.release('b');
    expect(b.take('c', 1, [of('a', settled(2)), of('b', settled(1)), of('c', settled(1))]).ok).toBe(true);
  });
});

// 2026-12-02 is a Wednesday
const at = (iso: string) => Date.parse(iso);
const win = (text: string): ReloadWindow => {
  const w = parseReloadWindow(text);
  if (isRefusal(w)) throw new Error(w.message);
  return w;
};

describe('restart windows', () => {
  test('the grammar: days, ranges that wrap the week, times over midnight, offsets, several windows', () => {
    expect(win('Mon-Fri 01:00-05:00 UTC').windows).toEqual([{ days: new Set([1, 2, 3, 4, 5]), start: 60, end: 300, offset: 0 }]);
    expect(win('fri-mon 22:00-04:00').windows[0]).toEqual({ days: new Set([5, 6, 0, 1]), start: 1320, end: 240, offset: 0 });
    expect(win('Sat,Sun 00:00-24:00 UTC+02:00').windows[0]).toEqual({ days: new Set([6, 0]), start: 0, end: 1440, offset: 120 });
    expect(win('01:00-02:00 UTC-05:30; Sun 10:00-11:00').windows.map((w) => w.offset)).toEqual([-330, 0]);
    expect(win('01:00-02:00').windows[0].days.size).toBe(7);
  });

  test('bad values are refused, naming the key and the part', () => {
    for (const bad of [
      '',
      'nightly',
      'Mon-Fri',
      '1:00-05:00',
      'Mon-Fry 01:00-05:00',
      'Mon- 01:00-05:00',
      '25:00-26:00',
      '01:60-02:00',
      '24:30-01:00',
      '01:00-01:00',
      '00:00-24:00 CET',
      '01:00-02:00 UTC+15:00',
      '01:00-02:00;',
    ]) {
      const r = parseReloadWindow(bad);
      expect(isRefusal(r) && r.reason === 'InvalidAnnotation' && r.message.includes('annotary.io/reload-window')).toBe(true);
    }
  });

  test('open or closed at a time: until when, or when the next one opens', () => {
    const nights = win('Mon-Fri 01:00-05:00 UTC');
    expect(windowAt(nights, at('2026-12-02T02:00:00Z'))).toEqual({ open: true, closesAtMs: at('2026-12-02T05:00:00Z') });
    expect(windowAt(nights, at('2026-12-02T05:00:00Z'))).toEqual({ open: false, opensAtMs: at('2026-12-03T01:00:00Z') });
    // Friday after the window: Monday's
    expect(windowAt(nights, at('2026-12-04T12:00:00Z'))).toEqual({ open: false, opensAtMs: at('2026-12-07T01:00:00Z') });
    // over midnight: opened on Friday 22:00, still open on Saturday 03:00
    const late = win('Fri 22:00-04:00');
    expect(windowAt(late, at('2026-12-05T03:00:00Z'))).toEqual({ open: true, closesAtMs: at('2026-12-05T04:00:00Z') });
    // an offset: 01:00 at UTC+02:00 is 23:00 UTC the day before
    const east = win('01:00-02:00 UTC+02:00');
    expect(windowAt(east, at('2026-12-02T23:30:00Z'))).toEqual({ open: true, closesAtMs: at('2026-12-03T00:00:00Z') });
    // several: the earliest opening
    const two = win('Mon 01:00-02:00; Thu 03:00-04:00');
    expect(windowAt(two, at('2026-12-02T12:00:00Z'))).toEqual({ open: false, opensAtMs: at('2026-12-03T03:00:00Z') });
  });

  test('the deadline: outside a window, a served certificate expiring before the next opening (and the margin) rolls now', () => {
    const nights = win('01:00-05:00 UTC');
    const now = at('2026-12-02T12:00:00Z');
    const opens = at('2026-12-03T01:00:00Z');
    expect(windowVerdict(nights, at('2026-12-02T02:00:00Z'), undefined)).toEqual({ roll: true });
    expect(windowVerdict(nights, now, undefined)).toEqual({ roll: false, opensAtMs: opens, servedNotAfterMs: undefined });
    expect(windowVerdict(nights, now, opens + 30 * 24 * H)).toEqual({
      roll: false,
      opensAtMs: opens,
      servedNotAfterMs: opens + 30 * 24 * H,
    });
    expect(windowVerdict(nights, now, opens + DEADLINE_MARGIN_MS + 1).roll).toBe(false);
    expect(windowVerdict(nights, now, opens + DEADLINE_MARGIN_MS)).toEqual({
      roll: true,
      forced: { servedNotAfterMs: opens + DEADLINE_MARGIN_MS, opensAtMs: opens },
    });
    expect(windowVerdict(nights, now, now + H)).toEqual({ roll: true, forced: { servedNotAfterMs: now + H, opensAtMs: opens } });
  });

  test('served-not-after round-trips; anything else reads as unknown', () => {
    const ms = at('2027-01-01T00:00:00Z');
    expect(servedNotAfterValue(ms + 123)).toBe('2027-01-01T00:00:00Z');
    expect(parseServedNotAfter(servedNotAfterValue(ms))).toBe(ms);
    for (const bad of [undefined, '', 'tomorrow', '2027-01-01', '2027-13-01T00:00:00Z']) expect(parseServedNotAfter(bad)).toBeUndefined();
  });
});
