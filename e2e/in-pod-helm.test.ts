// The operator in pods (#18): the chart installed by the real Helm (hack/helm.sh) from the image
// that hack/image.sh builds from the Dockerfile and loads into the local cluster's node, with
// the RBAC the chart ships (cluster scope). Skipped, saying why, when the cluster has no node.
// --namespaces: the release's own, so that these pods touch nothing of the other tests (the
// grants stay the cluster-wide ones of the chart).
import { randomBytes } from 'node:crypto';
import { Namespaces } from '../src/kube/types.js';
import { CHART, helm } from '../test/ops/helpers.js';
import { KUBECONFIG, adminClient } from './harness/cluster.js';
import { IMAGE, describeOnNode, inPodTests, releaseObjects } from './harness/node.js';

const hex = randomBytes(3).toString('hex');
const RELEASE = `annotary-${hex}`;
const NS = `inpod-helm-${hex}`;
const [repository, tag] = IMAGE.split(':');
const helmHere = (...args: string[]) => helm('--kubeconfig', KUBECONFIG, ...args);

describeOnNode('the chart, installed by Helm from the image, runs the operator in pods', () => {
  afterAll(async () => {
    await adminClient()
      .delete(Namespaces, undefined, NS)
      .catch(() => undefined);
  });

  inPodTests('helm install', {
    namespace: NS,
    selector: `app.kubernetes.io/instance=${RELEASE}`,
    install: () => {
      const values = [`image.repository=${repository}`, `image.tag=${tag}`, 'image.pullPolicy=IfNotPresent', `namespaces={${NS}}`];
      helmHere('install', RELEASE, CHART, '-n', NS, '--create-namespace', ...values.flatMap((v) => ['--set', v]));
    },
    uninstall: () => {
      helmHere('uninstall', RELEASE, '-n', NS, '--wait');
    },
    left: () => releaseObjects(RELEASE),
  });
});
