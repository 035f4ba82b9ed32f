// The reload controller's decisions: the config digest, onboarding without a restart, one
// rollout per change, idempotence, and waiting for the keystore controller.
import fc from 'fast-check';
import { A, AnnotationReader } from '../../src/annotations.js';
import type { DigestLookup } from '../../src/controllers/store-specs.js';
import { keystoreInputsHash, parseKeystoreSpec } from '../../src/controllers/store-specs.js';
import { ownerRecordValue } from '../../src/controllers/managed-keys.js';
import { isRefusal } from '../../src/kube/refusal.js';
import { deployment, withAnnotations, withResourceVersion, withTemplateAnnotations } from '../gen.js';
import { patched } from '../merge-patch.js';
import type { ApplyMode, ReloadChange, ReloadObserved, WatchedData, Workload } from '../../src/controllers/reload.js';
import {
  RESTARTED_AT,
  applyMode,
  cronJobRun,
  podTemplateOf,
  recreatedJob,
  changeCause,
  configDigest,
  desiredReload,
  keystorePending,
  objectDigests,
  reloadPatchBody,
  restartedAtValue,
} from '../../src/controllers/reload.js';
import type { SlimData } from '../../src/kube/slim.js';

const reader = new AnnotationReader(true);
const hex = fc.stringMatching(/^[0-9a-f]{32}$/);
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const watchedData = fc.uniqueArray(
  fc.record({
    kind: fc.constantFrom('Secret' as const, 'ConfigMap' as const),
    name,
    digests: fc.dictionary(fc.stringMatching(/^[a-z.]{1,6}$/), hex, { maxKeys: 4 }),
  }),
  { selector: (o) => `${o.kind}/${o.name}`, maxLength: 6 },
);

describe('config digest: determinism and order independence', () => {
  const objs: WatchedData[] = [
    { kind: 'Secret', name: 'a', digests: { 'tls.crt': '1'.repeat(32), 'tls.key': '2'.repeat(32) } },
    { kind: 'ConfigMap', name: 'a', digests: { x: '3'.repeat(32) } },
  ];

  it('is 32 hex characters and the same for the same data', () => {
    expect(configDigest(objs)).toMatch(/^[0-9a-f]{32}$/);
    expect(configDigest(objs)).toBe(configDigest(structuredClone(objs)));
  });

  it('is independent of the order of objects and of keys (property)', () => {
    fc.assert(
      fc.property(watchedData, fc.nat(), (list, seed) => {
        const shuffled = [...list].map((o) => ({ ...o, digests: Object.fromEntries(Object.entries(o.digests).reverse()) }));
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (seed + i * 7) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        expect(configDigest(shuffled)).toBe(configDigest(list));
      }),
    );
  });

  it('changes when any key digest, key name, object name or kind changes', () => {
    const base = configDigest(objs);
    expect(configDigest([{ ...objs[0], digests: { ...objs[0].digests, 'tls.key': '9'.repeat(32) } }, objs[1]])).not.toBe(base);
    expect(configDigest([{ ...objs[0], digests: { ...objs[0].digests, extra: '9'.repeat(32) } }, objs[1]])).not.toBe(base);
    expect(configDigest([{ ...objs[0], name: 'b' }, objs[1]])).not.toBe(base);
    expect(configDigest([objs[0], { ...objs[1], kind: 'Secret', name: 'b' }])).not.toBe(base);
    expect(configDigest([objs[0]])).not.toBe(base);
  });

  it('cannot be fooled by moving text between names and keys', () => {
    expect(configDigest([{ kind: 'Secret', name: 'ab', digests: { c: 'd' } }])).not.toBe(
      configDigest([{ kind: 'Secret', name: 'a', digests: { bc: 'd' } }]),
    );
  });
});

const observed = (o: Partial<ReloadObserved>): ReloadObserved => ({
  digest: 'new',
  strategy: 'annotations',
  absorb: false,
  now: new Date('2026-01-02T03:04:05.678Z'),
  ...o,
});

/**
 * What the workload looks like after the change is written: reloadPatchBody applied by the one
 * merge-patch simulator to a Deployment carrying `o`'s recorded digests, read back.
 */
function apply(o: ReloadObserved, c: ReloadChange): ReloadObserved {
  const wl = deployment(
    'app',
    withResourceVersion('7'),
    withAnnotations(o.observedHash === undefined ? {} : { [A.observedConfigHash]: o.observedHash }),
    withTemplateAnnotations(o.templateHash === undefined ? {} : { [A.configHash]: o.templateHash }),
  );
  const after = patched(wl, reloadPatchBody(wl, c));
  return {
    ...o,
    observedHash: after.metadata.annotations?.[A.observedConfigHash],
    templateHash: after.spec.template.metadata?.annotations?.[A.configHash],
    absorb: false, // a successful write clears the "a missing object appeared" state
  };
}

describe('onboarding does not restart', () => {
  it('no hash anywhere: record the digest on the metadata only', () => {
    expect(desiredReload(observed({}))).toEqual({ action: 'onboard', to: 'new', metadata: { [A.observedConfigHash]: 'new' } });
  });

  it('with either hash present, only a different digest rolls', () => {
    expect(desiredReload(observed({ observedHash: 'new' }))).toBeUndefined();
    expect(desiredReload(observed({ templateHash: 'new' }))).toBeUndefined();
    expect(desiredReload(observed({ observedHash: 'old' }))?.action).toBe('rollout');
    expect(desiredReload(observed({ templateHash: 'old' }))?.action).toBe('rollout');
  });
});

describe('a change rolls once', () => {
  it('annotations strategy: pod-template config-hash and observed-config-hash in one patch', () => {
    expect(desiredReload(observed({ observedHash: 'old', templateHash: 'old' }))).toEqual({
      action: 'rollout',
      from: 'old',
      to: 'new',
      metadata: { [A.observedConfigHash]: 'new' },
      template: { [A.configHash]: 'new' },
    });
  });

  it("restartedAt strategy: kubectl rollout restart's annotation, digest tracked on the metadata", () => {
    const c = desiredReload(observed({ observedHash: 'old', strategy: 'restartedAt' }));
    expect(c).toEqual({
      action: 'rollout',
      from: 'old',
      to: 'new',
      metadata: { [A.observedConfigHash]: 'new' },
      template: { [RESTARTED_AT]: '2026-01-02T03:04:05Z' },
    });
    expect(restartedAtValue(new Date('2026-05-06T07:08:09.000Z'))).toBe('2026-05-06T07:08:09Z');
  });

  it('the metadata digest is the base: a rollout undo that restores an old template is not fought', () => {
    expect(desiredReload(observed({ observedHash: 'new', templateHash: 'older' }))).toBeUndefined();
  });

  it('a missing object that appears with --reload-on-create=false is recorded without a rollout', () => {
    expect(desiredReload(observed({ observedHash: 'old', absorb: true }))).toEqual({
      action: 'absorb',
      from: 'old',
      to: 'new',
      metadata: { [A.observedConfigHash]: 'new' },
    });
  });

  it('removing the reload annotations forgets the observed digest (a metadata change, no rollout)', () => {
    expect(desiredReload(observed({ digest: undefined, observedHash: 'x', templateHash: 'x' }))).toEqual({
      action: 'forget',
      metadata: { [A.observedConfigHash]: null },
    });
    expect(desiredReload(observed({ digest: undefined, templateHash: 'x' }))).toBeUndefined();
  });

  it('idempotence (property): after applying the change, nothing more is wanted', () => {
    const opt = fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined });
    fc.assert(
      fc.property(
        opt,
        opt,
        opt,
        fc.constantFrom('annotations' as const, 'restartedAt' as const),
        fc.boolean(),
        (digest, observedHash, templateHash, strategy, absorb) => {
          const o = observed({ digest, observedHash, templateHash, strategy, absorb });
          const c = desiredReload(o);
          if (c) expect(desiredReload(apply(o, c))).toBeUndefined();
        },
      ),
    );
  });

  it('only a rollout touches the pod template (property)', () => {
    const opt = fc.option(fc.constantFrom('a', 'b'), { nil: undefined });
    fc.assert(
      fc.property(opt, opt, opt, fc.boolean(), (digest, observedHash, templateHash, absorb) => {
        const c = desiredReload(observed({ digest, observedHash, templateHash, absorb }));
        expect(c?.template !== undefined).toBe(c?.action === 'rollout');
        if (c?.action === 'rollout') expect(c.from).not.toBe(c.to);
      }),
    );
  });
});

describe('only data changes roll: a changed set of watched objects is recorded', () => {
  const m = (o: Record<string, string>) => new Map(Object.entries(o));
  const none = new Set<string>();

  it('a watched object whose data changed rolls, and is named', () => {
    expect(changeCause(m({ 'Secret/a': '1', 'Secret/b': '1' }), m({ 'Secret/a': '2', 'Secret/b': '1' }), none, true)).toEqual({
      roll: true,
      changed: ['Secret/a'],
      created: [],
      deleted: [],
    });
  });

  it('objects added to or removed from the watched set, data unchanged: no rollout', () => {
    expect(changeCause(m({ 'Secret/a': '1' }), m({ 'Secret/a': '1', 'Secret/b': '7' }), none, true).roll).toBe(false);
    expect(changeCause(m({ 'Secret/a': '1', 'Secret/b': '7' }), m({ 'Secret/a': '1' }), none, true).roll).toBe(false);
  });

  it('an object that was missing and now exists rolls with --reload-on-create, not without', () => {
    expect(changeCause(m({ 'Secret/a': '1' }), m({ 'Secret/a': '1', 'Secret/b': '1' }), new Set(['Secret/b']), true)).toEqual({
      roll: true,
      changed: [],
      created: ['Secret/b'],
      deleted: [],
    });
    expect(
      changeCause(m({ 'Secret/a': '1', 'Secret/b': '0' }), m({ 'Secret/a': '1', 'Secret/b': '1' }), new Set(['Secret/b']), false).roll,
    ).toBe(false);
    // ...but another object's data change still rolls
    expect(changeCause(m({ 'Secret/a': '1' }), m({ 'Secret/a': '2', 'Secret/b': '1' }), new Set(['Secret/b']), false).roll).toBe(true);
  });

  it('nothing confirmed yet (operator just started): any difference is a real change', () => {
    expect(changeCause(undefined, m({ 'Secret/a': '1' }), none, true).roll).toBe(true);
    expect(changeCause(undefined, m({ 'Secret/a': '1' }), new Set(['Secret/a']), false).roll).toBe(false);
  });

  it('per-object digests agree with the config digest of that object alone', () => {
    const o = { kind: 'Secret' as const, name: 'a', digests: { k: 'v' } };
    expect(objectDigests([o]).get('Secret/a')).toBe(configDigest([o]));
  });

  it('rolls exactly when some object present before and after has different data (property)', () => {
    const state = fc.dictionary(fc.constantFrom('Secret/a', 'Secret/b', 'ConfigMap/c'), fc.constantFrom('1', '2'));
    fc.assert(
      fc.property(state, state, (before, after) => {
        const expected = Object.keys(after).some((id) => id in before && before[id] !== after[id]);
        expect(changeCause(m(before), m(after), none, true).roll).toBe(expected);
      }),
    );
  });
});

describe('waiting for the keystore controller (one rollout per rotation)', () => {
  const noLookup: DigestLookup = () => undefined;
  const secret = (annotations: Record<string, string> | undefined, digests: Record<string, string>): SlimData => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'tls', namespace: 'ns', uid: 'uid-1', annotations },
    digests,
  });
  /** what the keystore controller records with its write: the keys it wrote and their digests */
  const wrote = (digests: Record<string, string>, ...keys: string[]) => ({
    [A.managedKeys]: keys.join(','),
    [A.ownerRecord]: ownerRecordValue({ uid: 'uid-1', keys: Object.fromEntries(keys.map((k) => [k, digests[k]])) }),
  });
  const pem = { 'tls.crt': 'c'.repeat(32), 'tls.key': 'k'.repeat(32) };
  const inputsOf = (ann: Record<string, string>, digests: Record<string, string>) => {
    const wants = parseKeystoreSpec(ann, reader, 'changeit');
    if (isRefusal(wants)) throw new Error(wants.message);
    const h = keystoreInputsHash(wants, digests, noLookup);
    if (isRefusal(h)) throw new Error(h.message);
    return h;
  };

  it('a Secret without keystore annotations never waits', () => {
    expect(keystorePending(secret(undefined, pem), reader, 'changeit', noLookup)).toBe(false);
  });

  it('waits until source-hash equals the inputs and the generated keys exist', () => {
    const ann = { [A.keystores]: 'jks' };
    expect(keystorePending(secret(ann, pem), reader, 'changeit', noLookup)).toBe(true); // never built
    const built = { ...pem, 'keystore.jks': 'j'.repeat(32) };
    const done = { ...ann, [A.sourceHash]: inputsOf(ann, built), ...wrote(built, 'keystore.jks') };
    expect(keystorePending(secret(done, built), reader, 'changeit', noLookup)).toBe(false);
    // the PEM rotates: the stores are now behind
    const rotated = { ...built, 'tls.crt': 'C'.repeat(32) };
    expect(keystorePending(secret(done, rotated), reader, 'changeit', noLookup)).toBe(true);
    // a generated key went missing, or was changed behind annotary's back
    expect(keystorePending(secret(done, pem), reader, 'changeit', noLookup)).toBe(true);
    expect(keystorePending(secret(done, { ...built, 'keystore.jks': 'x'.repeat(32) }), reader, 'changeit', noLookup)).toBe(true);
  });

  it('does not wait on a Secret the keystore controller refuses (it reports that itself)', () => {
    expect(keystorePending(secret({ [A.keystores]: 'zip' }, pem), reader, 'changeit', noLookup)).toBe(false);
    const pwMissing = { [A.keystores]: 'jks', [A.keystorePasswordSecret]: 'pw/password' };
    expect(keystorePending(secret(pwMissing, pem), reader, 'changeit', noLookup)).toBe(false);
  });

  it('waits while generated keys of a de-annotated Secret are still to be removed', () => {
    expect(
      keystorePending(
        secret({ [A.managedKeys]: 'keystore.jks' }, { ...pem, 'keystore.jks': 'j'.repeat(32) }),
        reader,
        'changeit',
        noLookup,
      ),
    ).toBe(true);
  });

  it('a password Secret rotation puts the keystore Secret behind', () => {
    const ann = { [A.keystores]: 'jks', [A.keystorePasswordSecret]: 'pw/password' };
    const built = { ...pem, 'keystore.jks': 'j'.repeat(32) };
    const wants = parseKeystoreSpec(ann, reader, 'changeit');
    if (isRefusal(wants)) throw new Error(wants.message);
    const v1: DigestLookup = () => '1'.repeat(32);
    const h = keystoreInputsHash(wants, built, v1) as string;
    const s = secret({ ...ann, [A.sourceHash]: h, ...wrote(built, 'keystore.jks') }, built);
    expect(keystorePending(s, reader, 'changeit', v1)).toBe(false);
    expect(keystorePending(s, reader, 'changeit', () => '2'.repeat(32))).toBe(true);
  });
});

describe('the other kinds Reloader reloads, each as Reloader does (callbacks/rolling_upgrade.go)', () => {
  const rollout = (mode: ApplyMode) =>
    desiredReload({
      digest: 'b'.repeat(32),
      observedHash: 'a'.repeat(32),
      strategy: 'annotations',
      mode,
      absorb: false,
      now: new Date(0),
    })!;

  test('applyMode: CronJobs run a Job, Jobs are recreated, Rollouts restart only with exactly "restart"', () => {
    expect(applyMode('Deployment', {}, reader)).toBe('template');
    expect(applyMode('CronJob', {}, reader)).toBe('run');
    expect(applyMode('Job', {}, reader)).toBe('recreate');
    expect(applyMode('Rollout', {}, reader)).toBe('template');
    expect(applyMode('Rollout', { [A.rlRolloutStrategy]: 'rollout' }, reader)).toBe('template');
    expect(applyMode('Rollout', { [A.rlRolloutStrategy]: 'Restart' }, reader)).toBe('template'); // Go compares with "restart"
    expect(applyMode('Rollout', { [A.rlRolloutStrategy]: 'restart' }, reader)).toBe('restartAt');
    expect(applyMode('Rollout', { [A.rlRolloutStrategy]: 'restart' }, new AnnotationReader(false))).toBe('template');
  });

  test('restartAt: an Argo Rollout gets spec.restartAt and the record, its pod template is left alone', () => {
    const change = rollout('restartAt');
    expect(change.template).toBeUndefined();
    expect(reloadPatchBody(deployment('r', withResourceVersion('7')), change)).toEqual({
      metadata: { resourceVersion: '7', annotations: { [A.observedConfigHash]: 'b'.repeat(32) } },
      spec: { restartAt: '1970-01-01T00:00:00Z' },
    });
  });

  const cronJob: Workload = {
    apiVersion: 'batch/v1beta1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: 'ns', uid: 'u1', resourceVersion: '5' },
    spec: {
      schedule: '0 3 * * *',
      jobTemplate: {
        metadata: { labels: { team: 'a' }, annotations: { note: 'x' } },
        spec: { backoffLimit: 1, template: { metadata: { annotations: { keep: 'y' } }, spec: { containers: [] } } },
      },
    },
  };

  test('run: the Job a CronJob starts is its jobTemplate, marked manual, owned by it, named per change', () => {
    const job = cronJobRun(cronJob, 'batch/v1beta1', rollout('run'));
    expect(job.metadata.name).toMatch(/^nightly-[0-9a-f]{10}$/);
    expect(job.metadata.labels).toEqual({ team: 'a' });
    expect(job.metadata.annotations).toEqual({ 'cronjob.kubernetes.io/instantiate': 'manual', note: 'x' });
    expect(job.metadata.ownerReferences).toEqual([
      { apiVersion: 'batch/v1beta1', kind: 'CronJob', name: 'nightly', uid: 'u1', controller: true, blockOwnerDeletion: true },
    ]);
    expect(job.spec?.backoffLimit).toBe(1);
    expect(job.spec?.template?.metadata?.annotations).toEqual({ keep: 'y', [A.configHash]: 'b'.repeat(32) });
    // a retry of the same change finds the same Job; once the CronJob moved on, a new one
    expect(cronJobRun(cronJob, 'batch/v1beta1', rollout('run')).metadata.name).toBe(job.metadata.name);
    const later = { ...cronJob, metadata: { ...cronJob.metadata, resourceVersion: '6' } };
    expect(cronJobRun(later, 'batch/v1beta1', rollout('run')).metadata.name).not.toBe(job.metadata.name);
    expect(podTemplateOf(cronJob)).toBe(cronJob.spec!.jobTemplate!.spec!.template);
  });

  test('recreate: the same Job without what the apiserver and the Job controller set, with the record', () => {
    const labels = { app: 'm', 'controller-uid': 'u2', 'job-name': 'migrate' };
    const job: Workload = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'migrate',
        namespace: 'ns',
        uid: 'u2',
        resourceVersion: '9',
        creationTimestamp: 't',
        labels,
        annotations: { a: '1' },
      },
      spec: {
        backoffLimit: 2,
        selector: { matchLabels: { 'controller-uid': 'u2' } },
        template: { metadata: { labels }, spec: { containers: [] } },
      },
    };
    const fresh = recreatedJob(job, rollout('recreate'));
    expect(fresh.metadata).toEqual({
      name: 'migrate',
      namespace: 'ns',
      labels: { app: 'm' },
      annotations: { a: '1', [A.observedConfigHash]: 'b'.repeat(32) },
    });
    expect(fresh.spec).toEqual({
      backoffLimit: 2,
      template: { metadata: { labels: { app: 'm' }, annotations: { [A.configHash]: 'b'.repeat(32) } }, spec: { containers: [] } },
    });
    const manual = recreatedJob({ ...job, spec: { ...job.spec, manualSelector: true } }, rollout('recreate'));
    expect(manual.spec?.selector).toEqual(job.spec!.selector);
  });
});

describe('--reload-on-delete: a deleted watched object counts as a change only with it (off, as in Reloader)', () => {
  const m = (o: Record<string, string>) => new Map(Object.entries(o));
  const gone = (id: string) => id === 'Secret/b';
  test.each([
    [false, false],
    [true, true],
  ])('--reload-on-delete=%s: rolls %s', (reloadOnDelete, roll) => {
    const cause = changeCause(m({ 'Secret/a': '1', 'Secret/b': '1' }), m({ 'Secret/a': '1' }), new Set(), true, { gone, reloadOnDelete });
    expect(cause).toEqual({ roll, changed: [], created: [], deleted: ['Secret/b'] });
  });
  test('an object no longer watched that still exists is not a deletion', () =>
    expect(
      changeCause(m({ 'Secret/a': '1', 'Secret/c': '1' }), m({ 'Secret/a': '1' }), new Set(), true, { gone, reloadOnDelete: true }).roll,
    ).toBe(false));
});
