// Every controller from its declaration, in process against an in-memory apiserver
// (reconcile-harness.ts): the writes it makes for a change, and none once it converged,
// after a restart or when nothing changed.
import { describe, expect, test } from '@jest/globals';
import { CONTROLLER_MODULES } from '../../src/controllers/index.js';
import {
  b64,
  deployment,
  inNamespace,
  ingress,
  ofType,
  route,
  secret as genSecret,
  tlsData,
  withAnnotations,
  withData,
  withRouteTLS,
  withSecretVolumes,
  withTLS,
} from '../gen.js';
import { ec, next } from './tls-fixtures.js';
import { FakeCluster, moduleRunner, writesOf } from './reconcile-harness.js';

const NS = 'apps';
/** a kubernetes.io/tls Secret of NS with the main chain */
const secret = (name: string, annotations: Record<string, string> = {}) =>
  genSecret(name, inNamespace(NS), ofType('kubernetes.io/tls'), withAnnotations(annotations), withTLS(ec));
const watching = (name: string, annotations: Record<string, string>, secretName: string) =>
  deployment(name, inNamespace(NS), withAnnotations(annotations), withSecretVolumes(secretName));

const run = moduleRunner();

describe('keystores: one patch per real change, none at rest', () => {
  test('an annotated TLS Secret gets its stores in one patch; a restart writes nothing', async () => {
    const cluster = new FakeCluster([secret('web', { 'annotary.io/keystores': 'jks' }), secret('plain')]);
    const op = await run(CONTROLLER_MODULES.keystores, cluster);
    expect(writesOf(cluster)).toEqual(['patch Secret web']);
    expect(Object.keys((cluster.get('Secret', NS, 'web') as unknown as { data: object }).data).sort()).toEqual([
      'ca.crt',
      'keystore.jks',
      'tls.crt',
      'tls.key',
      'truststore.jks',
    ]);
    expect(op.events.map((e) => e.reason)).toEqual(['StoresUpdated']);
    await op.stop();
    await run(CONTROLLER_MODULES.keystores, cluster);
    expect(writesOf(cluster)).toEqual(['patch Secret web']);
  });

  test("a rotation of the password Secret, found through the cache's index, rebuilds the stores once", async () => {
    const pw = genSecret('pw', inNamespace(NS), withData({ password: 's3cret' }));
    const cluster = new FakeCluster([
      secret('web', { 'annotary.io/keystores': 'jks', 'annotary.io/keystore-password-secret': 'pw/password' }),
      pw,
    ]);
    const op = await run(CONTROLLER_MODULES.keystores, cluster);
    cluster.userPatch('Secret', NS, 'pw', { data: { password: b64('rotated') } });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Secret web', 'patch Secret web']);
  });
});

describe('reload: onboarding records, a data change rolls once', () => {
  test('a Deployment is onboarded without a rollout; a rotation of its Secret rolls it once', async () => {
    const cluster = new FakeCluster([secret('tls'), watching('app', { 'annotary.io/reload': 'auto' }, 'tls')]);
    const op = await run(CONTROLLER_MODULES.reload, cluster);
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching']);
    cluster.userPatch('Secret', NS, 'tls', { data: tlsData(next) });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
    const template = (
      cluster.get('Deployment', NS, 'app') as unknown as { spec: { template: { metadata: { annotations: Record<string, string> } } } }
    ).spec.template;
    expect(template.metadata.annotations['annotary.io/config-hash']).toMatch(/^[0-9a-f]{32}$/);
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'Reloaded']);
  });

  test('a rollout whose answer was lost, then data back to what it was before: it rolls again (the template follows the digest)', async () => {
    const cluster = new FakeCluster([secret('tls'), watching('app', { 'annotary.io/reload': 'auto' }, 'tls')]);
    const op = await run(CONTROLLER_MODULES.reload, cluster);
    const before = (cluster.get('Secret', NS, 'tls') as unknown as { data: Record<string, string> }).data;
    // the rollout is committed but its caller sees a dropped connection; meanwhile the data goes back
    cluster.loseNextResponse(() => cluster.userPatch('Secret', NS, 'tls', { data: before }));
    cluster.userPatch('Secret', NS, 'tls', { data: tlsData(next) });
    await op.quiet();
    const app = cluster.get('Deployment', NS, 'app') as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { template: { metadata: { annotations: Record<string, string> } } };
    };
    expect(app.spec.template.metadata.annotations['annotary.io/config-hash']).toBe(
      app.metadata.annotations['annotary.io/observed-config-hash'],
    );
    // onboarding, the rollout whose answer was lost (no Event: its outcome was unknown), the rollout back
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app', 'patch Deployment app']);
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'Reloaded']);
  });

  test('a Secret the Deployment does not watch changes: nothing is written', async () => {
    const cluster = new FakeCluster([secret('tls'), secret('other'), watching('app', { 'annotary.io/reload': 'auto' }, 'tls')]);
    const op = await run(CONTROLLER_MODULES.reload, cluster);
    cluster.userPatch('Secret', NS, 'other', { data: tlsData(next) });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
  });
});

describe('routes: the Route API from the cache layer, one patch per change', () => {
  test('a Route gets its certificate, key and CA; a rotation updates it once', async () => {
    const r = route(
      'web',
      inNamespace(NS),
      withAnnotations({ 'annotary.io/certs-from-secret': 'tls' }),
      withRouteTLS({ termination: 'edge' }),
    );
    const cluster = new FakeCluster([secret('tls'), r]);
    const op = await run(CONTROLLER_MODULES.routes, cluster);
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Route web']);
    cluster.userPatch('Secret', NS, 'tls', { data: tlsData(next) });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Route web', 'patch Route web']);
    expect((cluster.get('Route', NS, 'web') as unknown as { spec: { tls: { certificate: string } } }).spec.tls.certificate).toBe(
      next.certPem(2),
    );
  });
});

describe('ingresses: copies and spec.tls', () => {
  test('an Ingress naming a Secret of another namespace that shares it gets a copy and its spec.tls entry; at rest nothing more', async () => {
    const source = secret('site', { 'annotary.io/share-with-namespaces': 'web' });
    const shop = ingress('shop', inNamespace('web'), withAnnotations({ 'annotary.io/certs-from-secret': `${NS}/site` }));
    const cluster = new FakeCluster([source, shop]);
    const op = await run(CONTROLLER_MODULES.ingresses, cluster);
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['create Secret shop-annotary-tls', 'patch Ingress shop']);
    await op.stop();
    await run(CONTROLLER_MODULES.ingresses, cluster);
    expect(writesOf(cluster)).toEqual(['create Secret shop-annotary-tls', 'patch Ingress shop']);
  });
});

describe('bad input: a Warning through the one warn path, no write', () => {
  test('an unknown keystore format is refused with InvalidAnnotation and the invalid-input metric', async () => {
    const cluster = new FakeCluster([secret('web', { 'annotary.io/keystores': 'zip' })]);
    const op = await run(CONTROLLER_MODULES.keystores, cluster);
    expect(cluster.writes).toEqual([]);
    expect(op.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'InvalidAnnotation', name: 'web' })]);
    expect((await op.metrics.invalidInputTotal.get()).values).toEqual([
      expect.objectContaining({ labels: { controller: 'keystores', reason: 'InvalidAnnotation' }, value: 1 }),
    ]);
  });
});
