// The operator in pods (#18): `kubectl apply -k manifests/` (the base) on a cluster without the
// Route API, from the image hack/image.sh builds and loads into the node. It deletes the Route CRD
// for its time (and puts it back as hack/cluster.sh installs it), so hack/test.sh runs it alone,
// after every other file. Skipped, saying why, when the cluster has no node.
import { kubectl, waitFor } from './harness/cluster.js';
import { ROUTES_CRD, kustomizeInstall, onlyOwnNamespace, overlay, servesRoutes } from './harness/kustomize.js';
import { describeOnNode, inPodTests } from './harness/node.js';

describeOnNode('kubectl apply -k manifests/ runs the operator in pods', () => {
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
});
