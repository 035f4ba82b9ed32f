// Reading the install artifacts as data: rendered kustomize output and Helm templates.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
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

/**
 * A Helm template with its actions removed, as YAML: lines that are only an action
 * (`{{- if … }}`, `{{- end }}`) go, inline actions become a placeholder. What is left must
 * parse; conditional blocks are kept, so the result is the template with every option on.
 */
export function stripHelm(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\s*\{\{-?[^}]*-?\}\}\s*$/.test(line))
    .map((line) => line.replace(/\{\{-?[^}]*?-?\}\}/g, 'TEMPLATE'))
    .join('\n');
}

export function chartTemplates(): { file: string; text: string }[] {
  const dir = path.join(CHART, 'templates');
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({ file: f, text: readFileSync(path.join(dir, f), 'utf8') }));
}

export function rulesOf(docs: Doc[], kind: 'ClusterRole' | 'Role', name?: string): Rule[] {
  const role = docs.find((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));
  if (!role) throw new Error(`no ${kind} ${name ?? ''}`);
  return role.rules as Rule[];
}
