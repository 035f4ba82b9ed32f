// Bad input across controllers, on the real local control plane. e2e/keystores.test.ts has
// the 17-case PEM/keystore table; this table adds what it does not cover: Routes, Ingresses,
// ConfigMap truststores, workloads, keystore annotation and reference errors, plus three
// inputs that are odd but must work (an expired certificate, a chain in the wrong order, a
// workload watching 200 Secrets).
//
// Every refusal case checks the same five things: a Warning Event with the precise reason,
// annotary_invalid_input_total{controller,reason} went up, the object was not written, the
// operator process is alive, and after a valid fix the object is written as usual.
import type { KubeObject, ResourceType } from '../src/kube/types.js';
import { ConfigMaps, DaemonSets, Deployments, Ingresses, Routes, Secrets, StatefulSets } from '../src/kube/types.js';
import { readJks } from '../src/pki/jks.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, eventsFor, newNamespace, startOperator, waitFor } from './harness/cluster.js';
import { anchorFixture, chainFixture, shortLivedCert } from '../test/pki/fixtures.js';
import { selfSigned } from '../test/pki/helpers.js';
import type { ConfigMap, Data, Ingress, Mod, Route, Secret, Workload, WorkloadKind } from '../test/gen.js';
import {
  b64,
  b64Values,
  configMap,
  ingress,
  inNamespace,
  ofType,
  route,
  secret,
  tlsData,
  withAnnotations,
  withData,
  withEnvFromSecrets,
  withRouteTLS,
  withTLS,
  workload,
} from '../test/gen.js';

const client = adminClient();
const ec = chainFixture('p256');
const rsa = chainFixture('rsa2048');
let ns: string;
let other: string; // a second watched namespace: cross-namespace sources
let op: OperatorProcess;

const TLS = ofType('kubernetes.io/tls');
/** creates a Secret in ns (inNamespace among `mods` puts it elsewhere) */
const mkSecret = (name: string, annotations: Data, ...mods: Mod<Secret>[]) => {
  const s = secret(name, inNamespace(ns), withAnnotations(annotations), ...mods);
  return client.create<Secret>(Secrets, s.metadata.namespace, s);
};
const getSecret = (name: string, namespace = ns) => client.get<Secret>(Secrets, namespace, name);
const mkRoute = (name: string, annotations: Data, tls: Data | null = { termination: 'edge' }) =>
  client.create<Route>(Routes, ns, route(name, inNamespace(ns), withAnnotations(annotations), withRouteTLS(tls)));
const mkIngress = (name: string, annotations: Data) =>
  client.create<Ingress>(Ingresses, ns, ingress(name, inNamespace(ns), withAnnotations(annotations)));
const mkWorkload = (rt: ResourceType, name: string, annotations: Data, secrets: string[] = []) =>
  client.create<Workload>(
    rt,
    ns,
    workload(rt.kind as WorkloadKind, name, inNamespace(ns), withAnnotations(annotations), withEnvFromSecrets(...secrets)),
  );
const observedHash = async (rt: ResourceType, name: string) =>
  (await client.get<Workload>(rt, ns, name)).metadata.annotations?.['annotary.io/observed-config-hash'];

const expired = () => selfSigned('expired.example', new Date(Date.UTC(2020, 0, 1)), new Date(Date.UTC(2021, 0, 1)));

const certDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

beforeAll(async () => {
  ns = await newNamespace(client, 'bad');
  other = await newNamespace(client, 'bad-src');
  op = await startOperator([
    '--namespaces',
    `${ns},${other}`,
    '--controllers',
    'keystores,routes,ingresses,reload,expiry',
    '--reload-settle',
    '0s',
    '--log-level',
    'debug',
  ]);
  // shared inputs of the cases
  await mkSecret('good-tls', {}, TLS, withTLS(ec));
  await mkSecret('pw', {}, withData({ password: 'pw-1' }));
  await mkSecret('private', {}, inNamespace(other), TLS, withTLS(ec));
});

afterAll(async () => {
  await op?.stop();
  await deleteNamespace(client, ns);
  await deleteNamespace(client, other);
});

interface Case {
  title: string;
  controller: string;
  reason: string;
  /** creates the object (and whatever it references); returns the object's kind and name */
  make: (name: string) => Promise<KubeObject>;
  /** a valid change; then `fixed` must become true */
  fix: (name: string) => Promise<unknown>;
  fixed: (name: string) => Promise<boolean>;
  /** the object whose resourceVersion must not change (defaults to the one made) */
  untouched?: 'rv' | 'workload';
}

const ks = { 'annotary.io/keystores': 'jks' };
const hasStore = async (name: string) => !!(await getSecret(name)).data?.['keystore.jks'];
const annotate = (rt: ResourceType, name: string, annotations: Record<string, string | null>) =>
  client.patch(rt, ns, name, { metadata: { annotations } });
const routeFilled = async (name: string) => (await client.get<Route>(Routes, ns, name)).spec.tls?.certificate === ec.certPem(2);
const ingressCopied = async (name: string) =>
  (await client.tryGet<Secret>(Secrets, ns, `${name}-annotary-tls`))?.data?.['tls.crt'] === b64(ec.certPem(2));
const wlOnboarded = (rt: ResourceType) => async (name: string) => !!(await observedHash(rt, name));

const cases: Case[] = [
  // ---- keystores: annotations and references (the PEM cases are in keystores.test.ts)
  {
    title: 'password Secret without the named key',
    controller: 'keystores',
    reason: 'PasswordKeyMissing',
    make: (n) => mkSecret(n, { ...ks, 'annotary.io/keystore-password-secret': 'pw/nope' }, withTLS(ec)),
    fix: (n) => annotate(Secrets, n, { 'annotary.io/keystore-password-secret': 'pw/password' }),
    fixed: hasStore,
  },
  {
    title: 'invalid keystore alias',
    controller: 'keystores',
    reason: 'InvalidAnnotation',
    make: (n) => mkSecret(n, { ...ks, 'annotary.io/keystore-alias': 'no spaces allowed!' }, withTLS(ec)),
    fix: (n) => annotate(Secrets, n, { 'annotary.io/keystore-alias': 'server' }),
    fixed: hasStore,
  },
  {
    title: 'empty literal password',
    controller: 'keystores',
    reason: 'InvalidAnnotation',
    make: (n) => mkSecret(n, { ...ks, 'annotary.io/keystore-password': '' }, withTLS(ec)),
    fix: (n) => annotate(Secrets, n, { 'annotary.io/keystore-password': 'literal-pw' }),
    fixed: hasStore,
  },
  {
    title: 'non-ASCII password for PKCS#12',
    controller: 'keystores',
    reason: 'InvalidPassword',
    make: (n) => mkSecret(n, { 'annotary.io/keystores': 'pkcs12', 'annotary.io/keystore-password': 'pässwörd' }, withTLS(ec)),
    fix: (n) => annotate(Secrets, n, { 'annotary.io/keystore-password': 'passwoerd' }),
    fixed: async (n) => !!(await getSecret(n)).data?.['keystore.p12'],
  },
  {
    title: 'cert-info is not a boolean',
    controller: 'keystores',
    reason: 'InvalidAnnotation',
    make: (n) => mkSecret(n, { 'annotary.io/cert-info': 'sometimes' }, withTLS(ec)),
    fix: (n) => annotate(Secrets, n, { 'annotary.io/cert-info': 'true' }),
    fixed: async (n) => !!(await getSecret(n)).data?.['tls.crt.info'],
  },
  {
    title: 'truststore-from names a Secret without the key',
    controller: 'keystores',
    reason: 'TruststoreSourceMissing',
    make: (n) => mkSecret(n, { ...ks, 'annotary.io/truststore-from': 'pw:ca.crt' }, withTLS(ec)),
    fix: (n) => annotate(Secrets, n, { 'annotary.io/truststore-from': 'good-tls' }),
    fixed: hasStore,
  },
  // ---- ConfigMap truststores
  {
    title: 'ConfigMap without its source-ca-key',
    controller: 'truststores',
    reason: 'MissingKey',
    make: (n) =>
      client.create<ConfigMap>(
        ConfigMaps,
        ns,
        configMap(
          n,
          inNamespace(ns),
          withData({ 'ca-bundle.crt': ec.ca }),
          withAnnotations({ 'annotary.io/truststore': 'jks', 'annotary.io/source-ca-key': 'service-ca.crt' }),
        ),
      ),
    fix: (n) => annotate(ConfigMaps, n, { 'annotary.io/source-ca-key': null }),
    fixed: async (n) => !!(await client.get<ConfigMap>(ConfigMaps, ns, n)).binaryData?.['truststore.jks'],
  },
  {
    title: 'ConfigMap bundle with a CA on a curve Java 17 no longer implements',
    controller: 'truststores',
    reason: 'UnsupportedByJava',
    make: (n) =>
      client.create<ConfigMap>(
        ConfigMaps,
        ns,
        configMap(
          n,
          inNamespace(ns),
          withAnnotations({ 'annotary.io/truststore': 'jks' }),
          withData({ 'ca-bundle.crt': ec.ca + anchorFixture('brainpoolP256r1').root }),
        ),
      ),
    fix: (n) => client.patch(ConfigMaps, ns, n, { data: { 'ca-bundle.crt': ec.ca } }),
    fixed: async (n) => !!(await client.get<ConfigMap>(ConfigMaps, ns, n)).binaryData?.['truststore.jks'],
  },
  // ---- Routes
  {
    title: 'Route: certs-from-secret is not a Secret name',
    controller: 'routes',
    reason: 'InvalidAnnotation',
    make: (n) => mkRoute(n, { 'annotary.io/certs-from-secret': 'Not_A/Name' }),
    fix: (n) => annotate(Routes, n, { 'annotary.io/certs-from-secret': 'good-tls' }),
    fixed: routeFilled,
  },
  {
    title: 'Route: inject-ca is not a boolean',
    controller: 'routes',
    reason: 'InvalidAnnotation',
    make: (n) => mkRoute(n, { 'annotary.io/certs-from-secret': 'good-tls', 'annotary.io/inject-ca': 'perhaps' }),
    fix: (n) => annotate(Routes, n, { 'annotary.io/inject-ca': 'false' }),
    fixed: routeFilled,
  },
  {
    title: 'Route: source Secret missing',
    controller: 'routes',
    reason: 'SourceSecretMissing',
    make: (n) => mkRoute(n, { 'annotary.io/certs-from-secret': `${n}-src` }),
    fix: (n) => mkSecret(`${n}-src`, {}, TLS, withTLS(ec)),
    fixed: routeFilled,
  },
  {
    title: 'Route: source Secret without tls.key',
    controller: 'routes',
    reason: 'SourceSecretInvalid',
    make: async (n) => {
      await mkSecret(`${n}-src`, {}, withData({ 'tls.crt': ec.certPem(2) }));
      return mkRoute(n, { 'annotary.io/certs-from-secret': `${n}-src` });
    },
    fix: (n) => client.patch(Secrets, ns, `${n}-src`, { data: tlsData(ec) }),
    fixed: routeFilled,
  },
  {
    title: 'Route without spec.tls',
    controller: 'routes',
    reason: 'NoTLSSpec',
    make: (n) => mkRoute(n, { 'annotary.io/certs-from-secret': 'good-tls' }, null),
    fix: (n) => client.patch(Routes, ns, n, { spec: { tls: { termination: 'edge' } } }),
    fixed: routeFilled,
  },
  {
    title: 'Route: destination CA on an edge Route',
    controller: 'routes',
    reason: 'UnsupportedTermination',
    make: (n) => mkRoute(n, { 'annotary.io/destination-ca-from-secret': 'good-tls' }),
    fix: (n) => client.patch(Routes, ns, n, { spec: { tls: { termination: 'reencrypt' } } }),
    fixed: async (n) => (await client.get<Route>(Routes, ns, n)).spec.tls?.destinationCACertificate === ec.ca,
  },
  // ---- Ingresses
  {
    title: 'Ingress: certs-from-secret with too many slashes',
    controller: 'ingresses',
    reason: 'InvalidAnnotation',
    make: (n) => mkIngress(n, { 'annotary.io/certs-from-secret': 'a/b/c' }),
    fix: (n) => annotate(Ingresses, n, { 'annotary.io/certs-from-secret': 'good-tls' }),
    fixed: ingressCopied,
  },
  {
    title: 'Ingress: tls-hosts names strings that are not hosts',
    controller: 'ingresses',
    reason: 'InvalidAnnotation',
    make: (n) => mkIngress(n, { 'annotary.io/certs-from-secret': 'good-tls', 'annotary.io/tls-hosts': 'Not A Host!,*.*.bad' }),
    fix: (n) => annotate(Ingresses, n, { 'annotary.io/tls-hosts': 'shop.example,*.shop.example' }),
    fixed: ingressCopied,
  },
  {
    title: 'Ingress: source Secret missing',
    controller: 'ingresses',
    reason: 'SourceSecretMissing',
    make: (n) => mkIngress(n, { 'annotary.io/certs-from-secret': `${n}-src` }),
    fix: (n) => mkSecret(`${n}-src`, {}, TLS, withTLS(ec)),
    fixed: ingressCopied,
  },
  {
    title: 'Ingress: cross-namespace source without the opt-in',
    controller: 'ingresses',
    reason: 'NotSharedWithNamespace',
    make: (n) => mkIngress(n, { 'annotary.io/certs-from-secret': `${other}/private` }),
    fix: () => client.patch(Secrets, other, 'private', { metadata: { annotations: { 'annotary.io/share-with-namespaces': ns } } }),
    fixed: ingressCopied,
  },
  {
    title: 'Ingress: key does not match the certificate',
    controller: 'ingresses',
    reason: 'SourceSecretInvalid',
    make: async (n) => {
      await mkSecret(`${n}-src`, {}, withData({ 'tls.crt': ec.certPem(2), 'tls.key': rsa.keyPkcs8 }));
      return mkIngress(n, { 'annotary.io/certs-from-secret': `${n}-src` });
    },
    fix: (n) => client.patch(Secrets, ns, `${n}-src`, { data: tlsData(ec) }),
    fixed: ingressCopied,
  },
  {
    title: "Ingress: a foreign Secret has the copy's name",
    controller: 'ingresses',
    reason: 'CopyConflict',
    make: async (n) => {
      await mkSecret(`${n}-annotary-tls`, {}, withData({ foreign: 'yes' }));
      return mkIngress(n, { 'annotary.io/certs-from-secret': 'good-tls' });
    },
    fix: (n) => client.delete(Secrets, ns, `${n}-annotary-tls`),
    fixed: ingressCopied,
  },
  {
    title: 'Ingress: ingress-nginx annotation set by someone else',
    controller: 'ingresses',
    reason: 'AnnotationConflict',
    make: (n) =>
      mkIngress(n, { 'annotary.io/destination-ca-from-secret': 'good-tls', 'nginx.ingress.kubernetes.io/backend-protocol': 'GRPC' }),
    fix: (n) => annotate(Ingresses, n, { 'nginx.ingress.kubernetes.io/backend-protocol': null }),
    fixed: async (n) =>
      (await client.get<Ingress>(Ingresses, ns, n)).metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-ssl-verify'] === 'on',
  },
  // ---- workloads
  {
    title: 'StatefulSet: annotary.io/reload is not auto',
    controller: 'reload',
    reason: 'InvalidAnnotation',
    untouched: 'workload',
    make: (n) => mkWorkload(StatefulSets, n, { 'annotary.io/reload': 'always' }, ['good-tls']),
    fix: (n) => annotate(StatefulSets, n, { 'annotary.io/reload': 'auto' }),
    fixed: wlOnboarded(StatefulSets),
  },
  {
    title: 'Deployment: reload-on-secrets names an invalid Secret name',
    controller: 'reload',
    reason: 'InvalidAnnotation',
    untouched: 'workload',
    make: (n) => mkWorkload(Deployments, n, { 'annotary.io/reload-on-secrets': 'good-tls,Bad_Name' }),
    fix: (n) => annotate(Deployments, n, { 'annotary.io/reload-on-secrets': 'good-tls' }),
    fixed: wlOnboarded(Deployments),
  },
  {
    title: 'Deployment: its only Reloader regexp does not compile (skipped as Reloader skips it: nothing to watch)',
    controller: 'reload',
    reason: 'ReloaderValueIgnored',
    untouched: 'workload',
    make: (n) => mkWorkload(Deployments, n, { 'configmap.reloader.stakater.com/reload': '[unclosed' }),
    fix: (n) =>
      annotate(Deployments, n, { 'configmap.reloader.stakater.com/reload': null, 'secret.reloader.stakater.com/reload': 'good-.*' }),
    fixed: wlOnboarded(Deployments),
  },
  {
    title: 'DaemonSet: reloader.stakater.com/auto is not a Go boolean (false, as in Reloader: nothing to watch)',
    controller: 'reload',
    reason: 'ReloaderValueIgnored',
    untouched: 'workload',
    make: (n) => mkWorkload(DaemonSets, n, { 'reloader.stakater.com/auto': 'yes please' }, ['good-tls']),
    fix: (n) => annotate(DaemonSets, n, { 'reloader.stakater.com/auto': 'true' }),
    fixed: wlOnboarded(DaemonSets),
  },
  {
    title: 'Deployment: reload source missing',
    controller: 'reload',
    reason: 'ReloadSourceMissing',
    untouched: 'workload',
    make: (n) => mkWorkload(Deployments, n, { 'annotary.io/reload-on-secrets': `${n}-src` }),
    fix: (n) => mkSecret(`${n}-src`, {}, withData({ v: '1' })),
    fixed: wlOnboarded(Deployments),
  },
];

const RT: Record<string, ResourceType> = {
  Secret: Secrets,
  ConfigMap: ConfigMaps,
  Route: Routes,
  Ingress: Ingresses,
  Deployment: Deployments,
  StatefulSet: StatefulSets,
  DaemonSet: DaemonSets,
};

describe('bad input across controllers: Warning, metric, no write, no crash, then recovery', () => {
  test.each(cases.map((c) => [c.title, c.reason, c] as const))('%s → %s', async (_t, reason, c) => {
    const name = `c-${reason.toLowerCase().slice(0, 20)}-${Math.random().toString(36).slice(2, 7)}`;
    const before = await op.metric('annotary_invalid_input_total', { controller: c.controller, reason });
    const created = await c.make(name);
    const rt = RT[created.kind!];
    const ev = await waitFor(`${reason} event on ${name}`, async () =>
      (await eventsFor(client, ns, name)).find((e) => e.reason === reason),
    );
    expect(ev.type).toBe('Warning');
    expect(ev.message).not.toMatch(/BEGIN|MII/); // names the problem, never the material
    await waitFor(
      'invalid-input metric',
      async () => (await op.metric('annotary_invalid_input_total', { controller: c.controller, reason })) > before,
    );
    const now = await client.get<Workload>(rt, ns, name);
    if (c.untouched === 'workload') {
      // the kube-controller-manager writes workload status; annotary would write annotations or the template
      expect(now.metadata.generation).toBe(1);
      expect(now.metadata.annotations?.['annotary.io/observed-config-hash']).toBeUndefined();
      const managers = ((now.metadata as { managedFields?: { manager?: string }[] }).managedFields ?? []).map((m) => m.manager);
      expect(managers).not.toContain('annotary');
    } else {
      expect(now.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    }
    if (created.kind === 'Ingress')
      expect(
        await client.tryGet(Secrets, ns, `${name}-annotary-tls`).then((s) => s?.metadata.labels?.['app.kubernetes.io/managed-by']),
      ).toBeUndefined();
    expect(op.proc.exitCode).toBeNull();
    await c.fix(name);
    await waitFor(`${name} works after the fix`, () => c.fixed(name));
  });
});

describe('odd input that must work', () => {
  test('an expired certificate: stores written, plus a CertificateWarning Warning and the metric', async () => {
    const before = await op.metric('annotary_invalid_input_total', { controller: 'keystores', reason: 'CertificateWarning' });
    const old = expired();
    await mkSecret('expired', ks, withData({ 'tls.crt': old.certPem, 'tls.key': old.keyPem }));
    const s = await waitFor('stores', async () => {
      const x = await getSecret('expired');
      return x.data?.['keystore.jks'] ? x : undefined;
    });
    const [entry] = readJks(Buffer.from(s.data!['keystore.jks'], 'base64'), 'changeit');
    expect(entry.kind === 'key' && entry.chain.length).toBe(1);
    const ev = await waitFor('CertificateWarning', async () =>
      (await eventsFor(client, ns, 'expired')).find((e) => e.reason === 'CertificateWarning'),
    );
    expect(ev.type).toBe('Warning');
    expect(ev.message).toMatch(/expired/);
    await waitFor(
      'invalid-input metric for CertificateWarning',
      async () => (await op.metric('annotary_invalid_input_total', { controller: 'keystores', reason: 'CertificateWarning' })) > before,
    );
  });

  test('a certificate expiring within --expiry-warning: CertificateExpiring Warning and the metric', async () => {
    const before = await op.metric('annotary_invalid_input_total', { controller: 'expiry', reason: 'CertificateExpiring' });
    const short = shortLivedCert(5);
    await mkSecret('expiring', {}, TLS, withData({ 'tls.crt': short.cert, 'tls.key': short.key }));
    const ev = await waitFor('CertificateExpiring', async () =>
      (await eventsFor(client, ns, 'expiring')).find((e) => e.reason === 'CertificateExpiring'),
    );
    expect(ev.type).toBe('Warning');
    await waitFor(
      'invalid-input metric for CertificateExpiring',
      async () => (await op.metric('annotary_invalid_input_total', { controller: 'expiry', reason: 'CertificateExpiring' })) > before,
    );
  });

  test('a chain in the wrong order (root, intermediate, leaf): stores written leaf-first', async () => {
    await mkSecret('reversed', ks, withData({ 'tls.crt': rsa.root + rsa.intermediate + rsa.leaf, 'tls.key': rsa.keyPkcs8 }));
    const s = await waitFor('stores', async () => {
      const x = await getSecret('reversed');
      return x.data?.['keystore.jks'] ? x : undefined;
    });
    const [entry] = readJks(Buffer.from(s.data!['keystore.jks'], 'base64'), 'changeit');
    if (entry.kind !== 'key') throw new Error('expected a key entry');
    expect(entry.chain.map((c) => c.toString('hex'))).toEqual(
      [rsa.leaf, rsa.intermediate, rsa.root].map((p) => certDer(p).toString('hex')),
    );
    // and keytool agrees on the order: certificate[1] is the leaf
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const file = `${mkdtempSync(`${os.tmpdir()}/annotary-bad-`)}/ks.jks`;
    writeFileSync(file, Buffer.from(s.data!['keystore.jks'], 'base64'));
    const out = execFileSync('keytool', ['-list', '-v', '-keystore', file, '-storepass', 'changeit'], { encoding: 'utf8' });
    const owners = [...out.matchAll(/^Owner: (.*)$/gm)].map((m) => m[1]);
    expect(owners).toHaveLength(3);
    expect(owners[0]).toMatch(/CN=localhost/);
    expect(owners[1]).toMatch(/CN=Intermediate/);
    expect(owners[2]).toMatch(/CN=Root/);
    expect((await eventsFor(client, ns, 'reversed')).filter((e) => e.type === 'Warning')).toEqual([]);
  });

  test('a Deployment watching 200 Secrets: one digest, one rollout per change, no crash', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `many-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 20) await Promise.all(names.slice(i, i + 20).map((n) => mkSecret(n, {}, withData({ v: n }))));
    await mkWorkload(Deployments, 'many', { 'annotary.io/reload': 'auto' }, names);
    const d0 = await waitFor('onboarded', () => observedHash(Deployments, 'many'), 60_000);
    // (a Deployment's generation also counts metadata.annotations changes: onboarding bumped it)
    const g0 = (await client.get<Workload>(Deployments, ns, 'many')).metadata.generation!;
    expect(d0).toMatch(/^[0-9a-f]{32}$/);
    const ev = await waitFor('ReloadWatching', async () =>
      (await eventsFor(client, ns, 'many')).find((e) => e.reason === 'ReloadWatching'),
    );
    expect(ev.message).toMatch(/^watching Secret\/many-000, .*Secret\/many-009 and 190 more; /); // a bounded message (#19)
    await client.patch(Secrets, ns, 'many-123', { data: b64Values({ v: 'rotated' }) });
    const w = await waitFor(
      'one rollout',
      async () => {
        const x = await client.get<Workload>(Deployments, ns, 'many');
        return x.spec.template.metadata?.annotations?.['annotary.io/config-hash'] ? x : undefined;
      },
      60_000,
    );
    const hash = w.spec.template.metadata?.annotations?.['annotary.io/config-hash'];
    expect(w.metadata.generation).toBe(g0 + 1); // one patch: the template and the observed digest together
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect(hash).not.toBe(d0);
    expect(w.metadata.annotations?.['annotary.io/observed-config-hash']).toBe(hash);
    expect(op.proc.exitCode).toBeNull();
  });
});

describe('afterwards', () => {
  test('the operator survived the whole table', () => {
    expect(op.proc.exitCode).toBeNull();
    expect(op.logs.some((l) => /uncaught|unhandled/i.test(l))).toBe(false);
  });
});
