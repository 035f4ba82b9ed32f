// Ownership fuzz on the real local control plane: fast-check generates seeded sequences of
// operations on one annotated Secret per run — annotary and cert-utils annotations added,
// changed and removed in random order, user keys written and deleted, the PEM rotated. After
// every step the test waits until the operator settled (source-hash equals the digest of
// the current inputs, or no annotary status is left) and checks the ownership invariants:
//   - every key the test wrote holds exactly what the test wrote (never modified or deleted),
//   - annotary's keys are exactly the managed set the annotations ask for, recorded in
//     annotary.io/managed-keys, and nothing else is in the Secret.
// The oracle for "what the annotations ask for" is the pure parser (parseKeystoreSpec,
// storeKeys); the invariants are about what the operator did to the object.
import fc from 'fast-check';
import { AnnotationReader } from '../src/annotations.js';
import { keystoreInputsHash, parseKeystoreSpec, storeKeys } from '../src/controllers/store-specs.js';
import { isRefusal } from '../src/kube/refusal.js';
import { valueDigest } from '../src/kube/slim.js';
import { Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, newNamespace, startOperator, waitFor } from './harness/cluster.js';
import { chainFixture } from '../test/pki/fixtures.js';
import type { Secret } from '../test/gen.js';
import { b64, inNamespace, secret, tlsData, withAnnotations, withTLS } from '../test/gen.js';
const RUNS = Number(process.env.OWNERSHIP_RUNS ?? 5);
const STEPS = Number(process.env.OWNERSHIP_STEPS ?? 20);
const SEED = Number(process.env.OWNERSHIP_SEED ?? 20261124);

const client = adminClient();
const pems = [chainFixture('p256'), chainFixture('p256', 'rotated'), chainFixture('rsa2048')];
const reader = new AnnotationReader(true);
const CU = 'cert-utils-operator.redhat-cop.io/';
const USER_KEYS = ['user.txt', 'app.properties', 'config.yaml', 'z-last', 'a.first'];
const INPUT_KEYS = ['tls.crt', 'tls.key', 'ca.crt'];

type Op =
  | { op: 'native'; value: string | null }
  | { op: 'cuStores'; value: string | null }
  | { op: 'certInfo'; value: string | null }
  | { op: 'cuInfo'; value: string | null }
  | { op: 'alias'; value: string | null }
  | { op: 'userWrite'; key: string; value: string }
  | { op: 'userDelete'; key: string }
  | { op: 'rotate'; pem: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('native' as const), value: fc.constantFrom('jks', 'pkcs12', 'jks,pkcs12', 'P12, jks', null) }),
  fc.record({ op: fc.constant('cuStores' as const), value: fc.constantFrom('true', 'false', null) }),
  fc.record({ op: fc.constant('certInfo' as const), value: fc.constantFrom('true', 'false', null) }),
  fc.record({ op: fc.constant('cuInfo' as const), value: fc.constantFrom('true', null) }),
  fc.record({ op: fc.constant('alias' as const), value: fc.constantFrom('server', 'Web-1', null) }),
  fc.record({
    op: fc.constant('userWrite' as const),
    key: fc.constantFrom(...USER_KEYS),
    value: fc.string({ minLength: 0, maxLength: 40 }),
  }),
  fc.record({ op: fc.constant('userDelete' as const), key: fc.constantFrom(...USER_KEYS) }),
  fc.record({ op: fc.constant('rotate' as const), pem: fc.nat({ max: pems.length - 1 }) }),
);

const ANN: Record<string, string> = {
  native: 'annotary.io/keystores',
  cuStores: `${CU}generate-java-keystores`,
  certInfo: 'annotary.io/cert-info',
  cuInfo: `${CU}generate-cert-info`,
  alias: 'annotary.io/keystore-alias',
};

/** What the annotations ask annotary to hold, and the digest its source-hash must reach. */
function expected(s: Secret): { managed: string[]; hash?: string } {
  const wants = parseKeystoreSpec(s.metadata.annotations, reader, 'changeit');
  if (isRefusal(wants)) throw new Error(`the generator made an invalid spec: ${wants.message}`);
  const managed = [
    ...(wants.stores ? storeKeys(wants.stores, true) : []),
    ...(wants.certInfo ? ['tls.crt.info', 'ca.crt.info'] : []),
  ].sort();
  if (!managed.length) return { managed };
  const digests = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, valueDigest(v)]));
  const hash = keystoreInputsHash(wants, digests, () => undefined);
  if (isRefusal(hash)) throw new Error(hash.message);
  return { managed, hash };
}

let ns: string;
let op: OperatorProcess;
let steps = 0;

beforeAll(async () => {
  ns = await newNamespace(client, 'own');
  op = await startOperator(['--namespaces', ns, '--controllers', 'keystores']);
});
afterAll(async () => {
  await op?.stop();
  await deleteNamespace(client, ns);
});

describe('ownership fuzz: user keys are never touched, annotary keys are exactly the managed set', () => {
  const runs = fc.sample(fc.array(opArb, { minLength: STEPS, maxLength: STEPS }), { seed: SEED, numRuns: RUNS });

  test.each(runs.map((r, i) => [i, r] as const))(`run %i (seed ${SEED}, ${STEPS} steps)`, async (run, ops) => {
    const name = `own-${run}`;
    const user = new Map<string, string>(); // the model: what the test wrote
    await client.create(Secrets, ns, secret(name, inNamespace(ns), withAnnotations({ 'annotary.io/keystores': 'jks' }), withTLS(pems[0])));
    const trail: string[] = [];
    for (const o of [{ op: 'rotate', pem: 0 } as Op, ...ops]) {
      trail.push(JSON.stringify(o));
      if (o.op === 'userWrite') {
        user.set(o.key, o.value);
        await client.patch(Secrets, ns, name, { data: { [o.key]: b64(o.value) } });
      } else if (o.op === 'userDelete') {
        if (!user.delete(o.key)) continue;
        await client.patch(Secrets, ns, name, { data: { [o.key]: null } });
      } else if (o.op === 'rotate') await client.patch(Secrets, ns, name, { data: tlsData(pems[o.pem]) });
      else await client.patch(Secrets, ns, name, { metadata: { annotations: { [ANN[o.op]]: o.value } } });
      steps++;

      const settled = await waitFor(
        `settled after ${trail.length} steps: ${trail.join(' → ')}`,
        async () => {
          const s = await client.get<Secret>(Secrets, ns, name);
          const ann = s.metadata.annotations ?? {};
          const want = expected(s);
          if (!want.managed.length)
            return ann['annotary.io/source-hash'] === undefined && ann['annotary.io/managed-keys'] === undefined && s;
          return ann['annotary.io/source-hash'] === want.hash && ann['annotary.io/managed-keys'] === want.managed.join(',') && s;
        },
        30_000,
      );
      const want = expected(settled);
      const data = settled.data ?? {};
      for (const [k, v] of user)
        expect([trail.join(' → '), k, Buffer.from(data[k] ?? '', 'base64').toString('utf8'), k in data]).toEqual([
          trail.join(' → '),
          k,
          v,
          true,
        ]);
      expect(Object.keys(data).sort()).toEqual([...new Set([...INPUT_KEYS, ...user.keys(), ...want.managed])].sort());
      for (const k of want.managed) expect(data[k]?.length).toBeGreaterThan(0);
    }
    expect(op.proc.exitCode).toBeNull();
  });

  afterAll(() => {
    // the figures for docs/reliability.md
    console.log(`ownership fuzz: ${RUNS} runs × ${STEPS} steps (seed ${SEED}), ${steps} operations checked`);
  });
});
