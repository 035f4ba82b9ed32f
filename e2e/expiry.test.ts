// Certificate expiry on the real control plane: gauges equal openssl's dates, one Warning
// per certificate under the threshold, series removed with the Secret.
import { Secrets } from '../src/kube/types.js';
import type { OperatorProcess } from './harness/cluster.js';
import { adminClient, deleteNamespace, eventsFor, newNamespace, sleep, startOperator, waitFor } from './harness/cluster.js';
import { chainFixture, shortLivedCert } from '../test/pki/fixtures.js';
import { inNamespace, ofType, secret, withData } from '../test/gen.js';

const client = adminClient();
const short = shortLivedCert(1); // inside the default 720h threshold
const long = chainFixture('p256'); // 825 days
let ns: string;
let op: OperatorProcess;

/** a kubernetes.io/tls Secret with this certificate and key */
const tlsSecret = (name: string, cert: string, key: string) =>
  secret(name, inNamespace(ns), ofType('kubernetes.io/tls'), withData({ 'tls.crt': cert, 'tls.key': key }));
const gauge = (metric: string, name: string) =>
  op.metric(`annotary_certificate_${metric}_seconds`, { namespace: ns, name, key: 'tls.crt' });
const warnings = async (name: string) => (await eventsFor(client, ns, name)).filter((e) => e.reason === 'CertificateExpiring');

beforeAll(async () => {
  ns = await newNamespace(client, 'expiry');
  op = await startOperator(['--namespaces', ns, '--controllers', 'expiry']);
});

afterAll(async () => {
  await op?.stop();
  await deleteNamespace(client, ns);
});

test('gauges equal openssl x509 -startdate/-enddate of the leaf, for unannotated TLS Secrets too', async () => {
  await client.create(Secrets, ns, tlsSecret('short', short.cert, short.key));
  await client.create(Secrets, ns, tlsSecret('long', long.certPem(2), long.keyPkcs8));
  await waitFor('short gauge', async () => (await gauge('not_after', 'short')) === Date.parse(short.notAfter) / 1000);
  expect(await gauge('not_before', 'short')).toBe(Date.parse(short.notBefore) / 1000);
  await waitFor('long gauge', async () => (await gauge('not_after', 'long')) > 0);
});

test('a certificate under the threshold gets one Warning CertificateExpiring, once per certificate', async () => {
  const [w] = await waitFor('warning', () => warnings('short').then((l) => l.length > 0 && l));
  expect(w.type).toBe('Warning');
  expect(w.message).toMatch(/expires at/);
  expect(await warnings('long')).toEqual([]);
  const emitted = () => op.metric('annotary_events_total', { reason: 'CertificateExpiring' });
  const before = await emitted();
  await client.patch(Secrets, ns, 'short', { metadata: { labels: { touched: 'yes' } } }); // same certificate
  await sleep(1500);
  expect(await emitted()).toBe(before);
});

test('annotary.io/expiry-warning on the Secret sets its threshold', async () => {
  await client.patch(Secrets, ns, 'long', { metadata: { annotations: { 'annotary.io/expiry-warning': '20000h' } } });
  await waitFor('warning on long', () => warnings('long').then((l) => l.length > 0));
});

test("cert-utils' generate-cert-expiry-alert: its threshold, and the Warning repeated every soon-to-expire-check-frequency", async () => {
  const CU = 'cert-utils-operator.redhat-cop.io/';
  const s = tlsSecret('cu-alert', long.certPem(2), long.keyPkcs8);
  s.metadata.annotations = {
    [`${CU}generate-cert-expiry-alert`]: 'true',
    [`${CU}cert-soon-to-expire-threshold`]: '20000h', // the 825-day certificate is within it
    [`${CU}cert-soon-to-expire-check-frequency`]: '2s',
  };
  const emitted = () => op.metric('annotary_events_total', { reason: 'CertificateExpiring' });
  const before = await emitted();
  await client.create(Secrets, ns, s);
  const [w] = await waitFor('warning on cu-alert', () => warnings('cu-alert').then((l) => l.length > 0 && l));
  expect(w.message).toContain(`under the ${CU}cert-soon-to-expire-threshold threshold`);
  // the same certificate warned again and again (every other Secret here is warned once per
  // certificate); the recorder writes a repeat into the Event's count at most every 10 minutes
  await waitFor('repeated', async () => (await emitted()) - before >= 3, 30_000);
});

test('deleting the Secret removes its series', async () => {
  await client.delete(Secrets, ns, 'short');
  await waitFor('series gone', async () => !(await op.metrics()).includes(`name="short"`));
  expect(await gauge('not_after', 'long')).toBeGreaterThan(0);
});
