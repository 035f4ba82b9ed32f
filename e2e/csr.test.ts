// CertificateSigningRequests on the local control plane, with the RBAC the install manifests
// grant: the operator runs with the token of the `annotary` ServiceAccount of
// `kubectl apply -k manifests/`.
//   - annotary as a signer: a CSR made with openssl req and kubectl, approved with
//     `kubectl certificate approve`, signed by annotary (openssl verify against the CA Secret),
//     then served by a JVM from the keystore annotary builds and trusted by a JVM through the
//     truststore; a CSR the CA Secret's policy covers, approved by annotary itself; a CA request
//     marked Failed.
//   - the csr: issuer: a Secret annotated csr:kubernetes.io/kube-apiserver-client gets a client
//     certificate signed by the real kube-controller-manager (openssl verify against the cluster's
//     signing CA) once kubectl approves it (an Event says it waits), and a JVM authenticates to the
//     apiserver as that user with the keystore annotary builds; the seam itself (csrIssuing):
//     annotary waits for an approver until RBAC lets it approve, then approves its own requests.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { loadConfig } from '../src/config.js';
import type { CsrIssuing } from '../src/issuers/csr.js';
import { csrIssuing, csrObjectName } from '../src/issuers/csr.js';
import type { IssueResult } from '../src/issuers/issuer.js';
import { isIssued, isPending } from '../src/issuers/issuer.js';
import { SharedCaches } from '../src/kube/caches.js';
import { ApiError, KubeClient } from '../src/kube/client.js';
import type { Csr } from '../src/kube/csr.js';
import { addConditionPatch, signerNameOf } from '../src/kube/csr.js';
import type { SlimData } from '../src/kube/slim.js';
import type { KubeObject } from '../src/kube/types.js';
import { CertificateSigningRequests, Secrets, objectKey } from '../src/kube/types.js';
import { isRefusal } from '../src/kube/refusal.js';
import { Writer } from '../src/kube/writer.js';
import { createMetrics } from '../src/metrics.js';
import { createCsr, parseCsr } from '../src/pki/x509.js';
import type { OperatorProcess } from './harness/cluster.js';
import { applyWithoutPods } from './harness/kustomize.js';
import {
  KUBECONFIG,
  ROOT,
  adminClient,
  deleteNamespace,
  eventsFor,
  kubectl,
  newNamespace,
  serviceAccountToken,
  startOperator,
  waitFor,
  writeKubeconfig,
} from './harness/cluster.js';
import { silentLogger } from '../test/kube/helpers.js';
import { openssl, scratchDir } from '../test/pki/fixtures.js';
import type { Secret } from '../test/gen.js';
import { b64Values, inNamespace, ofType, secret, withAnnotations, withBase64Data } from '../test/gen.js';

const INSTALL_NS = 'annotary-system';
const CLUSTER_SIGNING_CA = path.join(path.dirname(KUBECONFIG), 'pki/signing-ca.crt');
const KUBE_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';
const JAVA_DIR = path.join(ROOT, 'test/java');
const client = adminClient();
const dir = scratchDir('e2e-csr');
const file = (name: string) => path.join(dir, name);
let ns: string;
let saKubeconfig: string;
let op: OperatorProcess;
const children: ChildProcess[] = [];

/** kubectl as another user: a kubeconfig of the local cluster with that user's credentials. */
const kubectlAs = (kubeconfig: string, ...args: string[]) =>
  execFileSync('kubectl', ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A CSR manifest for `signerName` carrying the PKCS#10 file `csrFile`, applied with kubectl (as admin, or as `kubeconfig`'s user). */
function applyCsr(name: string, signerName: string, csrFile: string, usages: string[], kubeconfig = KUBECONFIG): void {
  const manifest = file(`${name}.yaml`);
  writeFileSync(
    manifest,
    yaml.dump({
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name },
      spec: { request: readFileSync(csrFile).toString('base64'), signerName, usages },
    }),
  );
  kubectlAs(kubeconfig, 'apply', '-f', manifest);
}

const getCsr = (name: string) => client.get<Csr>(CertificateSigningRequests, undefined, name);

/** Waits for status.certificate and writes it to `<name>.crt`. */
async function certificateOf(name: string): Promise<string> {
  const b64 = await waitFor(`status.certificate of CSR ${name}`, async () => (await getCsr(name)).status?.certificate, 30_000);
  writeFileSync(file(`${name}.crt`), Buffer.from(b64, 'base64'));
  return file(`${name}.crt`);
}

const verify = (caFile: string, certFile: string) =>
  execFileSync('openssl', ['verify', '-CAfile', caFile, certFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** Events about a CSR: cluster-scoped, so the recorder writes them in namespace default. */
const csrEvents = (name: string) => eventsFor(client, 'default', name);

beforeAll(async () => {
  kubectl('apply', '-f', path.join(ROOT, 'manifests/base/namespace.yaml'));
  applyWithoutPods('manifests');
  saKubeconfig = writeKubeconfig(file('annotary.kubeconfig'), { token: await serviceAccountToken(INSTALL_NS, 'annotary') });
  ns = await newNamespace(client, 'csr');
  // the CA Secret `ca`: signer annotary.io/<ns>.ca; its policy approves ServiceAccounts of ns for names under <ns>.svc
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', `/CN=${ns} CA`]
      .concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
      .concat(['-keyout', 'ca.key', '-out', 'ca.crt']),
    dir,
  );
  const policy = { 'annotary.io/csr-approve-namespaces': ns, 'annotary.io/csr-approve-dns-suffixes': `${ns}.svc` };
  const data = b64Values({ 'tls.crt': readFileSync(file('ca.crt')), 'tls.key': readFileSync(file('ca.key')) });
  await client.create(
    Secrets,
    ns,
    secret('ca', inNamespace(ns), ofType('kubernetes.io/tls'), withAnnotations(policy), withBase64Data(data)),
  );
  execFileSync('javac', ['-d', dir, ...['TlsServer', 'TlsClient', 'HttpsGet'].map((j) => path.join(JAVA_DIR, `${j}.java`))]);
  op = await startOperator(['--namespaces', ns], {}, saKubeconfig);
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await op?.stop();
  kubectl('delete', 'clusterrolebinding,clusterrole', '-l', 'annotary-e2e=csr', '--ignore-not-found');
  if (ns) await deleteNamespace(client, ns);
});

/** A JVM serving `keystore` (JKS) on an ephemeral port; resolves with the port. */
function jvmServer(keystore: string): Promise<number> {
  const proc = spawn('java', ['-XX:TieredStopAtLevel=1', '-cp', dir, 'TlsServer', 'changeit', `JKS:${keystore}`], { stdio: 'pipe' });
  children.push(proc);
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      const m = /LISTENING 0 (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`TlsServer exited with ${code}`)));
  });
}

describe('annotary as a CSR signer', () => {
  test('kubectl: openssl req, kubectl certificate approve; annotary signs; openssl verify; a JVM serves it and a JVM trusts it', async () => {
    const name = `${ns}-web`;
    openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=web.${ns}.svc`].concat([
        '-addext',
        `subjectAltName=DNS:web.${ns}.svc,DNS:localhost`,
        '-keyout',
        'web.key',
        '-out',
        'web.csr',
      ]),
      dir,
    );
    // the admin's CSR is not covered by the CA Secret's policy (a ServiceAccount of ns): it waits for kubectl
    applyCsr(name, signerNameOf(ns, 'ca'), file('web.csr'), ['digital signature', 'server auth']);
    kubectl('certificate', 'approve', name);
    const crt = await certificateOf(name);
    expect((await getCsr(name)).status?.conditions?.map((c) => c.reason)).toEqual(['KubectlApprove']);
    expect(verify(file('ca.crt'), crt)).toBe(`${crt}: OK`);
    const text = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toContain(`DNS:web.${ns}.svc, DNS:localhost`);
    expect(text).toContain('CA:FALSE');
    expect(text).toContain('TLS Web Server Authentication');
    await waitFor('CsrSigned Event', async () => (await csrEvents(name)).some((e) => e.reason === 'CsrSigned'));
    expect(kubectl('describe', 'csr', name)).toMatch(/Normal\s+CsrSigned\s+.*signed by CA Secret/);

    // the keystores annotary builds from a TLS Secret of it: keystore.jks for the server, truststore.jks (ca.crt) for the client
    const tls = b64Values({
      'tls.crt': readFileSync(crt),
      'tls.key': readFileSync(file('web.key')),
      'ca.crt': readFileSync(file('ca.crt')),
    });
    await client.create(
      Secrets,
      ns,
      secret(
        'web-tls',
        inNamespace(ns),
        ofType('kubernetes.io/tls'),
        withAnnotations({ 'annotary.io/keystores': 'jks' }),
        withBase64Data(tls),
      ),
    );
    const stores = await waitFor('keystores', async () => {
      const d = (await client.get<Secret>(Secrets, ns, 'web-tls')).data;
      return d?.['keystore.jks'] && d['truststore.jks'] ? d : undefined;
    });
    writeFileSync(file('keystore.jks'), Buffer.from(stores['keystore.jks'], 'base64'));
    writeFileSync(file('truststore.jks'), Buffer.from(stores['truststore.jks'], 'base64'));
    const port = await jvmServer(file('keystore.jks'));
    const out = execFileSync(
      'java',
      ['-XX:TieredStopAtLevel=1', '-cp', dir, 'TlsClient', 'changeit', `JKS:${file('truststore.jks')}:${port}`],
      {
        encoding: 'utf8',
      },
    );
    expect(out).toMatch(/^RESULT 0 OK 1 anchors, TLS_/m);
  }, 120_000);

  test("a ServiceAccount's CSR that the CA Secret's policy covers: approved by annotary itself, then signed", async () => {
    kubectl('-n', ns, 'create', 'serviceaccount', 'app');
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `${ns}-csr-create`, labels: { 'annotary-e2e': 'csr' } },
      rules: [{ apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'], verbs: ['create', 'get'] }],
    };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${ns}-csr-create`, labels: { 'annotary-e2e': 'csr' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
      subjects: [{ kind: 'ServiceAccount', name: 'app', namespace: ns }],
    };
    writeFileSync(file('csr-create.yaml'), yaml.dump(role) + '---\n' + yaml.dump(binding));
    kubectl('apply', '-f', file('csr-create.yaml'));
    const app = writeKubeconfig(file('app.kubeconfig'), { token: await serviceAccountToken(ns, 'app') });
    openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/'].concat([
        '-addext',
        `subjectAltName=DNS:app.${ns}.svc`,
        '-keyout',
        'app.key',
        '-out',
        'app.csr',
      ]),
      dir,
    );
    const name = `${ns}-app`;
    applyCsr(name, signerNameOf(ns, 'ca'), file('app.csr'), ['digital signature', 'server auth', 'client auth'], app);
    const crt = await certificateOf(name);
    const got = await getCsr(name);
    expect(got.spec.username).toBe(`system:serviceaccount:${ns}:app`);
    expect(got.status?.conditions?.map((c) => [c.type, c.reason])).toEqual([['Approved', 'AnnotaryPolicy']]);
    expect(verify(file('ca.crt'), crt)).toBe(`${crt}: OK`);
    const events = await waitFor('CsrApproved and CsrSigned', async () => {
      const e = await csrEvents(name);
      return e.some((x) => x.reason === 'CsrSigned') && e;
    });
    expect(events.find((e) => e.reason === 'CsrApproved')?.message).toContain(`a ServiceAccount of namespace ${ns}`);
  });

  test('a CSR for a CA, approved by kubectl: marked Failed (CsrRequestsCA) with a Warning, never signed', async () => {
    openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=sub.${ns}.svc`].concat([
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-keyout',
        'sub.key',
        '-out',
        'sub.csr',
      ]),
      dir,
    );
    const name = `${ns}-sub`;
    applyCsr(name, signerNameOf(ns, 'ca'), file('sub.csr'), ['digital signature', 'server auth']);
    kubectl('certificate', 'approve', name);
    const failed = await waitFor('Failed', async () => (await getCsr(name)).status?.conditions?.find((c) => c.type === 'Failed'));
    expect(failed.reason).toBe('CsrRequestsCA');
    expect((await getCsr(name)).status?.certificate).toBeUndefined();
    const warning = await waitFor('Warning', async () => (await csrEvents(name)).find((e) => e.reason === 'CsrRequestsCA'));
    expect(warning.type).toBe('Warning');
  });
});

describe('the csr: issuer through the issuing controller (annotary.io/issuer: csr:<signerName> on a Secret)', () => {
  test('kubernetes.io/kube-apiserver-client: an Event says it waits for an approver; kubectl approves; the kube-controller-manager signs (openssl verify); a JVM authenticates to the apiserver with the keystore annotary builds', async () => {
    const user = `e2e-jvm-${ns}`;
    const annotations = {
      'annotary.io/issuer': `csr:${KUBE_CLIENT_SIGNER}`,
      'annotary.io/common-name': user,
      'annotary.io/usages': 'client',
      'annotary.io/key-algorithm': 'ec-p256',
      'annotary.io/keystores': 'jks',
    };
    await client.create(Secrets, ns, secret('jvm-client', inNamespace(ns), withAnnotations(annotations)));
    const pending = await waitFor('IssuancePending: waits for an approver', async () =>
      (await eventsFor(client, ns, 'jvm-client')).find(
        (e) => e.reason === 'IssuancePending' && e.message.includes('waits for an approver'),
      ),
    );
    expect(pending.type).toBe('Normal');
    expect(pending.message).toContain(`RBAC: approve on certificates.k8s.io signers "${KUBE_CLIENT_SIGNER}"`);
    const csrName = /^CSR (\S+) waits/.exec(pending.message)![1];
    expect((await getCsr(csrName)).metadata.annotations?.['annotary.io/secret']).toBe(`${ns}/jvm-client`);
    kubectl('certificate', 'approve', csrName);

    const data = await waitFor(
      'the certificate and the keystore',
      async () => {
        const d = (await client.get<Secret>(Secrets, ns, 'jvm-client')).data;
        return d?.['tls.crt'] && d['keystore.jks'] ? d : undefined;
      },
      60_000,
    );
    writeFileSync(file('jvm.crt'), Buffer.from(data['tls.crt'], 'base64'));
    expect(verify(CLUSTER_SIGNING_CA, file('jvm.crt'))).toBe(`${file('jvm.crt')}: OK`);
    const issued = (await client.get<Secret>(Secrets, ns, 'jvm-client')).metadata.annotations ?? {};
    expect(issued['annotary.io/issued-by']).toBe(`csr:${KUBE_CLIENT_SIGNER}`);
    await waitFor('CertificateIssued', async () =>
      (await eventsFor(client, ns, 'jvm-client')).some((e) => e.reason === 'CertificateIssued'),
    );

    // the JVM: its client certificate from keystore.jks, the apiserver's serving certificate as its trust
    writeFileSync(file('jvm-keystore.jks'), Buffer.from(data['keystore.jks'], 'base64'));
    execFileSync(
      'keytool',
      ['-importcert', '-noprompt', '-alias', 'apiserver', '-file', path.join(path.dirname(KUBECONFIG), 'pki/apiserver-ca.crt')].concat([
        '-keystore',
        file('api-trust.jks'),
        '-storetype',
        'JKS',
        '-storepass',
        'changeit',
      ]),
      { stdio: 'ignore' },
    );
    const server = (yaml.load(readFileSync(KUBECONFIG, 'utf8')) as { clusters: { cluster: { server: string } }[] }).clusters[0].cluster
      .server;
    const out = execFileSync(
      'java',
      [
        '-XX:TieredStopAtLevel=1',
        '-cp',
        dir,
        'HttpsGet',
        'changeit',
        `JKS:${file('jvm-keystore.jks')}`,
        `JKS:${file('api-trust.jks')}`,
      ].concat([`${server}/api/v1/namespaces/default/secrets`]),
      { encoding: 'utf8' },
    );
    expect(out).toContain('STATUS 403');
    expect(out).toContain(`User \\"${user}\\" cannot list resource \\"secrets\\"`);
  }, 120_000);

  test('a CSR kubectl denies: a Warning CsrDenied on the Secret naming the denial, the metric, nothing written', async () => {
    const annotations = {
      'annotary.io/issuer': `csr:${KUBE_CLIENT_SIGNER}`,
      'annotary.io/common-name': `e2e-denied-${ns}`,
      'annotary.io/usages': 'client',
      'annotary.io/key-algorithm': 'ec-p256',
    };
    await client.create(Secrets, ns, secret('denied-client', inNamespace(ns), withAnnotations(annotations)));
    const pending = await waitFor('IssuancePending', async () =>
      (await eventsFor(client, ns, 'denied-client')).find(
        (e) => e.reason === 'IssuancePending' && e.message.includes('waits for an approver'),
      ),
    );
    const csrName = /^CSR (\S+) waits/.exec(pending.message)![1];
    kubectl('certificate', 'deny', csrName);
    const warning = await waitFor('CsrDenied', async () =>
      (await eventsFor(client, ns, 'denied-client')).find((e) => e.reason === 'CsrDenied'),
    );
    expect(warning.type).toBe('Warning');
    expect(warning.message).toMatch(new RegExp(`^CSR ${csrName} for signer ${KUBE_CLIENT_SIGNER}: Denied \\(KubectlDeny`));
    expect(await op.metric('annotary_invalid_input_total', { controller: 'issuing', reason: 'CsrDenied' })).toBeGreaterThan(0);
    expect((await client.get<Secret>(Secrets, ns, 'denied-client')).data).toBeUndefined();
  });
});

/** GET `apiPath` on the local apiserver, authenticated by a client certificate only. */
function asCertificate(certPem: string, keyPem: string, apiPath: string): Promise<{ status: number; body: string }> {
  const server = new URL(
    (yaml.load(readFileSync(KUBECONFIG, 'utf8')) as { clusters: { cluster: { server: string } }[] }).clusters[0].cluster.server,
  );
  const ca = readFileSync(path.join(path.dirname(KUBECONFIG), 'pki/apiserver-ca.crt'));
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: server.hostname, port: server.port, path: apiPath, cert: certPem, key: keyPem, ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the csr: issuer with the kube-controller-manager as signer (kubernetes.io/kube-apiserver-client)', () => {
  // the csr: issuers as the issuing controller plugs them in (csrIssuing): the shared caches and a Writer, with the ServiceAccount's token
  const saClient = () => KubeClient.fromOptions({ kubeconfig: saKubeconfig });
  let caches: SharedCaches;
  let csr: CsrIssuing;
  let owner: SlimData;

  beforeAll(async () => {
    const c = saClient();
    const metrics = createMetrics();
    caches = new SharedCaches({ client: c, namespaces: [ns], resyncMs: 0, log: silentLogger(), metrics });
    const write = new Writer(c, metrics, { emit: () => undefined }, 'issuing');
    csr = csrIssuing({ caches, config: loadConfig([], {}) }, write, () => true);
    caches.start();
    await Promise.all(caches.all().map((i) => i.synced));
    const created = await client.create<KubeObject>(Secrets, ns, secret('client', inNamespace(ns)));
    owner = await waitFor('the Secret in the cache', () => caches.secrets().get(objectKey(ns, created.metadata.name)));
  });

  afterAll(() => caches.stop());

  /** One attempt as the issuing controller makes it: the key for the Secret, a PKCS#10 of it, the issuer's answer. */
  async function attempt(commonName: string) {
    const resolved = csr.resolve(KUBE_CLIENT_SIGNER, owner);
    if (isRefusal(resolved)) throw new Error(resolved.message);
    const keyPem = await resolved.keyFor('ec-p256');
    const csrPem = await createCsr(keyPem, { commonName, dnsNames: [], ipAddresses: [] });
    const result = await resolved.issuer.sign({
      csr: csrPem,
      profile: { durationMs: 3_600_000, usages: ['client'], isCA: false },
      now: new Date(),
    });
    const name = csrObjectName({ namespace: ns, name: 'client', uid: owner.metadata.uid! }, (await parseCsr(csrPem)).publicKey);
    return { keyPem, result, name };
  }

  /** Attempts until `what` holds (each CSR change reaches the cache first). */
  const attemptUntil = (commonName: string, what: (r: IssueResult) => boolean, label: string) =>
    waitFor(
      label,
      async () => {
        const a = await attempt(commonName);
        return what(a.result) && a;
      },
      30_000,
      200,
    );

  test('the request waits for an approver (annotary may not approve this signer); kubectl approves; the kube-controller-manager signs; the apiserver knows the user', async () => {
    const user = `e2e-user-${ns}`;
    const first = await attempt(user);
    expect(isPending(first.result) && first.result.pending).toBe(`CSR ${first.name} created for signer ${KUBE_CLIENT_SIGNER}`);
    // the next attempts use the same key (held in memory, no Secret made for it), so they find the same CSR
    const waiting = await attemptUntil(user, (r) => isPending(r) && r.pending.includes('waits for an approver'), 'waits for an approver');
    expect(waiting.name).toBe(first.name);
    expect(waiting.keyPem).toBe(first.keyPem);
    expect(isPending(waiting.result) && waiting.result.pending).toContain(
      `RBAC: approve on certificates.k8s.io signers "${KUBE_CLIENT_SIGNER}"`,
    );
    const secretNames = (await client.list<Secret>(Secrets, ns)).items
      .filter((o) => o.type !== 'kubernetes.io/service-account-token')
      .map((o) => o.metadata.name);
    expect(secretNames).toEqual(['ca', 'client', 'denied-client', 'jvm-client', 'web-tls']);

    const made = await getCsr(first.name);
    expect(made.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'annotary',
      'annotary.io/secret-uid': owner.metadata.uid,
    });
    expect(made.metadata.annotations?.['annotary.io/secret']).toBe(`${ns}/client`);
    expect(made.spec.username).toBe(`system:serviceaccount:${INSTALL_NS}:annotary`);
    expect(made.spec.usages).toEqual(['digital signature', 'client auth']);
    kubectl('certificate', 'approve', first.name);

    const { result: issued, keyPem } = await attemptUntil(user, isIssued, 'issued');
    if (!isIssued(issued)) throw new Error('not issued');
    writeFileSync(file('client.crt'), issued.chain.join(''));
    expect(verify(CLUSTER_SIGNING_CA, file('client.crt'))).toBe(`${file('client.crt')}: OK`);
    // the apiserver authenticates the certificate as its CN: a 403 naming that user (it has no grants)
    const answer = await asCertificate(issued.chain[0], keyPem, '/api/v1/namespaces/default/secrets');
    expect(answer.status).toBe(403);
    expect((JSON.parse(answer.body) as { message: string }).message).toBe(
      `secrets is forbidden: User "${user}" cannot list resource "secrets" in API group "" in the namespace "default"`,
    );
    // and with a grant, the same certificate reads as that user
    kubectl('create', 'clusterrolebinding', `${ns}-user-view`, '--clusterrole=view', `--user=${user}`);
    kubectl('label', 'clusterrolebinding', `${ns}-user-view`, 'annotary-e2e=csr');
    const granted = await waitFor('RBAC grant in effect', async () => {
      const a = await asCertificate(issued.chain[0], keyPem, `/api/v1/namespaces/${ns}/configmaps`);
      return a.status === 200 && a;
    });
    expect((JSON.parse(granted.body) as { kind: string }).kind).toBe('ConfigMapList');

    // written: the key is forgotten, the next issuance (a renewal) has a new key and so a new CSR
    csr.issued(owner);
    expect((await attempt(user)).keyPem).not.toBe(keyPem);
  }, 120_000);

  test('with `approve` on the signer granted to its ServiceAccount, annotary approves its own request', async () => {
    // the installer's deliberate grant (docs/csr.md), and nothing else
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `${ns}-approve-client`, labels: { 'annotary-e2e': 'csr' } },
      rules: [{ apiGroups: ['certificates.k8s.io'], resources: ['signers'], resourceNames: [KUBE_CLIENT_SIGNER], verbs: ['approve'] }],
    };
    writeFileSync(file('approve.yaml'), yaml.dump(role));
    kubectl('apply', '-f', file('approve.yaml'));
    kubectl(
      'create',
      'clusterrolebinding',
      `${ns}-approve-client`,
      `--clusterrole=${role.metadata.name}`,
      `--serviceaccount=${INSTALL_NS}:annotary`,
    );
    kubectl('label', 'clusterrolebinding', `${ns}-approve-client`, 'annotary-e2e=csr');

    csr.issued(owner); // a fresh key: a new CSR (the previous test's last attempt made one annotary could not approve)
    // the refused approval is tried again within APPROVAL_RETRY_MS; a new CSR is tried at once
    const { result: issued, name } = await attemptUntil(`e2e-second-${ns}`, isIssued, 'issued without kubectl');
    if (!isIssued(issued)) throw new Error('not issued');
    expect((await getCsr(name)).status?.conditions?.map((c) => [c.type, c.reason])).toEqual([['Approved', 'AnnotaryIssuer']]);
    writeFileSync(file('second.crt'), issued.chain.join(''));
    expect(verify(CLUSTER_SIGNING_CA, file('second.crt'))).toBe(`${file('second.crt')}: OK`);
  }, 60_000);

  test("annotary's ServiceAccount cannot approve another signer's CSR without that grant, nor sign one", async () => {
    openssl(
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        '/CN=nobody',
        '-keyout',
        'n.key',
        '-out',
        'n.csr',
      ],
      dir,
    );
    // a signer of someone else's (no controller here signs it)
    const name = `${ns}-other`;
    applyCsr(name, 'e2e.example/other', file('n.csr'), ['digital signature', 'client auth']);
    const sa = saClient();
    const csr = await getCsr(name);
    const approve = sa.patch(
      CertificateSigningRequests,
      undefined,
      name,
      addConditionPatch(csr, { type: 'Approved', reason: 'X', message: '' }, new Date()),
      'merge',
      'approval',
    );
    await expect(approve).rejects.toMatchObject({ status: 403 });
    await expect(approve).rejects.toBeInstanceOf(ApiError);
    // approved by the admin: annotary may still not write a certificate
    kubectl('certificate', 'approve', name);
    const certificate = readFileSync(file('ca.crt')).toString('base64');
    const sign = sa.patch(CertificateSigningRequests, undefined, name, { status: { certificate } }, 'merge', 'status');
    await expect(sign).rejects.toMatchObject({ status: 403 });
  });
});
