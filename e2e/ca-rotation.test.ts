// CA rotation with zero failed handshakes, on the real local control plane: two services, each
// a Secret issued by a generated CA with PKCS#12 stores, handshake by mutual TLS (a JVM, both
// directions, stores re-read each time) at every state of their stores the rotation passes
// through, from before the CA changes until the old CA is gone from both. The old stores
// against the final ones fail: the handshakes do check trust.
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, newNamespace, ROOT, startOperator, waitFor } from './harness/cluster.js';
import { scratchDir } from '../test/pki/fixtures.js';
import type { Secret } from '../test/gen.js';
import { inNamespace, secret, withAnnotations } from '../test/gen.js';

const run = promisify(execFile);
const client = adminClient();
const dir = scratchDir('e2e-ca-rotation');
const classes = path.join(dir, 'classes');
const GRACE_MS = 8000;
let ns: string;
let op: OperatorProcess;

interface Stores {
  ks: string;
  ts: string;
}
let n = 0;
function storesOf(s: Secret): Stores {
  const write = (key: string) => {
    const p = path.join(dir, `${s.metadata.name}-${n++}-${key}`);
    writeFileSync(p, Buffer.from(s.data![key], 'base64'));
    return p;
  };
  return { ks: write('keystore.p12'), ts: write('truststore.p12') };
}

/** Mutual TLS, server → client, for each pair; the JVM's verdict per pair. */
async function handshakes(pairs: [Stores, Stores][]): Promise<string[]> {
  const args = pairs.flatMap(([server, client]) => [server.ks, server.ts, client.ks, client.ts]);
  const { stdout } = await run('java', ['-XX:TieredStopAtLevel=1', '-cp', classes, 'MutualTls', 'changeit', ...args], { timeout: 60_000 });
  return stdout.split('\n').filter((l) => l.startsWith('RESULT '));
}

const stateOf = (s: Secret) => {
  const rec = JSON.parse(s.metadata.annotations?.['annotary.io/issued-record'] ?? '{}') as { rotation?: { stage: string } };
  const cas =
    Buffer.from(s.data?.['ca.crt'] ?? '', 'base64')
      .toString()
      .split('BEGIN CERTIFICATE').length - 1;
  return `${rec.rotation?.stage ?? 'steady'}/${cas}ca`;
};

const leaf = (name: string) =>
  secret(
    name,
    inNamespace(ns),
    withAnnotations({
      'annotary.io/issuer': 'root',
      'annotary.io/dns-names': `${name}.test`,
      'annotary.io/key-algorithm': 'ec-p256',
      'annotary.io/keystores': 'pkcs12',
    }),
  );

beforeAll(async () => {
  execFileSync('javac', ['-d', classes, path.join(ROOT, 'test/java/MutualTls.java')]);
  ns = await newNamespace(client, 'rot');
  op = await startOperator(['--namespaces', ns, '--controllers', 'keystores,issuing', '--ca-rotation-grace', `${GRACE_MS}ms`]);
});

afterAll(async () => {
  await op?.stop();
  await deleteNamespace(client, ns);
});

test('every state of both services during a CA rotation handshakes, both directions', async () => {
  await client.create(
    Secrets,
    ns,
    secret('root', inNamespace(ns), withAnnotations({ 'annotary.io/generate-ca': 'true', 'annotary.io/key-algorithm': 'ec-p256' })),
  );
  await client.create(Secrets, ns, leaf('alpha'));
  await client.create(Secrets, ns, leaf('beta'));
  // stores consistent with the issued certificate: the keystores controller's source-hash is set after issuance
  const ready = async (name: string) => {
    const s = await client.get<Secret>(Secrets, ns, name);
    return s.data?.['keystore.p12'] && s.metadata.annotations?.['annotary.io/serial'] ? s : undefined;
  };
  await waitFor('alpha and beta issued with stores', async () => (await ready('alpha')) && (await ready('beta')), 60_000);
  const first = { alpha: storesOf((await ready('alpha'))!), beta: storesOf((await ready('beta'))!) };

  // the CA's request changes: a new CA key, as a renewal of the generated CA makes
  await client.patch(Secrets, ns, 'root', { metadata: { annotations: { 'annotary.io/key-algorithm': 'ec-p384' } } });

  const seen: string[] = [];
  const failures: string[] = [];
  let last = '';
  const deadline = Date.now() + 6 * GRACE_MS + 30_000;
  for (;;) {
    const [a, b] = [await client.get<Secret>(Secrets, ns, 'alpha'), await client.get<Secret>(Secrets, ns, 'beta')];
    const key = [a, b].map((s) => `${s.data?.['keystore.p12']}|${s.data?.['truststore.p12']}`).join('/');
    if (key !== last) {
      last = key;
      const sa = storesOf(a);
      const sb = storesOf(b);
      const state = `alpha ${stateOf(a)}, beta ${stateOf(b)}`;
      seen.push(state);
      for (const r of await handshakes([
        [sa, sb],
        [sb, sa],
      ]))
        if (!/ OK$/.test(r)) failures.push(`${state}: ${r}`);
    }
    if ([a, b].every((s) => stateOf(s) === 'steady/1ca') && seen.length > 1) break;
    if (Date.now() > deadline) throw new Error(`rotation did not finish; states seen: ${seen.join('; ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(failures).toEqual([]);
  // the rotation went through its steps (on each side: trust both, re-issued, old CA dropped)
  for (const step of ['trust-both/2ca', 'reissued/2ca']) {
    expect(seen.some((s) => s.includes(`alpha ${step}`))).toBe(true);
    expect(seen.some((s) => s.includes(`beta ${step}`))).toBe(true);
  }
  // and the handshakes check trust: stores from before the rotation and from after it do not agree
  const final = {
    alpha: storesOf(await client.get<Secret>(Secrets, ns, 'alpha')),
    beta: storesOf(await client.get<Secret>(Secrets, ns, 'beta')),
  };
  const control = await handshakes([
    [first.alpha, final.beta],
    [final.alpha, first.beta],
  ]);
  expect(control.every((r) => / FAIL /.test(r))).toBe(true);
});
