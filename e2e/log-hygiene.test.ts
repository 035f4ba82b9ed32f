// Log hygiene: with --log-level debug, nothing the operator logs and no Event it writes may
// contain private-key material, passwords or store bytes. Keystore, Route, Ingress and reload
// scenarios (including rotations and refusals of broken keys) run against one operator, in
// both log formats; then every log line and every Event message of the namespace is scanned
// for every 40-character window of every secret (at every offset, so any leak of 40
// contiguous characters is found) and for the literal passwords.
import type { KubeObject } from '../src/kube/types.js';
import { Deployments, Events, Ingresses, Routes, Secrets } from '../src/kube/types.js';
import { adminClient, sleep, waitFor, withOperator } from './harness/cluster.js';
import { chainFixture, oddKeys } from '../test/pki/fixtures.js';
import type { Data, Mod, Secret, Workload } from '../test/gen.js';
import {
  b64,
  deployment,
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
  withRules,
  withSecretVolumes,
  withTLS,
} from '../test/gen.js';
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
  const args = ['--log-level', 'debug', '--log-format', format, '--reload-settle', '0s'];
  test('keystores, rotations, Routes, Ingresses, reload and refusals', () =>
    withOperator(`hyg-${format}`, args, async (ns, op) => {
      const mk = (name: string, annotations: Data, ...mods: Mod<Secret>[]) =>
        client.create<Secret>(Secrets, ns, secret(name, inNamespace(ns), ofType('Opaque'), withAnnotations(annotations), ...mods));
      const get = (name: string) => client.get<Secret>(Secrets, ns, name);
      const TLS = ofType('kubernetes.io/tls');
      const ks = { 'annotary.io/keystores': 'jks' };

      // keystores: password from a Secret, a literal password, both formats, truststore-from
      await mk('pw', {}, withData({ password: PASSWORDS[0] }));
      await mk(
        'web',
        {
          'annotary.io/keystores': 'jks,pkcs12',
          'annotary.io/keystore-password-secret': 'pw/password',
          'annotary.io/cert-info': 'true',
        },
        TLS,
        withTLS(ec),
      );
      await mk(
        'lit',
        {
          'annotary.io/keystores': 'pkcs12',
          'annotary.io/keystore-password': PASSWORDS[2],
          'annotary.io/truststore-from': 'web',
        },
        withData({ 'tls.crt': rsa.certPem(3), 'tls.key': rsa.keyTraditional }),
      );
      await mk(
        'legacy',
        {
          'cert-utils-operator.redhat-cop.io/generate-java-keystores': 'true',
          'cert-utils-operator.redhat-cop.io/java-keystore-password': PASSWORDS[1],
        },
        withTLS(rsa),
      );
      // refusals that carry key material in their input
      await mk('bad-trunc', ks, withData({ 'tls.crt': rsa.certPem(2), 'tls.key': rsa.keyPkcs8.slice(0, 400) }));
      await mk('bad-enc', ks, withData({ 'tls.crt': ec.certPem(2), 'tls.key': odd.encryptedPkcs8 }));
      await mk('bad-dsa', ks, withData({ 'tls.crt': ec.certPem(2), 'tls.key': odd.dsaPkcs8 }));
      await mk('bad-mismatch', ks, withData({ 'tls.crt': ec.certPem(2), 'tls.key': rsa.keyPkcs8 }));
      // Routes and Ingresses from the same Secrets, one refused
      const edge = withRouteTLS({ termination: 'edge' });
      const certsFrom = (source: string) => withAnnotations({ 'annotary.io/certs-from-secret': source });
      await client.create(Routes, ns, route('r', inNamespace(ns), edge, certsFrom('web')));
      await client.create(Routes, ns, route('r-bad', inNamespace(ns), edge, certsFrom('bad-mismatch')));
      await client.create(
        Ingresses,
        ns,
        ingress(
          'i',
          inNamespace(ns),
          withRules({ host: 'i.example' }),
          certsFrom('web'),
          withAnnotations({ 'annotary.io/destination-ca-from-secret': 'web' }),
        ),
      );
      await client.create(Ingresses, ns, ingress('i-bad', inNamespace(ns), withRules({ host: 'ib.example' }), certsFrom('bad-enc')));
      // a workload that reloads on the keystore Secret and the password Secret
      await client.create(
        Deployments,
        ns,
        deployment(
          'java',
          inNamespace(ns),
          withAnnotations({ 'annotary.io/reload': 'auto' }),
          withEnvFromSecrets('pw'),
          withSecretVolumes('web'),
        ),
      );

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
      await client.patch(Secrets, ns, 'web', { data: tlsData(ecNext) });
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
        async () => (await client.get<Workload>(Deployments, ns, 'java')).spec.template.metadata?.annotations?.['annotary.io/config-hash'],
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
    }));
});
