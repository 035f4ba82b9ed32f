// Validate before rolling (#17; Reloader #116): a rollout onto a TLS Secret whose tls.key does
// not match its certificate, whose leaf is expired or not yet valid, or that does not parse,
// starts pods that crash-loop or serve errors while the old pods still work. Such a rollout is
// held: nothing is written (the digest is not recorded, so the rollout happens once the Secret
// is fixed), a Warning Event ReloadHeldBadMaterial says which Secret and why, and
// annotary_rollouts_skipped_total{reason="bad_material"} counts it. On by default
// (--reload-validate-tls=false turns it off): a difference from Reloader (docs/migration.md).
//
// The Secret cache keeps data digests only: the data is read with a GET when, and only when, a
// rollout is about to happen (once per reconcile, shared with the restart window's read of
// tls.crt: cache-reads.ts reconcileReader; from the cache when it keeps the data anyway).
// Rollouts are rare; keeping the certificate and key of every watched TLS Secret in memory
// (keepSecretData) would cost the memory the lean cache saves, for a read needed a few times a day.
import type { Refusal } from '../kube/refusal.js';
import { refuse } from '../kube/refusal.js';
import type { SlimData } from '../kube/slim.js';
import type { MaterialProblem } from '../pki/serving-material.js';
import { servingMaterialProblem } from '../pki/serving-material.js';
import type { Scope } from './reload-consumed.js';
import { scopeOf } from './reload-consumed.js';

/** a certificate not valid yet is looked at again when it becomes valid, at the latest after this */
const NOT_YET_VALID_RECHECK_MAX_MS = 3_600_000;

/** Serving material: a kubernetes.io/tls Secret, or any Secret with both tls.crt and tls.key. */
export const servesTls = (s: Pick<SlimData, 'type' | 'digests'>): boolean =>
  s.type === 'kubernetes.io/tls' || ('tls.crt' in s.digests && 'tls.key' in s.digests);

/** The watched Secrets to check: serving material whose tls.crt or tls.key the pods read. */
export function secretsToValidate(secrets: SlimData[], scopes: Map<string, Scope>): SlimData[] {
  return secrets.filter((s) => {
    if (!servesTls(s)) return false;
    const scope = scopeOf(scopes, `Secret/${s.metadata.name}`);
    return scope === 'all' || scope.has('tls.crt') || scope.has('tls.key');
  });
}

/** What is wrong with a Secret's data as read from the apiserver (base64 values); a missing key does not parse. */
export function secretProblem(data: Record<string, string> | undefined, now: Date): MaterialProblem | undefined {
  const crt = data?.['tls.crt'];
  const key = data?.['tls.key'];
  if (crt === undefined || key === undefined) {
    return { kind: 'unparsable', message: `no ${crt === undefined ? 'tls.crt' : 'tls.key'}` };
  }
  return servingMaterialProblem(Buffer.from(crt, 'base64'), Buffer.from(key, 'base64'), now);
}

export interface Held {
  refusal: Refusal;
  /** when a certificate not valid yet becomes valid (capped): look again then */
  requeueAfterMs?: number;
}

/** The hold for these problems (by Secret name), or undefined when there is none. */
export function holdFor(problems: [name: string, problem: MaterialProblem][], now: Date): Held | undefined {
  if (!problems.length) return undefined;
  const what = problems.map(([name, p]) => `Secret "${name}": ${p.message}`).join('; ');
  const refusal = refuse(
    'ReloadHeldBadMaterial',
    `${what}; not rolling onto it, the pods keep the material they run with until it is fixed`,
  );
  const waits = problems.flatMap(([, p]) => (p.validFrom ? [p.validFrom.getTime() - now.getTime()] : []));
  if (!waits.length) return { refusal };
  return { refusal, requeueAfterMs: Math.min(NOT_YET_VALID_RECHECK_MAX_MS, Math.max(1000, Math.min(...waits))) };
}

const TLS_KEYS = ['tls.crt', 'tls.key'];

/**
 * Reads tls.crt and tls.key (base64) of each Secret to check and returns the hold, if any. A key
 * the cached Secret has no digest of is missing (secretProblem says so) and not read; one that
 * is gone when read was changed meanwhile: not held on, its event follows.
 */
export async function heldRollout(
  secrets: SlimData[],
  read: (name: string, key: string) => Promise<string | undefined>,
  now: Date,
): Promise<Held | undefined> {
  const problems: [string, MaterialProblem][] = [];
  for (const s of secrets) {
    const data: Record<string, string> = {};
    let gone = false;
    for (const key of TLS_KEYS.filter((k) => s.digests[k] !== undefined)) {
      const value = await read(s.metadata.name, key);
      if (value === undefined) gone = true;
      else data[key] = value;
    }
    const p = gone ? undefined : secretProblem(data, now);
    if (p) problems.push([s.metadata.name, p]);
  }
  return holdFor(problems, now);
}
