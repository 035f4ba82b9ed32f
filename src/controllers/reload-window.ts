// Restart windows with a deadline (#17): annotary.io/reload-window on a workload lets its
// rollouts happen only inside the windows it declares (nights, weekends), except when the
// certificate its pods still serve would expire before the next window opens: then it rolls at
// once. What the pods serve is recorded on the workload (annotary.io/served-not-after, the
// earliest notAfter of the watched TLS Secrets' tls.crt) in the same patch as the digest the
// pods were rolled onto (or onboarded with), so it survives restarts like the digest does.
// Outside a window nothing is written: the digest stays behind the data, and that difference
// IS the deferred rollout, level-triggered: a restarted operator finds it and defers it again.
//
// Everything here is pure: the time is an argument, nothing reads a clock.
//
// Grammar of the value: windows separated by ";", each `[<days>] <HH:MM>-<HH:MM> [<zone>]`:
//   - days: a comma list of days or ranges of days (Mon, Tue, Wed, Thu, Fri, Sat, Sun, any
//     case; "Fri-Mon" wraps the week); the days the window OPENS on. Absent: every day.
//   - times: 24-hour, the start inclusive, the end exclusive; an end before the start closes the
//     window the next day ("22:00-04:00"); "24:00" is the end of the day. Equal times are refused.
//   - zone: UTC (the default) or a fixed offset UTC+HH:MM / UTC-HH:MM (no daylight saving).
// Example: "Mon-Fri 01:00-05:00 UTC; Sat,Sun 00:00-08:00 UTC".
import { A } from '../annotations.js';
import type { Refusal } from '../kube/refusal.js';
import { refuse } from '../kube/refusal.js';
import { rfc3339 } from '../time.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
/**
 * A rollout takes time: the certificate the pods serve must still be valid this long after the
 * next window opens, or the rollout happens now.
 */
export const DEADLINE_MARGIN_MS = 60 * MINUTE;

export interface Window {
  /** weekdays it opens on, 0 = Sunday (UTC+offset days) */
  days: Set<number>;
  /** minutes after local midnight */
  start: number;
  end: number;
  /** the zone's offset from UTC, minutes */
  offset: number;
}

export interface ReloadWindow {
  text: string;
  windows: Window[];
}

const WINDOW = /^(?:(\S+)\s+)?(\d\d):(\d\d)-(\d\d):(\d\d)(?:\s+UTC(?:([+-])(\d\d):(\d\d))?)?$/i;

function parseDays(text: string): Set<number> | undefined {
  const days = new Set<number>();
  for (const item of text.split(',')) {
    const [from, to, ...rest] = item.split('-').map((d) => DAYS.indexOf(d.toLowerCase()));
    if (rest.length || from < 0 || to < 0) return undefined;
    for (let d = from; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === (to ?? from)) break;
    }
  }
  return days;
}

/** The value of annotary.io/reload-window, or a Refusal naming what is wrong. */
export function parseReloadWindow(text: string): ReloadWindow | Refusal {
  const bad = (why: string) =>
    refuse('InvalidAnnotation', `${A.reloadWindow}: "${text}": ${why} (e.g. "Mon-Fri 01:00-05:00 UTC; Sat,Sun 00:00-08:00 UTC")`);
  const windows: Window[] = [];
  for (const part of text.split(';').map((p) => p.trim())) {
    const m = WINDOW.exec(part);
    if (!m) return bad(`"${part}" is not [<days>] <HH:MM>-<HH:MM> [UTC|UTC+HH:MM]`);
    const days = m[1] === undefined ? new Set([0, 1, 2, 3, 4, 5, 6]) : parseDays(m[1]);
    if (!days) return bad(`"${m[1]}" is not a list of days (Mon, Tue, Wed, Thu, Fri, Sat, Sun) or ranges (Mon-Fri)`);
    const [sh, sm, eh, em] = [m[2], m[3], m[4], m[5]].map(Number);
    const start = sh * 60 + sm;
    const end = eh * 60 + em;
    if (sh > 23 || sm > 59 || em > 59 || eh > 24 || (eh === 24 && em > 0)) return bad(`"${part}" has a time that is not HH:MM`);
    if (start === end) return bad(`"${part}" opens and closes at the same time`);
    const offset = m[6] === undefined ? 0 : (m[6] === '-' ? -1 : 1) * (Number(m[7]) * 60 + Number(m[8]));
    if (Math.abs(offset) > 14 * 60 || Number(m[8] ?? 0) > 59) return bad(`"${part}" has an offset beyond UTC±14:00`);
    windows.push({ days, start, end, offset });
  }
  return { text, windows };
}

export type WindowState = { open: true; closesAtMs: number } | { open: false; opensAtMs: number };

/** Whether a window is open at `nowMs`, and until when; or when the next one opens. */
export function windowAt(w: ReloadWindow, nowMs: number): WindowState {
  let closes = -Infinity;
  let opens = Infinity;
  for (const win of w.windows) {
    const local = nowMs + win.offset * MINUTE;
    const today = Math.floor(local / DAY) * DAY;
    // a window that opened yesterday may still be open; one opens within a week
    for (let d = -1; d <= 7; d++) {
      const day = today + d * DAY;
      if (!win.days.has((Math.floor(day / DAY) + 4) % 7)) continue; // 1970-01-01 was a Thursday
      const from = day + win.start * MINUTE - win.offset * MINUTE;
      const to = day + (win.end > win.start ? win.end : win.end + 24 * 60) * MINUTE - win.offset * MINUTE;
      if (from <= nowMs && nowMs < to) closes = Math.max(closes, to);
      else if (from > nowMs) opens = Math.min(opens, from);
    }
  }
  return closes > nowMs ? { open: true, closesAtMs: closes } : { open: false, opensAtMs: opens };
}

export type WindowVerdict =
  | { roll: true; forced?: { servedNotAfterMs: number; opensAtMs: number } }
  | { roll: false; opensAtMs: number; servedNotAfterMs: number | undefined };

/**
 * Whether a rollout due at `nowMs` may happen: inside a window, yes; outside, only when the
 * certificate the pods serve (undefined: none known) expires before the next window opens
 * (with DEADLINE_MARGIN_MS to spare): then at once, and `forced` says why.
 */
export function windowVerdict(w: ReloadWindow, nowMs: number, servedNotAfterMs: number | undefined): WindowVerdict {
  const state = windowAt(w, nowMs);
  if (state.open) return { roll: true };
  if (servedNotAfterMs !== undefined && servedNotAfterMs - DEADLINE_MARGIN_MS <= state.opensAtMs) {
    return { roll: true, forced: { servedNotAfterMs, opensAtMs: state.opensAtMs } };
  }
  return { roll: false, opensAtMs: state.opensAtMs, servedNotAfterMs };
}

/** annotary.io/served-not-after's format: RFC 3339 in UTC without fractional seconds. */
export const servedNotAfterValue = (ms: number) => rfc3339(ms);

/** annotary.io/served-not-after read back; undefined when absent or not such a time (then no deadline is known). */
export function parseServedNotAfter(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
