// The kustomize install and its overlays, rendered by `kubectl kustomize`.
import { kustomize, rulesOf } from './helpers.js';

const base = kustomize('manifests');
const kinds = (docs: { kind?: string }[]) => docs.map((d) => d.kind).sort();

test('the base runs with leader election, knows its namespace, and is ready only with caches synced', () => {
  const dep = base.find((d) => d.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: { args: string[]; env: { name: string }[] }[] } } } };
  const c = dep.spec.template.spec.containers[0];
  expect(c.args).toContain('--leader-elect=true');
  expect(c.env.map((e) => e.name)).toContain('POD_NAMESPACE');
});

test('the base names its Pod through the downward API, for the operator\'s own Events (MissingPermission)', () => {
  type Dep = { spec: { template: { spec: { containers: { env: unknown[] }[] } } } };
  const dep = base.find((d) => d.kind === 'Deployment') as unknown as Dep;
  expect(dep.spec.template.spec.containers[0].env).toEqual(expect.arrayContaining([
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
  ]));
});

test('the base grants no Routes, no deletes other than Secrets, and Leases only in its namespace', () => {
  const rules = rulesOf(base, 'ClusterRole');
  expect(rules.flatMap((r) => r.apiGroups)).not.toContain('route.openshift.io');
  expect(rules.flatMap((r) => r.apiGroups)).not.toContain('coordination.k8s.io');
  for (const r of rules.filter((x) => x.verbs.includes('delete'))) expect(r.resources).toEqual(['secrets']);
  expect(rulesOf(base, 'Role', 'annotary-leader-election')).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
});

test('overlays/openshift adds exactly the Route rule', () => {
  const rules = rulesOf(kustomize('manifests/overlays/openshift'), 'ClusterRole');
  expect(rules.slice(0, -1)).toEqual(rulesOf(base, 'ClusterRole'));
  expect(rules.at(-1)).toEqual({ apiGroups: ['route.openshift.io'], resources: ['routes'], verbs: ['list', 'watch', 'patch'] });
});

test('overlays/namespaced has no cluster-wide binding and watches only its namespace', () => {
  const docs = kustomize('manifests/overlays/namespaced');
  expect(kinds(docs)).not.toContain('ClusterRoleBinding');
  const rb = docs.find((d) => d.kind === 'RoleBinding' && d.metadata?.name === 'annotary') as unknown as { metadata: { namespace: string }; roleRef: { kind: string } };
  expect(rb.metadata.namespace).toBe('annotary-system');
  expect(rb.roleRef.kind).toBe('ClusterRole');
  const dep = docs.find((d) => d.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
  expect(dep.spec.template.spec.containers[0].args).toContain('--namespaces=$(POD_NAMESPACE)');
});

test('overlays/prometheus adds a ServiceMonitor and the expiry alerts at 15% and 5% of lifetime left', () => {
  const docs = kustomize('manifests/overlays/prometheus');
  expect(kinds(docs)).toEqual(kinds([...base, { kind: 'ServiceMonitor' }, { kind: 'PrometheusRule' }]));
  const rule = docs.find((d) => d.kind === 'PrometheusRule') as unknown as { spec: { groups: { rules: { alert?: string; expr: string }[] }[] } };
  const exprs = rule.spec.groups.flatMap((g) => g.rules).filter((r) => r.alert).map((r) => r.expr);
  expect(exprs).toEqual([expect.stringMatching(/< 0\.15$/), expect.stringMatching(/< 0\.05$/)]);
  const metricsUsed = JSON.stringify(rule);
  expect(metricsUsed).toContain('annotary_certificate_not_after_seconds');
  expect(metricsUsed).toContain('annotary_certificate_not_before_seconds');
});
