// Hostile input that a backtracking regular-expression engine needs exponential (a Reloader
// pattern) or quadratic (a PEM file) time for, on the real local control plane: while it is
// there the operator stays responsive. That is measured, not timed: /healthz answers every
// probe, made every few hundred milliseconds from the moment the hostile object exists until
// the operator has acted on it, and other objects are served meanwhile. A probe gets PROBE_MS
// to answer, the kubelet's default liveness-probe timeout (the shipped manifests keep it): a
// blocked operator fails the test instead of hanging it. The operator is stopped with SIGKILL,
// since a blocked event loop would never run its SIGTERM handler.
import type { KubeObject } from '../src/kube/types.js';
import { Deployments, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, eventsFor, newNamespace, sleep, startOperator } from './harness/cluster.js';
import * as gen from '../test/gen.js';
import { b64 } from '../test/gen.js';
import { chainFixture } from '../test/pki/fixtures.js';

type Ann = Record<string, string>;
type Secret = KubeObject & { data?: Record<string, string> };
type Workload = KubeObject & { spec: { template: { metadata?: { annotations?: Ann } } } };

const client = adminClient();
const ec = chainFixture('p256');
const PROBE_MS = 1000; // timeoutSeconds: 1
const WAIT_MS = 60_000;

const namespaces: string[] = [];
const operators: OperatorProcess[] = [];
afterAll(async () => {
  await Promise.all(operators.map((op) => op.stop('SIGKILL')));
  await Promise.all(namespaces.map((ns) => deleteNamespace(client, ns)));
});

async function setup(prefix: string): Promise<{ ns: string; op: OperatorProcess }> {
  const ns = await newNamespace(client, prefix);
  namespaces.push(ns);
  const op = await startOperator(['--namespaces', ns, '--controllers', 'reload,keystores', '--reload-settle', '1s']);
  operators.push(op);
  return { ns, op };
}

/** One /healthz probe: it must answer 200 within PROBE_MS. */
async function healthz(op: OperatorProcess): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${op.port}/healthz`, { signal: AbortSignal.timeout(PROBE_MS) }).catch((err: Error) => {
    throw new Error(`/healthz gave no answer within ${PROBE_MS} ms (${err.name}): the operator is blocked`);
  });
  expect(res.status).toBe(200);
}

/**
 * Waits for `fn` to return a value, probing /healthz before every look; unlike waitFor, a probe
 * that fails ends the wait at once.
 */
async function whileResponsive<T>(op: OperatorProcess, what: string, fn: () => Promise<T | undefined>): Promise<{ value: T }> {
  const deadline = Date.now() + WAIT_MS;
  for (let probes = 1; ; probes++) {
    await healthz(op);
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return { value };
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (the operator answered ${probes} probes)`);
    await sleep(250);
  }
}

const secret = (ns: string, name: string, data: Ann, annotations: Ann = {}) =>
  client.create<Secret>(Secrets, ns, gen.secret(name, gen.inNamespace(ns), gen.withAnnotations(annotations), gen.withData(data)));
const event = (ns: string, name: string, reason: string) => async () =>
  (await eventsFor(client, ns, name)).find((e) => e.reason === reason);
const keystore = (ns: string, name: string) => async () => (await client.get<Secret>(Secrets, ns, name)).data?.['keystore.jks'];

function deployment(ns: string, name: string, annotations: Ann) {
  return client.create(Deployments, ns, gen.deployment(name, gen.inNamespace(ns), gen.withAnnotations(annotations)));
}

describe('the operator stays responsive while hostile input is present', () => {
  test('a Reloader pattern that backtracks exponentially, "(a|aa)+", next to a Secret named a⁶⁰b', async () => {
    const { ns, op } = await setup('hostile-re');
    const hostileName = `${'a'.repeat(60)}b`;
    await secret(ns, hostileName, { v: '1' });
    await secret(ns, 'aaaa', { v: '1' });
    await deployment(ns, 'hostile', { 'secret.reloader.stakater.com/reload': '(a|aa)+' });

    // the pattern was evaluated against both names: the matching one is watched, the hostile one not
    const watching = await whileResponsive(op, 'ReloadWatching on the Deployment', event(ns, 'hostile', 'ReloadWatching'));
    expect(watching.value.message).toContain('Secret/aaaa');
    expect(watching.value.message).not.toContain(hostileName);

    // other objects are served: a keystore is written, and a change of the watched Secret rolls the Deployment
    await secret(ns, 'web', { 'tls.crt': ec.certPem(1), 'tls.key': ec.keyPkcs8 }, { 'annotary.io/keystores': 'jks' });
    await whileResponsive(op, 'keystore.jks in Secret web', keystore(ns, 'web'));
    await client.patch(Secrets, ns, 'aaaa', { data: { v: b64('2') } });
    const rolled = await whileResponsive(
      op,
      'a rollout of the Deployment',
      async () => (await client.get<Workload>(Deployments, ns, 'hostile')).spec.template.metadata?.annotations?.['annotary.io/config-hash'],
    );
    expect(rolled.value).toMatch(/^[0-9a-f]{32}$/);
    expect(op.proc.exitCode).toBeNull();
  });

  test('a megabyte of PEM BEGIN lines without END, which a backtracking PEM regex rescans for each of them', async () => {
    const { ns, op } = await setup('hostile-pem');
    const key = ec.keyPkcs8; // a valid key, so that the certificate is parsed too
    const line = '-----BEGIN A-----\n'; // the shortest: the more of them, the longer each rescan
    const hostile = line.repeat(Math.floor((1024 * 1024 - key.length - 1024) / line.length));
    const t0 = Date.now();
    await secret(ns, 'hostile', { 'tls.crt': hostile, 'tls.key': key }, { 'annotary.io/keystores': 'jks' });

    const refused = await whileResponsive(op, 'MalformedPEM on the hostile Secret', event(ns, 'hostile', 'MalformedPEM'));
    console.log('EVENT', refused.value.message, Date.now() - t0);
    expect(refused.value.message).toMatch(/truncated or mismatched/);
    await secret(ns, 'web', { 'tls.crt': ec.certPem(1), 'tls.key': ec.keyPkcs8 }, { 'annotary.io/keystores': 'jks' });
    await whileResponsive(op, 'keystore.jks in Secret web', keystore(ns, 'web'));
    expect((await client.get<Secret>(Secrets, ns, 'hostile')).data?.['keystore.jks']).toBeUndefined();
    expect(op.proc.exitCode).toBeNull();
  });
});
