// The operator in pods installed as the README says without Helm (#18): `kubectl apply -k` of
// the manifests through a kustomization of the test's own, the user's edit: the image's tag, and
// for the base --namespaces=annotary-system, so that its pods touch nothing of the other tests
// (the grants stay the base's cluster-wide ones). Used by e2e/in-pod-kustomize.test.ts and
// e2e/in-pod-no-routes.test.ts. And the install's grants without its pods, for the files that run
// the operator on the host with the ServiceAccount's token (rbac, csr).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { kustomize, loadDocs } from '../../test/ops/helpers.js';
import { scratchDir } from '../../test/pki/fixtures.js';
import { ROOT, kubectl } from './cluster.js';
import type { InPodInstall } from './node.js';
import { IMAGE, objectsWhere } from './node.js';

export const NS = 'annotary-system'; // the manifests' namespace
export const ROUTES_CRD = path.join(ROOT, 'e2e/crds/route.openshift.io.yaml');
const [, tag] = IMAGE.split(':');

/** A kustomization over `dir` (relative to the repository) with the image edit, and more patches. */
export function overlay(dir: string, patches: object[] = []): string {
  const d = scratchDir('kz');
  const kz = { resources: [path.relative(d, path.join(ROOT, dir))], images: [{ name: 'annotary', newTag: tag }], patches };
  writeFileSync(path.join(d, 'kustomization.yaml'), yaml.dump(kz));
  return d;
}
export const onlyOwnNamespace = {
  target: { group: 'apps', kind: 'Deployment', name: 'annotary' },
  patch: yaml.dump([{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: `--namespaces=${NS}` }]),
};

/** The install of a kustomization: every object it renders (the namespace's content goes with the namespace). */
export function kustomizeInstall(dir: string, ready?: () => Promise<void>): InPodInstall {
  const rendered = new Set(
    loadDocs(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })).map(
      (d) => `${d.kind} ${d.metadata?.namespace ?? ''}/${d.metadata?.name}`,
    ),
  );
  return {
    namespace: NS,
    selector: 'app.kubernetes.io/name=annotary',
    ready,
    install: () => {
      // from nothing, as on a fresh cluster: e2e/rbac.test.ts leaves the base applied (0 replicas)
      kubectl('delete', '-k', dir, '--ignore-not-found', '--wait');
      kubectl('apply', '-k', dir);
    },
    uninstall: () => {
      kubectl('delete', '-k', dir, '--ignore-not-found', '--wait');
    },
    left: () =>
      objectsWhere((o) => o.metadata.namespace === NS || rendered.has(`${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)),
  };
}

export const servesRoutes = () => kubectl('api-resources', '--api-group=route.openshift.io', '-o', 'name').includes('routes');

/**
 * `kubectl apply -k <dir>` with the Deployment at 0 replicas: the ServiceAccount and its grants for
 * an operator run on the host with its token. On a cluster with a node the Deployment's pods would
 * otherwise run the operator from the image, once `make image` has loaded it, for every namespace
 * and beside every later file's own operator (seen: keystores written where a test's operator
 * was told not to look, its counters at 0 while the pods did the work).
 */
export function applyWithoutPods(dir: string): void {
  const docs = kustomize(dir);
  for (const d of docs) if (d.kind === 'Deployment') d.spec = { ...(d.spec as object), replicas: 0 };
  const file = path.join(scratchDir('grants'), 'manifests.yaml');
  writeFileSync(file, docs.map((d) => yaml.dump(d)).join('---\n'));
  kubectl('apply', '-f', file);
}
