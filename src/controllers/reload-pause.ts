// stakater Reloader's deployment.reloader.stakater.com/pause-period, as its
// internal/pkg/handler/pause_deployment.go does it (read at 655a2b3): a rollout of a Deployment
// that carries it also pauses the Deployment (spec.paused: true, and the time in
// deployment.reloader.stakater.com/paused-at), so that further changes within the period change
// the template of a paused Deployment and roll once, at the resume; when the period has passed,
// spec.paused goes back to false and paused-at is removed. A Deployment paused by someone else
// (paused without paused-at) is not paused again, and never resumed by the operator.
//
// Reloader resumes from an in-process timer (a restarted Reloader resumes only at the next
// change); here the state is the annotation, so the resume is level-triggered: every reconcile
// of a Deployment paused this way looks at paused-at, after a restart too.
import type { AnnotationReader } from '../annotations.js';
import { A, parseGoDuration } from '../annotations.js';
import type { Refusal } from '../kube/refusal.js';
import { refuse } from '../kube/refusal.js';
import { rfc3339 } from '../time.js';

export interface PauseObserved {
  annotations: Record<string, string> | undefined;
  paused: boolean;
  now: number;
}

/**
 * What a rollout of a Deployment adds to its patch: the pause, when it has a pause period and is
 * not paused yet; a Refusal for a period Go cannot parse (Reloader's reload fails on it: no rollout).
 */
export function pauseOnRollout(o: PauseObserved, reader: AnnotationReader): { paused: true; pausedAt: string } | Refusal | undefined {
  const period = reader.get(o.annotations, A.rlPausePeriod);
  if (period === undefined) return undefined;
  if (parseGoDuration(period) === undefined) {
    return refuse('InvalidAnnotation', `${A.rlPausePeriod}: "${period}" is not a Go duration (5m, 1h30m); as in Reloader, no rollout`);
  }
  if (o.paused) return undefined; // paused already: by the operator (the period runs) or by someone else (left alone)
  return { paused: true, pausedAt: rfc3339(o.now) };
}

/**
 * Whether a Deployment this pause paused is due to resume: 'resume' now, or wait that long;
 * undefined when it is not paused that way. A pause-period removed or invalid meanwhile, or a
 * paused-at that is not a time, resumes at once (Reloader resumes on an unreadable paused-at).
 */
export function resumeDue(o: PauseObserved, reader: AnnotationReader): 'resume' | { waitMs: number } | undefined {
  const pausedAt = reader.get(o.annotations, A.rlPausedAt);
  if (!o.paused || !pausedAt) return undefined;
  const since = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(pausedAt) ? Date.parse(pausedAt) : NaN;
  const period = parseGoDuration(reader.get(o.annotations, A.rlPausePeriod) ?? '');
  if (Number.isNaN(since) || period === undefined) return 'resume';
  const left = since + period - o.now;
  return left <= 0 ? 'resume' : { waitMs: Math.ceil(left) };
}

/** The merge patch of a resume, preconditioned on the Deployment it was computed from. */
export function resumePatchBody(resourceVersion: string | undefined): Record<string, unknown> {
  return { metadata: { resourceVersion, annotations: { [A.rlPausedAt]: null } }, spec: { paused: false } };
}
