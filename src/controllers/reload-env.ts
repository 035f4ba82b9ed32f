// The env-vars reload strategy (--reload-strategy env-vars), stakater Reloader's default, as its
// handler/upgrade.go does it (read at 655a2b3): a rollout sets STAKATER_<NAME>_<SECRET|CONFIGMAP>
// to a digest of the changed object's data, in the container that uses the object (a volume it
// mounts, or env/envFrom); an object used by an init container only, or named by annotation
// without being used, gets the first container. annotary's value is its own per-object digest,
// not Reloader's SHA-1: the variable's job is to change when the data does.
//
// Onboarding (and any digest recorded without a rollout) writes no variable: STAKATER_*
// variables left by a Reloader install stay as they are, and roll nothing (they are overwritten
// at the next real change, which rolls anyway).
import type { RefKind } from './pod-refs.js';

/** Reloader's util.ConvertToEnvVarName: upper case, each run of other characters one "_" (none at the start). */
export function envVarName(kind: RefKind, name: string): string {
  let out = '';
  let lastValid = false;
  for (const ch of name.toUpperCase()) {
    if (/[A-Z0-9]/.test(ch)) {
      out += ch;
      lastValid = true;
    } else {
      if (lastValid) out += '_';
      lastValid = false;
    }
  }
  return `STAKATER_${out}_${kind === 'Secret' ? 'SECRET' : 'CONFIGMAP'}`;
}

interface Named {
  name?: string;
  secretName?: string;
}
export interface EnvContainer {
  name: string;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: Named; configMapKeyRef?: Named } }[];
  envFrom?: { secretRef?: Named; configMapRef?: Named }[];
  volumeMounts?: { name: string }[];
  [field: string]: unknown;
}
export interface EnvPodSpec {
  containers?: EnvContainer[];
  initContainers?: EnvContainer[];
  volumes?: { name: string; secret?: Named; configMap?: Named; projected?: { sources?: { secret?: Named; configMap?: Named }[] } }[];
  [field: string]: unknown;
}

const refName = (kind: RefKind, r: { secret?: Named; configMap?: Named } | undefined) =>
  kind === 'Secret' ? (r?.secret?.secretName ?? r?.secret?.name) : r?.configMap?.name;

/** Whether a container uses the object: mounts a volume of it, or reads it through env or envFrom. */
function uses(c: EnvContainer, kind: RefKind, name: string, volumes: Set<string>): boolean {
  if (c.volumeMounts?.some((m) => volumes.has(m.name))) return true;
  const key = kind === 'Secret' ? 'secretKeyRef' : 'configMapKeyRef';
  if (c.env?.some((e) => e.valueFrom?.[key]?.name === name)) return true;
  const from = kind === 'Secret' ? 'secretRef' : 'configMapRef';
  return c.envFrom?.some((e) => e[from]?.name === name) ?? false;
}

/** The index of the container that gets the object's variable (Reloader's getContainerUsingResource). */
export function containerFor(spec: EnvPodSpec | undefined, kind: RefKind, name: string): number | undefined {
  const containers = spec?.containers ?? [];
  if (!containers.length) return undefined;
  const volumes = new Set(
    (spec?.volumes ?? [])
      .filter((v) => refName(kind, v) === name || v.projected?.sources?.some((s) => refName(kind, s) === name))
      .map((v) => v.name),
  );
  const i = containers.findIndex((c) => uses(c, kind, name, volumes));
  return i >= 0 ? i : 0;
}

/**
 * The containers with the variables set (name → value, by "Kind/name" of the object), in a copy:
 * a variable already there gets the new value in place, a new one is appended; null removes it.
 */
export function withEnvVars(spec: EnvPodSpec | undefined, vars: Record<string, string | null>): EnvContainer[] {
  const containers = (spec?.containers ?? []).map((c) => ({ ...c, env: [...(c.env ?? [])] }));
  for (const [id, value] of Object.entries(vars).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [kind, name] = [id.slice(0, id.indexOf('/')) as RefKind, id.slice(id.indexOf('/') + 1)];
    const i = containerFor(spec, kind, name);
    if (i === undefined) continue;
    const env = containers[i].env;
    const varName = envVarName(kind, name);
    const at = env.findIndex((e) => e.name === varName);
    if (value === null) {
      if (at >= 0) env.splice(at, 1); // the object was deleted
    } else if (at >= 0) env[at] = { name: varName, value };
    else env.push({ name: varName, value });
  }
  return containers;
}
