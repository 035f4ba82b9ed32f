// Keystores from TLS Secrets, on the real local control plane, proven by keytool.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigMaps, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import {
  adminClient,
  apiserverWrites,
  deleteNamespace,
  eventsFor,
  newNamespace,
  sleep,
  startOperator,
  waitFor,
} from './harness/cluster.js';
import { chainFixture, explicitEcFixture, oddKeys, scratchDir } from '../test/pki/fixtures.js';
import type { ConfigMap, Data, Secret } from '../test/gen.js';
import { b64, configMap, inNamespace, ofType, secret, tlsData, withAnnotations, withData } from '../test/gen.js';

const client = adminClient();
const rsa = chainFixture('rsa2048');
const ec = chainFixture('p256');
const ecNext = chainFixture('p256', 'rotated');
const dir = scratchDir('e2e-keystores');
let ns: string;
let op: OperatorProcess;

/** a kubernetes.io/tls Secret in ns with this certificate, key and (when given) CA, and more data keys */
function tlsSecret(name: string, pem: { cert: string; key: string; ca?: string }, annotations: Data, extra: Data = {}): Secret {
  const tls = { 'tls.crt': pem.cert, 'tls.key': pem.key, ...(pem.ca !== undefined ? { 'ca.crt': pem.ca } : {}) };
  return secret(name, inNamespace(ns), ofType('kubernetes.io/tls'), withAnnotations(annotations), withData({ ...tls, ...extra }));
}

const getSecret = (name: string) => client.get<Secret>(Secrets, ns, name);

/** keytool's verdict on one store taken from a Secret. */
function keytoolList(data: Record<string, string>, key: string, password: string): string {
  const file = path.join(dir, `${Date.now()}-${key}`);
  writeFileSync(file, Buffer.from(data[key], 'base64'));
  return execFileSync('keytool', ['-list', '-v', '-keystore', file, '-storepass', password], { encoding: 'utf8' });
}

beforeAll(async () => {
  ns = await newNamespace(client, 'ks');
  op = await startOperator(['--namespaces', ns, '--controllers', 'keystores', '--log-level', 'debug']);
});

afterAll(async () => {
  await op?.stop();
  await deleteNamespace(client, ns);
});

describe('annotating a TLS Secret writes Java stores into it', () => {
  test('jks and pkcs12 keystores and truststores appear and keytool reads them', async () => {
    await client.create(
      Secrets,
      ns,
      tlsSecret('web', { cert: ec.certPem(2), key: ec.keyPkcs8, ca: ec.ca }, { 'annotary.io/keystores': 'jks,pkcs12' }),
    );
    const s = await waitFor('stores', async () => {
      const s = await getSecret('web');
      return s.data?.['truststore.p12'] ? s : undefined;
    });
    expect(Object.keys(s.data!).sort()).toEqual([
      'ca.crt',
      'keystore.jks',
      'keystore.p12',
      'tls.crt',
      'tls.key',
      'truststore.jks',
      'truststore.p12',
    ]);
    const ks = keytoolList(s.data!, 'keystore.jks', 'changeit');
    expect(ks).toMatch(/Alias name: certificate/);
    expect(ks).toMatch(/Entry type: PrivateKeyEntry/);
    expect(ks).toMatch(/Certificate chain length: 2/);
    expect(keytoolList(s.data!, 'keystore.p12', 'changeit')).toMatch(/Entry type: PrivateKeyEntry/);
    expect(keytoolList(s.data!, 'truststore.jks', 'changeit')).toMatch(/Alias name: ca0[\s\S]*trustedCertEntry/);
    expect(keytoolList(s.data!, 'truststore.p12', 'changeit')).toMatch(/trustedCertEntry/);
    expect(s.metadata.annotations?.['annotary.io/source-hash']).toMatch(/^[0-9a-f]{32}$/);
    const events = await waitFor('event', async () => (await eventsFor(client, ns, 'web')).find((e) => e.reason === 'StoresUpdated'));
    expect(events.type).toBe('Normal');
  });
});

describe('a rotation of the PEM regenerates the stores exactly once', () => {
  test('new certificate → new stores in one patch, then quiet', async () => {
    const before = await getSecret('web');
    const writes0 = apiserverWrites('secrets');
    const own0 = await op.metric('annotary_writes_total', { kind: 'Secret' });
    await client.patch(Secrets, ns, 'web', { data: tlsData(ecNext) });
    const after = await waitFor('rotated stores', async () => {
      const s = await getSecret('web');
      return s.data!['keystore.jks'] !== before.data!['keystore.jks'] && s;
    });
    await sleep(1500); // anything else the operator would do, it does now
    expect((await op.metric('annotary_writes_total', { kind: 'Secret' })) - own0).toBe(1);
    // the apiserver's own count (exact when nothing else writes Secrets, as in `make test`)
    expect(apiserverWrites('secrets') - writes0).toBe(2); // the rotation itself + one operator patch
    expect((await getSecret('web')).metadata.resourceVersion).toBe(after.metadata.resourceVersion);
    expect(keytoolList(after.data!, 'keystore.jks', 'changeit')).toMatch(/CN=localhost/);
  });
});

describe('unchanged input causes zero writes', () => {
  test('an operator restart and a resync write nothing', async () => {
    const rv = (await getSecret('web')).metadata.resourceVersion;
    const writes0 = apiserverWrites('secrets');
    await op.stop();
    op = await startOperator(['--namespaces', ns, '--controllers', 'keystores', '--resync', '1s']);
    await sleep(3000); // a start-up sync and at least two resyncs
    expect(await op.metric('annotary_reconcile_total', { controller: 'keystores', result: 'ok' })).toBeGreaterThan(0);
    expect(apiserverWrites('secrets') - writes0).toBe(0);
    expect((await getSecret('web')).metadata.resourceVersion).toBe(rv);
  });
});

describe('removing the annotation removes exactly the keys annotary wrote', () => {
  test('user keys stay, annotary keys and status annotations go', async () => {
    const pem = { cert: rsa.certPem(1), key: rsa.keyTraditional };
    await client.create(Secrets, ns, tlsSecret('mixed', pem, { 'annotary.io/keystores': 'pkcs12' }, { 'user.txt': 'mine' }));
    await waitFor('stores', async () => (await getSecret('mixed')).data?.['keystore.p12']);
    await client.patch(Secrets, ns, 'mixed', { metadata: { annotations: { 'annotary.io/keystores': null } } });
    const s = await waitFor('removal', async () => {
      const s = await getSecret('mixed');
      return !s.data!['keystore.p12'] && s;
    });
    expect(Object.keys(s.data!).sort()).toEqual(['tls.crt', 'tls.key', 'user.txt']);
    expect(s.metadata.annotations?.['annotary.io/managed-keys']).toBeUndefined();
    expect(s.metadata.annotations?.['annotary.io/source-hash']).toBeUndefined();
  });

  test('a user key with the name of a store is never overwritten', async () => {
    const pem = { cert: rsa.certPem(1), key: rsa.keyPkcs8 };
    await client.create(Secrets, ns, tlsSecret('owned', pem, { 'annotary.io/keystores': 'jks' }, { 'keystore.jks': 'user bytes' }));
    await waitFor('KeyConflict event', async () => (await eventsFor(client, ns, 'owned')).find((e) => e.reason === 'KeyConflict'));
    expect(Buffer.from((await getSecret('owned')).data!['keystore.jks'], 'base64').toString()).toBe('user bytes');
  });
});

describe('cert-utils-operator annotations work verbatim', () => {
  test('generate-java-keystores: alias "alias", truststore alias0.., password changeme; removal removes both', async () => {
    await client.create(
      Secrets,
      ns,
      tlsSecret(
        'legacy',
        { cert: rsa.certPem(2), key: rsa.keyPkcs8, ca: rsa.ca },
        {
          'cert-utils-operator.redhat-cop.io/generate-java-keystores': 'true',
          'cert-utils-operator.redhat-cop.io/generate-cert-info': 'true',
        },
      ),
    );
    const s = await waitFor('legacy stores', async () => {
      const s = await getSecret('legacy');
      return s.data?.['truststore.jks'] && s.data?.['tls.crt.info'] ? s : undefined;
    });
    expect(keytoolList(s.data!, 'keystore.jks', 'changeme')).toMatch(/Alias name: alias\n/);
    expect(keytoolList(s.data!, 'truststore.jks', 'changeme')).toMatch(/Alias name: alias0/);
    expect(Buffer.from(s.data!['tls.crt.info'], 'base64').toString()).toMatch(/Subject:.*CN=localhost/);
    expect(s.data!['keystore.p12']).toBeUndefined();
    await client.patch(Secrets, ns, 'legacy', {
      metadata: { annotations: { 'cert-utils-operator.redhat-cop.io/generate-java-keystores': null } },
    });
    const after = await waitFor('legacy removal', async () => {
      const x = await getSecret('legacy');
      return !x.data!['keystore.jks'] && x;
    });
    expect(after.data!['truststore.jks']).toBeUndefined();
    expect(after.data!['tls.crt.info']).toBeDefined(); // cert info is still asked for
  });

  test("annotary.io/keystores added beside cert-utils' annotation keeps the alias, aliases and password the app opens the stores with", async () => {
    await client.create(
      Secrets,
      ns,
      tlsSecret(
        'cu-mixed',
        { cert: ec.certPem(2), key: ec.keyPkcs8, ca: ec.ca },
        {
          'cert-utils-operator.redhat-cop.io/generate-java-keystores': 'true',
          'cert-utils-operator.redhat-cop.io/java-keystore-password': 'app-pass',
        },
      ),
    );
    await waitFor('cert-utils stores', async () => (await getSecret('cu-mixed')).data?.['keystore.jks']);
    await client.patch(Secrets, ns, 'cu-mixed', { metadata: { annotations: { 'annotary.io/keystores': 'jks,pkcs12' } } });
    const s = await waitFor('pkcs12 beside', async () => {
      const x = await getSecret('cu-mixed');
      return x.data?.['keystore.p12'] ? x : undefined;
    });
    // the app's configuration for cert-utils still opens every store
    expect(keytoolList(s.data!, 'keystore.jks', 'app-pass')).toMatch(/Alias name: alias\n/);
    expect(keytoolList(s.data!, 'truststore.jks', 'app-pass')).toMatch(/Alias name: alias0/);
    expect(keytoolList(s.data!, 'keystore.p12', 'app-pass')).toMatch(/Alias name: alias\n/);
    const ev = await waitFor('conventions event', async () =>
      (await eventsFor(client, ns, 'cu-mixed')).find((e) => e.reason === 'CertUtilsConventionsKept'),
    );
    expect(ev.message).toContain('key alias "alias"');
  });

  test("an Opaque Secret with cert-utils' key gets stores too (cert-utils acts on kubernetes.io/tls only: a documented difference)", async () => {
    const pem = { 'tls.crt': ec.certPem(1), 'tls.key': ec.keyPkcs8, 'app.conf': 'user data' };
    await client.create(
      Secrets,
      ns,
      secret(
        'opaque-cu',
        inNamespace(ns),
        withAnnotations({ 'cert-utils-operator.redhat-cop.io/generate-java-keystores': 'true' }),
        withData(pem),
      ),
    );
    const s = await waitFor('opaque stores', async () => {
      const x = await getSecret('opaque-cu');
      return x.data?.['keystore.jks'] ? x : undefined;
    });
    expect(s.type).toBe('Opaque');
    expect(keytoolList(s.data!, 'keystore.jks', 'changeme')).toMatch(/Alias name: alias\n/);
    expect(Buffer.from(s.data!['app.conf'], 'base64').toString()).toBe('user data'); // the user's keys stay as they are
  });
});

describe('passwords come from a Secret and their rotation regenerates the stores', () => {
  test('keystore-password-secret', async () => {
    await client.create(Secrets, ns, secret('pw', inNamespace(ns), withData({ password: 's3cret-1' })));
    await client.create(
      Secrets,
      ns,
      tlsSecret(
        'pwd',
        { cert: ec.certPem(1), key: ec.keyTraditional, ca: ec.ca },
        {
          'annotary.io/keystores': 'jks',
          'annotary.io/keystore-password-secret': 'pw/password',
        },
      ),
    );
    const s1 = await waitFor('stores', async () => {
      const s = await getSecret('pwd');
      return s.data?.['keystore.jks'] ? s : undefined;
    });
    expect(keytoolList(s1.data!, 'keystore.jks', 's3cret-1')).toMatch(/PrivateKeyEntry/);
    await client.patch(Secrets, ns, 'pw', { data: { password: b64('s3cret-2') } });
    const s2 = await waitFor('re-encrypted stores', async () => {
      const s = await getSecret('pwd');
      return s.data!['keystore.jks'] !== s1.data!['keystore.jks'] && s;
    });
    expect(keytoolList(s2.data!, 'keystore.jks', 's3cret-2')).toMatch(/PrivateKeyEntry/);
  });
});

describe("truststore-from adds other objects' CA certificates", () => {
  test('a Secret and a ConfigMap bundle become trusted entries; their change regenerates', async () => {
    await client.create(Secrets, ns, secret('upstream', inNamespace(ns), withData({ 'ca.crt': rsa.ca })));
    await client.create(ConfigMaps, ns, configMap('bundle', inNamespace(ns), withData({ 'ca-bundle.crt': ecNext.ca })));
    await client.create(
      Secrets,
      ns,
      tlsSecret(
        'trusting',
        { cert: ec.certPem(2), key: ec.keyPkcs8, ca: ec.ca },
        {
          'annotary.io/keystores': 'jks',
          'annotary.io/truststore-from': 'upstream,configmap/bundle',
        },
      ),
    );
    const s = await waitFor('truststore', async () => {
      const s = await getSecret('trusting');
      return s.data?.['truststore.jks'] ? s : undefined;
    });
    expect(keytoolList(s.data!, 'truststore.jks', 'changeit')).toMatch(/Your keystore contains 3 entries/);
    await client.patch(ConfigMaps, ns, 'bundle', { data: { 'ca-bundle.crt': ecNext.ca + rsa.intermediate } });
    const s2 = await waitFor('regenerated truststore', async () => {
      const x = await getSecret('trusting');
      return x.data!['truststore.jks'] !== s.data!['truststore.jks'] && x;
    });
    expect(keytoolList(s2.data!, 'truststore.jks', 'changeit')).toMatch(/Your keystore contains 4 entries/);
  });
});

describe('bad input gets a Warning Event with a precise reason and no write', () => {
  const odd = oddKeys();
  const explicit = explicitEcFixture();
  const good = { cert: rsa.certPem(2), key: rsa.keyPkcs8, ca: rsa.ca };
  const ks = { 'annotary.io/keystores': 'jks' };
  const noise = randomBytes(675 * 1024); // 900 KiB once base64-encoded
  const cases: [string, string, Record<string, string | Buffer> | undefined, Data][] = [
    ['garbage instead of PEM', 'NoCertificate', { 'tls.crt': 'not a pem', 'tls.key': good.key }, ks],
    ['truncated certificate', 'MalformedPEM', { 'tls.crt': good.cert.slice(0, 300), 'tls.key': good.key }, ks],
    ['truncated key', 'MalformedPEM', { 'tls.crt': good.cert, 'tls.key': good.key.slice(0, 200) }, ks],
    ['key does not match the certificate', 'KeyMismatch', { 'tls.crt': good.cert, 'tls.key': ec.keyPkcs8 }, ks],
    ['encrypted key', 'EncryptedKey', { 'tls.crt': good.cert, 'tls.key': odd.encryptedPkcs8 }, ks],
    ['DSA key', 'UnsupportedKeyType', { 'tls.crt': good.cert, 'tls.key': odd.dsaPkcs8 }, ks],
    ['Ed25519 key', 'UnsupportedKeyType', { 'tls.crt': good.cert, 'tls.key': odd.ed25519 }, ks],
    [
      'EC key with explicit curve parameters (keytool cannot read it)',
      'UnsupportedByJava',
      { 'tls.crt': explicit.cert, 'tls.key': explicit.key },
      ks,
    ],
    ['missing tls.key', 'MissingKey', { 'tls.crt': good.cert }, ks],
    ['missing tls.crt', 'MissingKey', { 'tls.key': good.key }, ks],
    ['a foreign certificate in the chain', 'ChainBroken', { 'tls.crt': good.cert + ec.root, 'tls.key': good.key }, ks],
    ['900 KiB of noise as certificate (Secrets are capped at 1 MiB)', 'NoCertificate', { 'tls.crt': noise, 'tls.key': good.key }, ks],
    ['unknown keystore format', 'InvalidAnnotation', undefined, { 'annotary.io/keystores': 'jceks' }],
    ['malformed password reference', 'InvalidAnnotation', undefined, { ...ks, 'annotary.io/keystore-password-secret': 'no-key-part' }],
    ['missing password secret', 'PasswordSecretMissing', undefined, { ...ks, 'annotary.io/keystore-password-secret': 'nope/password' }],
    [
      'invalid cert-utils flag value',
      'InvalidAnnotation',
      undefined,
      { 'cert-utils-operator.redhat-cop.io/generate-java-keystores': 'yes please' },
    ],
    ['bad truststore-from entry', 'InvalidAnnotation', undefined, { ...ks, 'annotary.io/truststore-from': 'configmap/' }],
    ['missing truststore-from source', 'TruststoreSourceMissing', undefined, { ...ks, 'annotary.io/truststore-from': 'ghost' }],
  ];

  test.each(cases)('%s → %s', async (_title, reason, data, annotations) => {
    const name = `bad-${reason.toLowerCase()}-${Math.random().toString(36).slice(2, 7)}`;
    const invalidBefore = await op.metric('annotary_invalid_input_total', { controller: 'keystores', reason });
    const created = await client.create<Secret>(
      Secrets,
      ns,
      secret(name, inNamespace(ns), withAnnotations(annotations), withData(data ?? { 'tls.crt': good.cert, 'tls.key': good.key })),
    );
    const ev = await waitFor(`${reason} event`, async () => (await eventsFor(client, ns, name)).find((e) => e.reason === reason));
    expect(ev.type).toBe('Warning');
    expect(ev.message).not.toMatch(/BEGIN|MII/); // names the problem, never the material
    expect(await op.metric('annotary_invalid_input_total', { controller: 'keystores', reason })).toBeGreaterThan(invalidBefore);
    const now = await getSecret(name);
    expect(now.metadata.resourceVersion).toBe(created.metadata.resourceVersion); // no write at all
  });

  test('the next valid input works after a refusal', async () => {
    await client.create(Secrets, ns, tlsSecret('recovers', { cert: good.cert, key: ec.keyPkcs8 }, ks));
    await waitFor('KeyMismatch', async () => (await eventsFor(client, ns, 'recovers')).find((e) => e.reason === 'KeyMismatch'));
    await client.patch(Secrets, ns, 'recovers', { data: { 'tls.key': b64(good.key) } });
    await waitFor('stores after fix', async () => (await getSecret('recovers')).data?.['keystore.jks']);
    expect(op.proc.exitCode).toBeNull();
  });
});

describe('ConfigMaps with a CA bundle get truststores', () => {
  const getCm = (name: string) => client.get<ConfigMap>(ConfigMaps, ns, name);

  test("annotary.io/store-keys names the keys of a Secret's keystore and a ConfigMap's truststore", async () => {
    await client.create(
      Secrets,
      ns,
      tlsSecret(
        'named',
        { cert: ec.certPem(2), key: ec.keyPkcs8, ca: ec.ca },
        {
          'annotary.io/keystores': 'jks',
          'annotary.io/store-keys': 'keystore.jks=server.jks',
        },
      ),
    );
    const s = await waitFor('named stores', async () => {
      const x = await getSecret('named');
      return x.data?.['server.jks'] ? x : undefined;
    });
    expect(s.data!['keystore.jks']).toBeUndefined();
    expect(keytoolList(s.data!, 'server.jks', 'changeit')).toMatch(/Alias name: certificate\n/);
    expect(keytoolList(s.data!, 'truststore.jks', 'changeit')).toMatch(/Alias name: ca0/);
    await client.create(
      ConfigMaps,
      ns,
      configMap(
        'named-cas',
        inNamespace(ns),
        withAnnotations({ 'annotary.io/truststore': 'jks', 'annotary.io/store-keys': 'truststore.jks=cacerts' }),
        withData({ 'ca-bundle.crt': rsa.ca }),
      ),
    );
    const cm = await waitFor('named truststore', async () => {
      const x = await getCm('named-cas');
      return x.binaryData?.cacerts ? x : undefined;
    });
    expect(Object.keys(cm.binaryData!)).toEqual(['cacerts']);
    expect(keytoolList(cm.binaryData!, 'cacerts', 'changeit')).toMatch(/Alias name: ca0/);
  });

  test('annotary.io/truststore writes binaryData truststore.jks and .p12; removal removes them', async () => {
    await client.create(
      ConfigMaps,
      ns,
      configMap(
        'cas',
        inNamespace(ns),
        withAnnotations({ 'annotary.io/truststore': 'jks,pkcs12' }),
        withData({ 'ca-bundle.crt': rsa.ca + ec.ca, other: 'kept' }),
      ),
    );
    const cm = await waitFor('truststores', async () => {
      const c = await getCm('cas');
      return c.binaryData?.['truststore.p12'] ? c : undefined;
    });
    expect(keytoolList(cm.binaryData!, 'truststore.jks', 'changeit')).toMatch(/Your keystore contains 2 entries/);
    expect(keytoolList(cm.binaryData!, 'truststore.p12', 'changeit')).toMatch(/Alias name: ca1/);
    await client.patch(ConfigMaps, ns, 'cas', { metadata: { annotations: { 'annotary.io/truststore': null } } });
    const after = await waitFor('removal', async () => {
      const c = await getCm('cas');
      return !c.binaryData?.['truststore.jks'] ? c : undefined;
    });
    expect(after.data).toEqual({ 'ca-bundle.crt': rsa.ca + ec.ca, other: 'kept' });
  });

  test('cert-utils generate-java-truststore with source-ca-key', async () => {
    await client.create(
      ConfigMaps,
      ns,
      configMap(
        'legacy-cas',
        inNamespace(ns),
        withData({ 'service-ca.crt': ec.ca }),
        withAnnotations({
          'cert-utils-operator.redhat-cop.io/generate-java-truststore': 'true',
          'cert-utils-operator.redhat-cop.io/source-ca-key': 'service-ca.crt',
        }),
      ),
    );
    const cm = await waitFor('legacy truststore', async () => {
      const c = await getCm('legacy-cas');
      return c.binaryData?.['truststore.jks'] ? c : undefined;
    });
    expect(keytoolList(cm.binaryData!, 'truststore.jks', 'changeme')).toMatch(/Alias name: alias0/);
  });

  test('a ConfigMap whose truststore.jks cert-utils wrote is handed over (rewritten), not refused as a KeyConflict', async () => {
    await client.create(
      ConfigMaps,
      ns,
      configMap(
        'cu-cas',
        inNamespace(ns),
        withData({ 'ca-bundle.crt': ec.ca }),
        withAnnotations({ 'cert-utils-operator.redhat-cop.io/generate-java-truststore': 'true' }),
        (c) => void (c.binaryData = { 'truststore.jks': b64('bytes cert-utils-operator wrote') }),
      ),
    );
    const cm = await waitFor('handed-over truststore', async () => {
      const c = await getCm('cu-cas');
      return c.metadata.annotations?.['annotary.io/managed-keys'] ? c : undefined;
    });
    expect(keytoolList(cm.binaryData!, 'truststore.jks', 'changeme')).toMatch(/Alias name: alias0/);
    expect((await eventsFor(client, ns, 'cu-cas')).map((e) => e.reason)).not.toContain('KeyConflict');
  });

  test('a bundle without certificates is refused with EmptyCABundle and nothing is written', async () => {
    const created = await client.create<ConfigMap>(
      ConfigMaps,
      ns,
      configMap('empty-cas', inNamespace(ns), withAnnotations({ 'annotary.io/truststore': 'jks' }), withData({ 'ca-bundle.crt': '\n' })),
    );
    await waitFor('EmptyCABundle', async () => (await eventsFor(client, ns, 'empty-cas')).find((e) => e.reason === 'EmptyCABundle'));
    expect((await getCm('empty-cas')).metadata.resourceVersion).toBe(created.metadata.resourceVersion);
  });
});
