// Which Secrets and ConfigMaps a pod template uses: volumes (plain and projected), env
// valueFrom and envFrom, in containers and initContainers. "Auto" reload modes watch
// exactly these. A reference is optional only when every use of it is marked optional
// (the pod starts without the object), which decides whether its absence is an error.
export type RefKind = 'Secret' | 'ConfigMap';

export interface PodRef {
  kind: RefKind;
  name: string;
  optional: boolean;
}

interface Named {
  name?: string;
  secretName?: string;
  optional?: boolean;
}
interface Container {
  env?: { valueFrom?: { secretKeyRef?: Named; configMapKeyRef?: Named } }[];
  envFrom?: { secretRef?: Named; configMapRef?: Named }[];
}
interface Volume {
  secret?: Named;
  configMap?: Named;
  projected?: { sources?: { secret?: Named; configMap?: Named }[] };
}
export interface PodSpecLike {
  volumes?: Volume[];
  containers?: Container[];
  initContainers?: Container[];
}

/** Every Secret/ConfigMap the pod spec references, sorted by kind then name, each once. */
export function podTemplateRefs(spec: PodSpecLike | undefined): PodRef[] {
  const found = new Map<string, PodRef>();
  const add = (kind: RefKind, ref: Named | undefined, name = ref?.name) => {
    if (!ref || !name) return;
    const id = `${kind}/${name}`;
    const optional = ref.optional === true;
    const seen = found.get(id);
    if (seen) seen.optional &&= optional;
    else found.set(id, { kind, name, optional });
  };
  for (const v of spec?.volumes ?? []) {
    add('Secret', v.secret, v.secret?.secretName);
    add('ConfigMap', v.configMap);
    for (const s of v.projected?.sources ?? []) {
      add('Secret', s.secret);
      add('ConfigMap', s.configMap);
    }
  }
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
    for (const e of c.env ?? []) {
      add('Secret', e.valueFrom?.secretKeyRef);
      add('ConfigMap', e.valueFrom?.configMapKeyRef);
    }
    for (const e of c.envFrom ?? []) {
      add('Secret', e.secretRef);
      add('ConfigMap', e.configMapRef);
    }
  }
  return [...found.values()].sort(compareRefs);
}

export function compareRefs(a: { kind: RefKind; name: string }, b: { kind: RefKind; name: string }): number {
  return a.kind === b.kind ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.kind < b.kind ? -1 : 1;
}
