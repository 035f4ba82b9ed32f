// The operator in pods (#18), installed as the README says without Helm: `kubectl apply -k
// manifests/` (the base, on a cluster that serves Routes and on one that does not) and the
// namespaced overlay, from the image hack/image.sh builds and loads into the node; with the RBAC
// they ship. Skipped, saying why, when the cluster has no node.
// Each is applied through a kustomization of the test's own, the user's edit: the image's tag,
// and for the base --namespaces=annotary-system, so that its pods touch nothing of the other
// tests (the grants stay the base's cluster-wide ones).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { loadDocs } from '../test/ops/helpers.js';
import { ROOT, kubectl, waitFor } from './harness/cluster.js';
import type { InPodInstall } from './harness/node.js';
import { IMAGE, describeOnNode, inPodTests, objectsWhere } from './harness/node.js';

const NS = 'annotary-system'; // the manifests' namespace
const ROUTES_CRD = path.join(ROOT, 'e2e/crds/route.openshift.io.yaml');
const [, tag] = IMAGE.split(':');

/** A kustomization over `dir` (relative to the repository) with the image edit, and more patches. */
function overlay(dir: string, patches: object[] = []): string {
  const d = mkdtempSync(path.join(tmpdir(), 'annotary-kz-'));
  const kz = { resources: [path.relative(d, path.join(ROOT, dir))], images: [{ name: 'annotary', newTag: tag }], patches };
  writeFileSync(path.join(d, 'kustomization.yaml'), yaml.dump(kz));
  return d;
}
const onlyOwnNamespace = {
  target: { group: 'apps', kind: 'Deployment', name: 'annotary' },
  patch: yaml.dump([{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: `--namespaces=${NS}` }]),
};

/** The install of a kustomization: every object it renders (the namespace's content goes with the namespace). */
function kustomizeInstall(dir: string, ready?: () => Promise<void>): InPodInstall {
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
      // a namespace left by someone else would make this test about their objects
      expect(kubectl('get', 'namespaces', '-o', 'name').split('\n')).not.toContain(`namespace/${NS}`);
      kubectl('apply', '-k', dir);
    },
    uninstall: () => {
      kubectl('delete', '-k', dir, '--ignore-not-found', '--wait');
    },
    left: () =>
      objectsWhere((o) => o.metadata.namespace === NS || rendered.has(`${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)),
  };
}

const servesRoutes = () => kubectl('api-resources', '--api-group=route.openshift.io', '-o', 'name').includes('routes');

describeOnNode('kubectl apply -k manifests/ runs the operator in pods', () => {
  describe('on a cluster that serves Routes (the route.openshift.io CRD)', () => {
    beforeAll(() => expect(servesRoutes()).toBe(true));
    // the base grants no Route: the routes controller says so and waits, the others run (Ready)
    const routesRefused = async () => {
      await waitFor('a MissingPermission Warning naming the routes controller', () =>
        kubectl('-n', NS, 'get', 'events', '--field-selector', 'reason=MissingPermission', '-o', 'jsonpath={.items[*].message}').includes(
          'controller "routes" lacks permissions',
        ),
      );
    };
    inPodTests(
      'base (the routes controller waits: MissingPermission)',
      kustomizeInstall(overlay('manifests', [onlyOwnNamespace]), routesRefused),
    );
  });

  describe('on a cluster without the Route API', () => {
    beforeAll(async () => {
      kubectl('delete', '-f', ROUTES_CRD, '--wait');
      await waitFor('discovery without routes', () => !servesRoutes(), 30_000, 250);
    });
    afterAll(() => {
      // as hack/cluster.sh installs it, for the files after this one
      kubectl('apply', '-f', ROUTES_CRD);
      kubectl('wait', '--for', 'condition=established', '--timeout=30s', 'crd/routes.route.openshift.io');
    });
    inPodTests('base', kustomizeInstall(overlay('manifests', [onlyOwnNamespace])));
  });

  describe('the namespaced overlay', () => {
    inPodTests('overlays/namespaced', kustomizeInstall(overlay('manifests/overlays/namespaced')));
  });
});
