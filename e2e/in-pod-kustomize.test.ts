// The operator in pods (#18), installed with `kubectl apply -k manifests/` (the base, on a cluster
// that serves Routes) and the namespaced overlay, from the image hack/image.sh builds and loads
// into the node; with the RBAC they ship. Skipped, saying why, when the cluster has no node. The
// base on a cluster without the Route API is e2e/in-pod-no-routes.test.ts (it removes the Route
// CRD, so hack/test.sh runs it when no other file runs).
import { kubectl, waitFor } from './harness/cluster.js';
import { NS, kustomizeInstall, onlyOwnNamespace, overlay, servesRoutes } from './harness/kustomize.js';
import { describeOnNode, inPodTests } from './harness/node.js';

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

  describe('the namespaced overlay', () => {
    inPodTests('overlays/namespaced', kustomizeInstall(overlay('manifests/overlays/namespaced')));
  });
});
