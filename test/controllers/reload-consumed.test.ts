// Reload only when what the pod consumes changed (#17, Reloader #137): which keys a pod template
// reads, the digest over them, the opt-in, and in process (reconcile-harness.ts): a change to a
// key the pods do not read writes nothing, one they read rolls once, turning it on or off
// records without a rollout, and a restart writes nothing.
import { describe, expect, test } from '@jest/globals';
import { AnnotationReader } from '../../src/annotations.js';
import { CONTROLLER_MODULES } from '../../src/controllers/index.js';
import { configDigest } from '../../src/controllers/reload.js';
import type { ConsumingPodSpec } from '../../src/controllers/reload-consumed.js';
import { consumedData, consumedKeys, consumedKeysOnly, scopeToggled } from '../../src/controllers/reload-consumed.js';
import { isRefusal } from '../../src/kube/refusal.js';
import type { Mod, Workload } from '../gen.js';
import {
  b64Values,
  deployment,
  inNamespace,
  secret as genSecret,
  withAnnotations,
  withData,
  withEnvFromSecrets,
  withKeyRefEnv,
  withSecretItemsVolume,
  withSecretVolumes,
} from '../gen.js';
import { FakeCluster, moduleRunner, writesOf } from './reconcile-harness.js';

const reader = new AnnotationReader(true);
const KEYS_ONLY = 'annotary.io/reload-consumed-keys-only';

describe('consumedKeys: what a pod template reads of each object', () => {
  const set = (...k: string[]) => new Set(k);
  test('env key refs and volume items name keys; envFrom and volumes without items read all; uses add up', () => {
    const spec: ConsumingPodSpec = {
      volumes: [
        { secret: { secretName: 'a', items: [{ key: 'x' }] } },
        { secret: { secretName: 'all-vol' } },
        { configMap: { name: 'cm', items: [{ key: 'k1' }] } },
        {
          projected: {
            sources: [{ secret: { name: 'p', items: [{ key: 'p1' }, { key: 'p2' }] } }, { configMap: { name: 'pall' } }],
          },
        },
      ],
      containers: [
        { env: [{ valueFrom: { secretKeyRef: { name: 'a', key: 'y' } } }, { valueFrom: { configMapKeyRef: { name: 'cm', key: 'k2' } } }] },
      ],
      initContainers: [
        { envFrom: [{ secretRef: { name: 'env-all' } }], env: [{ valueFrom: { secretKeyRef: { name: 'env-all', key: 'z' } } }] },
      ],
    };
    expect(consumedKeys(spec)).toEqual(
      new Map<string, unknown>([
        ['Secret/a', set('x', 'y')],
        ['Secret/all-vol', 'all'],
        ['ConfigMap/cm', set('k1', 'k2')],
        ['Secret/p', set('p1', 'p2')],
        ['ConfigMap/pall', 'all'],
        ['Secret/env-all', 'all'],
      ]),
    );
  });

  test('an empty items list projects every key', () => {
    expect(consumedKeys({ volumes: [{ secret: { secretName: 'a', items: [] } }] }).get('Secret/a')).toBe('all');
  });
});

describe('consumedData: the digest over the consumed keys', () => {
  const objects: { kind: 'Secret'; name: string; digests: Record<string, string> }[] = [
    { kind: 'Secret', name: 'a', digests: { x: '1', y: '2' } },
    { kind: 'Secret', name: 'named-only', digests: { u: '1', v: '2' } },
  ];
  const spec: ConsumingPodSpec = { containers: [{ env: [{ valueFrom: { secretKeyRef: { name: 'a', key: 'x' } } }] }] };

  test('keys the pod does not read are left out; an object it does not reference keeps all of them', () => {
    expect(consumedData(objects, spec).map((o) => o.digests)).toEqual([{ x: '1' }, { u: '1', v: '2' }]);
  });

  test('a change of an unread key leaves the digest as it is; of a read key, it moves', () => {
    const d = configDigest(consumedData(objects, spec));
    expect(configDigest(consumedData([{ ...objects[0], digests: { x: '1', y: '3' } }, objects[1]], spec))).toBe(d);
    expect(configDigest(consumedData([{ ...objects[0], digests: { x: '9', y: '2' } }, objects[1]], spec))).not.toBe(d);
  });

  test('a key the pod reads that the object lacks counts when it appears', () => {
    const lacking = [{ kind: 'Secret' as const, name: 'a', digests: { y: '2' } }];
    expect(configDigest(consumedData(lacking, spec))).not.toBe(
      configDigest(consumedData([{ ...lacking[0], digests: { x: '1', y: '2' } }], spec)),
    );
  });
});

describe('consumedKeysOnly: the annotation, else the flag', () => {
  test.each([
    [undefined, false, false],
    [undefined, true, true],
    ['', true, true],
    ['true', false, true],
    [' TRUE ', false, true],
    ['false', true, false],
  ])('annotation %p, flag %p: %p', (value, flag, want) => {
    expect(consumedKeysOnly(value === undefined ? {} : { [KEYS_ONLY]: value }, reader, flag)).toBe(want);
  });

  test('any other value is refused (annotary keys are strict)', () => {
    const r = consumedKeysOnly({ [KEYS_ONLY]: 'yes' }, reader, false);
    expect(isRefusal(r) && r.reason).toBe('InvalidAnnotation');
  });
});

describe('scopeToggled', () => {
  test.each([
    ['the recorded digest is the other setting’s on the current data', 'o', 'd', 'o', true],
    ['the recorded digest is neither: data changed', 'r', 'd', 'o', false],
    ['both settings give the same digest: nothing to tell', 'd', 'd', 'd', false],
    ['nothing recorded', undefined, 'd', 'o', false],
  ])('%s', (_, recorded, digest, other, want) => {
    expect(scopeToggled(recorded, digest, other)).toBe(want);
  });
});

// ---------------------------------------------------------------- in process

const NS = 'apps';
const runReload = moduleRunner();
const run = (cluster: FakeCluster, flags: string[] = []) => runReload(CONTROLLER_MODULES.reload, cluster, flags);
/** a Secret with keys `used` and `spare`, and a Deployment that reads only `used` of it (one way or another) */
const shared = () => genSecret('shared', inNamespace(NS), withData({ used: '1', spare: '1' }));
const reading = (annotations: Record<string, string>, ...mods: Mod<Workload>[]) =>
  deployment('app', inNamespace(NS), withAnnotations({ 'annotary.io/reload': 'auto', ...annotations }), ...mods);
const setKey = (c: FakeCluster, key: string, value: string) => c.userPatch('Secret', NS, 'shared', { data: b64Values({ [key]: value }) });
const templateHash = (c: FakeCluster) =>
  (c.get('Deployment', NS, 'app') as unknown as Workload).spec.template.metadata.annotations?.['annotary.io/config-hash'];

describe('reload, consumed keys only, in process', () => {
  test.each([
    ['an env secretKeyRef', withKeyRefEnv('Secret', 'shared', 'used')],
    ['a volume with items', withSecretItemsVolume('shared', 'used')],
  ])('reading it by %s: a change of the other key writes nothing; of the key read, one rollout', async (_, reads) => {
    const cluster = new FakeCluster([shared(), reading({ [KEYS_ONLY]: 'true' }, reads)]);
    const op = await run(cluster);
    expect(writesOf(cluster)).toEqual(['patch Deployment app']); // onboarding
    setKey(cluster, 'spare', '2');
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app']);
    setKey(cluster, 'used', '2');
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
    expect(templateHash(cluster)).toMatch(/^[0-9a-f]{32}$/);
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'Reloaded']);
  });

  test('off (the default), the same change of the other key rolls, as before', async () => {
    const cluster = new FakeCluster([shared(), reading({}, withKeyRefEnv('Secret', 'shared', 'used'))]);
    const op = await run(cluster);
    setKey(cluster, 'spare', '2');
    await op.quiet();
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'Reloaded']);
  });

  test('envFrom, a volume without items, an object only named by annotations: every key counts', async () => {
    for (const reads of [withEnvFromSecrets('shared'), withSecretVolumes('shared')]) {
      const cluster = new FakeCluster([shared(), reading({ [KEYS_ONLY]: 'true' }, reads)]);
      const op = await run(cluster);
      setKey(cluster, 'spare', '2');
      await op.quiet();
      expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'Reloaded']);
    }
    const named = deployment(
      'app',
      inNamespace(NS),
      withAnnotations({ 'annotary.io/reload-on-secrets': 'shared', [KEYS_ONLY]: 'true' }),
      withKeyRefEnv('Secret', 'other', 'k'),
    );
    const cluster = new FakeCluster([shared(), named]);
    const op = await run(cluster);
    setKey(cluster, 'spare', '2');
    await op.quiet();
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'Reloaded']);
  });

  test('turning it on, then off, records the new digest without a rollout', async () => {
    const cluster = new FakeCluster([shared(), reading({}, withKeyRefEnv('Secret', 'shared', 'used'))]);
    const op = await run(cluster);
    cluster.userPatch('Deployment', NS, 'app', { metadata: { annotations: { [KEYS_ONLY]: 'true' } } });
    await op.quiet();
    cluster.userPatch('Deployment', NS, 'app', { metadata: { annotations: { [KEYS_ONLY]: 'false' } } });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app', 'patch Deployment app']);
    expect(templateHash(cluster)).toBeUndefined(); // the pod template was never touched
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'ReloadRecorded', 'ReloadRecorded']);
    expect(op.events[1].message).toMatch(/^the digest now covers only the keys the pod template reads of Secret\/shared: recorded /);
  });

  test('the flag turned on across a restart (nothing remembered): recorded without a rollout; a further restart writes nothing', async () => {
    const cluster = new FakeCluster([shared(), reading({}, withKeyRefEnv('Secret', 'shared', 'used'))]);
    const op = await run(cluster);
    await op.stop();
    const op2 = await run(cluster, ['--reload-consumed-keys-only']);
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
    expect(op2.events.map((e) => e.reason)).toEqual(['ReloadRecorded']);
    await op2.stop();
    setKey(cluster, 'spare', '2'); // while it is stopped: a key the pods do not read
    await run(cluster, ['--reload-consumed-keys-only']);
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
    expect(templateHash(cluster)).toBeUndefined();
  });

  test('the pod template reads one more key (it rolls by itself): recorded without a rollout', async () => {
    const cluster = new FakeCluster([shared(), reading({ [KEYS_ONLY]: 'true' }, withKeyRefEnv('Secret', 'shared', 'used'))]);
    const op = await run(cluster);
    const env = [
      { name: 'USED', valueFrom: { secretKeyRef: { name: 'shared', key: 'used' } } },
      { name: 'SPARE', valueFrom: { secretKeyRef: { name: 'shared', key: 'spare' } } },
    ];
    const app = cluster.get('Deployment', NS, 'app') as unknown as Workload;
    const containers = [{ ...app.spec.template.spec.containers[0], env }];
    cluster.userPatch('Deployment', NS, 'app', { spec: { template: { spec: { containers } } } });
    await op.quiet();
    expect(writesOf(cluster)).toEqual(['patch Deployment app', 'patch Deployment app']);
    expect(templateHash(cluster)).toBeUndefined();
    expect(op.events.map((e) => e.reason)).toEqual(['ReloadWatching', 'ReloadRecorded']);
  });

  test('an invalid value: Warning, nothing written', async () => {
    const cluster = new FakeCluster([shared(), reading({ [KEYS_ONLY]: 'yes' }, withKeyRefEnv('Secret', 'shared', 'used'))]);
    const op = await run(cluster);
    expect(writesOf(cluster)).toEqual([]);
    expect(op.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'InvalidAnnotation']]);
  });
});
