// The operator in pods installed as the README says without Helm (#18): `kubectl apply -k` of
// the manifests through a kustomization of the test's own, the user's edit: the image's tag, and
// for the base --namespaces=annotary-system, so that its pods touch nothing of the other tests
// (the grants stay the base's cluster-wide ones). Used by e2e/in-pod-kustomize.test.ts and
// e2e/in-pod-no-routes.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { loadDocs } from '../../test/ops/helpers.js';
import { ROOT, kubectl } from './cluster.js';
import type { InPodInstall } from './node.js';
import { IMAGE, objectsWhere } from './node.js';

export const NS = 'annotary-system'; // the manifests' namespace
export const ROUTES_CRD = path.join(ROOT, 'e2e/crds/route.openshift.io.yaml');
const [, tag] = IMAGE.split(':');

/** A kustomization over `dir` (relative to the repository) with the image edit, and more patches. */
export function overlay(dir: string, patches: object[] = []): string {
  const d = mkdtempSync(path.join(tmpdir(), 'annotary-kz-'));
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
