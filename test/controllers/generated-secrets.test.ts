// The generated-secrets controller: declarations → what to generate (pure), and the
// controller in process against the in-memory apiserver (reconcile-harness.ts): one write
// per declaration change, none at rest or after a restart, never a user's key written, and
// keystores and generated keys side by side on one Secret without a fight.
import { afterEach, describe, expect, test } from '@jest/globals';
import { A, AnnotationReader } from '../../src/annotations.js';
import type { ControllerModule } from '../../src/controllers/context.js';
import type { Declaration, GeneratedObserved, GeneratedPlan } from '../../src/controllers/generated-secrets.js';
import { desiredGenerated, generatedPatch, parseDeclarations } from '../../src/controllers/generated-secrets.js';
import { CONTROLLER_MODULES } from '../../src/controllers/index.js';
import { ownerRecordValue } from '../../src/controllers/managed-keys.js';
import type { Refusal } from '../../src/kube/refusal.js';
import { isRefusal } from '../../src/kube/refusal.js';
import { valueDigest } from '../../src/kube/slim.js';
import type { Secret } from '../gen.js';
import { b64, inNamespace, ofType, secret, withAnnotations, withBase64Data, withData, withTLS, withUid } from '../gen.js';
import { ec } from './tls-fixtures.js';
import { FakeCluster, runModule } from './reconcile-harness.js';

const NS = 'apps';
const UID = 'uid-7';
const compat = new AnnotationReader(true);
const strict = new AnnotationReader(false);
const SG = 'secret-generator.v1.mittwald.de/';

function declsOf(ann: Record<string, string>, reader = compat): Declaration[] {
  const d = parseDeclarations(ann, reader);
  if (isRefusal(d)) throw new Error(`unexpected refusal ${d.reason}: ${d.message}`);
  return d;
}
function refusalOf(x: unknown): Refusal {
  if (!isRefusal(x)) throw new Error(`expected a Refusal, got ${JSON.stringify(x)}`);
  return x;
}
function planOf(x: GeneratedPlan | Refusal | undefined): GeneratedPlan {
  if (x === undefined || isRefusal(x)) throw new Error(`expected a plan, got ${JSON.stringify(x)}`);
  return x;
}
const digestsOf = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, valueDigest(b64(v))]));
const observe = (ann: Record<string, string>, data: Record<string, string>, over: Partial<GeneratedObserved> = {}): GeneratedObserved => ({
  decls: declsOf(ann),
  digests: digestsOf(data),
  uid: UID,
  managed: [],
  record: undefined,
  regenerate: undefined,
  regenerated: undefined,
  mittwaldRegenerate: false,
  ...over,
});
const generatedKeys = (p: GeneratedPlan) => p.generate.flatMap((d) => d.outputs);

describe('parseDeclarations', () => {
  test('one declaration per annotation, with the data keys of its type', () => {
    const d = declsOf({ 'annotary.io/generate.db': 'type=password,length=20', 'annotary.io/generate.id': 'type=ssh', other: 'x' });
    expect(d.map((x) => [x.source, x.outputs])).toEqual([
      ['annotary.io/generate.db', ['db']],
      ['annotary.io/generate.id', ['id', 'id.pub']],
    ]);
    expect(d[0].spec).toEqual({ type: 'password', length: 20, classes: ['lower', 'upper', 'digit'] });
  });

  test.each([
    ['type=nope', 'UnknownGenerateType', 'type=nope is not one of'],
    ['type=password,length=0', 'InvalidGenerateSpec', 'length=0 is not a whole number from 1 to 1024'],
    ['type=password,length=100000', 'InvalidGenerateSpec', 'length=100000'],
    ['type=rsa,size=512', 'InvalidGenerateSpec', 'size=512 is not one of 2048, 3072, 4096'],
    ['type=ec,curve=p521', 'InvalidGenerateSpec', 'curve=p521 is not one of p256, p384'],
    ['type=gpg', 'InvalidGenerateSpec', 'type=gpg needs user-id'],
    ['type=uuid,length=3', 'InvalidGenerateSpec', 'type=uuid has no option length'],
    ['length=3', 'InvalidGenerateSpec', 'type is missing'],
    ['type=password,classes=lower+emoji', 'InvalidGenerateSpec', '"emoji" is not one of'],
    ['type=password,length=2,classes=lower+upper+digit', 'InvalidGenerateSpec', 'shorter than the 3 classes'],
  ])('%s → %s', (spec, reason, message) => {
    const r = refusalOf(parseDeclarations({ 'annotary.io/generate.k': spec }, compat));
    expect(r.reason).toBe(reason);
    expect(r.message).toContain('annotary.io/generate.k: ');
    expect(r.message).toContain(message);
  });

  test('a data key written by two declarations is refused', () => {
    const r = refusalOf(parseDeclarations({ 'annotary.io/generate.k': 'type=rsa', 'annotary.io/generate.k.pub': 'type=uuid' }, compat));
    expect([r.reason, r.message]).toEqual([
      'InvalidGenerateSpec',
      'data key "k.pub" is written by both annotary.io/generate.k and annotary.io/generate.k.pub',
    ]);
  });

  test("mittwald's keys: read under --compat only, with its defaults and fixed data keys", () => {
    const ann = { [`${SG}autogenerate`]: 'a,b' };
    expect(declsOf(ann).map((d) => [d.outputs, d.spec, d.handover])).toEqual([
      [['a'], { type: 'mittwald-string', length: 40, byteLength: false, encoding: 'base64' }, true],
      [['b'], { type: 'mittwald-string', length: 40, byteLength: false, encoding: 'base64' }, true],
    ]);
    expect(declsOf(ann, strict)).toEqual([]);
    expect(declsOf({ [`${SG}type`]: 'ssh-keypair' })[0]).toMatchObject({
      outputs: ['ssh-privatekey', 'ssh-publickey'],
      spec: { size: 2048 },
    });
    expect(declsOf({ [`${SG}type`]: 'basic-auth', [`${SG}length`]: '12B' })[0]).toMatchObject({
      outputs: ['auth', 'username', 'password'],
      spec: { user: 'admin', length: 12, byteLength: true },
    });
    // regenerate: "yes" (its code) or "true" (its README) for every string field, else the named fields
    const regen = (v: string) => declsOf({ ...ann, [`${SG}regenerate`]: v }).map((d) => d.mittwaldRegenerate);
    expect([regen('yes'), regen('true'), regen('b'), regen('')]).toEqual([
      [true, true],
      [true, true],
      [false, true],
      [false, false],
    ]);
    expect(refusalOf(parseDeclarations({ [`${SG}type`]: 'pgp' }, compat)).reason).toBe('UnknownGenerateType');
    expect(refusalOf(parseDeclarations({ [`${SG}type`]: 'ssh-keypair', [`${SG}length`]: '512' }, compat)).reason).toBe(
      'InvalidGenerateSpec',
    );
  });
});

describe('desiredGenerated: from which keys exist, never from their values', () => {
  const ann = { 'annotary.io/generate.pw': 'type=password', 'annotary.io/generate.key': 'type=ed25519' };

  test('nothing there: every declaration is generated', () => {
    expect(generatedKeys(planOf(desiredGenerated(observe(ann, {}))))).toEqual(['key', 'key.pub', 'pw']);
  });

  test('a user-set value is kept, not claimed; an empty value is a placeholder and is generated', () => {
    const p = planOf(desiredGenerated(observe(ann, { pw: 'mine', key: '', 'key.pub': '' })));
    expect(generatedKeys(p)).toEqual(['key', 'key.pub']);
    expect(p.kept).toEqual({});
  });

  test('what annotary generated, with its record: nothing to do (a restart, a resync)', () => {
    const data = { pw: 'x', key: 'k', 'key.pub': 'p' };
    const keys = digestsOf(data);
    const o = observe(ann, data, { managed: Object.keys(data), record: { uid: UID, keys } });
    expect(desiredGenerated(o)).toBeUndefined();
  });

  test('a half of a pair annotary wrote is gone: the pair is generated whole', () => {
    const data = { pw: 'x', key: 'k' };
    const o = observe(ann, data, {
      managed: ['key', 'key.pub', 'pw'],
      record: { uid: UID, keys: { ...digestsOf(data), 'key.pub': 'gone' } },
    });
    expect(generatedKeys(planOf(desiredGenerated(o)))).toEqual(['key', 'key.pub']);
  });

  test("the user's <key>.pub next to a missing <key>: KeyConflict, nothing generated", () => {
    const r = refusalOf(desiredGenerated(observe(ann, { pw: 'x', 'key.pub': 'theirs' })));
    expect([r.reason, r.message]).toEqual([
      'KeyConflict',
      'annotary.io/generate.key: key "key.pub" exists and was not written by annotary (generating key next to it would not match it); remove it or rename it',
    ]);
  });

  test('a new regenerate value regenerates every declaration once; the same value again does nothing', () => {
    const data = { pw: 'x', key: 'k', 'key.pub': 'p' };
    const at = { managed: Object.keys(data), record: { uid: UID, keys: digestsOf(data) } };
    const p = planOf(desiredGenerated(observe(ann, data, { ...at, regenerate: 't1' })));
    expect([generatedKeys(p), p.regenerated]).toEqual([['key', 'key.pub', 'pw'], 't1']);
    expect(desiredGenerated(observe(ann, data, { ...at, regenerate: 't1', regenerated: 't1' }))).toBeUndefined();
  });

  test("a regenerate over a user's value is a KeyConflict", () => {
    const r = refusalOf(desiredGenerated(observe({ 'annotary.io/generate.pw': 'type=password' }, { pw: 'mine' }, { regenerate: 'now' })));
    expect(r.message).toContain('"pw" exists and was not written by annotary (cannot regenerate it)');
  });

  test('a generated-record copied from another object proves nothing beyond its exact values', () => {
    const data = { pw: 'x' };
    const o = observe({ 'annotary.io/generate.pw': 'type=password' }, data, {
      managed: ['pw'],
      record: { uid: 'other', keys: { pw: 'not-this-value' } },
      regenerate: 'go',
    });
    expect(refusalOf(desiredGenerated(o)).reason).toBe('KeyConflict');
  });

  test("mittwald's fields are handed over: kept while set, regenerated when asked, the annotation removed", () => {
    const mw = { [`${SG}autogenerate`]: 'pw' };
    const kept = planOf(desiredGenerated(observe(mw, { pw: 'from-mittwald' })));
    expect([kept.generate, kept.kept]).toEqual([[], digestsOf({ pw: 'from-mittwald' })]);
    const regen = planOf(
      desiredGenerated(observe({ ...mw, [`${SG}regenerate`]: 'yes' }, { pw: 'from-mittwald' }, { mittwaldRegenerate: true })),
    );
    expect([generatedKeys(regen), regen.clearMittwaldRegenerate]).toEqual([['pw'], true]);
  });

  test('the declaration removed: the keys stay, the ledger goes', () => {
    const data = { pw: 'x' };
    const p = planOf(desiredGenerated(observe({}, data, { managed: ['pw'], record: { uid: UID, keys: digestsOf(data) } })));
    const s = secret('s', withUid(UID), withData(data));
    s.metadata.resourceVersion = '9';
    expect(generatedPatch(s, p, {})).toEqual({
      metadata: { resourceVersion: '9', annotations: { [A.generatedKeys]: null, [A.generatedRecord]: null } },
    });
  });
});

describe('the controller, in process', () => {
  let running: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(running.map((r) => r.stop()));
    running = [];
  });
  const run = async (m: ControllerModule, c: FakeCluster, flags: string[] = []) => {
    const r = await runModule(m, c, flags);
    running.push(r);
    return r;
  };
  const writesOf = (c: FakeCluster) => c.writes.map((w) => `${w.verb} ${w.kind} ${w.name}`);
  const dataOf = (c: FakeCluster, name: string) => (c.get('Secret', NS, name) as Secret).data ?? {};
  const gen = CONTROLLER_MODULES.generate;

  test('generated once in one patch with its ledger; a restart writes nothing; regenerate rotates once', async () => {
    const cluster = new FakeCluster([
      secret(
        'app',
        inNamespace(NS),
        withAnnotations({ 'annotary.io/generate.pw': 'type=password,length=24', 'annotary.io/generate.id': 'type=uuid' }),
      ),
    ]);
    const op = await run(gen, cluster);
    expect(writesOf(cluster)).toEqual(['patch Secret app']);
    const first = dataOf(cluster, 'app');
    expect(Buffer.from(first.pw, 'base64').toString()).toMatch(/^[a-zA-Z0-9]{24}$/);
    expect(Buffer.from(first.id, 'base64').toString()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ann = cluster.get('Secret', NS, 'app')!.metadata.annotations!;
    expect(ann[A.generatedKeys]).toBe('id,pw');
    expect(ann[A.generatedRecord]).toBe(
      ownerRecordValue({
        uid: cluster.get('Secret', NS, 'app')!.metadata.uid!,
        keys: { id: valueDigest(first.id), pw: valueDigest(first.pw) },
      }),
    );
    expect(op.events.map((e) => [e.reason, e.message])).toEqual([['SecretsGenerated', 'generated id, pw']]);
    await op.stop();
    running = [];
    const again = await run(gen, cluster);
    expect(writesOf(cluster)).toEqual(['patch Secret app']);
    cluster.userPatch('Secret', NS, 'app', { metadata: { annotations: { [A.regenerate]: '2026-01-01T00:00:00Z' } } });
    await again.quiet();
    const after = dataOf(cluster, 'app');
    expect(writesOf(cluster)).toEqual(['patch Secret app', 'patch Secret app']);
    expect(after.pw).not.toBe(first.pw);
    expect(after.id).not.toBe(first.id);
    expect(cluster.get('Secret', NS, 'app')!.metadata.annotations![A.regenerated]).toBe('2026-01-01T00:00:00Z');
  });

  test('bad spec: a Warning with the precise reason and the invalid-input metric, no write', async () => {
    const cluster = new FakeCluster([secret('app', inNamespace(NS), withAnnotations({ 'annotary.io/generate.k': 'type=rsa,size=512' }))]);
    const op = await run(gen, cluster);
    expect(cluster.writes).toEqual([]);
    expect(op.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'InvalidGenerateSpec']]);
    const metric = await op.metrics.invalidInputTotal.get();
    expect(metric.values).toEqual([{ labels: { controller: 'generate', reason: 'InvalidGenerateSpec' }, value: 1 }]);
  });

  test('keystores and generated keys on one Secret: each writes its own keys once, neither touches the other', async () => {
    const both = {
      'annotary.io/keystores': 'jks',
      'annotary.io/generate.api-token': 'type=bytes,encoding=hex',
      'annotary.io/generate.signing': 'type=ec',
    };
    const tls = () => secret('web', inNamespace(NS), ofType('kubernetes.io/tls'), withAnnotations(both), withTLS(ec));
    const cluster = new FakeCluster([tls()]);
    const keystores = await run(CONTROLLER_MODULES.keystores, cluster);
    const generate = await run(gen, cluster);
    await keystores.quiet();
    await generate.quiet();
    await keystores.quiet();
    expect(writesOf(cluster)).toEqual(['patch Secret web', 'patch Secret web']);
    const s = cluster.get('Secret', NS, 'web')!;
    expect(Object.keys((s as Secret).data!).sort()).toEqual([
      'api-token',
      'ca.crt',
      'keystore.jks',
      'signing',
      'signing.pub',
      'tls.crt',
      'tls.key',
      'truststore.jks',
    ]);
    expect(s.metadata.annotations![A.managedKeys]).toBe('keystore.jks,truststore.jks');
    expect(s.metadata.annotations![A.generatedKeys]).toBe('api-token,signing,signing.pub');
    // both restarted: nothing to do for either
    await Promise.all(running.map((r) => r.stop()));
    running = [];
    const restarted = [await run(CONTROLLER_MODULES.keystores, cluster), await run(gen, cluster)];
    expect(writesOf(cluster)).toHaveLength(2);
    // the keystore annotation goes: keystores removes only its stores, the generated keys stay
    cluster.userPatch('Secret', NS, 'web', { metadata: { annotations: { 'annotary.io/keystores': null } } });
    for (const r of restarted) await r.quiet();
    expect(Object.keys(dataOf(cluster, 'web')).sort()).toEqual(['api-token', 'ca.crt', 'signing', 'signing.pub', 'tls.crt', 'tls.key']);
    expect(writesOf(cluster)).toHaveLength(3);
  });

  test("a key that is another controller's: generate declares keystore.jks next to keystores → KeyConflict, no fight", async () => {
    const ann = { 'annotary.io/keystores': 'jks', 'annotary.io/generate.keystore.jks': 'type=bytes' };
    const cluster = new FakeCluster([secret('web', inNamespace(NS), ofType('kubernetes.io/tls'), withAnnotations(ann), withTLS(ec))]);
    await run(CONTROLLER_MODULES.keystores, cluster);
    const generate = await run(gen, cluster);
    expect(writesOf(cluster)).toEqual(['patch Secret web']);
    // keystores wrote keystore.jks: to the generator it is a value that exists, kept, never overwritten nor claimed
    expect(cluster.get('Secret', NS, 'web')!.metadata.annotations![A.generatedKeys]).toBeUndefined();
    cluster.userPatch('Secret', NS, 'web', { metadata: { annotations: { [A.regenerate]: 'x' } } });
    await generate.quiet();
    expect(writesOf(cluster)).toEqual(['patch Secret web']);
    expect(generate.events.map((e) => e.reason)).toContain('KeyConflict');
  });

  test('a value set in the manifest is never overwritten', async () => {
    const cluster = new FakeCluster([
      secret(
        'app',
        inNamespace(NS),
        withAnnotations({ 'annotary.io/generate.pw': 'type=password' }),
        withBase64Data({ pw: b64('chosen') }),
      ),
    ]);
    await run(gen, cluster);
    expect(cluster.writes).toEqual([]);
    expect(dataOf(cluster, 'app').pw).toBe(b64('chosen'));
  });
});
