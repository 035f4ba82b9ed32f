// What the apiserver does with a body annotary sends as application/merge-patch+json, for unit
// tests that apply the patch bodies the controllers' pure functions build (routePatchBody,
// ingressPatchBody, managedKeysPatch) and ask the controller again.

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386: objects merge key by key, null removes a key, anything else (arrays too) replaces. */
export function mergePatch<T>(target: T, patch: unknown): T {
  if (!isObject(patch)) return structuredClone(patch) as T;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out as T;
}

/**
 * The apiserver's answer to a merge patch of `obj`: a patch preconditioned on another
 * resourceVersion than the object's is refused with 409 Conflict, as annotary's writes rely on.
 */
export function patched<T extends { metadata: { resourceVersion?: string } }>(obj: T, patch: unknown): T {
  const rv = isObject(patch) && isObject(patch.metadata) ? (patch.metadata.resourceVersion as string | undefined) : undefined;
  if (rv !== undefined && rv !== obj.metadata.resourceVersion) {
    throw new Error(
      `409 Conflict: the patch is preconditioned on resourceVersion ${String(rv)}, ` + `the object is at ${obj.metadata.resourceVersion}`,
    );
  }
  return mergePatch(obj, patch);
}
