// The kustomize install and its overlays, rendered by `kubectl kustomize`.
import { NAMESPACED_CONTROLLERS } from '../../src/config.js';
import type { Doc } from './helpers.js';
import { kustomize, rulesOf } from './helpers.js';

interface Binding {
  kind: string;
  metadata: { name: string; namespace?: string };
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: unknown[];
}
const COPIES = 'annotary-ingress-copies';

const base = kustomize('manifests');
const kinds = (docs: { kind?: string }[]) => docs.map((d) => d.kind).sort();

test('the base runs with leader election, knows its namespace, and is ready only with caches synced', () => {
  const dep = base.find((d) => d.kind === 'Deployment') as unknown as {
    spec: { template: { spec: { containers: { args: string[]; env: { name: string }[] }[] } } };
  };
  const c = dep.spec.template.spec.containers[0];
  expect(c.args).toContain('--leader-elect=true');
  expect(c.env.map((e) => e.name)).toContain('POD_NAMESPACE');
});

test("the base names its Pod through the downward API, for the operator's own Events (MissingPermission)", () => {
  type Dep = { spec: { template: { spec: { containers: { env: unknown[] }[] } } } };
  const dep = base.find((d) => d.kind === 'Deployment') as unknown as Dep;
  expect(dep.spec.template.spec.containers[0].env).toEqual(
    expect.arrayContaining([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
    ]),
  );
});

test('the base grants no Routes, creates nothing but Events and Jobs, deletes nothing but Jobs, and Leases only in its namespace', () => {
  const rules = rulesOf(base, 'ClusterRole', 'annotary');
  expect(rules.flatMap((r) => r.apiGroups)).not.toContain('route.openshift.io');
  expect(rules.flatMap((r) => r.apiGroups)).not.toContain('coordination.k8s.io');
  // Jobs: a CronJob's reload creates one, a Job's reload recreates it, as Reloader does
  const jobs = { apiGroups: ['batch'], resources: ['jobs'], verbs: ['list', 'watch', 'patch', 'create', 'delete'] };
  expect(rules.filter((r) => r.verbs.includes('create'))).toEqual([
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    jobs,
  ]);
  expect(rules.filter((r) => r.verbs.includes('delete') || r.verbs.includes('*'))).toEqual([jobs]);
  expect(rules).toEqual(
    expect.arrayContaining([
      { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['list', 'watch', 'patch'] },
      { apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: ['list', 'watch', 'patch'] },
    ]),
  );
  expect(rulesOf(base, 'Role', 'annotary-leader-election')).toEqual([
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
  ]);
});

/** The (Cluster)RoleBindings of `docs` that grant the ClusterRole `role`. */
const bindingsOf = (docs: Doc[], role: string) =>
  docs.filter((d) => /RoleBinding$/.test(d.kind ?? '') && (d as unknown as Binding).roleRef.name === role) as unknown as Binding[];

test('serving-certs creates Secrets (never deletes) through a ClusterRole of its own, bound only by overlays/serving-certs', () => {
  const SERVING = 'annotary-serving-certs';
  expect(rulesOf(base, 'ClusterRole', SERVING)).toEqual([{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }]);
  expect(bindingsOf(base, SERVING)).toEqual([]);
  const docs = kustomize('manifests/overlays/serving-certs');
  const bindings = bindingsOf(docs, SERVING);
  expect(bindings.map((b) => [b.kind, b.metadata.namespace]).sort()).toEqual([
    ['RoleBinding', 'annotary-system'],
    ['RoleBinding', 'shop'],
  ]);
  for (const b of bindings) expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'annotary', namespace: 'annotary-system' }]);
});

test('Secrets create/delete (the Ingress copies) is a ClusterRole of its own that the base binds nowhere', () => {
  expect(rulesOf(base, 'ClusterRole', COPIES)).toEqual([{ apiGroups: [''], resources: ['secrets'], verbs: ['create', 'delete'] }]);
  expect(bindingsOf(base, COPIES)).toEqual([]);
  expect(bindingsOf(kustomize('manifests/overlays/namespaced'), COPIES)).toEqual([]);
});

test('overlays/ingress-copies adds exactly one RoleBinding of it, for the ServiceAccount, in a namespace of Ingresses', () => {
  const docs = kustomize('manifests/overlays/ingress-copies');
  expect(kinds(docs)).toEqual(kinds([...base, { kind: 'RoleBinding' }]));
  const [rb] = bindingsOf(docs, COPIES);
  expect(bindingsOf(docs, COPIES)).toHaveLength(1);
  expect(rb.kind).toBe('RoleBinding');
  expect(rb.metadata.namespace).not.toBe('annotary-system');
  expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: COPIES });
  expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'annotary', namespace: 'annotary-system' }]);
});

const TB_COPIES = 'annotary-trust-bundle-copies';
test("ConfigMaps create/delete (the trust bundles' copies) is a ClusterRole of its own that the base binds nowhere", () => {
  expect(rulesOf(base, 'ClusterRole', TB_COPIES)).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'delete'] }]);
  expect(bindingsOf(base, TB_COPIES)).toEqual([]);
  const docs = kustomize('manifests/overlays/trust-bundle-copies');
  expect(kinds(docs)).toEqual(kinds([...base, { kind: 'ClusterRoleBinding' }]));
  const [crb] = bindingsOf(docs, TB_COPIES);
  expect(crb.kind).toBe('ClusterRoleBinding');
  expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'annotary', namespace: 'annotary-system' }]);
});

test('CA injection: exactly get, list, watch, patch on the four injectable kinds, and nothing else of their groups', () => {
  const rules = rulesOf(base, 'ClusterRole', 'annotary');
  const groups = ['admissionregistration.k8s.io', 'apiregistration.k8s.io', 'apiextensions.k8s.io'];
  expect(rules.filter((r) => r.apiGroups.some((g) => groups.includes(g)))).toEqual([
    {
      apiGroups: [groups[0]],
      resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
      verbs: ['get', 'list', 'watch', 'patch'],
    },
    { apiGroups: [groups[1]], resources: ['apiservices'], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroups: [groups[2]], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch', 'patch'] },
  ]);
});

test('overlays/openshift adds exactly the Route rule', () => {
  const rules = rulesOf(kustomize('manifests/overlays/openshift'), 'ClusterRole', 'annotary');
  expect(rules.slice(0, -1)).toEqual(rulesOf(base, 'ClusterRole', 'annotary'));
  expect(rules.at(-1)).toEqual({ apiGroups: ['route.openshift.io'], resources: ['routes'], verbs: ['list', 'watch', 'patch'] });
});

test('overlays/namespaced has no cluster-wide binding and watches only its namespace', () => {
  const docs = kustomize('manifests/overlays/namespaced');
  expect(kinds(docs)).not.toContain('ClusterRoleBinding');
  const rb = docs.find((d) => d.kind === 'RoleBinding' && d.metadata?.name === 'annotary') as unknown as {
    metadata: { namespace: string };
    roleRef: { kind: string };
  };
  expect(rb.metadata.namespace).toBe('annotary-system');
  expect(rb.roleRef.kind).toBe('ClusterRole');
  const dep = docs.find((d) => d.kind === 'Deployment') as unknown as {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  expect(dep.spec.template.spec.containers[0].args).toContain('--namespaces=$(POD_NAMESPACE)');
});

test('overlays/prometheus adds a ServiceMonitor and the expiry alerts at 15% and 5% of lifetime left', () => {
  const docs = kustomize('manifests/overlays/prometheus');
  expect(kinds(docs)).toEqual(kinds([...base, { kind: 'ServiceMonitor' }, { kind: 'PrometheusRule' }]));
  const rule = docs.find((d) => d.kind === 'PrometheusRule') as unknown as {
    spec: { groups: { rules: { alert?: string; expr: string }[] }[] };
  };
  const exprs = rule.spec.groups
    .flatMap((g) => g.rules)
    .filter((r) => r.alert)
    .map((r) => r.expr);
  expect(exprs).toEqual([expect.stringMatching(/< 0\.15$/), expect.stringMatching(/< 0\.05$/)]);
  const metricsUsed = JSON.stringify(rule);
  expect(metricsUsed).toContain('annotary_certificate_not_after_seconds');
  expect(metricsUsed).toContain('annotary_certificate_not_before_seconds');
  // cert-utils-operator's metric names, recorded for dashboards and alerts written for it (#17)
  const records = rule.spec.groups.flatMap((g) => g.rules).map((r) => (r as { record?: string }).record);
  expect(records).toEqual(
    expect.arrayContaining([
      'certutils_certificate_expiry_time',
      'certutils_certificate_issue_time',
      'cert:validity_duration:sec',
      'cert:time_to_expiration:sec',
    ]),
  );
});

const CSR_RULES = [
  { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'], verbs: ['list', 'watch', 'create'] },
  {
    apiGroups: ['certificates.k8s.io'],
    resources: ['certificatesigningrequests/approval', 'certificatesigningrequests/status'],
    verbs: ['patch'],
  },
  { apiGroups: ['certificates.k8s.io'], resources: ['signers'], resourceNames: ['annotary.io/*'], verbs: ['approve', 'sign'] },
];

test("CSRs are a ClusterRole of their own, bound cluster-wide: approve and sign only annotary's signer names", () => {
  expect(rulesOf(base, 'ClusterRole', 'annotary-csr')).toEqual(CSR_RULES);
  const [crb] = bindingsOf(base, 'annotary-csr');
  expect(bindingsOf(base, 'annotary-csr')).toHaveLength(1);
  expect(crb.kind).toBe('ClusterRoleBinding');
  expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'annotary', namespace: 'annotary-system' }]);
});

test('overlays/namespaced runs every controller but those that need cluster-scoped objects (csr, ca-injection, trust-bundles)', () => {
  const docs = kustomize('manifests/overlays/namespaced');
  expect(bindingsOf(docs, 'annotary-csr')).toEqual([]);
  const dep = docs.find((d) => d.kind === 'Deployment') as unknown as {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  expect(dep.spec.template.spec.containers[0].args).toContain(`--controllers=${NAMESPACED_CONTROLLERS.join(',')}`);
});
