// Trust bundles: the sources of annotary.io/trust-bundle, label selectors, the copies a bundle
// keeps in the namespaces it selects, and the controller in process (reconcile-harness.ts):
// one write per target per source change, none at rest, bad input refused with no write.
import { afterEach, describe, expect, test } from '@jest/globals';
import { A } from '../../src/annotations.js';
import { copyContentHash, desiredCopies, parseTrustSource, trustBundlesController } from '../../src/controllers/trust-bundles.js';
import { isRefusal } from '../../src/kube/refusal.js';
import { ConfigMaps } from '../../src/kube/types.js';
import { parseLabelSelector } from '../../src/kube/labels.js';
import type { LabelPredicate } from '../../src/kube/labels.js';
import { slimDataObject, valueDigest } from '../../src/kube/slim.js';
import { canonicalBundle } from '../../src/pki/bundle.js';
import { configMap, inNamespace, namespace, secret, withAnnotations, withData, withLabels } from '../gen.js';
import { chainFixture } from '../pki/fixtures.js';
import { ec, next, rsa } from './tls-fixtures.js';
import { FakeCluster, runModule } from './reconcile-harness.js';

const reasonOf = (x: unknown) => (isRefusal(x) ? x.reason : x);

describe('parseTrustSource', () => {
  test.each([
    ['secret/ops/ca', { from: 'Secret', namespace: 'ops', name: 'ca', key: 'ca.crt' }],
    ['secret/ops/ca:tls.crt', { from: 'Secret', namespace: 'ops', name: 'ca', key: 'tls.crt' }],
    ['configmap/ops/roots', { from: 'ConfigMap', namespace: 'ops', name: 'roots', key: 'ca-bundle.crt' }],
    ['inline:extra.pem', { from: 'inline', key: 'extra.pem' }],
    ['system', { from: 'system' }],
  ])('%s', (item, want) => {
    expect(parseTrustSource(item)).toEqual(want);
  });
  test.each([['secret/ca'], ['inline'], ['inline:ca-bundle.crt'], ['pod/ops/x'], ['secret/ops/ca:'], ['secret/Ops/ca']])(
    '%s is refused',
    (item) => {
      expect(reasonOf(parseTrustSource(item))).toBe('InvalidAnnotation');
    },
  );
});

describe('parseLabelSelector', () => {
  const m = (s: string) => parseLabelSelector(s, 'x') as LabelPredicate;
  test('=, ==, !=, in, notin, exists, !exists; empty matches all', () => {
    expect(m('team=a')({ team: 'a' })).toBe(true);
    expect(m('team==a')({ team: 'b' })).toBe(false);
    expect(m('team!=a')({})).toBe(true);
    expect(m('env in (prod, stage),team')({ env: 'stage', team: 'x' })).toBe(true);
    expect(m('env in (prod, stage),team')({ env: 'stage' })).toBe(false);
    expect(m('env notin (prod)')({ env: 'prod' })).toBe(false);
    expect(m('!legacy')({ legacy: '' })).toBe(false);
    expect(m('')({ any: 'thing' })).toBe(true);
  });
  test.each([['team=a b'], ['env in prod'], ['a,,b'], ['=x']])('"%s" is refused', (s) => {
    expect(reasonOf(parseLabelSelector(s, 'x'))).toBe('InvalidAnnotation');
  });
});

describe('desiredCopies', () => {
  const slim = slimDataObject('ConfigMap', () => 'all');
  const want = { 'ca-bundle.crt': 'PEM' };
  const copy = (ns: string, data: Record<string, string>, of = 'ops/trust') =>
    slim(
      configMap(
        'trust',
        inNamespace(ns),
        withAnnotations({
          [A.trustBundleCopyOf]: of,
          [A.sourceHash]: copyContentHash(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, valueDigest(v)]))),
        }),
        withData(data),
      ),
    );
  test('creates the missing, patches the stale, deletes the unselected, leaves what is not a copy', () => {
    const existing = new Map([
      ['a', copy('a', want)],
      ['b', copy('b', { 'ca-bundle.crt': 'OLD', extra: 'x' })],
      ['gone', copy('gone', want)],
      ['user', slim(configMap('trust', inNamespace('user'), withData({ 'ca-bundle.crt': 'theirs' })))],
      ['other', copy('other', want, 'ops/another')],
    ]);
    const actions = desiredCopies({ sourceKey: 'ops/trust', name: 'trust', want, targets: ['a', 'b', 'c', 'user'], existing });
    expect(actions.map((a) => `${a.verb} ${a.namespace}`)).toEqual(['patch b', 'create c', 'conflict user', 'delete gone']);
    const patch = actions[0] as unknown as { body: { data: Record<string, string | null> } };
    expect(patch.body.data).toEqual({ 'ca-bundle.crt': 'PEM', extra: null });
  });
  test('a copy edited by hand (its data no longer what it records) is rewritten', () => {
    const edited = copy('a', want);
    edited.metadata.annotations![A.sourceHash] = 'something else';
    expect(desiredCopies({ sourceKey: 'ops/trust', name: 'trust', want, targets: ['a'], existing: new Map([['a', edited]]) })).toHaveLength(
      1,
    );
  });
});

describe('the controller in process', () => {
  let stop: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(stop.map((s) => s()));
    stop = [];
  });
  const run = async (cluster: FakeCluster) => {
    const op = await runModule(trustBundlesController, cluster);
    stop.push(() => op.stop());
    return op;
  };
  const third = chainFixture('p384');
  // three sources in two namespaces: a Secret and a ConfigMap of "pki" (shared with "apps"), and a key of the bundle itself
  const sources = (share = 'apps') => [
    secret('issuer', inNamespace('pki'), withAnnotations({ [A.shareWithNamespaces]: share }), withData({ 'ca.crt': ec.root })),
    configMap('roots', inNamespace('pki'), withAnnotations({ [A.shareWithNamespaces]: share }), withData({ 'ca-bundle.crt': rsa.root })),
  ];
  const bundle = (ann: Record<string, string> = {}) =>
    configMap(
      'trust',
      inNamespace('apps'),
      withAnnotations({
        [A.trustBundle]: 'secret/pki/issuer,configmap/pki/roots,inline:extra.pem',
        [A.trustBundleNamespaces]: 'trust=yes',
        ...ann,
      }),
      withData({ 'extra.pem': third.root, 'app.conf': 'keep me' }),
    );
  const namespaces = () => [
    namespace('apps'),
    namespace('pki'),
    namespace('t1', withLabels({ trust: 'yes' })),
    namespace('t2', withLabels({ trust: 'yes' })),
    namespace('no'),
  ];
  const writes = (c: FakeCluster) => c.writes.map((w) => `${w.verb} ${w.kind} ${w.namespace}/${w.name}`);
  const dataOf = (c: FakeCluster, ns: string) => (c.get('ConfigMap', ns, 'trust') as { data?: Record<string, string> } | undefined)?.data;

  test('three sources in two namespaces, distributed by label; a namespace labelled later; one write per copy per rotation', async () => {
    const cluster = new FakeCluster([...namespaces(), ...sources(), bundle()]);
    const op = await run(cluster);
    const pem = canonicalBundle([ec.root, rsa.root, third.root].map((p) => ({ pem: p, what: '' })));
    expect(dataOf(cluster, 'apps')).toEqual({ 'extra.pem': third.root, 'app.conf': 'keep me', 'ca-bundle.crt': pem });
    expect(dataOf(cluster, 't1')).toEqual({ 'ca-bundle.crt': pem });
    expect(dataOf(cluster, 't2')).toEqual({ 'ca-bundle.crt': pem });
    expect(dataOf(cluster, 'no')).toBeUndefined();
    expect(writes(cluster).sort()).toEqual(['create ConfigMap t1/trust', 'create ConfigMap t2/trust', 'patch ConfigMap apps/trust']);

    cluster.userPatch('Namespace', '', 'no', { metadata: { labels: { trust: 'yes' } } });
    await op.quiet();
    expect(dataOf(cluster, 'no')).toEqual({ 'ca-bundle.crt': pem });
    expect(cluster.writes).toHaveLength(4);

    // rotation of one source: the bundle once, each of the three copies once
    cluster.userPatch('Secret', 'pki', 'issuer', { data: { 'ca.crt': Buffer.from(ec.root + next.root).toString('base64') } });
    await op.quiet();
    expect(writes(cluster).slice(4).sort()).toEqual([
      'patch ConfigMap apps/trust',
      'patch ConfigMap no/trust',
      'patch ConfigMap t1/trust',
      'patch ConfigMap t2/trust',
    ]);
    expect(dataOf(cluster, 't1')?.['ca-bundle.crt']).toContain(canonicalBundle([{ pem: next.root, what: '' }]));

    // the same certificates re-serialized (another order): the same bytes, so no copy is written; the
    // bundle records the new inputs (annotations only), so that it is not rebuilt again at every resync
    cluster.userPatch('Secret', 'pki', 'issuer', { data: { 'ca.crt': Buffer.from(next.root + '\n' + ec.root).toString('base64') } });
    await op.quiet();
    expect(writes(cluster).slice(8)).toEqual(['patch ConfigMap apps/trust']);
    expect(Object.keys(cluster.writes[8].body as object)).toEqual(['metadata']);

    // a namespace that stops matching loses its copy; a copy edited by hand is repaired
    cluster.userPatch('Namespace', '', 't2', { metadata: { labels: { trust: null } } });
    cluster.userPatch('ConfigMap', 't1', 'trust', { data: { 'ca-bundle.crt': 'edited' } });
    await op.quiet();
    expect(writes(cluster).slice(9).sort()).toEqual(['delete ConfigMap t2/trust', 'patch ConfigMap t1/trust']);
    expect(dataOf(cluster, 't1')?.['ca-bundle.crt']).toBe(dataOf(cluster, 'apps')?.['ca-bundle.crt']);

    // a restart writes nothing
    await op.stop();
    stop = [];
    await run(cluster);
    expect(cluster.writes).toHaveLength(11);
  });

  test("removing the annotation keeps the copies; deleting the bundle deletes them (and nobody else's ConfigMap)", async () => {
    const theirs = configMap('trust', inNamespace('no'), withData({ mine: 'x' }));
    const cluster = new FakeCluster([...namespaces(), ...sources(), bundle(), theirs]);
    const op = await run(cluster);
    expect(dataOf(cluster, 't1')).toBeDefined();
    cluster.userPatch('ConfigMap', 'apps', 'trust', { metadata: { annotations: { [A.trustBundle]: null } } });
    await op.quiet();
    expect(dataOf(cluster, 't1')).toBeDefined();
    cluster.userPatch('ConfigMap', 'apps', 'trust', {
      metadata: { annotations: { [A.trustBundle]: bundle().metadata.annotations![A.trustBundle] } },
    });
    await op.quiet();
    await cluster.client.delete(ConfigMaps, 'apps', 'trust');
    await op.quiet();
    expect(dataOf(cluster, 't1')).toBeUndefined();
    expect(dataOf(cluster, 't2')).toBeUndefined();
    expect(dataOf(cluster, 'no')).toEqual({ mine: 'x' });
  });

  test('a source of another namespace without the opt-in: CaSourceNotShared, no write', async () => {
    const cluster = new FakeCluster([...namespaces(), ...sources('elsewhere'), bundle()]);
    const op = await run(cluster);
    expect(cluster.writes).toEqual([]);
    expect(op.events.map((e) => e.reason)).toEqual(['CaSourceNotShared']);
  });

  test('malformed PEM in a source: CaSourceInvalid, no write', async () => {
    const cluster = new FakeCluster([...namespaces(), ...sources(), bundle()]);
    cluster.userPatch('ConfigMap', 'apps', 'trust', { data: { 'extra.pem': third.root.slice(0, 100) } });
    const op = await run(cluster);
    expect(cluster.writes).toEqual([]);
    expect(op.events.map((e) => e.reason)).toEqual(['CaSourceInvalid']);
  });

  test('a ConfigMap of the same name that is not a copy: TrustBundleCopyConflict, left alone', async () => {
    const theirs = configMap('trust', inNamespace('t1'), withData({ mine: 'x' }));
    const cluster = new FakeCluster([...namespaces(), ...sources(), bundle(), theirs]);
    const op = await run(cluster);
    expect(dataOf(cluster, 't1')).toEqual({ mine: 'x' });
    expect(op.events.map((e) => e.reason)).toContain('TrustBundleCopyConflict');
  });

  test('truststores on request: binaryData truststore.jks and truststore.p12, copied too', async () => {
    const cluster = new FakeCluster([...namespaces(), ...sources(), bundle({ [A.trustBundleTruststores]: 'jks,pkcs12' })]);
    await run(cluster);
    const copy = cluster.get('ConfigMap', 't1', 'trust') as unknown as { binaryData: Record<string, string> };
    expect(Object.keys(copy.binaryData).sort()).toEqual(['truststore.jks', 'truststore.p12']);
    expect(copy.binaryData).toEqual((cluster.get('ConfigMap', 'apps', 'trust') as unknown as { binaryData: object }).binaryData);
  });
});
