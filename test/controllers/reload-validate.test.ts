// Validate before rolling (#17, Reloader #116): which Secrets are checked, what a hold says,
// and in process (reconcile-harness.ts): a rotation onto a key that does not match, an expired
// or an unparsable certificate writes nothing (a Warning and the metric), the fix rolls once.
import { describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { CONTROLLER_MODULES } from '../../src/controllers/index.js';
import { consumedKeys } from '../../src/controllers/reload-consumed.js';
import { heldRollout, holdFor, secretProblem, secretsToValidate, servesTls } from '../../src/controllers/reload-validate.js';
import type { SlimData } from '../../src/kube/slim.js';
import { generateKey, selfSignedCa } from '../../src/pki/x509.js';
import type { Workload } from '../gen.js';
import {
  b64Values,
  deployment,
  inNamespace,
  ofType,
  secret as genSecret,
  tlsData,
  withAnnotations,
  withData,
  withSecretItemsVolume,
  withSecretVolumes,
  withTLS,
} from '../gen.js';
import { FakeCluster, runModule, moduleRunner, writesOf } from './reconcile-harness.js';
import { ec, next, rsa } from './tls-fixtures.js';

const slim = (name: string, type: string | undefined, keys: string[]): SlimData => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name },
  type,
  digests: Object.fromEntries(keys.map((k) => [k, 'd'])),
});
const leaf = new X509Certificate(ec.leaf);
const during = new Date(new Date(leaf.validFrom).getTime() + 86_400_000);

describe('which watched Secrets are checked', () => {
  test('kubernetes.io/tls, or any Secret with tls.crt and tls.key', () => {
    expect(servesTls(slim('a', 'kubernetes.io/tls', []))).toBe(true);
    expect(servesTls(slim('b', 'Opaque', ['tls.crt', 'tls.key']))).toBe(true);
    expect(servesTls(slim('c', 'Opaque', ['tls.crt', 'ca.crt']))).toBe(false);
  });

  test('only those whose tls.crt or tls.key the pods read', () => {
    const secrets = ['all', 'crt', 'ca'].map((n) => slim(n, 'kubernetes.io/tls', ['tls.crt', 'tls.key', 'ca.crt']));
    const scopes = consumedKeys({
      volumes: [
        { secret: { secretName: 'all' } },
        { secret: { secretName: 'crt', items: [{ key: 'tls.crt' }] } },
        { secret: { secretName: 'ca', items: [{ key: 'ca.crt' }] } },
      ],
    });
    expect(secretsToValidate(secrets, scopes).map((s) => s.metadata.name)).toEqual(['all', 'crt']);
  });
});

describe('holds', () => {
  test('the apiserver data of a good Secret: no problem; without tls.key: unparsable', () => {
    expect(secretProblem(tlsData(ec), during)).toBeUndefined();
    expect(secretProblem(b64Values({ 'tls.crt': ec.leaf }), during)).toEqual({ kind: 'unparsable', message: 'no tls.key' });
  });

  test('the message names every Secret and what is wrong with it', () => {
    const held = holdFor(
      [
        ['a', { kind: 'key_mismatch', message: 'tls.key does not match' }],
        ['b', { kind: 'expired', message: 'expired' }],
      ],
      during,
    );
    expect(held?.refusal.reason).toBe('ReloadHeldBadMaterial');
    expect(held?.refusal.message).toBe(
      'Secret "a": tls.key does not match; Secret "b": expired; not rolling onto it, the pods keep the material they run with until it is fixed',
    );
    expect(held?.requeueAfterMs).toBeUndefined();
    expect(holdFor([], during)).toBeUndefined();
  });

  test('a certificate not valid yet is looked at again when it becomes valid (at most an hour later)', () => {
    const at = (ms: number) => ({ kind: 'not_yet_valid' as const, message: 'm', validFrom: new Date(during.getTime() + ms) });
    expect(holdFor([['a', at(60_000)]], during)?.requeueAfterMs).toBe(60_000);
    expect(
      holdFor(
        [
          ['a', at(60_000)],
          ['b', at(30_000)],
        ],
        during,
      )?.requeueAfterMs,
    ).toBe(30_000);
    expect(holdFor([['a', at(86_400_000)]], during)?.requeueAfterMs).toBe(3_600_000);
  });

  test('heldRollout reads tls.crt and tls.key of each Secret checked; one gone meanwhile is not held on; a key the Secret lacks is not read', async () => {
    const live: Record<string, Record<string, string>> = {
      good: tlsData(ec),
      bad: b64Values({ 'tls.crt': ec.leaf, 'tls.key': next.keyPkcs8 }),
      halfway: b64Values({ 'tls.crt': ec.leaf }),
    };
    const reads: string[] = [];
    const read = async (n: string, k: string) => (reads.push(`${n}/${k}`), live[n]?.[k]);
    const check = (...names: string[]) =>
      heldRollout(
        names.map((n) => slim(n, 'kubernetes.io/tls', n === 'halfway' ? ['tls.crt'] : ['tls.crt', 'tls.key'])),
        read,
        during,
      );
    expect(await check('good', 'gone')).toBeUndefined();
    expect(reads).toEqual(['good/tls.crt', 'good/tls.key', 'gone/tls.crt', 'gone/tls.key']);
    expect((await check('good', 'bad'))?.refusal.message).toMatch(/^Secret "bad": tls\.key does not match the first certificate/);
    reads.length = 0;
    expect((await check('halfway'))?.refusal.message).toMatch(/^Secret "halfway": no tls\.key/);
    expect(reads).toEqual(['halfway/tls.crt']);
  });
});

// ---------------------------------------------------------------- in process

const NS = 'apps';
const runReload = moduleRunner();
const run = (cluster: FakeCluster, flags: string[] = []) => runReload(CONTROLLER_MODULES.reload, cluster, flags);
const tls = (name = 'tls') => genSecret(name, inNamespace(NS), ofType('kubernetes.io/tls'), withTLS(ec));
const app = (...mods: Parameters<typeof deployment>[1][]) =>
  deployment('app', inNamespace(NS), withAnnotations({ 'annotary.io/reload': 'auto' }), ...mods);
const rotate = (c: FakeCluster, data: Record<string, string>, name = 'tls') => c.userPatch('Secret', NS, name, { data: b64Values(data) });
const skipped = async (op: Awaited<ReturnType<typeof runModule>>) =>
  (await op.metrics.rolloutsSkipped.get()).values.find((v) => v.labels.reason === 'bad_material')?.value ?? 0;

async function expired(): Promise<Record<string, string>> {
  const key = await generateKey('ec-p256');
  const crt = await selfSignedCa(key, 'expired', {
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2021-01-01T00:00:00Z'),
  });
  return { 'tls.crt': crt, 'tls.key': key };
}

describe('reload, validate before rolling, in process', () => {
  test.each([
    [
      'a key that does not match its certificate',
      async () => ({ 'tls.crt': next.certPem(2), 'tls.key': rsa.keyPkcs8 }),
      /tls\.key does not match/,
    ],
    ['an expired certificate', expired, /the certificate "CN=expired" expired on 2021-01-01T00:00:00Z/],
    ['a certificate that does not parse', async () => ({ 'tls.crt': 'not a certificate', 'tls.key': next.keyPkcs8 }), /NoCertificate: /],
  ])('a rotation onto %s: nothing written, a Warning and the metric; the fix rolls once', async (_, bad, why) => {
    const cluster = new FakeCluster([tls(), app(withSecretVolumes('tls'))]);
    const op = await run(cluster);
    rotate(cluster, await bad());
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app']); // onboarding only
    const warn = op.events.find((e) => e.reason === 'ReloadHeldBadMaterial');
    expect(warn?.type).toBe('Warning');
    expect(warn?.message).toMatch(new RegExp(`^Secret "tls": ${why.source}`));
    expect(await skipped(op)).toBe(1);
    expect((await op.metrics.invalidInputTotal.get()).values.find((v) => v.labels.reason === 'ReloadHeldBadMaterial')?.value).toBe(1);

    rotate(cluster, { 'tls.crt': next.certPem(2), 'tls.key': next.keyPkcs8 });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
    expect(op.events.filter((e) => e.reason === 'Reloaded')).toHaveLength(1);
    const t = (cluster.get('Deployment', NS, 'app') as unknown as Workload).spec.template.metadata.annotations;
    expect(t?.['annotary.io/config-hash']).toMatch(/^[0-9a-f]{32}$/);
  });

  test('held, then an operator restart: still held, nothing written; the fix rolls once', async () => {
    const cluster = new FakeCluster([tls(), app(withSecretVolumes('tls'))]);
    const op = await run(cluster);
    rotate(cluster, { 'tls.key': rsa.keyPkcs8 });
    await op.quiet();
    await op.stop();
    const op2 = await run(cluster);
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
    expect(op2.events.map((e) => e.reason)).toEqual(['ReloadHeldBadMaterial']);
    rotate(cluster, { 'tls.key': ec.keyPkcs8 }); // back to the material the pods run with: nothing to roll
    await op2.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
    rotate(cluster, { 'tls.crt': next.certPem(2), 'tls.key': next.keyPkcs8 });
    await op2.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
  });

  test('--reload-validate-tls=false: it rolls onto it, as Reloader does', async () => {
    const cluster = new FakeCluster([tls(), app(withSecretVolumes('tls'))]);
    const op = await run(cluster, ['--reload-validate-tls=false']);
    rotate(cluster, { 'tls.key': rsa.keyPkcs8 });
    await op.quiet();
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'Reloaded']);
  });

  test('a pod that reads only ca.crt of the Secret is not held by its key', async () => {
    const cluster = new FakeCluster([tls(), app(withSecretItemsVolume('tls', 'ca.crt'))]);
    const op = await run(cluster);
    rotate(cluster, { 'tls.key': rsa.keyPkcs8, 'ca.crt': next.ca });
    await op.quiet();
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'Reloaded']);
  });

  test('another watched Secret changes while a TLS Secret is bad: held too (the new pods would load it)', async () => {
    const other = genSecret('creds', inNamespace(NS), withData({ password: 'one' }));
    const cluster = new FakeCluster([tls(), other, app(withSecretVolumes('tls', 'creds'))]);
    const op = await run(cluster);
    rotate(cluster, { 'tls.key': rsa.keyPkcs8 });
    rotate(cluster, { password: 'two' }, 'creds');
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
    expect(op.events.map((e) => e.reason)).toContain('ReloadHeldBadMaterial');
  });
});
