// CA injection: the source an object's annotations name (annotary's key and the compat keys of
// cert-utils-operator, cert-manager's cainjector and OpenShift's service-ca), the opt-in rule,
// the patches of each target kind, and the controller in process (reconcile-harness.ts): one
// write per real change, user keys untouched, bad input refused with no write.
import { afterEach, describe, expect, test } from '@jest/globals';
import { A, AnnotationReader } from '../../src/annotations.js';
import type { CaSource } from '../../src/controllers/ca-injection.js';
import {
  bundleOf,
  caInjectionController,
  currentBundles,
  desiredInjectionPatch,
  injectedDataKey,
  parseCaSource,
  recordedIssuerRef,
  sourceAllowed,
} from '../../src/controllers/ca-injection.js';
import { isRefusal } from '../../src/kube/refusal.js';
import type { KubeObject } from '../../src/kube/types.js';
import { canonicalBundle } from '../../src/pki/bundle.js';
import { b64, configMap, conversionCrd, inNamespace, ofType, secret, webhookConfiguration, withAnnotations, withData } from '../gen.js';
import { bigCertificates } from '../pki/fixtures.js';
import { ec, next } from './tls-fixtures.js';
import { FakeCluster, runModule } from './reconcile-harness.js';

const on = new AnnotationReader(true);
const off = new AnnotationReader(false);
const reasonOf = (x: unknown) => (isRefusal(x) ? x.reason : x);

describe('parseCaSource', () => {
  test('annotary.io/inject-ca-from: <namespace>/<secret>[:<key>], key ca.crt by default', () => {
    expect(parseCaSource('ValidatingWebhookConfiguration', { [A.injectCaFrom]: 'ops/webhook-tls' }, on)).toMatchObject({
      from: 'secret',
      namespace: 'ops',
      name: 'webhook-tls',
      key: 'ca.crt',
      explicitKey: false,
      rule: 'annotary',
    });
    expect(parseCaSource('ConfigMap', { [A.injectCaFrom]: 'ops/webhook-tls:tls.crt' }, on)).toMatchObject({
      key: 'tls.crt',
      explicitKey: true,
    });
  });

  test.each([['webhook-tls'], ['ops/'], ['/x'], ['ops/x:'], ['ops/x:a b'], ['Ops/x'], ['a/b/c']])('"%s" is refused', (v) => {
    expect(reasonOf(parseCaSource('APIService', { [A.injectCaFrom]: v }, on))).toBe('InvalidAnnotation');
  });

  test('compat keys: the key each tool reads and writes; ignored with --compat=false', () => {
    const cu = parseCaSource('ConfigMap', { [A.cuInjectCaFromSecret]: 'ops/ca' }, on) as CaSource;
    expect(cu).toMatchObject({ rule: 'cert-utils', key: 'ca.crt' });
    expect(injectedDataKey(cu)).toBe('ca.crt');
    expect(parseCaSource('CustomResourceDefinition', { [A.cmInjectCaFromSecret]: 'ops/ca' }, on)).toMatchObject({ rule: 'cert-manager' });
    expect(parseCaSource('APIService', { [A.cmInjectApiserverCa]: 'true' }, on)).toMatchObject({ from: 'apiserver' });
    const oc = parseCaSource('ConfigMap', { [A.ocInjectCabundle]: 'True' }, on) as CaSource;
    expect(oc).toMatchObject({ from: 'serving-ca' });
    expect(injectedDataKey(oc)).toBe('service-ca.crt');
    expect(injectedDataKey(parseCaSource('Secret', { [A.injectCaFrom]: 'a/b' }, on) as CaSource)).toBe('ca-bundle.crt');
    for (const k of [A.cuInjectCaFromSecret, A.cmInjectCaFromSecret, A.cmInjectApiserverCa, A.ocInjectCabundle])
      expect(
        parseCaSource('APIService', { [k]: k === A.cmInjectApiserverCa || k === A.ocInjectCabundle ? 'true' : 'ops/ca' }, off),
      ).toBeUndefined();
  });

  test('cert-manager\'s boolean is exactly "true" (as cainjector compares it); "false" is no source', () => {
    expect(parseCaSource('APIService', { [A.cmInjectApiserverCa]: 'True' }, on)).toBeUndefined();
    expect(parseCaSource('APIService', { [A.ocInjectCabundle]: 'false' }, on)).toBeUndefined();
  });

  test('a target kind the tool does not support, and two sources, are refused', () => {
    expect(reasonOf(parseCaSource('ConfigMap', { [A.cmInjectCaFromSecret]: 'ops/ca' }, on))).toBe('UnsupportedInjectionTarget');
    expect(reasonOf(parseCaSource('Secret', { [A.cmInjectApiserverCa]: 'true' }, on))).toBe('UnsupportedInjectionTarget');
    expect(reasonOf(parseCaSource('Secret', { [A.ocInjectCabundle]: 'true' }, on))).toBe('UnsupportedInjectionTarget');
    expect(reasonOf(parseCaSource('APIService', { [A.injectCaFrom]: 'a/b', [A.cuInjectCaFromSecret]: 'a/b' }, on))).toBe(
      'InvalidAnnotation',
    );
  });
});

describe('sourceAllowed: the source opts in', () => {
  const src = (rule: 'annotary' | 'cert-manager') => ({
    ...(parseCaSource('APIService', { [A.injectCaFrom]: 'ops/ca' }, on) as CaSource & { from: 'secret' }),
    rule,
  });
  test('a namespaced target: same namespace, or share-with-namespaces naming it (the Ingress rule)', () => {
    expect(sourceAllowed(src('annotary'), 'ops', undefined, on)).toBe(true);
    expect(sourceAllowed(src('annotary'), 'web', undefined, on)).toBe(false);
    expect(sourceAllowed(src('annotary'), 'web', { [A.shareWithNamespaces]: 'web,db' }, on)).toBe(true);
    expect(sourceAllowed(src('annotary'), 'web', { [A.shareWithNamespaces]: '*' }, on)).toBe(true);
  });
  test('a cluster-scoped target: allow-ca-injection; share-with-namespaces "*" is not enough', () => {
    expect(sourceAllowed(src('annotary'), undefined, { [A.shareWithNamespaces]: '*' }, on)).toBe(false);
    expect(sourceAllowed(src('annotary'), undefined, { [A.allowCaInjection]: 'true' }, on)).toBe(true);
  });
  test('cert-manager\'s key: allow-direct-injection exactly "true", even in the same namespace', () => {
    expect(sourceAllowed(src('cert-manager'), undefined, { [A.allowCaInjection]: 'true' }, on)).toBe(false);
    expect(sourceAllowed(src('cert-manager'), undefined, { [A.cmAllowDirectInjection]: 'True' }, on)).toBe(false);
    expect(sourceAllowed(src('cert-manager'), undefined, { [A.cmAllowDirectInjection]: 'true' }, on)).toBe(true);
  });
});

describe('bundles and patches', () => {
  test('the bundle holds only certificates, deduplicated and in one order whatever the input order', () => {
    const a = bundleOf(`${ec.root}\n${next.root}\n${ec.root}`, 'x');
    const b = bundleOf(`# comment\n${next.root}${ec.root}`, 'x');
    expect(a).toBe(b);
    expect((a as string).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(bundleOf(`${ec.root}${ec.keyPkcs8}`, 'x')).not.toContain('PRIVATE KEY');
  });

  test('a private key alone, truncated PEM, and over 1 MiB are refused with their reasons', () => {
    expect(reasonOf(bundleOf(ec.keyPkcs8, 'x'))).toBe('CaSourceInvalid');
    expect(reasonOf(bundleOf(ec.root.slice(0, 200), 'x'))).toBe('CaSourceInvalid');
    const big = bigCertificates(3).map((pem, i) => ({ pem, what: `big ${i}` }));
    expect(() => canonicalBundle(big.slice(0, 2))).not.toThrow(); // ~800 KB
    expect(() => canonicalBundle(big)).toThrow(expect.objectContaining({ reason: 'BundleTooLarge' }));
    expect(reasonOf(bundleOf(big.map((b) => b.pem).join(''), 'x'))).toBe('CaSourceInvalid'); // one input over 1 MiB: InputTooLarge
  });

  test('webhooks: every clientConfig.caBundle; nothing when they and the hash are current', () => {
    const w = webhookConfiguration('ValidatingWebhookConfiguration', 'v', ['https://127.0.0.1:1/a', 'https://127.0.0.1:1/b']);
    w.metadata.resourceVersion = '7';
    const p = desiredInjectionPatch('ValidatingWebhookConfiguration', w, 'QUJD', 'h1') as { webhooks: { clientConfig: object }[] };
    expect(p.webhooks.map((x) => x.clientConfig)).toEqual([
      { url: 'https://127.0.0.1:1/a', caBundle: 'QUJD' },
      { url: 'https://127.0.0.1:1/b', caBundle: 'QUJD' },
    ]);
    expect(p).toMatchObject({ metadata: { resourceVersion: '7', annotations: { [A.sourceHash]: 'h1' } } });
    const done = { ...w, webhooks: p.webhooks, metadata: { ...w.metadata, annotations: { [A.sourceHash]: 'h1' } } } as KubeObject;
    expect(desiredInjectionPatch('ValidatingWebhookConfiguration', done, 'QUJD', 'h1')).toBeUndefined();
  });

  test('CRDs: v1 and v1beta1 paths; a CRD without a conversion webhook is refused', () => {
    const v1 = conversionCrd('things', 'Thing', 'https://127.0.0.1:1/convert');
    expect(desiredInjectionPatch('CustomResourceDefinition', v1, 'QUJD', 'h')).toMatchObject({
      spec: { conversion: { webhook: { clientConfig: { caBundle: 'QUJD' } } } },
    });
    const v1beta1 = {
      ...v1,
      apiVersion: 'apiextensions.k8s.io/v1beta1',
      spec: { conversion: { strategy: 'Webhook', webhookClientConfig: {} } },
    };
    expect(desiredInjectionPatch('CustomResourceDefinition', v1beta1, 'QUJD', 'h')).toMatchObject({
      spec: { conversion: { webhookClientConfig: { caBundle: 'QUJD' } } },
    });
    expect(reasonOf(currentBundles('CustomResourceDefinition', { ...v1, spec: { conversion: { strategy: 'None' } } }))).toBe(
      'UnsupportedInjectionTarget',
    );
  });
});

describe('the controller in process', () => {
  let stop: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(stop.map((s) => s()));
    stop = [];
  });
  const run = async (cluster: FakeCluster, flags: string[] = []) => {
    const op = await runModule(caInjectionController, cluster, flags);
    stop.push(() => op.stop());
    return op;
  };
  const served = ['admissionregistration.k8s.io', 'apiregistration.k8s.io', 'apiextensions.k8s.io'];
  const ca = (ns: string, pem: string, ann: Record<string, string> = {}) =>
    secret(
      'webhook-tls',
      inNamespace(ns),
      ofType('kubernetes.io/tls'),
      withAnnotations(ann),
      withData({ 'ca.crt': pem, 'tls.crt': ec.leaf, 'tls.key': ec.keyPkcs8 }),
    );
  const writes = (c: FakeCluster) => c.writes.map((w) => `${w.verb} ${w.kind} ${w.name}`);

  test('a webhook configuration: one patch, none after a restart, one per CA rotation', async () => {
    const hook = webhookConfiguration(
      'ValidatingWebhookConfiguration',
      'guard',
      ['https://127.0.0.1:1/a'],
      withAnnotations({ [A.injectCaFrom]: 'ops/webhook-tls' }),
    );
    const cluster = new FakeCluster([ca('ops', ec.root, { [A.allowCaInjection]: 'true' }), hook], served);
    let op = await run(cluster);
    expect(writes(cluster)).toEqual(['patch ValidatingWebhookConfiguration guard']);
    const injected = (
      cluster.get('ValidatingWebhookConfiguration', '', 'guard') as unknown as { webhooks: { clientConfig: { caBundle: string } }[] }
    ).webhooks;
    expect(Buffer.from(injected[0].clientConfig.caBundle, 'base64').toString()).toBe(canonicalBundle([{ pem: ec.root, what: '' }]));
    expect(op.events.map((e) => e.reason)).toEqual(['CaInjected']);
    await op.stop();
    stop = [];
    op = await run(cluster);
    expect(writes(cluster)).toHaveLength(1);
    cluster.userPatch('Secret', 'ops', 'webhook-tls', { data: { 'ca.crt': b64(ec.root + next.root) } });
    await op.quiet();
    expect(writes(cluster)).toHaveLength(2);
  });

  test('without the opt-in: CaSourceNotShared, no write; removing the annotation leaves the bundle', async () => {
    const hook = webhookConfiguration(
      'MutatingWebhookConfiguration',
      'm',
      ['https://127.0.0.1:1/a'],
      withAnnotations({ [A.injectCaFrom]: 'ops/webhook-tls' }),
    );
    const cluster = new FakeCluster([ca('ops', ec.root), hook], served);
    const op = await run(cluster);
    expect(writes(cluster)).toEqual([]);
    expect(op.events.map((e) => e.reason)).toEqual(['CaSourceNotShared']);
    const invalid = (await op.metrics.invalidInputTotal.get()).values;
    expect(invalid).toContainEqual(
      expect.objectContaining({ labels: { controller: 'ca-injection', reason: 'CaSourceNotShared' }, value: 1 }),
    );
    cluster.userPatch('Secret', 'ops', 'webhook-tls', { metadata: { annotations: { [A.allowCaInjection]: 'true' } } });
    await op.quiet();
    expect(writes(cluster)).toHaveLength(1);
    cluster.userPatch('MutatingWebhookConfiguration', '', 'm', { metadata: { annotations: { [A.injectCaFrom]: null } } });
    cluster.userPatch('Secret', 'ops', 'webhook-tls', { data: { 'ca.crt': b64(next.root) } });
    await op.quiet();
    expect(writes(cluster)).toHaveLength(1);
    const hooks = (
      cluster.get('MutatingWebhookConfiguration', '', 'm') as unknown as { webhooks: { clientConfig: { caBundle?: string } }[] }
    ).webhooks;
    expect(hooks[0].clientConfig.caBundle).toBeDefined();
  });

  test('under --namespaces the cluster-scoped targets are still seen (their caches list cluster-wide)', async () => {
    const hook = webhookConfiguration(
      'ValidatingWebhookConfiguration',
      'scoped',
      ['https://127.0.0.1:1/a'],
      withAnnotations({ [A.injectCaFrom]: 'ops/webhook-tls' }),
    );
    const cluster = new FakeCluster([ca('ops', ec.root, { [A.allowCaInjection]: 'true' }), hook], served);
    await run(cluster, ['--namespaces', 'ops']);
    expect(writes(cluster)).toEqual(['patch ValidatingWebhookConfiguration scoped']);
  });

  test('malformed PEM in the source: CaSourceInvalid and no write', async () => {
    const hook = webhookConfiguration(
      'ValidatingWebhookConfiguration',
      'g',
      ['https://127.0.0.1:1/a'],
      withAnnotations({ [A.injectCaFrom]: 'ops/webhook-tls' }),
    );
    const cluster = new FakeCluster([ca('ops', ec.root.slice(0, 300), { [A.allowCaInjection]: 'true' }), hook], served);
    const op = await run(cluster);
    expect(writes(cluster)).toEqual([]);
    expect(op.events.map((e) => e.reason)).toEqual(['CaSourceInvalid']);
  });

  test("a ConfigMap: ca-bundle.crt next to the user's keys; the user's own ca-bundle.crt is a KeyConflict", async () => {
    const cm = configMap(
      'trust',
      inNamespace('ops'),
      withAnnotations({ [A.injectCaFrom]: 'ops/webhook-tls' }),
      withData({ 'app.conf': 'x=1' }),
    );
    const theirs = configMap(
      'theirs',
      inNamespace('ops'),
      withAnnotations({ [A.injectCaFrom]: 'ops/webhook-tls' }),
      withData({ 'ca-bundle.crt': 'mine' }),
    );
    const cluster = new FakeCluster([ca('ops', ec.root), cm, theirs], served);
    const op = await run(cluster);
    expect(writes(cluster)).toEqual(['patch ConfigMap trust']);
    const data = (cluster.get('ConfigMap', 'ops', 'trust') as unknown as { data: Record<string, string> }).data;
    expect(data['app.conf']).toBe('x=1');
    expect(data['ca-bundle.crt']).toBe(canonicalBundle([{ pem: ec.root, what: '' }]));
    expect(op.events.filter((e) => e.name === 'theirs').map((e) => e.reason)).toEqual(['KeyConflict']);
    expect((cluster.get('ConfigMap', 'ops', 'theirs') as unknown as { data: Record<string, string> }).data['ca-bundle.crt']).toBe('mine');
  });

  test("service-ca's inject-cabundle: a ConfigMap gets service-ca.crt from the serving CA annotary issues with (--serving-ca)", async () => {
    const servingCa = secret('serving-ca', inNamespace('infra'), ofType('kubernetes.io/tls'), withData({ 'tls.crt': ec.root }));
    const cm = configMap('svc-ca', inNamespace('web'), withAnnotations({ [A.ocInjectCabundle]: 'true' }));
    const cluster = new FakeCluster([servingCa, cm], served);
    const op = await run(cluster, ['--serving-ca', 'infra/serving-ca']);
    expect(writes(cluster)).toEqual(['patch ConfigMap svc-ca']);
    const data = (cluster.get('ConfigMap', 'web', 'svc-ca') as unknown as { data: Record<string, string> }).data;
    expect(data['service-ca.crt']).toBe(canonicalBundle([{ pem: ec.root, what: '' }]));
    cluster.userPatch('Secret', 'infra', 'serving-ca', { data: { 'tls.crt': b64(next.root) } }); // the serving CA rotated
    await op.quiet();
    expect(writes(cluster)).toEqual(['patch ConfigMap svc-ca', 'patch ConfigMap svc-ca']);
  });

  test('a Secret annotary issued without ca.crt: the CA recorded in annotary.io/issued-by stands in (and is watched)', async () => {
    const issued = secret('api-tls', inNamespace('ops'), withAnnotations({ [A.issuedBy]: 'ops/root' }), withData({ 'tls.crt': ec.leaf }));
    const root = secret('root', inNamespace('ops'), withData({ 'tls.crt': ec.root }));
    const cm = configMap('trust', inNamespace('ops'), withAnnotations({ [A.injectCaFrom]: 'ops/api-tls' }));
    const cluster = new FakeCluster([issued, root, cm], served);
    const op = await run(cluster);
    expect(writes(cluster)).toEqual(['patch ConfigMap trust']);
    const data = () => (cluster.get('ConfigMap', 'ops', 'trust') as unknown as { data: Record<string, string> }).data;
    expect(data()['ca-bundle.crt']).toBe(canonicalBundle([{ pem: ec.root, what: '' }]));
    cluster.userPatch('Secret', 'ops', 'root', { data: { 'tls.crt': b64(next.root) } });
    await op.quiet();
    expect(data()['ca-bundle.crt']).toBe(canonicalBundle([{ pem: next.root, what: '' }]));
    expect(recordedIssuerRef({ [A.issuedBy]: 'csr:kubernetes.io/kube-apiserver-client' })).toBeUndefined();
  });

  test('a ConfigMap of another namespace needs share-with-namespaces', async () => {
    const cm = configMap('trust', inNamespace('web'), withAnnotations({ [A.cuInjectCaFromSecret]: 'ops/webhook-tls' }));
    const cluster = new FakeCluster([ca('ops', ec.root), cm], served);
    const op = await run(cluster);
    expect(writes(cluster)).toEqual([]);
    expect(op.events.map((e) => e.reason)).toEqual(['CaSourceNotShared']);
    cluster.userPatch('Secret', 'ops', 'webhook-tls', { metadata: { annotations: { [A.shareWithNamespaces]: 'web' } } });
    await op.quiet();
    expect(writes(cluster)).toEqual(['patch ConfigMap trust']);
    expect(Object.keys((cluster.get('ConfigMap', 'web', 'trust') as unknown as { data: object }).data)).toEqual(['ca.crt']);
  });
});
