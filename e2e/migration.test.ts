// The migration contract (#17): for every annotation of cert-utils-operator and stakater Reloader
// in src/annotations.ts, a case that states what the original tool documents (its README, or its
// source where the two differ: read at cert-utils 0b1fe90 and Reloader 655a2b3) and shows what
// annotary does, on the real local control plane. One table, one loop, one operator with --compat
// (on by default) and annotary's defaults. Every case's objects are created at once (distinct
// names in one namespace), then every outcome is awaited in parallel, so the file stays fast.
// A key of those origins without a case fails the suite. Where a case says "not" (an excluded
// object does not roll its workload), the excluded object changes first and a watched one after
// it: the rollout that follows must name the watched object only, so no quiet window is needed.
// docs/migration.md lists the remaining differences; those an annotation shows with annotary's
// default flags are cases here (their `annotary` sentence says "a difference"), the others are
// tested where their mechanism is (an operator restart, other workload kinds, flags).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AnnotationKey } from '../src/annotations.js';
import { A, ANNOTATIONS } from '../src/annotations.js';
import type { KubeObject, ResourceType } from '../src/kube/types.js';
import { ConfigMaps, Deployments, Routes, Rollouts, Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, eventsFor, newNamespace, startOperator, waitFor } from './harness/cluster.js';
import { chainFixture, shortLivedCert } from '../test/pki/fixtures.js';
import type { ConfigMap, Data, Mod, Route, Secret, Workload } from '../test/gen.js';
import {
  b64Values,
  batchWorkload,
  configMap,
  deployment,
  inNamespace,
  ofType,
  route,
  secret,
  withAnnotations,
  withData,
  withEnvFromConfigMaps,
  withRouteTLS,
  withSecretVolumes,
  withTLS,
} from '../test/gen.js';

const client = adminClient();
const ec = chainFixture('p256');
const soon = shortLivedCert(60); // inside cert-utils' default 90-day threshold, outside annotary's 720h
const TIMEOUT_MS = 90_000;
let ns: string;
let op: OperatorProcess;

type Tool = 'cert-utils-operator' | 'stakater Reloader';
const TOOL_OF: Record<string, Tool> = { 'cert-utils': 'cert-utils-operator', reloader: 'stakater Reloader' };

/** One case's names: each is prefixed with the case's number, so the cases share the namespace. */
interface Ctx {
  n: (name: string) => string;
}
interface Case {
  tool: Tool;
  annotation: AnnotationKey;
  /** what the tool documents (or its source does), quoted or paraphrased */
  documented: string;
  /** what annotary does: the expectation, in a sentence */
  annotary: string;
  setup(c: Ctx): Promise<unknown>;
  expectation(c: Ctx): Promise<void>;
}

// ---- objects and observations

const mkSecret = (name: string, ...mods: Mod<Secret>[]) => client.create(Secrets, ns, secret(name, inNamespace(ns), ...mods));
const tlsSecret = (name: string, annotations?: Data) =>
  mkSecret(name, ofType('kubernetes.io/tls'), withTLS(ec), withAnnotations(annotations));
const dataSecret = (name: string, annotations?: Data) => mkSecret(name, withData({ v: '1' }), withAnnotations(annotations));
const mkConfigMap = (name: string, data: Data, annotations?: Data) =>
  client.create(ConfigMaps, ns, configMap(name, inNamespace(ns), withData(data), withAnnotations(annotations)));
const mkDeployment = (name: string, annotations: Data, ...mods: Mod<Workload>[]) =>
  client.create(Deployments, ns, deployment(name, inNamespace(ns), withAnnotations(annotations), ...mods));
const mkRoute = (name: string, annotations: Data, termination: string) =>
  client.create(Routes, ns, route(name, inNamespace(ns), withAnnotations(annotations), withRouteTLS({ termination })));

const getSecret = (name: string) => client.get<Secret>(Secrets, ns, name);
const getConfigMap = (name: string) => client.get<ConfigMap>(ConfigMaps, ns, name);
const get = <T extends KubeObject = Workload>(rt: ResourceType, name: string) => client.get<T>(rt, ns, name);
const rotate = (name: string, v: string) => client.patch(Secrets, ns, name, { data: b64Values({ v }) });
const rotateConfigMap = (name: string, v: string) => client.patch(ConfigMaps, ns, name, { data: { v } });
const until = <T>(what: string, fn: () => Promise<T | undefined | false>) => waitFor(what, fn, TIMEOUT_MS, 250);
/** The object once `holds` is true of it. */
const once = <T>(what: string, read: () => Promise<T>, holds: (o: T) => unknown) =>
  until(what, async () => {
    const o = await read();
    return holds(o) ? o : undefined;
  });

const OBSERVED = A.observedConfigHash;
const onboarded = (name: string, rt: ResourceType = Deployments) =>
  until(`${name} onboarded`, async () => (await get(rt, name)).metadata.annotations?.[OBSERVED]);
const events = (name: string, reason: string) => eventsFor(client, ns, name).then((l) => l.filter((e) => e.reason === reason));
const event = (name: string, reason: string, includes = '') =>
  until(`${reason} on ${name}${includes && ` naming ${includes}`}`, async () =>
    (await events(name, reason)).find((e) => e.message.includes(includes)),
  );
/** The workload's rollouts (their Events, each naming the objects it is for). */
const rollouts = (name: string) => events(name, 'Reloaded').then((l) => l.map((e) => e.message));

/** First `unwatched` changes, then `watched`: the rollout that follows names `watched` and never `unwatched`. */
async function rollsOnlyFor(workload: string, unwatched: () => Promise<unknown>, watched: () => Promise<unknown>, ids: [string, string]) {
  await onboarded(workload);
  await unwatched();
  await watched();
  await event(workload, 'Reloaded', ids[1]);
  for (const m of await rollouts(workload)) expect(m).not.toContain(ids[0]);
}

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'migration-'));
/** keytool's listing of one store (base64 in `data`), opened with `password`: what a JVM app opens. */
async function keytool(data: Data | undefined, key: string, password: string): Promise<string> {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}-${key}`);
  writeFileSync(file, Buffer.from(data?.[key] ?? '', 'base64'));
  return (await run('keytool', ['-list', '-v', '-keystore', file, '-storepass', password])).stdout;
}

// ---- the table

const CASES: Case[] = [
  // cert-utils-operator: keystores and certificate info (README "Creating java keystore and truststore")
  {
    tool: 'cert-utils-operator',
    annotation: A.cuGenerateJavaKeystores,
    documented:
      'on a kubernetes.io/tls Secret, generate-java-keystores: "true" adds keystore.jks (alias `alias`) and truststore.jks; ' +
      '"The default password for these keystores is changeme"',
    annotary: 'the same two keys, which keytool opens with changeme: alias `alias`, truststore alias `alias0`',
    setup: ({ n }) => tlsSecret(n('tls'), { [A.cuGenerateJavaKeystores]: 'true' }),
    async expectation({ n }) {
      const s = await once(
        'stores',
        () => getSecret(n('tls')),
        (o) => o.data?.['truststore.jks'],
      );
      expect(await keytool(s.data, 'keystore.jks', 'changeme')).toMatch(/Alias name: alias\n[\s\S]*PrivateKeyEntry/);
      expect(await keytool(s.data, 'truststore.jks', 'changeme')).toMatch(/Alias name: alias0\n[\s\S]*trustedCertEntry/);
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuGenerateJavaKeystores,
    documented: '"This feature is activated with the following annotation on a kubernetes.io/tls secret": an Opaque Secret is left alone',
    annotary: 'a difference: an Opaque Secret with tls.crt and tls.key gets the stores too (keys added, none the user wrote changed)',
    setup: ({ n }) => mkSecret(n('opaque'), withTLS(ec), withAnnotations({ [A.cuGenerateJavaKeystores]: 'true' })),
    async expectation({ n }) {
      const s = await once(
        'stores',
        () => getSecret(n('opaque')),
        (o) => o.data?.['keystore.jks'],
      );
      expect(s.type).toBe('Opaque');
      expect(await keytool(s.data, 'keystore.jks', 'changeme')).toMatch(/Alias name: alias\n/);
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuJavaKeystorePassword,
    documented: '"The password can be changed by adding the following optional annotation: java-keystore-password: <password>"',
    annotary: 'the stores open with that password',
    setup: ({ n }) => tlsSecret(n('tls'), { [A.cuGenerateJavaKeystores]: 'true', [A.cuJavaKeystorePassword]: 'app-pass' }),
    async expectation({ n }) {
      const s = await once(
        'stores',
        () => getSecret(n('tls')),
        (o) => o.data?.['keystore.jks'],
      );
      expect(await keytool(s.data, 'keystore.jks', 'app-pass')).toMatch(/Alias name: alias\n/);
      await expect(keytool(s.data, 'keystore.jks', 'changeme')).rejects.toThrow();
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuGenerateCertInfo,
    documented: 'generate-cert-info: "true" adds tls.crt.info and ca.crt.info, the certificates as text (as openssl x509 -text)',
    annotary: 'both keys, the leaf described with its subject',
    setup: ({ n }) => tlsSecret(n('tls'), { [A.cuGenerateCertInfo]: 'true' }),
    async expectation({ n }) {
      const s = await once(
        'info',
        () => getSecret(n('tls')),
        (o) => o.data?.['ca.crt.info'],
      );
      expect(Buffer.from(s.data!['tls.crt.info'], 'base64').toString()).toMatch(/Subject:.*CN=localhost/);
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuGenerateJavaTruststore,
    documented:
      'on a ConfigMap, generate-java-truststore: "true" adds binaryData truststore.jks from ca-bundle.crt; its README says the ' +
      'password defaults to changeit, its source (configmaptokeystore: defaultpassword) writes changeme',
    annotary: 'what its source does: truststore.jks with alias `alias0`, opened with changeme',
    setup: ({ n }) => mkConfigMap(n('cas'), { 'ca-bundle.crt': ec.ca }, { [A.cuGenerateJavaTruststore]: 'true' }),
    async expectation({ n }) {
      const c = await once(
        'truststore',
        () => getConfigMap(n('cas')),
        (o) => o.binaryData?.['truststore.jks'],
      );
      expect(await keytool(c.binaryData, 'truststore.jks', 'changeme')).toMatch(/Alias name: alias0\n[\s\S]*trustedCertEntry/);
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuSourceCaKey,
    documented: 'source-ca-key: "The key in the configmap which will be read to generate the truststore.jks" (default ca-bundle.crt)',
    annotary: 'the truststore is made from that key',
    setup: ({ n }) =>
      mkConfigMap(n('cas'), { 'service-ca.crt': ec.ca }, { [A.cuGenerateJavaTruststore]: 'true', [A.cuSourceCaKey]: 'service-ca.crt' }),
    async expectation({ n }) {
      const c = await once(
        'truststore',
        () => getConfigMap(n('cas')),
        (o) => o.binaryData?.['truststore.jks'],
      );
      expect(await keytool(c.binaryData, 'truststore.jks', 'changeme')).toMatch(/Alias name: alias0\n/);
    },
  },
  // cert-utils-operator: Routes (README "Populating route certificates", controllers/route)
  {
    tool: 'cert-utils-operator',
    annotation: A.cuCertsFromSecret,
    documented:
      'certs-from-secret: <secret> on an edge or reencrypt Route sets spec.tls.key and spec.tls.certificate from tls.key and tls.crt',
    annotary: 'the same two fields; caCertificate stays unset without inject-CA',
    async setup({ n }) {
      await tlsSecret(n('tls'));
      await mkRoute(n('route'), { [A.cuCertsFromSecret]: n('tls') }, 'edge');
    },
    async expectation({ n }) {
      const tls = await once(
        'certificate',
        () => get<Route>(Routes, n('route')),
        (r) => r.spec.tls?.certificate,
      );
      expect(tls.spec.tls).toMatchObject({ certificate: ec.certPem(2), key: ec.keyPkcs8 });
      expect(tls.spec.tls?.caCertificate).toBeUndefined();
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuInjectCa,
    documented:
      'inject-CA: its README says caCertificate is injected by default ("The default is true"); its source ' +
      '(route_controller.go) injects ca.crt only when the annotation is present and not "false"',
    annotary: 'what its source does: present and not "false", spec.tls.caCertificate is ca.crt',
    async setup({ n }) {
      await tlsSecret(n('tls'));
      await mkRoute(n('route'), { [A.cuCertsFromSecret]: n('tls'), [A.cuInjectCa]: 'true' }, 'reencrypt');
    },
    async expectation({ n }) {
      await until('caCertificate', async () => (await get<Route>(Routes, n('route'))).spec.tls?.caCertificate === ec.ca);
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuDestinationCaFromSecret,
    documented: 'destinationCA-from-secret: <secret> sets "destinationCACertificate with the content of ca.crt"',
    annotary: 'the same field, on a reencrypt Route',
    async setup({ n }) {
      await tlsSecret(n('tls'));
      await mkRoute(n('route'), { [A.cuDestinationCaFromSecret]: n('tls') }, 'reencrypt');
    },
    async expectation({ n }) {
      await until(
        'destinationCACertificate',
        async () => (await get<Route>(Routes, n('route'))).spec.tls?.destinationCACertificate === ec.ca,
      );
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuDestinationCaFromSecret,
    documented: 'on an edge Route (no destination CA there: OpenShift refuses one) the destination CA is left unset, silently',
    annotary: 'a difference: also left unset, with an UnsupportedTermination Warning; the certificate is set as cert-utils sets it',
    async setup({ n }) {
      await tlsSecret(n('tls'));
      await mkRoute(n('route'), { [A.cuCertsFromSecret]: n('tls'), [A.cuDestinationCaFromSecret]: n('tls') }, 'edge');
    },
    async expectation({ n }) {
      await event(n('route'), 'UnsupportedTermination');
      const r = await once(
        'certificate',
        () => get<Route>(Routes, n('route')),
        (o) => o.spec.tls?.certificate,
      );
      expect(r.spec.tls?.destinationCACertificate).toBeUndefined();
    },
  },
  // cert-utils-operator: CA injection (README "CA Injection")
  {
    tool: 'cert-utils-operator',
    annotation: A.cuInjectCaFromSecret,
    documented: 'injectca-from-secret: <namespace>/<secret> on a ConfigMap: "the ca bundle will be injected in this key ca.crt"',
    annotary: "ca.crt of the Secret in the ConfigMap's ca.crt (a source in the same namespace needs no opt-in)",
    async setup({ n }) {
      await tlsSecret(n('tls'));
      await mkConfigMap(n('bundle'), { other: 'kept' }, { [A.cuInjectCaFromSecret]: `${ns}/${n('tls')}` });
    },
    async expectation({ n }) {
      const c = await once(
        'ca.crt',
        () => getConfigMap(n('bundle')),
        (o) => o.data?.['ca.crt'],
      );
      expect(c.data).toEqual({ other: 'kept', 'ca.crt': ec.ca });
    },
  },
  // cert-utils-operator: expiry alerts (README "Certificate expiry alerts")
  {
    tool: 'cert-utils-operator',
    annotation: A.cuGenerateCertExpiryAlert,
    documented:
      'generate-cert-expiry-alert: "true": "the secret will generate a Kubernetes Warning Event if the certificate is about to expire", ' +
      'within 90 days by default',
    annotary: "a CertificateExpiring Warning for a certificate with 60 days left (annotary's own default, 720h, would not warn)",
    setup: ({ n }) =>
      mkSecret(
        n('tls'),
        ofType('kubernetes.io/tls'),
        withData({ 'tls.crt': soon.cert, 'tls.key': soon.key }),
        withAnnotations({ [A.cuGenerateCertExpiryAlert]: 'true' }),
      ),
    async expectation({ n }) {
      const w = await event(n('tls'), 'CertificateExpiring');
      expect(w.type).toBe('Warning');
      expect(w.message).toContain(`under the ${A.cuCertSoonToExpireThreshold} threshold`);
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuCertSoonToExpireThreshold,
    documented:
      'cert-soon-to-expire-threshold: "what is the interval of time below which we consider the certificate close to expiry" (90 days)',
    annotary: 'that threshold: 20000h warns about an 825-day certificate',
    setup: ({ n }) => tlsSecret(n('tls'), { [A.cuGenerateCertExpiryAlert]: 'true', [A.cuCertSoonToExpireThreshold]: '20000h' }),
    async expectation({ n }) {
      await event(n('tls'), 'CertificateExpiring', A.cuCertSoonToExpireThreshold);
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuCertSoonToExpireThreshold,
    documented: 'a threshold Go cannot parse is logged, and the default (90 days) used',
    annotary: 'a difference: an InvalidAnnotation Warning naming the key',
    setup: ({ n }) => tlsSecret(n('tls'), { [A.cuGenerateCertExpiryAlert]: 'true', [A.cuCertSoonToExpireThreshold]: 'soon' }),
    async expectation({ n }) {
      await event(n('tls'), 'InvalidAnnotation', A.cuCertSoonToExpireThreshold);
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuCertSoonToExpireCheckFrequency,
    documented: 'cert-soon-to-expire-check-frequency: how often it checks (and warns) once a certificate is close to expiring (1 hour)',
    annotary:
      "the Warning repeated at that frequency while it holds (annotary_events_total counts each; the Event's count is written at most every 10 minutes)",
    setup: ({ n }) =>
      tlsSecret(n('tls'), {
        [A.cuGenerateCertExpiryAlert]: 'true',
        [A.cuCertSoonToExpireThreshold]: '20000h',
        [A.cuCertSoonToExpireCheckFrequency]: '2s',
      }),
    async expectation({ n }) {
      await event(n('tls'), 'CertificateExpiring');
      // the other cases' certificates are warned once each (three of them, four at most): more is this one, repeated
      await until('repeated warnings', async () => (await op.metric('annotary_events_total', { reason: 'CertificateExpiring' })) >= 7);
    },
  },
  {
    tool: 'cert-utils-operator',
    annotation: A.cuCertExpiryCheckFrequency,
    documented: 'cert-expiry-check-frequency: "with which frequency should the system check is a certificate is expiring" (7 days)',
    annotary: 'accepted and not needed (annotary looks again when the threshold is crossed): the alert works, no InvalidAnnotation',
    setup: ({ n }) =>
      tlsSecret(n('tls'), {
        [A.cuGenerateCertExpiryAlert]: 'true',
        [A.cuCertSoonToExpireThreshold]: '20000h',
        [A.cuCertExpiryCheckFrequency]: '168h',
      }),
    async expectation({ n }) {
      await event(n('tls'), 'CertificateExpiring');
      expect(await events(n('tls'), 'InvalidAnnotation')).toEqual([]);
    },
  },
  // stakater Reloader (README; internal/pkg/handler, pkg/common)
  {
    tool: 'stakater Reloader',
    annotation: A.rlSecretReload,
    documented:
      'secret.reloader.stakater.com/reload: a comma list of Secrets, each item an anchored regular expression, whose changes roll the workload',
    annotary: 'a change of a Secret the pattern matches rolls once; one it does not match rolls nothing',
    async setup({ n }) {
      await Promise.all([dataSecret(n('app-tls')), dataSecret(n('other'))]);
      await mkDeployment(n('web'), { [A.rlSecretReload]: `${n('app')}-.*` }, withSecretVolumes(n('other')));
    },
    expectation: ({ n }) =>
      rollsOnlyFor(
        n('web'),
        () => rotate(n('other'), '2'),
        () => rotate(n('app-tls'), '2'),
        [`Secret/${n('other')}`, `Secret/${n('app-tls')}`],
      ),
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlSecretReload,
    documented: "a named Secret created after the workload does not roll it: Reloader's --reload-on-create defaults to false",
    annotary:
      "the same by default (--reload-on-create=by-keys: Reloader's default for Reloader's keys): ReloadRecorded, no rollout; its next change rolls",
    async setup({ n }) {
      await dataSecret(n('a'));
      await mkDeployment(n('web'), { [A.rlSecretReload]: `${n('a')},${n('late')}` });
    },
    async expectation({ n }) {
      await onboarded(n('web'));
      await dataSecret(n('late'));
      await event(n('web'), 'ReloadRecorded', 'appeared');
      expect(await rollouts(n('web'))).toEqual([]);
      await rotate(n('late'), '2');
      await event(n('web'), 'Reloaded', `Secret/${n('late')}`);
    },
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlConfigMapReload,
    documented: 'configmap.reloader.stakater.com/reload: the same for ConfigMaps',
    annotary: 'a change of the named ConfigMap rolls once',
    async setup({ n }) {
      await mkConfigMap(n('settings'), { v: '1' });
      await mkDeployment(n('web'), { [A.rlConfigMapReload]: n('settings') });
    },
    async expectation({ n }) {
      await onboarded(n('web'));
      await rotateConfigMap(n('settings'), '2');
      await event(n('web'), 'Reloaded', `ConfigMap/${n('settings')}`);
    },
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlAuto,
    documented: 'reloader.stakater.com/auto: "true": every Secret and ConfigMap the pod template references rolls the workload',
    annotary: 'a change of the referenced ConfigMap rolls, as one of the referenced Secret does',
    async setup({ n }) {
      await Promise.all([dataSecret(n('creds')), mkConfigMap(n('settings'), { v: '1' })]);
      await mkDeployment(n('web'), { [A.rlAuto]: 'true' }, withSecretVolumes(n('creds')), withEnvFromConfigMaps(n('settings')));
    },
    async expectation({ n }) {
      await onboarded(n('web'));
      await rotateConfigMap(n('settings'), '2');
      await event(n('web'), 'Reloaded', `ConfigMap/${n('settings')}`);
    },
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlAuto,
    documented: 'the value is read with Go\'s strconv.ParseBool; one it cannot parse ("yes") counts as false, and is only logged',
    annotary: 'a difference in what the user sees: false too (no onboarding, no rollout), with a ReloaderValueIgnored Warning',
    async setup({ n }) {
      await dataSecret(n('creds'));
      await mkDeployment(n('web'), { [A.rlAuto]: 'yes' }, withSecretVolumes(n('creds')));
    },
    async expectation({ n }) {
      await event(n('web'), 'ReloaderValueIgnored', A.rlAuto);
      expect((await get(Deployments, n('web'))).metadata.annotations?.[OBSERVED]).toBeUndefined();
    },
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlSecretAuto,
    documented: 'secret.reloader.stakater.com/auto: "true": only the referenced Secrets',
    annotary: "a change of the referenced ConfigMap rolls nothing, the Secret's rolls",
    async setup({ n }) {
      await Promise.all([dataSecret(n('creds')), mkConfigMap(n('settings'), { v: '1' })]);
      await mkDeployment(n('web'), { [A.rlSecretAuto]: 'true' }, withSecretVolumes(n('creds')), withEnvFromConfigMaps(n('settings')));
    },
    expectation: ({ n }) =>
      rollsOnlyFor(
        n('web'),
        () => rotateConfigMap(n('settings'), '2'),
        () => rotate(n('creds'), '2'),
        [`ConfigMap/${n('settings')}`, `Secret/${n('creds')}`],
      ),
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlConfigMapAuto,
    documented: 'configmap.reloader.stakater.com/auto: "true": only the referenced ConfigMaps',
    annotary: "a change of the referenced Secret rolls nothing, the ConfigMap's rolls",
    async setup({ n }) {
      await Promise.all([dataSecret(n('creds')), mkConfigMap(n('settings'), { v: '1' })]);
      await mkDeployment(n('web'), { [A.rlConfigMapAuto]: 'true' }, withSecretVolumes(n('creds')), withEnvFromConfigMaps(n('settings')));
    },
    expectation: ({ n }) =>
      rollsOnlyFor(
        n('web'),
        () => rotate(n('creds'), '2'),
        () => rotateConfigMap(n('settings'), '2'),
        [`Secret/${n('creds')}`, `ConfigMap/${n('settings')}`],
      ),
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlSearch,
    documented: 'reloader.stakater.com/search: "true": only referenced objects annotated reloader.stakater.com/match: "true" roll it',
    annotary: 'a referenced Secret without match rolls nothing, one with it rolls',
    async setup({ n }) {
      await Promise.all([dataSecret(n('plain')), dataSecret(n('matched'), { [A.rlMatch]: 'true' })]);
      await mkDeployment(n('web'), { [A.rlSearch]: 'true' }, withSecretVolumes(n('plain'), n('matched')));
    },
    expectation: ({ n }) =>
      rollsOnlyFor(
        n('web'),
        () => rotate(n('plain'), '2'),
        () => rotate(n('matched'), '2'),
        [`Secret/${n('plain')}`, `Secret/${n('matched')}`],
      ),
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlMatch,
    documented: 'reloader.stakater.com/match on the object: compared with exactly "true" (pkg/common), so "True" does not match',
    annotary: 'the same comparison: match "True" rolls nothing, match "true" rolls',
    async setup({ n }) {
      await Promise.all([dataSecret(n('capital'), { [A.rlMatch]: 'True' }), dataSecret(n('matched'), { [A.rlMatch]: 'true' })]);
      await mkDeployment(n('web'), { [A.rlSearch]: 'true' }, withSecretVolumes(n('capital'), n('matched')));
    },
    expectation: ({ n }) =>
      rollsOnlyFor(
        n('web'),
        () => rotate(n('capital'), '2'),
        () => rotate(n('matched'), '2'),
        [`Secret/${n('capital')}`, `Secret/${n('matched')}`],
      ),
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlSecretExclude,
    documented: 'secrets.exclude.reloader.stakater.com/reload: with auto, these Secrets never roll the workload',
    annotary: 'an excluded referenced Secret rolls nothing, the others roll',
    async setup({ n }) {
      await Promise.all([dataSecret(n('ex')), dataSecret(n('in'))]);
      await mkDeployment(n('web'), { [A.rlAuto]: 'true', [A.rlSecretExclude]: n('ex') }, withSecretVolumes(n('ex'), n('in')));
    },
    expectation: ({ n }) =>
      rollsOnlyFor(
        n('web'),
        () => rotate(n('ex'), '2'),
        () => rotate(n('in'), '2'),
        [`Secret/${n('ex')}`, `Secret/${n('in')}`],
      ),
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlConfigMapExclude,
    documented: 'configmaps.exclude.reloader.stakater.com/reload: with auto, these ConfigMaps never roll the workload',
    annotary: 'an excluded referenced ConfigMap rolls nothing, the others roll',
    async setup({ n }) {
      await Promise.all([mkConfigMap(n('ex'), { v: '1' }), mkConfigMap(n('in'), { v: '1' })]);
      await mkDeployment(n('web'), { [A.rlAuto]: 'true', [A.rlConfigMapExclude]: n('ex') }, withEnvFromConfigMaps(n('ex'), n('in')));
    },
    expectation: ({ n }) =>
      rollsOnlyFor(
        n('web'),
        () => rotateConfigMap(n('ex'), '2'),
        () => rotateConfigMap(n('in'), '2'),
        [`ConfigMap/${n('ex')}`, `ConfigMap/${n('in')}`],
      ),
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlIgnore,
    documented: 'reloader.stakater.com/ignore: "true" on a Secret or ConfigMap: its changes never roll anything',
    annotary: 'an ignored referenced Secret rolls nothing under auto, the others roll',
    async setup({ n }) {
      await Promise.all([dataSecret(n('ign'), { [A.rlIgnore]: 'true' }), dataSecret(n('in'))]);
      await mkDeployment(n('web'), { [A.rlAuto]: 'true' }, withSecretVolumes(n('ign'), n('in')));
    },
    expectation: ({ n }) =>
      rollsOnlyFor(
        n('web'),
        () => rotate(n('ign'), '2'),
        () => rotate(n('in'), '2'),
        [`Secret/${n('ign')}`, `Secret/${n('in')}`],
      ),
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlRolloutStrategy,
    documented:
      'reloader.stakater.com/rollout-strategy: restart on an Argo Rollout sets spec.restartAt instead of changing its pod template',
    annotary: 'spec.restartAt is set; the pod template keeps no config-hash',
    async setup({ n }) {
      await dataSecret(n('creds'));
      const rt = `${Rollouts.group}/${Rollouts.version}`;
      await client.create(
        Rollouts,
        ns,
        batchWorkload(
          'Rollout',
          n('roll'),
          rt,
          inNamespace(ns),
          withAnnotations({ [A.rlAuto]: 'true', [A.rlRolloutStrategy]: 'restart' }),
          withSecretVolumes(n('creds')),
        ),
      );
    },
    async expectation({ n }) {
      await onboarded(n('roll'), Rollouts);
      await rotate(n('creds'), '2');
      const r = await until('restartAt', async () => {
        const o = await get<Workload & { spec: { restartAt?: string } }>(Rollouts, n('roll'));
        return o.spec.restartAt !== undefined && o;
      });
      expect(r.spec.template.metadata.annotations?.[A.configHash]).toBeUndefined();
    },
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlPausePeriod,
    documented:
      'deployment.reloader.stakater.com/pause-period: a reload also pauses the Deployment for that period (handler/pause_deployment.go)',
    annotary: 'the rollout sets spec.paused and paused-at in the same patch as the new pod template',
    async setup({ n }) {
      await dataSecret(n('creds'));
      await mkDeployment(n('web'), { [A.rlAuto]: 'true', [A.rlPausePeriod]: '1h' }, withSecretVolumes(n('creds')));
    },
    async expectation({ n }) {
      await onboarded(n('web'));
      await rotate(n('creds'), '2');
      const d = await until('paused', async () => {
        const w = await get<Workload & { spec: { paused?: boolean } }>(Deployments, n('web'));
        return w.spec.paused === true && w;
      });
      expect(d.metadata.annotations?.[A.rlPausedAt]).toBeDefined();
      expect(d.spec.template.metadata.annotations?.[A.configHash]).toBeDefined();
    },
  },
  {
    tool: 'stakater Reloader',
    annotation: A.rlPausedAt,
    documented:
      'deployment.reloader.stakater.com/paused-at: written when the pause begins; the Deployment is resumed once the period has passed',
    annotary: 'written at the rollout, then removed with spec.paused: false when the period (5s) has passed',
    async setup({ n }) {
      await dataSecret(n('creds'));
      await mkDeployment(n('web'), { [A.rlAuto]: 'true', [A.rlPausePeriod]: '5s' }, withSecretVolumes(n('creds')));
    },
    async expectation({ n }) {
      await onboarded(n('web'));
      const before = (await get(Deployments, n('web'))).spec.template.metadata.annotations?.[A.configHash];
      await rotate(n('creds'), '2');
      let pausedAt: string | undefined; // the rollout's pause, seen while it lasts (5s)
      const d = await until('resumed after the rollout', async () => {
        const w = await get<Workload & { spec: { paused?: boolean } }>(Deployments, n('web'));
        pausedAt ??= w.metadata.annotations?.[A.rlPausedAt];
        const rolled = w.spec.template.metadata.annotations?.[A.configHash] !== before;
        return rolled && !w.spec.paused && w;
      });
      expect(pausedAt).toBeDefined();
      expect(d.metadata.annotations?.[A.rlPausedAt]).toBeUndefined();
      expect((await rollouts(n('web'))).length).toBe(1);
    },
  },
];

// ---- the loop

const outcomes = new Map<Case, Promise<void>>();

beforeAll(async () => {
  ns = await newNamespace(client, 'migration');
  op = await startOperator(['--namespaces', ns, '--compat', 'true', '--reload-settle', '1s']);
  CASES.forEach((c, i) => {
    const ctx: Ctx = { n: (name) => `m${String(i).padStart(2, '0')}-${name}` };
    const p = c.setup(ctx).then(() => c.expectation(ctx));
    p.catch(() => undefined); // awaited (and reported) by its test
    outcomes.set(c, p);
  });
});

afterAll(async () => {
  await Promise.allSettled(outcomes.values());
  await op?.stop();
  await deleteNamespace(client, ns);
  rmSync(dir, { recursive: true, force: true });
});

test('every cert-utils-operator and stakater Reloader annotation has a case', () => {
  const keys = ANNOTATIONS.filter((a) => a.origin in TOOL_OF);
  expect(keys.length).toBeGreaterThan(0);
  expect(keys.filter((a) => !CASES.some((c) => c.annotation === a.key && c.tool === TOOL_OF[a.origin])).map((a) => a.key)).toEqual([]);
});

test.each(CASES.map((c) => [c.tool, c.annotation, c.documented, c.annotary, c] as const))(
  '%s %s: %s — annotary: %s',
  async (_tool, _key, _documented, _annotary, c) => {
    await outcomes.get(c);
  },
);
