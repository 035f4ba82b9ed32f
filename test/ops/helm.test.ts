// The Helm chart without a helm binary: templates parse as YAML once actions are stripped,
// every value is used, and the RBAC rules are the kustomize manifests' rules.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { NAMESPACED_CONTROLLERS } from '../../src/config.js';
import type { Doc } from './helpers.js';
import { CHART, chartTemplates, kustomize, loadDocs, rulesOf, stripHelm } from './helpers.js';

const templates = chartTemplates();
const allText = templates.map((t) => t.text).join('\n');
const chartDocs: Doc[] = templates.flatMap((t) => loadDocs(stripHelm(t.text)));

test.each(templates.map((t) => [t.file, t.text]))('%s parses as YAML with its actions stripped', (_file, text) => {
  const docs = loadDocs(stripHelm(text));
  expect(docs.length).toBeGreaterThan(0);
  for (const d of docs) {
    expect(d.apiVersion).toBeTruthy();
    expect(d.kind).toBeTruthy();
  }
});

/** Dotted paths of every leaf in values.yaml. */
function leafPaths(v: unknown, prefix = ''): string[] {
  if (v && typeof v === 'object' && !Array.isArray(v))
    return Object.entries(v).flatMap(([k, x]) => leafPaths(x, prefix ? `${prefix}.${k}` : k));
  return [prefix];
}

const values = yaml.load(readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
test.each(leafPaths(values).map((p) => [p]))('value %s is used by a template', (p) => {
  // the value itself or an enclosing map handed over whole (e.g. toYaml .Values.resources)
  const parts = p.split('.');
  const used = parts.some((_, i) => new RegExp(`\\.Values\\.${parts.slice(0, i + 1).join('\\.')}(?![\\w.])`).test(allText));
  expect(used).toBe(true);
});

// (stripHelm makes {{ .Release.Name }} "TEMPLATE": the chart's names are TEMPLATE, TEMPLATE-ingress-copies, …)
test('ClusterRole rules equal the OpenShift overlay (all options on), and without Routes the base', () => {
  const chart = rulesOf(chartDocs, 'ClusterRole', 'TEMPLATE');
  expect(chart).toEqual(rulesOf(kustomize('manifests/overlays/openshift'), 'ClusterRole', 'annotary'));
  const withoutRoutes = chart.filter((r) => !r.apiGroups.includes('route.openshift.io'));
  expect(withoutRoutes).toEqual(rulesOf(kustomize('manifests'), 'ClusterRole', 'annotary'));
});

test("serving-certs' ClusterRole and its RoleBinding (per servingCerts.namespaces) equal overlays/serving-certs", () => {
  const overlay = kustomize('manifests/overlays/serving-certs');
  expect(rulesOf(chartDocs, 'ClusterRole', 'TEMPLATE-serving-certs')).toEqual(rulesOf(overlay, 'ClusterRole', 'annotary-serving-certs'));
  type Binding = Doc & { roleRef: { name: string }; subjects: { name: string; namespace: string }[] };
  const binding = (docs: Doc[], name: string) => docs.find((d) => d.kind === 'RoleBinding' && d.metadata?.name === name) as Binding;
  const chart = binding(chartDocs, 'TEMPLATE-serving-certs');
  const kust = binding(overlay, 'annotary-serving-certs');
  expect(chart.roleRef).toEqual({ ...kust.roleRef, name: 'TEMPLATE-serving-certs' });
  expect(chart.subjects).toEqual(kust.subjects.map((s) => ({ ...s, name: 'TEMPLATE', namespace: 'TEMPLATE' })));
});

test("the Ingress copies' ClusterRole and its RoleBinding (per ingressCopies.namespaces) equal overlays/ingress-copies", () => {
  const overlay = kustomize('manifests/overlays/ingress-copies');
  expect(rulesOf(chartDocs, 'ClusterRole', 'TEMPLATE-ingress-copies')).toEqual(rulesOf(overlay, 'ClusterRole', 'annotary-ingress-copies'));
  type Binding = Doc & { roleRef: { name: string }; subjects: { name: string; namespace: string }[] };
  const binding = (docs: Doc[], name: string) => docs.find((d) => d.kind === 'RoleBinding' && d.metadata?.name === name) as Binding;
  const chart = binding(chartDocs, 'TEMPLATE-ingress-copies');
  const kust = binding(overlay, 'annotary-ingress-copies');
  expect(chart.roleRef).toEqual({ ...kust.roleRef, name: 'TEMPLATE-ingress-copies' });
  expect(chart.subjects).toEqual(kust.subjects.map((s) => ({ ...s, name: 'TEMPLATE', namespace: 'TEMPLATE' })));
});

test("the trust bundles' copies: the same ClusterRole as the base, bound cluster-wide only with trustBundleCopies", () => {
  expect(rulesOf(chartDocs, 'ClusterRole', 'TEMPLATE-trust-bundle-copies')).toEqual(
    rulesOf(kustomize('manifests'), 'ClusterRole', 'annotary-trust-bundle-copies'),
  );
  expect(allText).toMatch(
    /\{\{- if \.Values\.trustBundleCopies \}\}\n---\napiVersion: rbac.authorization.k8s.io\/v1\nkind: ClusterRoleBinding/,
  );
});

test("the chart's container environment (downward API) equals the manifests'", () => {
  type Dep = { spec: { template: { spec: { containers: { env: unknown }[] } } } };
  const env = (docs: Doc[]) => (docs.find((d) => d.kind === 'Deployment') as unknown as Dep).spec.template.spec.containers[0].env;
  expect(env(chartDocs)).toEqual(env(kustomize('manifests')));
});

test('the leader-election Role equals the manifests', () => {
  expect(rulesOf(chartDocs, 'Role')).toEqual(rulesOf(kustomize('manifests'), 'Role', 'annotary-leader-election'));
});

test("the chart's PrometheusRule and ServiceMonitor match the prometheus overlay", () => {
  const overlay = kustomize('manifests/overlays/prometheus');
  const exprs = (docs: Doc[]) =>
    docs
      .filter((d) => d.kind === 'PrometheusRule')
      .flatMap((d) => (d as unknown as { spec: { groups: { rules: { expr: string; alert?: string; record?: string }[] }[] } }).spec.groups)
      .flatMap((g) => g.rules.map((r) => `${r.alert ?? r.record}: ${r.expr.trim()}`));
  expect(exprs(chartDocs).length).toBeGreaterThan(0);
  expect(exprs(chartDocs)).toEqual(exprs(overlay));
  const endpoints = (docs: Doc[]) =>
    docs.filter((d) => d.kind === 'ServiceMonitor').map((d) => (d as unknown as { spec: { endpoints: unknown } }).spec.endpoints);
  expect(endpoints(chartDocs)).toEqual(endpoints(overlay));
});

test("the chart's csr ClusterRole equals the manifests'; with rbac.scope namespaced it runs the namespaced controllers", () => {
  expect(rulesOf(chartDocs, 'ClusterRole', 'TEMPLATE-csr')).toEqual(rulesOf(kustomize('manifests'), 'ClusterRole', 'annotary-csr'));
  const deployment = templates.find((t) => t.file === 'deployment.yaml')!.text;
  expect(deployment).toContain(`- --controllers=${NAMESPACED_CONTROLLERS.join(',')}`);
});
