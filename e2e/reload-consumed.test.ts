// Two reload controls no other tool has (#17), on the real local control plane; kube-controller-
// manager runs, so counting a Deployment's ReplicaSets counts its rollouts (see reload.test.ts):
//   - consumed keys only (Reloader #137): a change to a key the pods do not read rolls nothing,
//     one they read rolls once; turning the flag on across a restart rolls nothing;
//   - validate before rolling (Reloader #116): a rotation onto a key that does not match its
//     certificate, or onto an expired certificate, rolls nothing (a Warning, the metric), the fix
//     rolls once.
// And a restart of the operator writes nothing. No wall-clock assertions: the expired
// certificate has fixed dates in 2020.
import { Deployments, Secrets } from '../src/kube/types.js';
import { generateKey, selfSignedCa } from '../src/pki/x509.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, eventsFor, sleep, waitFor, withOperator } from './harness/cluster.js';
import { expectReplicaSets, restartable } from './harness/rollouts.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Mod, Workload } from '../test/gen.js';
import {
  b64Values,
  deployment as deploymentOf,
  inNamespace,
  ofType,
  secret as secretOf,
  tlsPem,
  withAnnotations,
  withData,
  withKeyRefEnv,
  withSecretVolumes,
} from '../test/gen.js';

type Ann = Record<string, string>;
const client = adminClient();
const SETTLE_MS = 2000;
const QUIET_MS = SETTLE_MS + 1500;
const flags = (extra: string[] = []) => ['--controllers', 'reload,keystores', '--reload-settle', '2s', '--log-level', 'debug', ...extra];
const KEYS_ONLY = 'annotary.io/reload-consumed-keys-only';
const ec = chainFixture('p256');
const rotated = chainFixture('p256', 'rotated');

const start = restartable(flags);

const patchData = (ns: string, name: string, data: Ann) => client.patch(Secrets, ns, name, { data: b64Values(data) });
const deployment = (ns: string, annotations: Ann, ...mods: Mod<Workload>[]) =>
  client.create(
    Deployments,
    ns,
    deploymentOf('web', inNamespace(ns), withAnnotations({ 'annotary.io/reload': 'auto', ...annotations }), ...mods),
  );
const getWeb = (ns: string) => client.get<Workload>(Deployments, ns, 'web');
const observed = async (ns: string) => (await getWeb(ns)).metadata.annotations?.['annotary.io/observed-config-hash'];

/** Waits for `n` ReplicaSets of web, then a quiet window, and checks no more came. */
const expectRollouts = (ns: string, n: number) => expectReplicaSets(ns, { web: n }, QUIET_MS);
const warnings = async (ns: string, reason: string) => (await eventsFor(client, ns, 'web')).filter((e) => e.reason === reason);

/** An operator restarted with resyncs every second: it looks at the workload (reconciles) and writes nothing. */
async function restartWritesNothing(ns: string, op: OperatorProcess, extra: string[] = []): Promise<void> {
  const before = await getWeb(ns);
  await op.stop();
  const op2 = await start(ns, ['--resync', '1s', ...extra]);
  await waitFor('reconciles after the restart', async () => (await op2.metric('annotary_reconcile_total', { controller: 'reload' })) > 2);
  await sleep(QUIET_MS);
  expect(await op2.metric('annotary_writes_total')).toBe(0);
  const after = await getWeb(ns);
  expect(after.metadata.generation).toBe(before.metadata.generation);
  expect(after.metadata.annotations).toEqual(before.metadata.annotations);
  await op2.stop();
}

describe('consumed keys only', () => {
  test.concurrent('a change of a key the pod does not read: no rollout; of the key it reads: exactly one; a restart writes nothing', () =>
    withOperator('rc-keys', flags(), async (ns, op) => {
      await client.create(Secrets, ns, secretOf('shared', inNamespace(ns), withData({ used: '1', spare: '1' })));
      await deployment(ns, { [KEYS_ONLY]: 'true' }, withKeyRefEnv('Secret', 'shared', 'used'));
      await waitFor('onboarded', () => observed(ns));
      await expectRollouts(ns, 1);

      await patchData(ns, 'shared', { spare: '2' });
      await expectRollouts(ns, 1);
      await patchData(ns, 'shared', { used: '2' });
      await expectRollouts(ns, 2);
      expect(await op.metric('annotary_rollouts_total', { kind: 'Deployment' })).toBe(1);
      const ev = (await warnings(ns, 'Reloaded'))[0];
      expect(ev.message).toContain('Secret/shared');

      await restartWritesNothing(ns, op);
    }),
  );

  test.concurrent('turning --reload-consumed-keys-only on (an operator restart): the new digest is recorded without a rollout', () =>
    withOperator('rc-flag', flags(), async (ns, op) => {
      await client.create(Secrets, ns, secretOf('shared', inNamespace(ns), withData({ used: '1', spare: '1' })));
      await deployment(ns, {}, withKeyRefEnv('Secret', 'shared', 'used'));
      const d0 = await waitFor('onboarded', () => observed(ns));
      await op.stop();
      const op2 = await start(ns, ['--reload-consumed-keys-only']);
      await waitFor('new digest recorded', async () => (await observed(ns)) !== d0);
      await expectRollouts(ns, 1);
      const rec = await waitFor('ReloadRecorded', async () => (await warnings(ns, 'ReloadRecorded'))[0]);
      expect(rec.message).toMatch(/^the digest now covers only the keys the pod template reads of Secret\/shared: recorded /);
      await patchData(ns, 'shared', { spare: '2' });
      await expectRollouts(ns, 1);
      await restartWritesNothing(ns, op2, ['--reload-consumed-keys-only']);
    }),
  );
});

describe('validate before rolling', () => {
  test.concurrent('a mismatched key, then an expired certificate: no rollout, a Warning and the metric; the fix rolls exactly once', () =>
    withOperator('rc-tls', flags(), async (ns, op) => {
      await client.create(Secrets, ns, secretOf('tls', inNamespace(ns), ofType('kubernetes.io/tls'), withData(tlsPem(ec))));
      await deployment(ns, {}, withSecretVolumes('tls'));
      const d0 = await waitFor('onboarded', () => observed(ns));
      await expectRollouts(ns, 1);
      const held = async (what: RegExp) => {
        const w = await waitFor(`held: ${what.source}`, async () =>
          (await warnings(ns, 'ReloadHeldBadMaterial')).find((e) => what.test(e.message)),
        );
        expect(w.type).toBe('Warning');
        return w;
      };

      await patchData(ns, 'tls', { 'tls.key': rotated.keyPkcs8 }); // the key of another certificate
      const mismatch = await held(/tls\.key does not match/);
      expect(mismatch.message).toMatch(/^Secret "tls": tls\.key does not match the first certificate of tls\.crt \(".*"\); not rolling/);
      await expectRollouts(ns, 1);
      expect(await op.metric('annotary_rollouts_skipped_total', { reason: 'bad_material' })).toBeGreaterThan(0);
      expect(await op.metric('annotary_invalid_input_total', { controller: 'reload', reason: 'ReloadHeldBadMaterial' })).toBeGreaterThan(0);

      const key = await generateKey('ec-p256');
      const old = { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') };
      await patchData(ns, 'tls', { 'tls.crt': await selfSignedCa(key, 'expired', old), 'tls.key': key });
      const expired = await held(/expired on/);
      expect(expired.message).toMatch(/^Secret "tls": the certificate "CN=expired" expired on 2021-01-01T00:00:00Z; not rolling/);
      await expectRollouts(ns, 1);
      expect(await observed(ns)).toBe(d0); // held: the digest is not recorded

      await patchData(ns, 'tls', { 'tls.crt': rotated.certPem(2), 'tls.key': rotated.keyPkcs8 });
      await expectRollouts(ns, 2);
      expect(await op.metric('annotary_rollouts_total', { kind: 'Deployment' })).toBe(1);

      await restartWritesNothing(ns, op);
    }),
  );
});
