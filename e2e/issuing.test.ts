// Certificates annotary issues, on the real local control plane: a generated CA as a `ca`
// issuer, a leaf it signs (openssl verify against the CA) served and trusted by a JVM through
// the keystores the keystores controller builds from the issued Secret; Service serving
// certificates by the native and the OpenShift key.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Secrets, Services } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, eventsFor, newNamespace, ROOT, startOperator, waitFor } from './harness/cluster.js';
import { scratchDir } from '../test/pki/fixtures.js';
import type { Secret } from '../test/gen.js';
import { inNamespace, secret, service, withAnnotations } from '../test/gen.js';

const run = promisify(execFile);
const client = adminClient();
const dir = scratchDir('e2e-issuing');
let ns: string;
let op: OperatorProcess;

const getSecret = (name: string) => client.get<Secret>(Secrets, ns, name);
const text = (s: Secret, key: string) => Buffer.from(s.data?.[key] ?? '', 'base64').toString();
let n = 0;
function file(content: string | Buffer): string {
  const p = path.join(dir, `f${n++}`);
  writeFileSync(p, content);
  return p;
}
/** Waits until the Secret holds a certificate (tls.crt not empty) and, if given, these keys. */
const issued = (name: string, keys: string[] = []) =>
  waitFor(
    `a certificate in ${name}`,
    async () => {
      const s = await getSecret(name).catch(() => undefined);
      return s && text(s, 'tls.crt').includes('BEGIN CERTIFICATE') && keys.every((k) => s.data?.[k]) ? s : undefined;
    },
    60_000,
  );
const opensslVerify = (leaf: string, ca: string, purpose = 'sslserver') =>
  run('openssl', ['verify', '-purpose', purpose, '-CAfile', file(ca), file(leaf)]).then((r) => r.stdout);

beforeAll(async () => {
  ns = await newNamespace(client, 'issue');
  op = await startOperator([
    '--namespaces',
    ns,
    '--controllers',
    'keystores,issuing,serving-certs,expiry',
    '--serving-ca-namespace',
    ns,
    '--log-level',
    'debug',
  ]);
});

afterAll(async () => {
  await op?.stop();
  await deleteNamespace(client, ns);
});

describe('a ca issuer', () => {
  test('a generated CA signs a leaf: openssl verifies it, a JVM serves and trusts it through the generated keystores', async () => {
    await client.create(
      Secrets,
      ns,
      secret('root', inNamespace(ns), withAnnotations({ 'annotary.io/generate-ca': 'true', 'annotary.io/key-algorithm': 'ec-p256' })),
    );
    await client.create(
      Secrets,
      ns,
      secret(
        'web',
        inNamespace(ns),
        withAnnotations({
          'annotary.io/issuer': 'root',
          'annotary.io/dns-names': 'web.example.test',
          'annotary.io/ip-addresses': '127.0.0.1',
          'annotary.io/key-algorithm': 'ec-p256',
          'annotary.io/keystores': 'pkcs12',
        }),
      ),
    );
    const root = await issued('root');
    const web = await issued('web', ['keystore.p12', 'truststore.p12']);
    expect(await opensslVerify(text(web, 'tls.crt'), text(root, 'tls.crt'))).toContain(': OK');
    expect(await opensslVerify(text(web, 'tls.crt'), text(root, 'tls.crt'), 'sslclient')).toContain(': OK');
    expect(text(web, 'tls.key')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(web.metadata.annotations?.['annotary.io/issued-by']).toBe(`${ns}/root`);
    const reasons = (await eventsFor(client, ns, 'web')).map((e) => e.reason);
    expect(reasons).toContain('CertificateIssued');
    // the private key never reaches the log (the operator runs at debug), nor an Event
    const keyLines = text(web, 'tls.key')
      .split('\n')
      .filter((l) => l.length > 20 && !l.startsWith('-----'));
    const events = JSON.stringify(await eventsFor(client, ns, 'web'));
    for (const line of keyLines) {
      expect(op.logs.join('\n')).not.toContain(line);
      expect(events).not.toContain(line);
    }
    expect(op.logs.join('\n')).not.toContain('PRIVATE KEY');

    // the JVM: TlsServer serves keystore.p12, TlsClient trusts truststore.p12 (both from the issued Secret)
    const classes = path.join(dir, 'classes');
    execFileSync('javac', ['-d', classes, path.join(ROOT, 'test/java/TlsServer.java'), path.join(ROOT, 'test/java/TlsClient.java')]);
    const server = spawn('java', [
      '-cp',
      classes,
      'TlsServer',
      'changeit',
      `PKCS12:${file(Buffer.from(web.data!['keystore.p12'], 'base64'))}`,
    ]);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /LISTENING 0 (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        server.on('exit', (code) => reject(new Error(`TlsServer exited ${code}`)));
      });
      const trust = file(Buffer.from(web.data!['truststore.p12'], 'base64'));
      const { stdout } = await run('java', ['-cp', classes, 'TlsClient', 'changeit', `PKCS12:${trust}:${port}`], { timeout: 60_000 });
      expect(stdout).toMatch(/RESULT 0 OK/);
    } finally {
      server.kill();
    }
  });

  test('bad input: a Warning with its reason, nothing written', async () => {
    await client.create(
      Secrets,
      ns,
      secret('bad', inNamespace(ns), withAnnotations({ 'annotary.io/issuer': 'root', 'annotary.io/dns-names': 'not_a_name' })),
    );
    await waitFor('InvalidDNSName', async () => (await eventsFor(client, ns, 'bad')).some((e) => e.reason === 'InvalidDNSName'));
    expect((await getSecret('bad')).data).toBeUndefined();
  });
});

describe('Service serving certificates', () => {
  test.each([
    ['native', 'annotary.io/serving-cert-secret'],
    ['openshift', 'service.beta.openshift.io/serving-cert-secret-name'],
  ])('%s key: a kubernetes.io/tls Secret for <svc>.<ns>.svc from the self-signed serving CA', async (svcName, key) => {
    await client.create(
      Services,
      ns,
      service(svcName, inNamespace(ns), withAnnotations({ [key]: `${svcName}-tls` }), (s) => {
        s.spec = { ports: [{ port: 443 }] } as never;
      }),
    );
    const tls = await issued(`${svcName}-tls`);
    expect(tls.type).toBe('kubernetes.io/tls');
    const ca = await issued('annotary-serving-ca');
    expect(await opensslVerify(text(tls, 'tls.crt'), text(ca, 'tls.crt'))).toContain(': OK');
    const { stdout } = await run('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', file(text(tls, 'tls.crt'))]);
    expect(stdout).toContain(`DNS:${svcName}.${ns}.svc, DNS:${svcName}.${ns}.svc.cluster.local`);
    const svc = await client.get(Services, ns, svcName);
    expect(tls.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Service', name: svcName, uid: svc.metadata.uid })]);
    if (svcName === 'openshift') expect(tls.metadata.annotations?.['service.beta.openshift.io/originating-service-name']).toBe(svcName);
  });
});
