// Helpers for the e2e tests that need pods to run: the local cluster's node (hack/cluster.sh up
// starts one where the machine can run it, #18), the operator's image in it (hack/image.sh loads
// it), and what an install leaves in the cluster.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Lease } from '../../src/kube/leader.js';
import { Leases, Secrets } from '../../src/kube/types.js';
import type { Secret } from '../../test/gen.js';
import { inNamespace, ofType, secret, withAnnotations, withTLS } from '../../test/gen.js';
import { chainFixture } from '../../test/pki/fixtures.js';
import { KUBECONFIG, ROOT, adminClient, kubectl, sumMetric, waitFor } from './cluster.js';

const STATE = path.dirname(KUBECONFIG);
/** The operator's image as hack/image.sh tags it (its IMAGE), which the chart's and the manifests' defaults name too. */
export const IMAGE =
  process.env.IMAGE ?? `annotary:${(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`;

/** Why these tests cannot run here, or undefined when the cluster has a Ready node with the image. */
function missing(): string | undefined {
  let nodes: { items: { status: { conditions: { type: string; status: string }[] } }[] };
  try {
    nodes = JSON.parse(kubectl('get', 'nodes', '-o', 'json')) as typeof nodes;
  } catch (err) {
    return `no cluster: ${(err as Error).message.split('\n')[0]}`;
  }
  const ready = nodes.items.some((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
  if (!ready) {
    const why = path.join(STATE, 'node-skipped'); // hack/cluster.sh writes why it started no node
    return `the cluster has no Ready node (${existsSync(why) ? readFileSync(why, 'utf8').trim() : 'see hack/cluster.sh up'})`;
  }
  return undefined;
}
export const NO_NODE = missing();

/**
 * `describe` when pods can run, else `describe.skip` with the reason in its title (shown in the
 * output). The image missing from a node that runs is a failure, not a skip: hack/test.sh builds
 * and loads it before these files run.
 */
export function describeOnNode(title: string, fn: () => void): void {
  if (NO_NODE) describe.skip(`${title} — skipped: ${NO_NODE}`, fn);
  else
    describe(title, () => {
      beforeAll(() => {
        if (!imageInNode(IMAGE)) throw new Error(`${IMAGE} is not in the node's containerd: make image (hack/image.sh) loads it`);
      });
      fn();
    });
}

/** Is `ref` among the node's images (containerd names an archive's `annotary:0.1.0` docker.io/library/annotary:0.1.0)? */
export function imageInNode(ref: string): boolean {
  const sock = path.join(STATE, 'node/containerd/containerd.sock');
  const names = execFileSync('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'ls', '-q'], { encoding: 'utf8' }).split('\n');
  const full = ref.includes('/') ? ref : `docker.io/library/${ref}`;
  return names.includes(full);
}

export interface PodInfo {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: { podIP?: string; phase: string; conditions?: { type: string; status: string }[] };
}

/** The pods of `selector` in `namespace`. */
export function pods(namespace: string, selector: string): PodInfo[] {
  return (JSON.parse(kubectl('-n', namespace, 'get', 'pods', '-l', selector, '-o', 'json')) as { items: PodInfo[] }).items;
}

const isReady = (p: PodInfo) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Waits until exactly `n` pods of `selector` run and are Ready (readiness: the operator's /readyz); returns them. */
export async function readyPods(namespace: string, selector: string, n: number, timeoutMs = 120_000): Promise<PodInfo[]> {
  return waitFor(
    `${n} Ready pods ${selector} in ${namespace}`,
    () => {
      const all = pods(namespace, selector);
      const ready = all.filter(isReady);
      return ready.length === n && all.length === n ? ready : false;
    },
    timeoutMs,
    500,
  ).catch((err: Error) => {
    // what the pods say: events of the namespace and the last log lines of each
    const events = kubectl('-n', namespace, 'get', 'events', '--sort-by=.lastTimestamp', '-o', 'custom-columns=R:.reason,M:.message');
    const logs = pods(namespace, selector).map((p) => `${p.metadata.name}: ${podLogs(p).split('\n').slice(-5).join('\n')}`);
    throw new Error(`${err.message}\n${events.split('\n').slice(-15).join('\n')}\n${logs.join('\n')}`);
  });
}

export function podLogs(p: PodInfo): string {
  try {
    return kubectl('-n', p.metadata.namespace, 'logs', p.metadata.name);
  } catch (err) {
    return (err as Error).message;
  }
}

/** A metric of the operator in pod `p`, read from its metrics port at the pod's IP (the host routes to the pod network). */
export async function podMetric(p: PodInfo, name: string, labels: Record<string, string> = {}, port = 8080): Promise<number> {
  const text = await (await fetch(`http://${p.status.podIP}:${port}/metrics`)).text();
  return sumMetric(text, name, labels);
}

/**
 * The pod that leads: the Lease's holder (the operator's identity is `<hostname>_<pid>`, and a
 * pod's hostname is its name), confirmed by annotary_leader 1 there and 0 in every other pod.
 */
export async function leaderPod(namespace: string, running: PodInfo[]): Promise<PodInfo> {
  const holder = await waitFor(`a Lease holder in ${namespace}`, async () => {
    const lease = await adminClient().tryGet<Lease>(Leases, namespace, 'annotary');
    return lease?.spec?.holderIdentity;
  });
  const leader = running.find((p) => holder.startsWith(`${p.metadata.name}_`));
  if (!leader) throw new Error(`the Lease is held by ${holder}, no pod of ${running.map((p) => p.metadata.name).join(', ')}`);
  await waitFor('annotary_leader: 1 on the holder, 0 elsewhere', async () => {
    const values = await Promise.all(running.map((p) => podMetric(p, 'annotary_leader')));
    return values.every((v, i) => v === (running[i] === leader ? 1 : 0));
  });
  return leader;
}

interface Listed {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/**
 * Every object of every listable kind, in every namespace, that `match` selects, as
 * `Kind namespace/name`, sorted. Events are left out: records of what happened (a Pod's
 * FailedScheduling), which the apiserver expires, not objects of an install.
 */
export function objectsWhere(match: (o: Listed) => boolean): string[] {
  const kinds = kubectl('api-resources', '--verbs=list', '-o', 'name')
    .split('\n')
    .filter((k) => k && !['events', 'events.events.k8s.io', 'componentstatuses'].includes(k));
  const { items } = JSON.parse(kubectl('get', kinds.join(','), '-A', '-o', 'json')) as { items: Listed[] };
  return items
    .filter(match)
    .map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)
    .sort();
}

/** The objects of a Helm release: named after it (its objects, their ReplicaSets and Pods, Endpoints, token Secrets, Helm's release Secrets) or labelled or annotated with it. */
export const releaseObjects = (release: string) =>
  objectsWhere(
    (o) =>
      o.metadata.name.includes(release) ||
      o.metadata.labels?.['app.kubernetes.io/instance'] === release ||
      o.metadata.annotations?.['meta.helm.sh/release-name'] === release,
  );

export interface InPodInstall {
  /** the operator's namespace (its pods, its Lease; the Secret of the keystore test goes there too) */
  namespace: string;
  /** the label selector of its pods */
  selector: string;
  /** more to check once its pods are Ready */
  ready?: () => Promise<void>;
  install(): Promise<void> | void;
  /** removes the install */
  uninstall(): Promise<void> | void;
  /** what is left of the install: every object of it that exists, as `Kind namespace/name` */
  left(): string[];
}

/**
 * The tests each install of the operator in pods passes (#18): it becomes Ready in both replicas
 * using the in-cluster config (the ServiceAccount's token, the `kubernetes` Service through
 * kube-proxy) and the RBAC it ships; exactly one leads; a Secret annotated for keystores gets
 * them, written by the leader; the uninstall leaves nothing of it.
 */
export function inPodTests(how: string, inst: InPodInstall): void {
  let running: PodInfo[] = [];
  afterAll(async () => {
    if (inst.left().length > 0) await inst.uninstall(); // a test failed before the uninstall one
  });

  test(`${how}: both replicas Ready in pods, with the in-cluster config`, async () => {
    await inst.install();
    running = await readyPods(inst.namespace, inst.selector, 2);
    for (const p of running) {
      expect(p.spec.nodeName).toBeTruthy();
      expect(podLogs(p)).toMatch(/credentials resolved.*https:\/\/10\.96\.0\.1:443/);
    }
    await inst.ready?.();
  });

  test(`${how}: exactly one pod leads (the Lease holder); a Secret annotated for keystores gets them, written by the leader`, async () => {
    const leader = await leaderPod(inst.namespace, running);
    const client = adminClient();
    const name = `ks-${Date.now().toString(36)}`;
    await client.create(
      Secrets,
      inst.namespace,
      secret(
        name,
        inNamespace(inst.namespace),
        ofType('kubernetes.io/tls'),
        withTLS(chainFixture('p256')),
        withAnnotations({ 'annotary.io/keystores': 'jks,pkcs12' }),
      ),
    );
    const data = await waitFor('keystores in the Secret', async () => {
      const d = (await client.get<Secret>(Secrets, inst.namespace, name)).data ?? {};
      return d['keystore.jks'] && d['keystore.p12'] ? d : undefined;
    });
    expect(Object.keys(data)).toEqual(expect.arrayContaining(['keystore.jks', 'keystore.p12', 'truststore.jks']));
    const writes = await Promise.all(running.map((p) => podMetric(p, 'annotary_writes_total', { controller: 'keystores' })));
    expect(writes.map((w, i) => (running[i] === leader ? w > 0 : w === 0))).toEqual(running.map(() => true));
  });

  test(`${how}: the uninstall leaves no object of it behind`, async () => {
    expect(inst.left().length).toBeGreaterThan(0);
    await inst.uninstall();
    // the garbage collector removes ReplicaSets and Pods, the token controller token Secrets after
    await waitFor('nothing left', () => inst.left().length === 0, 90_000, 500).catch(() => undefined);
    expect(inst.left()).toEqual([]);
  });
}
