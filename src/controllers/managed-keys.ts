// The ownership rule shared by every controller that writes data keys into a user's
// object (keystores into Secrets, truststores into ConfigMaps): annotary changes or removes
// only the keys listed in annotary.io/managed-keys, refuses to overwrite anyone else's key,
// and writes nothing when the object already holds exactly what it wants.
import { A } from '../annotations.js';
import type { ControllerContext } from './context.js';
import type { Refusal } from './refusal.js';
import { refuse } from './refusal.js';
import { ApiError } from '../kube/client.js';
import { valueDigest } from '../kube/slim.js';
import type { KubeObject, ResourceType } from '../kube/types.js';

export interface ManagedChange { set: Record<string, string>; remove: string[]; managed: string[]; inputsHash: string }

export interface ManagedState {
  /**
   * digests (valueDigest) of the object's current values, per key: the lean caches keep
   * these for every key but not the values of the stores annotary wrote
   */
  currentDigests: Record<string, string>;
  /** what annotary wants there */
  want: Record<string, string>;
  /** keys annotary wrote before */
  managed: string[];
  inputsHash: string;
  currentHash?: string;
  /** unmanaged keys the user hands over by annotation (cert-utils migration) */
  takeover?: string[];
}

export function diffManagedKeys(s: ManagedState): ManagedChange | Refusal | undefined {
  const differs = (k: string) => s.currentDigests[k] !== valueDigest(s.want[k]!);
  for (const k of Object.keys(s.want)) {
    if (s.currentDigests[k] !== undefined && differs(k) && !s.managed.includes(k) && !s.takeover?.includes(k)) {
      return refuse('KeyConflict', `key "${k}" exists and was not written by annotary; remove it or rename it`);
    }
  }
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.want)) if (differs(k)) set[k] = v;
  const remove = s.managed.filter((k) => !(k in s.want) && s.currentDigests[k] !== undefined);
  const managed = Object.keys(s.want).sort();
  const sameManaged = managed.join(',') === [...s.managed].sort().join(',');
  if (!Object.keys(set).length && !remove.length && sameManaged && s.currentHash === s.inputsHash) return undefined;
  return { set, remove, managed, inputsHash: s.inputsHash };
}

/**
 * Applies a change as one merge patch that carries the resourceVersion it was computed
 * from (a 409 means the inputs moved: the error is rethrown and the key retried from the
 * newer cache state). With nothing left to manage, the status annotations go too.
 */
export async function applyManagedKeys(
  ctx: Pick<ControllerContext, 'client' | 'metrics'>, controller: string, rt: ResourceType,
  obj: KubeObject, field: 'data' | 'binaryData', change: ManagedChange,
): Promise<void> {
  const done = change.managed.length === 0;
  const patch = {
    metadata: {
      resourceVersion: obj.metadata.resourceVersion,
      annotations: done
        ? { [A.sourceHash]: null, [A.managedKeys]: null }
        : { [A.sourceHash]: change.inputsHash, [A.managedKeys]: change.managed.join(',') },
    },
    [field]: { ...change.set, ...Object.fromEntries(change.remove.map((k) => [k, null])) },
  };
  try {
    await ctx.client.patch(rt, obj.metadata.namespace, obj.metadata.name, patch);
  } catch (err) {
    if (err instanceof ApiError && err.isConflict) ctx.metrics.conflictsTotal.inc({ controller, kind: rt.kind });
    throw err;
  }
  ctx.metrics.writesTotal.inc({ controller, kind: rt.kind, verb: 'patch' });
}
