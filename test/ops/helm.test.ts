// The Helm chart rendered by the real helm (hack/helm.sh): it lints, every value changes what it
// renders, and with each overlay's values it renders the kustomize manifests of that overlay
// object by object, field by field, but for the differences listed in `asTheChartMeansIt`.
// e2e/helm.test.ts installs, upgrades and uninstalls it on the local control plane.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { FLAGS } from '../../src/config.js';
import type { Doc } from './helpers.js';
import { CHART, helm, helmTemplate, kustomize } from './helpers.js';

// the manifests' names: release annotary in annotary-system
const RELEASE = 'annotary';
const NAMESPACE = 'annotary-system';
const NAME_LABEL = 'app.kubernetes.io/name';
const INSTANCE_LABEL = 'app.kubernetes.io/instance';

/** Each overlay and the chart values that mean the same (the namespaces of the overlays' RoleBindings). */
const OVERLAYS: [string, string[]][] = [
  ['manifests', []],
  ['manifests/overlays/openshift', ['openshift=true']],
  ['manifests/overlays/serving-certs', [`servingCerts.namespaces={shop,${NAMESPACE}}`]],
  ['manifests/overlays/ingress-copies', ['ingressCopies.namespaces={shop}']],
  ['manifests/overlays/trust-bundle-copies', ['trustBundleCopies=true']],
  ['manifests/overlays/prometheus', ['monitoring.serviceMonitor=true', 'monitoring.prometheusRule=true']],
  ['manifests/overlays/namespaced', ['rbac.scope=namespaced']],
];
const setArgs = (set: string[]) => set.flatMap((s) => ['--set', s]);

test.each(OVERLAYS)('helm lint --strict passes with the values of %s', (_overlay, set) => {
  // --strict: a warning fails too
  expect(helm('lint', '--strict', CHART, ...setArgs(set))).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
});

/** Dotted paths and values of every leaf in values.yaml. */
function leaves(v: unknown, prefix = ''): [string, unknown][] {
  if (v && typeof v === 'object' && !Array.isArray(v))
    return Object.entries(v).flatMap(([k, x]) => leaves(x, prefix ? `${prefix}.${k}` : k));
  return [[prefix, v]];
}
/** Another value of the same type. */
function changed(v: unknown): unknown {
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'number') return v + 1;
  if (typeof v === 'string') return `${v}-changed`;
  if (Array.isArray(v)) return [...(v as unknown[]), 'changed'];
  throw new Error(`no other value for ${JSON.stringify(v)}`);
}

const values = yaml.load(readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
const defaults = helmTemplate(RELEASE, NAMESPACE);
test.each(leaves(values))('value %s changes what the chart renders (no value is left unused)', (p, v) => {
  const rendered = helmTemplate(RELEASE, NAMESPACE, '--set-json', `${p}=${JSON.stringify(changed(v))}`);
  expect(rendered).not.toEqual(defaults);
});

/** `--flag=value` for every flag at its default (src/config.ts FLAGS). */
const DEFAULT_ARGS = new Set(FLAGS.map((f) => `--${f.name}=${f.default}`));
type Deployment = Doc & { spec: { template: { spec: { containers: { args: string[]; imagePullPolicy?: string }[] } } } };

/**
 * The kustomize objects as the chart is meant to render them; any other difference fails the test.
 *  1. No Namespace: `helm install --create-namespace` makes it, and `helm uninstall` must not delete
 *     the namespace (with whatever else lives there) as `kubectl delete -k manifests/` does.
 *  2. Every `app.kubernetes.io/name: annotary` label set and selector also has
 *     `app.kubernetes.io/instance: <release>`: two releases never select each other's pods.
 *  3. The chart spells out the flags values.yaml can change even at their CLI default
 *     (--log-level=info, --compat=true, …); the manifests leave them out. Both are compared without
 *     the flags at their default, so a values.yaml default that is not the CLI's fails.
 *  4. The chart names imagePullPolicy: IfNotPresent, Kubernetes' default for a tag other than latest.
 *  5. overlays/namespaced writes --namespaces=$(POD_NAMESPACE) (kustomize cannot know the namespace
 *     the manifests are applied in; the kubelet expands the variable); the chart writes the release namespace.
 */
function asTheChartMeansIt(kust: Doc[]): Doc[] {
  return kust
    .filter((d) => d.kind !== 'Namespace')
    .map((d) => {
      const c = structuredClone(d);
      withInstanceLabel(c);
      if (c.kind === 'Deployment')
        for (const container of (c as Deployment).spec.template.spec.containers) {
          container.args = container.args.map((a) => a.replace('$(POD_NAMESPACE)', NAMESPACE));
          container.imagePullPolicy = 'IfNotPresent';
        }
      return withoutDefaultArgs(c);
    });
}
function withInstanceLabel(v: unknown): void {
  if (!v || typeof v !== 'object') return;
  const o = v as Record<string, unknown>;
  if (o[NAME_LABEL] === 'annotary') o[INSTANCE_LABEL] = RELEASE;
  Object.values(o).forEach(withInstanceLabel);
}
function withoutDefaultArgs(d: Doc): Doc {
  if (d.kind !== 'Deployment') return d;
  const c = structuredClone(d) as Deployment;
  for (const container of c.spec.template.spec.containers) container.args = container.args.filter((a) => !DEFAULT_ARGS.has(a));
  return c;
}
const byObject = (docs: Doc[]) => Object.fromEntries(docs.map((d) => [`${d.kind} ${d.metadata?.namespace ?? ''}/${d.metadata?.name}`, d]));

test.each(OVERLAYS)('helm template with the values of %s renders its kustomize objects, field by field', (overlay, set) => {
  const kust = kustomize(overlay);
  expect(kust.filter((d) => d.kind === 'Namespace').map((d) => d.metadata?.name)).toEqual([NAMESPACE]);
  const chart = helmTemplate(RELEASE, NAMESPACE, ...setArgs(set)).map(withoutDefaultArgs);
  expect(byObject(chart)).toEqual(byObject(asTheChartMeansIt(kust)));
});

test('rbac.scope namespaced with namespaces: the RoleBinding of overlays/namespaced in each, and --namespaces lists them', () => {
  // what overlays/namespaced tells to do by hand for more namespaces (a copy of rolebinding.yaml in each)
  const [rb] = kustomize('manifests/overlays/namespaced').filter((d) => d.kind === 'RoleBinding' && d.metadata?.name === RELEASE);
  const chart = helmTemplate(RELEASE, NAMESPACE, ...setArgs(['rbac.scope=namespaced', 'namespaces={shop,db}']));
  const bindings = chart.filter((d) => d.kind === 'RoleBinding' && d.metadata?.name === RELEASE);
  expect(bindings).toEqual(['shop', 'db'].map((ns) => ({ ...rb, metadata: { ...rb.metadata, namespace: ns } })));
  expect(chart.filter((d) => d.kind === 'ClusterRoleBinding')).toEqual([]);
  const dep = chart.find((d) => d.kind === 'Deployment') as Deployment;
  expect(dep.spec.template.spec.containers[0].args).toContain('--namespaces=shop,db');
});
