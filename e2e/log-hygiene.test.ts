// Log hygiene: with --log-level debug, nothing the operator logs and no Event it writes may
// contain private-key material, passwords or store bytes. Keystore, Route, Ingress and reload
// scenarios (including rotations and refusals of broken keys) run against one operator, in
// both log formats; then every log line and every Event message of the namespace is scanned
// for every 40-character window of every secret (at every offset, so any leak of 40
// contiguous characters is found) and for the literal passwords.
import type { KubeObject } from '../src/kube/types.js';
import { Deployments, Events, Ingresses, Routes, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, b64, deleteNamespace, newNamespace, sleep, startOperator, waitFor } from './harness/cluster.js';
import { chainFixture, oddKeys } from '../test/pki/fixtures.js';

type Secret = KubeObject & { data?: Record<string, string> };
const WINDOW = 40;

/** Every WINDOW-long substring of the secrets (long ones) and the short secrets themselves. */
export class SecretScanner {
  private readonly windows = new Map<string, string>(); // window → label
  private readonly literals: [string, string][] = [];

  add(label: string, secret: string): void {
    if (secret.length < WINDOW) {
      this.literals.push([secret, label]);
      return;
    }
    for (let i = 0; i + WINDOW <= secret.length; i++) this.windows.set(secret.slice(i, i + WINDOW), label);
  }

  /** A PEM: its base64 body lines (each ≥ 40 chars), the whole body joined, and the base64 of the PEM as Secret data holds it. */
  addPem(label: string, pem: string): void {
    const body = pem.split('\n').filter((l) => l && !l.startsWith('-----'));
    this.add(`${label} (PEM body)`, body.join(''));
    for (const line of body) if (line.length >= WINDOW) this.add(`${label} (PEM line)`, line);
    this.add(`${label} (base64 of PEM)`, b64(pem));
  }

  get size(): number {
    return this.windows.size + this.literals.length;
  }

  /** [label, where] for each hit in `lines`. */
  scan(lines: string[]): { label: string; line: string }[] {
    const hits: { label: string; line: string }[] = [];
    for (const line of lines) {
      let hit: string | undefined;
      for (let i = 0; !hit && i + WINDOW <= line.length; i++) hit = this.windows.get(line.slice(i, i + WINDOW));
      for (const [lit, label] of this.literals) if (!hit && line.includes(lit)) hit = label;
      if (hit) hits.push({ label: hit, line: line.slice(0, 200) });
    }
    return hits;
  }
}

const client = adminClient();
const ec = chainFixture('p256');
const ecNext = chainFixture('p256', 'rotated');
const rsa = chainFixture('rsa2048');
const odd = oddKeys();
const PASSWORDS = ['hygiene-Pw-0ne', 'hygiene-Pw-tw0', 'literal-S3cret!'];
const namespaces: string[] = [];
const operators: OperatorProcess[] = [];

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  for (const n of namespaces) await deleteNamespace(client, n);
});

function scannerForFixtures(): SecretScanner {
  const s = new SecretScanner();
  for (const [name, f] of [
    ['ec', ec],
    ['ecNext', ecNext],
    ['rsa', rsa],
  ] as const) {
    s.addPem(`${name} key pkcs8`, f.keyPkcs8);
    s.addPem(`${name} key traditional`, f.keyTraditional);
  }
  s.addPem('encrypted key', odd.encryptedPkcs8);
  s.addPem('DSA key', odd.dsaPkcs8);
  s.addPem('truncated rsa key', rsa.keyPkcs8.slice(0, 400));
  for (const p of PASSWORDS) s.add('password', p);
  return s;
}

describe('the scanner', () => {
  test('finds a planted key window, a planted store window and a planted password (it can fail)', () => {
    const s = scannerForFixtures();
    s.add('store', b64(Buffer.alloc(300, 7)) + 'tail');
    const keyLine = ec.keyPkcs8.split('\n')[2];
    const planted = [
      `{"level":"debug","message":"x","value":"${keyLine.slice(5, 50)}"}`, // 45 chars from inside a PEM line
      `secret data ${b64(ec.keyPkcs8).slice(100, 150)}`,
      `store ${b64(Buffer.alloc(300, 7)).slice(100, 141)}`,
      `password was ${PASSWORDS[2]}.`,
    ];
    const labels = s.scan(planted).map((h) => h.label);
    expect(labels).toHaveLength(4);
    expect(labels[0]).toMatch(/^ec key pkcs8 \(PEM (body|line)\)$/);
    expect(labels.slice(1)).toEqual(['ec key pkcs8 (base64 of PEM)', 'store', 'password']);
    expect(s.scan(['an ordinary line naming Secret "web-tls" and key tls.key', `digest ${'a'.repeat(64)}`])).toEqual([]);
  });
});

describe.each(['json', 'text'])('nothing secret in logs or Events (--log-format %s, --log-level debug)', (format) => {
  test('keystores, rotations, Routes, Ingresses, reload and refusals', async () => {
    const ns = await newNamespace(client, `hyg-${format}`);
    namespaces.push(ns);
    const op = await startOperator(['--namespaces', ns, '--log-level', 'debug', '--log-format', format, '--reload-settle', '0s']);
    operators.push(op);
    const tls = (f: typeof ec) => ({ 'tls.crt': b64(f.certPem(2)), 'tls.key': b64(f.keyPkcs8), 'ca.crt': b64(f.ca) });
    const mk = (name: string, data: Record<string, string>, annotations: Record<string, string> = {}, type = 'Opaque') =>
      client.create<Secret>(Secrets, ns, { apiVersion: 'v1', kind: 'Secret', type, metadata: { name, namespace: ns, annotations }, data });
    const get = (name: string) => client.get<Secret>(Secrets, ns, name);

    // keystores: password from a Secret, a literal password, both formats, truststore-from
    await mk('pw', { password: b64(PASSWORDS[0]) });
    await mk(
      'web',
      tls(ec),
      { 'annotary.io/keystores': 'jks,pkcs12', 'annotary.io/keystore-password-secret': 'pw/password', 'annotary.io/cert-info': 'true' },
      'kubernetes.io/tls',
    );
    await mk(
      'lit',
      { 'tls.crt': b64(rsa.certPem(3)), 'tls.key': b64(rsa.keyTraditional) },
      { 'annotary.io/keystores': 'pkcs12', 'annotary.io/keystore-password': PASSWORDS[2], 'annotary.io/truststore-from': 'web' },
    );
    await mk('legacy', tls(rsa), {
      'cert-utils-operator.redhat-cop.io/generate-java-keystores': 'true',
      'cert-utils-operator.redhat-cop.io/java-keystore-password': PASSWORDS[1],
    });
    // refusals that carry key material in their input
    await mk(
      'bad-trunc',
      { 'tls.crt': b64(rsa.certPem(2)), 'tls.key': b64(rsa.keyPkcs8.slice(0, 400)) },
      { 'annotary.io/keystores': 'jks' },
    );
    await mk('bad-enc', { 'tls.crt': b64(ec.certPem(2)), 'tls.key': b64(odd.encryptedPkcs8) }, { 'annotary.io/keystores': 'jks' });
    await mk('bad-dsa', { 'tls.crt': b64(ec.certPem(2)), 'tls.key': b64(odd.dsaPkcs8) }, { 'annotary.io/keystores': 'jks' });
    await mk('bad-mismatch', { 'tls.crt': b64(ec.certPem(2)), 'tls.key': b64(rsa.keyPkcs8) }, { 'annotary.io/keystores': 'jks' });
    // Routes and Ingresses from the same Secrets, one refused
    await client.create(Routes, ns, {
      apiVersion: 'route.openshift.io/v1',
      kind: 'Route',
      metadata: { name: 'r', namespace: ns, annotations: { 'annotary.io/certs-from-secret': 'web' } },
      spec: { host: 'r.example', to: { kind: 'Service', name: 's' }, tls: { termination: 'edge' } },
    });
    await client.create(Routes, ns, {
      apiVersion: 'route.openshift.io/v1',
      kind: 'Route',
      metadata: { name: 'r-bad', namespace: ns, annotations: { 'annotary.io/certs-from-secret': 'bad-mismatch' } },
      spec: { host: 'rb.example', to: { kind: 'Service', name: 's' }, tls: { termination: 'edge' } },
    });
    await client.create(Ingresses, ns, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name: 'i',
        namespace: ns,
        annotations: { 'annotary.io/certs-from-secret': 'web', 'annotary.io/destination-ca-from-secret': 'web' },
      },
      spec: { rules: [{ host: 'i.example' }] },
    });
    await client.create(Ingresses, ns, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'i-bad', namespace: ns, annotations: { 'annotary.io/certs-from-secret': 'bad-enc' } },
      spec: { rules: [{ host: 'ib.example' }] },
    });
    // a workload that reloads on the keystore Secret and the password Secret
    await client.create(Deployments, ns, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'java', namespace: ns, annotations: { 'annotary.io/reload': 'auto' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'java' } },
        template: {
          metadata: { labels: { app: 'java' } },
          spec: {
            containers: [{ name: 'app', image: 'registry.invalid/app:1', envFrom: [{ secretRef: { name: 'pw' } }] }],
            volumes: [{ name: 'ks', secret: { secretName: 'web' } }],
          },
        },
      },
    });

    const storesOf = async (name: string, key: string) => waitFor(`${key} in ${name}`, async () => (await get(name)).data?.[key]);
    const first = {
      jks: await storesOf('web', 'keystore.jks'),
      p12: await storesOf('web', 'keystore.p12'),
      lit: await storesOf('lit', 'keystore.p12'),
      legacy: await storesOf('legacy', 'keystore.jks'),
    };
    await waitFor(
      'route filled',
      async () => (await client.get<KubeObject & { spec: { tls?: { key?: string } } }>(Routes, ns, 'r')).spec.tls?.key,
    );
    await waitFor('ingress copy', () => client.tryGet(Secrets, ns, 'i-annotary-tls'));
    await waitFor(
      'onboarded',
      async () => (await client.get(Deployments, ns, 'java')).metadata.annotations?.['annotary.io/observed-config-hash'],
    );

    // rotations: the PEM and the password, which re-encrypt the stores and roll the workload
    await client.patch(Secrets, ns, 'web', { data: tls(ecNext) });
    const second = {
      jks: await waitFor('rotated', async () => {
        const d = (await get('web')).data!;
        return d['keystore.jks'] !== first.jks && d['keystore.jks'];
      }),
    };
    await client.patch(Secrets, ns, 'pw', { data: { password: b64(PASSWORDS[1]) } });
    const third = await waitFor('re-encrypted', async () => {
      const d = (await get('web')).data!;
      return d['keystore.jks'] !== second.jks && d;
    });
    await waitFor(
      'rolled',
      async () =>
        (
          await client.get<KubeObject & { spec: { template: { metadata?: { annotations?: Record<string, string> } } } }>(
            Deployments,
            ns,
            'java',
          )
        ).spec.template.metadata?.annotations?.['annotary.io/config-hash'],
    );
    await waitFor(
      'ingress copy rotated',
      async () => (await client.tryGet<Secret>(Secrets, ns, 'i-annotary-tls'))?.data?.['tls.key'] === b64(ecNext.keyPkcs8),
    );
    for (const [name, reason] of [
      ['bad-trunc', 'MalformedPEM'],
      ['bad-enc', 'EncryptedKey'],
      ['bad-dsa', 'UnsupportedKeyType'],
      ['bad-mismatch', 'KeyMismatch'],
      ['r-bad', 'SourceSecretInvalid'],
      ['i-bad', 'SourceSecretInvalid'],
    ]) {
      await waitFor(`${reason} on ${name}`, async () =>
        (await client.list<KubeObject & { reason: string; involvedObject: { name: string } }>(Events, ns)).items.some(
          (e) => e.involvedObject.name === name && e.reason === reason,
        ),
      );
    }
    await sleep(1000); // the last debug lines of the reconciles above

    const scanner = scannerForFixtures();
    const stores = [
      first.jks,
      first.p12,
      first.lit,
      first.legacy,
      second.jks,
      ...['keystore.jks', 'keystore.p12', 'truststore.jks', 'truststore.p12'].map((k) => third[k]),
    ];
    for (const s of (await client.list<Secret>(Secrets, ns)).items)
      for (const [k, v] of Object.entries(s.data ?? {})) if (/store/.test(k)) stores.push(v);
    for (const st of stores.filter(Boolean)) scanner.add('store bytes (base64)', st);
    const events = (await client.list<KubeObject & { reason: string; message: string }>(Events, ns)).items;
    const lines = [...op.logs, ...events.map((e) => `${e.reason}: ${e.message}`)];
    expect(op.logs.length).toBeGreaterThan(30); // debug logging did run
    expect(op.logs.some((l) => /debug/i.test(l))).toBe(true);
    expect(events.length).toBeGreaterThan(10);
    expect(scanner.scan(lines)).toEqual([]);
    expect(op.proc.exitCode).toBeNull();
  });
});
