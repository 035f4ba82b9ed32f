// The pure part of the keystore controller: annotations → spec, inputs → hash, inputs → the
// exact data keys to write or remove. Real openssl-made chains, real stores.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { A, AnnotationReader, commaList } from '../../src/annotations.js';
import { desiredKeystoreData, type DataChange, type KeystoreObserved } from '../../src/controllers/keystores.js';
import { desiredTruststoreData } from '../../src/controllers/truststores.js';
import { managedKeysPatch, ownerRecordValue, parseOwnerRecord } from '../../src/controllers/managed-keys.js';
import {
  KEYSTORE_INPUTS,
  keystoreInputsHash,
  parseKeystoreSpec,
  parseTrustRef,
  parseTruststoreSpec,
  storeKeys,
  type DigestLookup,
  type KeystoreSpec,
  type SecretWants,
} from '../../src/controllers/store-specs.js';
import { isRefusal, type Refusal } from '../../src/kube/refusal.js';
import { valueDigest } from '../../src/kube/slim.js';
import { readJks } from '../../src/pki/jks.js';
import { chainFixture } from '../pki/fixtures.js';
import { b64, secret, tlsData, withAnnotations, withBase64Data, withResourceVersion, withUid } from '../gen.js';
import { patched } from '../merge-patch.js';

const compat = new AnnotationReader(true);
const strict = new AnnotationReader(false);
const CU = 'cert-utils-operator.redhat-cop.io/';

const ec = chainFixture('p256');
const rsa = chainFixture('rsa2048');

function wantsOf(annotations: Record<string, string>, reader = compat, defaultPassword = 'changeit'): SecretWants {
  const w = parseKeystoreSpec(annotations, reader, defaultPassword);
  if (isRefusal(w)) throw new Error(`unexpected refusal ${w.reason}: ${w.message}`);
  return w;
}

function refusalOf(x: unknown): Refusal {
  if (!isRefusal(x)) throw new Error(`expected a Refusal, got ${JSON.stringify(x)}`);
  return x;
}

function changeOf(x: DataChange | Refusal | undefined): DataChange {
  if (x === undefined) throw new Error('expected a change, got undefined');
  if (isRefusal(x)) throw new Error(`expected a change, got refusal ${x.reason}: ${x.message}`);
  return x;
}

const noRefs: DigestLookup = () => undefined;

/** Observes a Secret the way reconcile does (hash from digests of its data). */
function observe(wants: SecretWants, data: Record<string, string>, over: Partial<KeystoreObserved> = {}): KeystoreObserved {
  const digests = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, valueDigest(v)]));
  const hash = keystoreInputsHash(wants, digests, noRefs);
  if (isRefusal(hash)) throw new Error(hash.message);
  const password = wants.stores && 'literal' in wants.stores.password ? wants.stores.password.literal : undefined;
  return { wants, data, digests, uid: UID, managed: [], password, extraTrustPem: [], inputsHash: hash, ...over };
}

const UID = 'uid-1';
/** What annotary's earlier write of these keys left on this object: the claim and its proof. */
function wrote(data: Record<string, string>, keys: string[], uid = UID): Pick<KeystoreObserved, 'managed' | 'record'> {
  const present = keys.filter((k) => data[k] !== undefined);
  return { managed: keys, record: { uid, keys: Object.fromEntries(present.map((k) => [k, valueDigest(data[k])])) } };
}

/** What the controller's patch (managedKeysPatch) does to the Secret, observed again as reconcile observes it. */
function apply(o: KeystoreObserved, c: DataChange): KeystoreObserved {
  const bookkeeping = {
    ...(o.managed.length ? { [A.managedKeys]: o.managed.join(',') } : {}),
    ...(o.record ? { [A.ownerRecord]: ownerRecordValue(o.record) } : {}),
    ...(o.currentHash !== undefined ? { [A.sourceHash]: o.currentHash } : {}),
  };
  const before = secret('tls', withUid(o.uid ?? ''), withResourceVersion('1'), withAnnotations(bookkeeping), withBase64Data(o.data));
  const after = patched(before, managedKeysPatch(before, 'data', c));
  const ann = after.metadata.annotations ?? {};
  const data = after.data ?? {};
  const digests = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, valueDigest(v)]));
  const managed = commaList(ann[A.managedKeys]);
  return { ...o, data, digests, managed, record: parseOwnerRecord(ann[A.ownerRecord]), currentHash: ann[A.sourceHash] };
}

describe('parseTrustRef: [secret/|configmap/]<name>[:<key>]', () => {
  test.each([
    ['upstream', { kind: 'Secret', name: 'upstream', key: 'ca.crt' }],
    ['secret/upstream', { kind: 'Secret', name: 'upstream', key: 'ca.crt' }],
    ['Secret/upstream:tls.crt', { kind: 'Secret', name: 'upstream', key: 'tls.crt' }],
    ['configmap/bundle', { kind: 'ConfigMap', name: 'bundle', key: 'ca-bundle.crt' }],
    ['ConfigMap/bundle:service-ca.crt', { kind: 'ConfigMap', name: 'bundle', key: 'service-ca.crt' }],
    ['my.ca-1:ca_2.pem', { kind: 'Secret', name: 'my.ca-1', key: 'ca_2.pem' }],
  ])('%s', (item, ref) => {
    expect(parseTrustRef(item)).toEqual(ref);
  });

  test.each(['', 'Upper', 'ns/name/extra', 'pod/x', 'x:', 'x:a/b', 'x:k:k', '-x', 'x y', 'secret/'])(
    '"%s" is refused as InvalidAnnotation',
    (item) => {
      const r = refusalOf(parseTrustRef(item));
      expect(r.reason).toBe('InvalidAnnotation');
      expect(r.message).toContain(A.truststoreFrom);
    },
  );
});

describe('parseKeystoreSpec: native annotary.io annotations', () => {
  const base = {
    flavour: 'annotary',
    formats: ['jks'],
    alias: 'certificate',
    trustAliasPrefix: 'ca',
    password: { literal: 'changeit' },
    trustFrom: [],
  };
  test.each<[string, Record<string, string>, Partial<KeystoreSpec>]>([
    ['jks', { [A.keystores]: 'jks' }, {}],
    ['pkcs12', { [A.keystores]: 'pkcs12' }, { formats: ['pkcs12'] }],
    ['p12 is pkcs12', { [A.keystores]: 'p12' }, { formats: ['pkcs12'] }],
    ['both, any case, blanks, duplicates', { [A.keystores]: ' JKS , P12,pkcs12,jks ' }, { formats: ['jks', 'pkcs12'] }],
    ['alias lower-cased and trimmed', { [A.keystores]: 'jks', [A.keystoreAlias]: ' My.Alias_1 ' }, { alias: 'my.alias_1' }],
    [
      'the modern PKCS#12 profile is the default and leaves the spec as it was',
      { [A.keystores]: 'p12', [A.pkcs12Profile]: 'Modern' },
      { formats: ['pkcs12'] },
    ],
    [
      'the legacy-des PKCS#12 profile',
      { [A.keystores]: 'p12', [A.pkcs12Profile]: ' legacy-des ' },
      { formats: ['pkcs12'], pkcs12Profile: 'legacy-des' },
    ],
    ['password literal', { [A.keystores]: 'jks', [A.keystorePassword]: 's3cr3t pass' }, { password: { literal: 's3cr3t pass' } }],
    [
      'password secret',
      { [A.keystores]: 'jks', [A.keystorePasswordSecret]: 'store-pw/password' },
      { password: { secret: 'store-pw', key: 'password' } },
    ],
    [
      'password secret wins over literal',
      { [A.keystores]: 'jks', [A.keystorePasswordSecret]: 'pw/p', [A.keystorePassword]: 'lit' },
      { password: { secret: 'pw', key: 'p' } },
    ],
    [
      'truststore-from',
      { [A.keystores]: 'jks', [A.truststoreFrom]: 'a, configmap/bundle ,secret/b:tls.crt' },
      {
        trustFrom: [
          { kind: 'Secret', name: 'a', key: 'ca.crt' },
          { kind: 'ConfigMap', name: 'bundle', key: 'ca-bundle.crt' },
          { kind: 'Secret', name: 'b', key: 'tls.crt' },
        ],
      },
    ],
  ])('%s', (_name, annotations, expected) => {
    expect(wantsOf(annotations)).toEqual({ certInfo: false, stores: { ...base, ...expected } });
  });

  test('the default password comes from --default-password', () => {
    expect(wantsOf({ [A.keystores]: 'jks' }, compat, 'fromflag').stores?.password).toEqual({ literal: 'fromflag' });
  });

  test('cert-info alone asks for info files, no stores', () => {
    expect(wantsOf({ [A.certInfo]: 'TRUE' })).toEqual({ certInfo: true });
    expect(wantsOf({ [A.certInfo]: 'false' })).toEqual({ certInfo: false });
    expect(wantsOf({})).toEqual({ certInfo: false });
    expect(parseKeystoreSpec(undefined, compat, 'x')).toEqual({ certInfo: false });
  });
});

describe('parseKeystoreSpec: cert-utils-operator annotations', () => {
  const cu = { flavour: 'cert-utils', formats: ['jks'], alias: 'alias', trustAliasPrefix: 'alias', trustFrom: [] };
  test('generate-java-keystores: jks, alias "alias", truststore prefix "alias", password "changeme"', () => {
    expect(wantsOf({ [`${CU}generate-java-keystores`]: 'true' }, compat, 'changeit')).toEqual({
      certInfo: false,
      handover: ['keystore.jks', 'truststore.jks'],
      stores: { ...cu, password: { literal: 'changeme' } },
    });
  });

  test('java-keystore-password sets the password; an empty one keeps "changeme"', () => {
    expect(wantsOf({ [A.cuGenerateJavaKeystores]: 'true', [A.cuJavaKeystorePassword]: 'pw' }).stores?.password).toEqual({ literal: 'pw' });
    expect(wantsOf({ [A.cuGenerateJavaKeystores]: 'true', [A.cuJavaKeystorePassword]: '' }).stores?.password).toEqual({
      literal: 'changeme',
    });
  });

  test('generate-cert-info counts like cert-info', () => {
    expect(wantsOf({ [A.cuGenerateCertInfo]: 'true' })).toEqual({ certInfo: true, handover: ['tls.crt.info', 'ca.crt.info'] });
  });

  test('"false" asks for nothing', () => {
    expect(wantsOf({ [A.cuGenerateJavaKeystores]: 'false' })).toEqual({ certInfo: false });
  });

  test("both present (#17): annotary.io/keystores adds its formats, cert-utils' conventions stay for the app that uses them", () => {
    const w = wantsOf({ [A.keystores]: 'pkcs12', [A.cuGenerateJavaKeystores]: 'true', [A.cuJavaKeystorePassword]: 'cu' });
    expect(w.stores).toMatchObject({
      flavour: 'annotary',
      formats: ['jks', 'pkcs12'],
      alias: 'alias',
      trustAliasPrefix: 'alias',
      password: { literal: 'cu' },
    });
    expect(w.keptCertUtils).toEqual([
      'key alias "alias"',
      'truststore aliases alias0, alias1, …',
      'the password of cert-utils-operator.redhat-cop.io/java-keystore-password (default changeme)',
      'keystore.jks and truststore.jks',
    ]);
    expect(w.handover).toEqual(['keystore.jks', 'truststore.jks']);
    expect(wantsOf({ [A.keystores]: 'jks', [A.cuGenerateJavaKeystores]: 'true' }).stores?.password).toEqual({ literal: 'changeme' });
  });

  test("both present: what annotary's own keys set explicitly wins, and only that", () => {
    const w = wantsOf({
      [A.keystores]: 'jks',
      [A.cuGenerateJavaKeystores]: 'true',
      [A.keystoreAlias]: 'server',
      [A.keystorePassword]: 'n3w',
    });
    expect(w.stores).toMatchObject({ alias: 'server', trustAliasPrefix: 'alias', password: { literal: 'n3w' } });
    expect(w.keptCertUtils).toEqual(['truststore aliases alias0, alias1, …']);
    // without cert-utils' annotation in effect, annotary's own conventions
    const native = wantsOf({ [A.keystores]: 'jks', [A.cuGenerateJavaKeystores]: 'false' });
    expect(native.stores).toMatchObject({ alias: 'certificate', trustAliasPrefix: 'ca', password: { literal: 'changeit' } });
    expect(native.keptCertUtils).toBeUndefined();
  });

  test('with --compat=false the cert-utils keys are ignored', () => {
    expect(wantsOf({ [A.cuGenerateJavaKeystores]: 'true', [A.cuGenerateCertInfo]: 'true' }, strict)).toEqual({ certInfo: false });
    expect(wantsOf({ [A.cuGenerateJavaKeystores]: 'maybe' }, strict)).toEqual({ certInfo: false });
  });
});

describe('parseKeystoreSpec refuses invalid values with InvalidAnnotation', () => {
  test.each<[string, Record<string, string>]>([
    ['unknown format', { [A.keystores]: 'pem' }],
    ['no format', { [A.keystores]: ' , ' }],
    ['empty format', { [A.keystores]: '' }],
    ['alias with a blank', { [A.keystores]: 'jks', [A.keystoreAlias]: 'my alias' }],
    ['alias starting with a dash', { [A.keystores]: 'jks', [A.keystoreAlias]: '-x' }],
    ['alias of 65 chars', { [A.keystores]: 'jks', [A.keystoreAlias]: 'a'.repeat(65) }],
    ['password secret without key', { [A.keystores]: 'jks', [A.keystorePasswordSecret]: 'pw' }],
    ['password secret with namespace', { [A.keystores]: 'jks', [A.keystorePasswordSecret]: 'ns/pw/key' }],
    ['password secret with a bad name', { [A.keystores]: 'jks', [A.keystorePasswordSecret]: 'PW/key' }],
    ['empty literal password', { [A.keystores]: 'jks', [A.keystorePassword]: '' }],
    ['bad truststore-from item', { [A.keystores]: 'jks', [A.truststoreFrom]: 'ok,Not_OK' }],
    ['cert-utils flag not a boolean', { [A.cuGenerateJavaKeystores]: 'yes' }],
    ['cert-info not a boolean', { [A.certInfo]: '1' }],
    ['cert-utils cert-info not a boolean', { [A.cuGenerateCertInfo]: 'on' }],
    ['unknown PKCS#12 profile', { [A.keystores]: 'p12', [A.pkcs12Profile]: 'legacy-rc2' }],
  ])('%s', (_name, annotations) => {
    const r = refusalOf(parseKeystoreSpec(annotations, compat, 'changeit'));
    expect(r.reason).toBe('InvalidAnnotation');
    expect(r.message.length).toBeGreaterThan(0);
  });
});

describe('storeKeys: the data keys the wanted stores occupy', () => {
  const spec = (formats: KeystoreSpec['formats']): KeystoreSpec => ({
    flavour: 'annotary',
    formats,
    alias: 'a',
    trustAliasPrefix: 'ca',
    password: { literal: 'p' },
    trustFrom: [],
  });
  test.each<[KeystoreSpec['formats'], boolean, string[]]>([
    [['jks'], false, ['keystore.jks']],
    [['jks'], true, ['keystore.jks', 'truststore.jks']],
    [['pkcs12'], true, ['keystore.p12', 'truststore.p12']],
    [['jks', 'pkcs12'], true, ['keystore.jks', 'truststore.jks', 'keystore.p12', 'truststore.p12']],
    [['jks', 'pkcs12'], false, ['keystore.jks', 'keystore.p12']],
  ])('%j, trust=%s', (formats, trust, keys) => {
    expect(storeKeys(spec(formats), trust)).toEqual(keys);
  });
});

describe('keystoreInputsHash: a digest of every input, from cached digests only', () => {
  const wants = wantsOf({
    [A.keystores]: 'jks',
    [A.keystorePasswordSecret]: 'pw/password',
    [A.truststoreFrom]: 'upstream,configmap/bundle',
  });
  const digests = { 'tls.crt': 'd-crt', 'tls.key': 'd-key', 'ca.crt': 'd-ca', 'keystore.jks': 'd-out', 'user.txt': 'd-user' };
  const refs: Record<string, string | null | undefined> = {
    'Secret/pw:password': 'd-pw',
    'Secret/upstream:ca.crt': 'd-up',
    'ConfigMap/bundle:ca-bundle.crt': 'd-bundle',
  };
  const lookup =
    (over: Record<string, string | null | undefined> = {}): DigestLookup =>
    (kind, name, key) => {
      const k = `${kind}/${name}:${key}`;
      return k in over ? over[k] : refs[k];
    };
  const hash = (w = wants, d: Record<string, string> = digests, l = lookup()) => {
    const h = keystoreInputsHash(w, d, l);
    if (isRefusal(h)) throw new Error(h.message);
    return h;
  };
  const h0 = hash();

  test('stable: same inputs, same hash (32 hex chars)', () => {
    expect(h0).toMatch(/^[0-9a-f]{32}$/);
    expect(hash()).toBe(h0);
  });

  test('outputs and unrelated keys do not feed back into the hash', () => {
    expect(hash(wants, { ...digests, 'keystore.jks': 'other', 'truststore.jks': 'x', 'user.txt': 'changed' })).toBe(h0);
  });

  test.each(['tls.crt', 'tls.key', 'ca.crt'])('a new %s changes it', (k) => {
    expect(hash(wants, { ...digests, [k]: 'new' })).not.toBe(h0);
  });

  test('ca.crt appearing or disappearing changes it', () => {
    const { 'ca.crt': _ca, ...noCa } = digests;
    expect(hash(wants, noCa)).not.toBe(h0);
  });

  test('choosing the legacy-des PKCS#12 profile changes it; naming the default does not (no rebuild on upgrade)', () => {
    const w = (profile?: string) =>
      wantsOf({
        [A.keystores]: 'jks',
        [A.keystorePasswordSecret]: 'pw/password',
        [A.truststoreFrom]: 'upstream,configmap/bundle',
        ...(profile ? { [A.pkcs12Profile]: profile } : {}),
      });
    expect(hash(w('modern'))).toBe(h0);
    expect(hash(w('legacy-des'))).not.toBe(h0);
  });

  test('a rotated password (new digest in the password Secret) changes it', () => {
    expect(hash(wants, digests, lookup({ 'Secret/pw:password': 'd-pw2' }))).not.toBe(h0);
  });

  test('a changed truststore-from source changes it', () => {
    expect(hash(wants, digests, lookup({ 'Secret/upstream:ca.crt': 'd-up2' }))).not.toBe(h0);
    expect(hash(wants, digests, lookup({ 'ConfigMap/bundle:ca-bundle.crt': 'd-bundle2' }))).not.toBe(h0);
  });

  test('a changed literal password changes it', () => {
    const a = wantsOf({ [A.keystores]: 'jks', [A.keystorePassword]: 'one' });
    const b = wantsOf({ [A.keystores]: 'jks', [A.keystorePassword]: 'two' });
    expect(hash(a)).not.toBe(hash(b));
  });

  test.each<[string, Record<string, string>]>([
    ['formats', { [A.keystores]: 'jks,pkcs12' }],
    ['alias', { [A.keystoreAlias]: 'other' }],
    ['cert-info', { [A.certInfo]: 'true' }],
    ['one more trust source', { [A.truststoreFrom]: 'upstream,configmap/bundle,secret/pw:password' }],
  ])('a different %s changes it', (_name, over) => {
    const w = wantsOf({
      [A.keystores]: 'jks',
      [A.keystorePasswordSecret]: 'pw/password',
      [A.truststoreFrom]: 'upstream,configmap/bundle',
      ...over,
    });
    expect(hash(w)).not.toBe(h0);
  });

  test('the flavour changes it (same stores asked through cert-utils vs annotary)', () => {
    const native = wantsOf({ [A.keystores]: 'jks', [A.keystoreAlias]: 'alias', [A.keystorePassword]: 'changeme' });
    const cu = wantsOf({ [A.cuGenerateJavaKeystores]: 'true' });
    expect(hash(native)).not.toBe(hash(cu));
  });

  test('a literal password and a password Secret are different inputs even when the texts coincide', () => {
    // A user who pasted the base64 value from `kubectl get secret -o yaml` into keystore-password
    // and then switches to keystore-password-secret (the right fix) changes the store password from
    // "cGFzcw==" to "pass": the stores must be rebuilt. Secret digests are over the stored base64
    // text, the literal's over its own text, so both parts are valueDigest("cGFzcw==").
    const literal = wantsOf({ [A.keystores]: 'jks', [A.keystorePassword]: b64('pass') });
    const secret = wantsOf({ [A.keystores]: 'jks', [A.keystorePasswordSecret]: 'pw/password' });
    const viaSecret = hash(secret, digests, lookup({ 'Secret/pw:password': valueDigest(b64('pass')) }));
    expect(viaSecret).not.toBe(hash(literal));
  });

  test('no stores, no cert-info: still a hash (nothing referenced)', () => {
    expect(hash({ certInfo: false }, digests, noRefs)).toMatch(/^[0-9a-f]{32}$/);
  });

  test('refusals name what is missing', () => {
    const pwGone = refusalOf(keystoreInputsHash(wants, digests, lookup({ 'Secret/pw:password': undefined })));
    expect(pwGone.reason).toBe('PasswordSecretMissing');
    expect(pwGone.message).toContain('"pw"');
    const pwKeyGone = refusalOf(keystoreInputsHash(wants, digests, lookup({ 'Secret/pw:password': null })));
    expect(pwKeyGone.reason).toBe('PasswordKeyMissing');
    expect(pwKeyGone.message).toContain('"password"');
    const trustGone = refusalOf(keystoreInputsHash(wants, digests, lookup({ 'ConfigMap/bundle:ca-bundle.crt': undefined })));
    expect(trustGone.reason).toBe('TruststoreSourceMissing');
    expect(trustGone.message).toContain('"bundle"');
    const trustKeyGone = refusalOf(keystoreInputsHash(wants, digests, lookup({ 'Secret/upstream:ca.crt': null })));
    expect(trustKeyGone.reason).toBe('TruststoreSourceMissing');
    expect(trustKeyGone.message).toContain('"ca.crt"');
  });
});

describe('desiredKeystoreData writes the wanted stores', () => {
  test('jks+pkcs12 with a CA: four stores, all managed, real JKS content', () => {
    const w = wantsOf({ [A.keystores]: 'jks,pkcs12', [A.keystoreAlias]: 'web' });
    const o = observe(w, tlsData(ec));
    const c = changeOf(desiredKeystoreData(o));
    expect(Object.keys(c.set).sort()).toEqual(['keystore.jks', 'keystore.p12', 'truststore.jks', 'truststore.p12']);
    expect(c.managed).toEqual(['keystore.jks', 'keystore.p12', 'truststore.jks', 'truststore.p12']);
    expect(c.remove).toEqual([]);
    expect(c.inputsHash).toBe(o.inputsHash);
    const [entry] = readJks(Buffer.from(c.set['keystore.jks'], 'base64'), 'changeit');
    expect(entry).toMatchObject({ kind: 'key', alias: 'web' });
    expect(readJks(Buffer.from(c.set['truststore.jks'], 'base64'), 'changeit').map((e) => e.alias)).toEqual(['ca0']);
  });

  test('no ca.crt and no trust sources: keystores only', () => {
    const { 'ca.crt': _ca, ...data } = tlsData(ec);
    const c = changeOf(desiredKeystoreData(observe(wantsOf({ [A.keystores]: 'jks,p12' }), data)));
    expect(c.managed).toEqual(['keystore.jks', 'keystore.p12']);
  });

  test('extra trust (truststore-from) makes a truststore even without ca.crt', () => {
    const { 'ca.crt': _ca, ...data } = tlsData(ec);
    const c = changeOf(desiredKeystoreData(observe(wantsOf({ [A.keystores]: 'jks' }), data, { extraTrustPem: [rsa.ca] })));
    expect(c.managed).toEqual(['keystore.jks', 'truststore.jks']);
  });

  test('cert-info writes tls.crt.info and ca.crt.info', () => {
    const c = changeOf(desiredKeystoreData(observe(wantsOf({ [A.certInfo]: 'true' }), tlsData(ec))));
    expect(c.managed).toEqual(['ca.crt.info', 'tls.crt.info']);
    expect(Buffer.from(c.set['tls.crt.info'], 'base64').toString()).toMatch(/Subject:.*CN=localhost/);
  });

  test('a missing tls.crt or tls.key is refused as MissingKey', () => {
    const w = wantsOf({ [A.keystores]: 'jks' });
    const { 'tls.key': _k, ...noKey } = tlsData(ec);
    const { 'tls.crt': _c, ...noCert } = tlsData(ec);
    expect(refusalOf(desiredKeystoreData(observe(w, noKey))).reason).toBe('MissingKey');
    expect(refusalOf(desiredKeystoreData(observe(w, noCert))).reason).toBe('MissingKey');
  });

  test('PKI failures become refusals with the PKI reason', () => {
    const w = wantsOf({ [A.keystores]: 'jks' });
    expect(refusalOf(desiredKeystoreData(observe(w, { ...tlsData(ec), 'tls.key': b64(rsa.keyPkcs8) }))).reason).toBe('KeyMismatch');
    const p12 = wantsOf({ [A.keystores]: 'pkcs12', [A.keystorePassword]: 'pässwort' });
    expect(refusalOf(desiredKeystoreData(observe(p12, tlsData(ec)))).reason).toBe('InvalidPassword');
  });

  test('a new input hash with unchanged bytes still yields a change (records the new source-hash)', () => {
    const w = wantsOf({ [A.keystores]: 'jks' });
    const first = observe(w, tlsData(ec));
    const settled = apply(first, changeOf(desiredKeystoreData(first)));
    const c = changeOf(desiredKeystoreData({ ...settled, inputsHash: 'something-else' }));
    expect(c).toMatchObject({ set: {}, remove: [], inputsHash: 'something-else' });
  });
});

describe('annotary.io/store-keys names the keys the stores are written to (#17, cert-utils issue #96)', () => {
  test('renamed stores are written to the named keys, the others keep theirs, and a second look writes nothing', () => {
    const w = wantsOf({ [A.keystores]: 'jks,pkcs12', [A.storeKeys]: 'keystore.jks=server.jks, truststore.p12 = trust.p12' });
    expect(w.stores?.keyNames).toEqual({ 'keystore.jks': 'server.jks', 'truststore.p12': 'trust.p12' });
    const data = tlsData(ec);
    const c = changeOf(desiredKeystoreData(observe(w, data)));
    expect(Object.keys(c.set).sort()).toEqual(['keystore.p12', 'server.jks', 'trust.p12', 'truststore.jks']);
    expect(c.managed).toEqual(['keystore.p12', 'server.jks', 'trust.p12', 'truststore.jks']);
    expect(readJks(Buffer.from(c.set['server.jks'], 'base64'), 'changeit')[0]).toMatchObject({ kind: 'key', alias: 'certificate' });
    const after = { ...data, ...c.set };
    expect(desiredKeystoreData(observe(w, after, { managed: c.managed, record: c.record, currentHash: c.inputsHash }))).toBeUndefined();
  });

  test('renaming moves the store: the old key is removed, the new one written', () => {
    const w0 = wantsOf({ [A.keystores]: 'jks' });
    const data = tlsData(ec);
    const c0 = changeOf(desiredKeystoreData(observe(w0, data)));
    const w1 = wantsOf({ [A.keystores]: 'jks', [A.storeKeys]: 'keystore.jks=app.jks' });
    const c1 = changeOf(desiredKeystoreData(observe(w1, { ...data, ...c0.set }, { managed: c0.managed, record: c0.record })));
    expect(Object.keys(c1.set)).toEqual(['app.jks']);
    expect(c1.remove).toEqual(['keystore.jks']);
  });

  test.each<[string, string]>([
    ['not a mapping', 'server.jks'],
    ['an unknown store file', 'keystore.pem=x.pem'],
    ['an input as target', 'keystore.jks=tls.crt'],
    ['the certificate details as target', 'keystore.jks=tls.crt.info'],
    ['an invalid data key', 'keystore.jks=a b'],
    ['two stores on one key', 'keystore.jks=store, keystore.p12=store'],
    ['a store onto another store left as it is', 'keystore.jks=keystore.p12'],
  ])('refused with InvalidAnnotation: %s', (_n, value) => {
    const r = refusalOf(parseKeystoreSpec({ [A.keystores]: 'jks,pkcs12', [A.storeKeys]: value }, compat, 'changeit'));
    expect(r.reason).toBe('InvalidAnnotation');
    expect(r.message).toContain('annotary.io/store-keys');
  });
});

describe('desiredKeystoreData is idempotent: applying its change, then asking again, gives nothing', () => {
  test('property over formats, aliases, passwords, cert-info, flavour and stale managed keys', () => {
    const alias = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/);
    const password = fc.stringMatching(/^[\x20-\x7e]{1,16}$/);
    const native = fc
      .record({
        formats: fc.constantFrom('jks', 'pkcs12', 'p12', 'jks,pkcs12'),
        alias: fc.option(alias, { nil: undefined }),
        password: fc.option(password, { nil: undefined }),
        certInfo: fc.boolean(),
      })
      .map((r) => ({
        [A.keystores]: r.formats,
        ...(r.alias !== undefined ? { [A.keystoreAlias]: r.alias } : {}),
        ...(r.password !== undefined ? { [A.keystorePassword]: r.password } : {}),
        ...(r.certInfo ? { [A.certInfo]: 'true' } : {}),
      }));
    const certUtils = fc.record({ password: fc.option(password, { nil: undefined }), certInfo: fc.boolean() }).map((r) => ({
      [A.cuGenerateJavaKeystores]: 'true',
      ...(r.password !== undefined ? { [A.cuJavaKeystorePassword]: r.password } : {}),
      ...(r.certInfo ? { [A.cuGenerateCertInfo]: 'true' } : {}),
    }));
    const allOutputs = ['keystore.jks', 'truststore.jks', 'keystore.p12', 'truststore.p12', 'tls.crt.info', 'ca.crt.info'];
    fc.assert(
      fc.property(
        fc.oneof(native, certUtils),
        fc.boolean(), // with ca.crt
        fc.subarray(allOutputs), // keys an earlier configuration left behind (managed)
        (annotations, withCa, stale) => {
          const wants = wantsOf(annotations);
          const data = tlsData(ec);
          if (!withCa) delete data['ca.crt'];
          for (const k of stale) data[k] = b64(`old ${k}`);
          const o0 = observe(wants, data, { ...wrote(data, stale), currentHash: 'old' });
          const c = changeOf(desiredKeystoreData(o0));
          const o1 = apply(o0, c);
          expect(desiredKeystoreData(o1)).toBeUndefined();
          // and the stores are byte-stable: rebuilding from scratch gives the same bytes
          const fresh = changeOf(desiredKeystoreData(observe(wants, tlsData(ec), { currentHash: 'x' })));
          for (const k of c.managed) expect(o1.data[k]).toBe(fresh.set[k]);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('as the Secret cache holds it (values of the inputs only, digests of every key) a settled Secret gives nothing', () => {
    const wants = wantsOf({ [A.keystores]: 'jks,p12', [A.certInfo]: 'true' });
    const settled = apply(observe(wants, tlsData(ec)), changeOf(desiredKeystoreData(observe(wants, tlsData(ec)))));
    const cached = {
      ...settled,
      data: Object.fromEntries(KEYSTORE_INPUTS.filter((k) => k in settled.data).map((k) => [k, settled.data[k]])),
    };
    expect(Object.keys(cached.data).length).toBeLessThan(Object.keys(cached.digests).length);
    expect(desiredKeystoreData(cached)).toBeUndefined();
    // a store changed behind annotary's back is noticed by its digest and rewritten
    const tampered = changeOf(
      desiredKeystoreData({ ...cached, digests: { ...cached.digests, 'keystore.jks': valueDigest(b64('other')) } }),
    );
    expect(Object.keys(tampered.set)).toEqual(['keystore.jks']);
  });
});

describe('desiredKeystoreData never touches a key it neither wants nor manages', () => {
  test('property over random user keys and random managed lists', () => {
    const outputs = ['keystore.jks', 'truststore.jks', 'keystore.p12', 'truststore.p12', 'tls.crt.info', 'ca.crt.info'];
    const reserved = new Set([...outputs, 'tls.crt', 'tls.key', 'ca.crt']);
    const userKey = fc.stringMatching(/^[-._a-zA-Z0-9]{1,12}$/).filter((k) => !reserved.has(k));
    fc.assert(
      fc.property(
        fc.dictionary(userKey, fc.base64String({ maxLength: 24 }), { maxKeys: 6 }),
        fc.constantFrom('jks', 'pkcs12', 'jks,pkcs12', undefined),
        fc.boolean(),
        fc.subarray(outputs),
        fc.func(fc.boolean()),
        (userData, formats, certInfo, managedOutputs, managesUserKey) => {
          const annotations: Record<string, string> = {
            ...(formats ? { [A.keystores]: formats } : {}),
            ...(certInfo ? { [A.certInfo]: 'true' } : {}),
          };
          const wants = wantsOf(annotations);
          // earlier runs' keys: present with stale bytes; some user keys were once managed too
          const managedUser = Object.keys(userData).filter((k) => managesUserKey(k));
          const managed = [...managedOutputs, ...managedUser];
          const data = { ...tlsData(ec), ...userData, ...Object.fromEntries(managedOutputs.map((k) => [k, b64(`stale ${k}`)])) };
          const r = desiredKeystoreData(observe(wants, data, wrote(data, managed)));
          if (r === undefined) return;
          const c = changeOf(r);
          const wanted = new Set([
            ...(wants.stores ? storeKeys(wants.stores, true) : []),
            ...(certInfo ? ['tls.crt.info', 'ca.crt.info'] : []),
          ]);
          for (const k of Object.keys(c.set)) expect(wanted.has(k)).toBe(true);
          for (const k of c.remove) {
            expect(managed).toContain(k);
            expect(wanted.has(k)).toBe(false);
          }
          for (const k of Object.keys(data)) {
            if (!wanted.has(k) && !managed.includes(k)) {
              expect(Object.keys(c.set)).not.toContain(k);
              expect(c.remove).not.toContain(k);
            }
          }
          expect(c.managed.every((k) => wanted.has(k))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('desiredKeystoreData: ownership of existing keys', () => {
  test('native flavour: an unmanaged key with other bytes is a KeyConflict, and nothing is written', () => {
    for (const key of ['keystore.jks', 'truststore.p12']) {
      const w = wantsOf({ [A.keystores]: 'jks,pkcs12' });
      const r = refusalOf(desiredKeystoreData(observe(w, { ...tlsData(ec), [key]: b64('user bytes') })));
      expect(r.reason).toBe('KeyConflict');
      expect(r.message).toContain(`"${key}"`);
      expect(r.message).not.toContain(b64('user bytes'));
    }
  });

  test('cert-info: an unmanaged tls.crt.info with other text is a KeyConflict', () => {
    const w = wantsOf({ [A.certInfo]: 'true' });
    expect(refusalOf(desiredKeystoreData(observe(w, { ...tlsData(ec), 'tls.crt.info': b64('mine') }))).reason).toBe('KeyConflict');
  });

  test('the same key once managed is simply overwritten', () => {
    const w = wantsOf({ [A.keystores]: 'jks' });
    const data = { ...tlsData(ec), 'keystore.jks': b64('old') };
    const c = changeOf(desiredKeystoreData(observe(w, data, wrote(data, ['keystore.jks']))));
    expect(Object.keys(c.set)).toContain('keystore.jks');
  });

  test('an unmanaged key that already holds exactly the wanted bytes is adopted, not refused', () => {
    const w = wantsOf({ [A.keystores]: 'jks' });
    const built = changeOf(desiredKeystoreData(observe(w, tlsData(ec))));
    const c = changeOf(desiredKeystoreData(observe(w, { ...tlsData(ec), ...built.set })));
    expect(c.set).toEqual({});
    expect(c.managed).toEqual(built.managed);
  });

  test('cert-utils flavour takes over keystore.jks and truststore.jks written by cert-utils-operator', () => {
    const w = wantsOf({ [A.cuGenerateJavaKeystores]: 'true' });
    const c = changeOf(
      desiredKeystoreData(
        observe(w, { ...tlsData(ec), 'keystore.jks': b64('cert-utils bytes'), 'truststore.jks': b64('cert-utils trust') }),
      ),
    );
    expect(Object.keys(c.set).sort()).toEqual(['keystore.jks', 'truststore.jks']);
    expect(c.managed).toEqual(['keystore.jks', 'truststore.jks']);
    const [entry] = readJks(Buffer.from(c.set['keystore.jks'], 'base64'), 'changeme');
    expect(entry).toMatchObject({ kind: 'key', alias: 'alias' });
    expect(readJks(Buffer.from(c.set['truststore.jks'], 'base64'), 'changeme').map((e) => e.alias)).toEqual(['alias0']);
  });

  test("annotary.io/keystores beside cert-utils' annotation takes over cert-utils' stores and rewrites them in its conventions", () => {
    const w = wantsOf({ [A.keystores]: 'jks,pkcs12', [A.cuGenerateJavaKeystores]: 'true' });
    const c = changeOf(
      desiredKeystoreData(
        observe(w, { ...tlsData(ec), 'keystore.jks': b64('cert-utils bytes'), 'truststore.jks': b64('cert-utils trust') }),
      ),
    );
    expect(Object.keys(c.set).sort()).toEqual(['keystore.jks', 'keystore.p12', 'truststore.jks', 'truststore.p12']);
    expect(readJks(Buffer.from(c.set['keystore.jks'], 'base64'), 'changeme')[0]).toMatchObject({ kind: 'key', alias: 'alias' });
    expect(readJks(Buffer.from(c.set['truststore.jks'], 'base64'), 'changeme').map((e) => e.alias)).toEqual(['alias0']);
  });

  test('the takeover does not extend to annotary-only keys: without cert-utils in effect, a keystore.jks already there is a conflict', () => {
    const w = wantsOf({ [A.keystores]: 'jks', [A.cuGenerateJavaKeystores]: 'false' });
    expect(refusalOf(desiredKeystoreData(observe(w, { ...tlsData(ec), 'keystore.jks': b64('x') }))).reason).toBe('KeyConflict');
  });
});

describe('desiredKeystoreData removes exactly the managed keys when the stores are no longer wanted', () => {
  test('annotation removed: managed keys present in data are removed, user keys stay, managed list empties', () => {
    const data = { ...tlsData(ec), 'keystore.jks': b64('k'), 'truststore.jks': b64('t'), 'user.txt': b64('mine'), 'app.conf': b64('c') };
    const c = changeOf(
      desiredKeystoreData(
        observe({ certInfo: false }, data, { ...wrote(data, ['keystore.jks', 'truststore.jks', 'keystore.p12']), currentHash: 'old' }),
      ),
    );
    expect(c.set).toEqual({});
    expect(c.remove.sort()).toEqual(['keystore.jks', 'truststore.jks']); // keystore.p12 is already gone
    expect(c.managed).toEqual([]);
  });

  test('format switch jks,pkcs12 → jks: the PKCS#12 files go, the JKS ones stay', () => {
    const both = wantsOf({ [A.keystores]: 'jks,pkcs12' });
    const o = observe(both, tlsData(ec));
    const settled = apply(o, changeOf(desiredKeystoreData(o)));
    const jksOnly = wantsOf({ [A.keystores]: 'jks' });
    const c = changeOf(
      desiredKeystoreData(
        observe(jksOnly, settled.data, { managed: settled.managed, record: settled.record, currentHash: settled.currentHash }),
      ),
    );
    expect(c.set).toEqual({});
    expect(c.remove.sort()).toEqual(['keystore.p12', 'truststore.p12']);
    expect(c.managed).toEqual(['keystore.jks', 'truststore.jks']);
  });

  test('a CA removed from the Secret removes the truststore it fed', () => {
    const w = wantsOf({ [A.keystores]: 'jks' });
    const o = observe(w, tlsData(ec));
    const settled = apply(o, changeOf(desiredKeystoreData(o)));
    const { 'ca.crt': _ca, ...noCa } = settled.data;
    const c = changeOf(
      desiredKeystoreData(observe(w, noCa, { managed: settled.managed, record: settled.record, currentHash: settled.currentHash })),
    );
    expect(c.remove).toEqual(['truststore.jks']);
    expect(c.managed).toEqual(['keystore.jks']);
  });
});

describe('ownership is proven, not claimed: a copied annotary.io/managed-keys or owner record authorises nothing', () => {
  const w = wantsOf({ [A.keystores]: 'jks' });
  const userData = { 'app.conf': b64('user config'), 'db-password': b64('hunter2') };

  test('a managed-keys list naming user keys, without a record: the keys stay, are released, and a Warning says so', () => {
    const data = { ...tlsData(ec), ...userData };
    const c = changeOf(desiredKeystoreData(observe(w, data, { managed: ['app.conf', 'db-password'] })));
    expect(c.remove).toEqual([]);
    expect(c.released).toEqual(['app.conf', 'db-password']);
    expect(Object.keys(c.set)).toEqual(['keystore.jks', 'truststore.jks']);
    expect(c.managed).toEqual(['keystore.jks', 'truststore.jks']);
  });

  test("the annotation removed: nothing of the user is deleted (today's data loss), even on a TLS Secret listing tls.key and ca.crt", () => {
    const data = { ...tlsData(ec), ...userData };
    const c = changeOf(
      desiredKeystoreData(
        observe({ certInfo: false }, data, { managed: ['app.conf', 'db-password', 'tls.key', 'ca.crt'], currentHash: 'x' }),
      ),
    );
    expect(c.remove).toEqual([]);
    expect(c.released).toEqual(['app.conf', 'ca.crt', 'db-password', 'tls.key']);
    expect(c.managed).toEqual([]);
  });

  test("a record copied from another object (other uid) proves only values byte for byte annotary's", () => {
    const built = changeOf(desiredKeystoreData(observe(w, tlsData(ec))));
    const copiedFrom = { ...tlsData(ec), ...built.set };
    const record = {
      uid: 'another-object',
      keys: { ...wrote(copiedFrom, ['keystore.jks', 'truststore.jks']).record!.keys, 'app.conf': valueDigest(b64('theirs')) },
    };
    // keystore.jks is exactly what annotary wrote there, app.conf is not
    const data = { ...copiedFrom, ...userData };
    const gone = changeOf(
      desiredKeystoreData(
        observe({ certInfo: false }, data, { managed: ['keystore.jks', 'truststore.jks', 'app.conf'], record, currentHash: 'x' }),
      ),
    );
    expect(gone.remove).toEqual(['keystore.jks', 'truststore.jks']);
    expect(gone.released).toEqual(['app.conf']);
  });

  test('a copied claim on a key annotary wants, with other bytes, is a KeyConflict, not an overwrite', () => {
    const data = { ...tlsData(ec), 'keystore.jks': b64("the user's own keystore") };
    const r = desiredKeystoreData(
      observe(w, data, { managed: ['keystore.jks'], record: { uid: 'another-object', keys: { 'keystore.jks': valueDigest(b64('x')) } } }),
    );
    expect(refusalOf(r).reason).toBe('KeyConflict');
  });

  test("a record bound to this object proves its keys: a store edited behind annotary's back is restored", () => {
    const settled = apply(observe(w, tlsData(ec)), changeOf(desiredKeystoreData(observe(w, tlsData(ec)))));
    expect(settled.record).toMatchObject({ uid: UID });
    const tamperedData = { ...settled.data, 'keystore.jks': b64('edited') };
    const c = changeOf(
      desiredKeystoreData(observe(w, tamperedData, { managed: settled.managed, record: settled.record, currentHash: settled.currentHash })),
    );
    expect(Object.keys(c.set)).toEqual(['keystore.jks']);
  });

  test('stores written by an earlier version (a list, no record) are proven by their bytes and get their record', () => {
    const built = changeOf(desiredKeystoreData(observe(w, tlsData(ec))));
    const data = { ...tlsData(ec), ...built.set };
    const c = changeOf(desiredKeystoreData(observe(w, data, { managed: built.managed, currentHash: built.inputsHash })));
    expect(c.set).toEqual({});
    expect(c.released).toEqual([]);
    expect(c.record).toEqual({ uid: UID, keys: wrote(data, built.managed).record!.keys });
  });

  test('property: with claims copied from elsewhere, no user value is ever removed or overwritten', () => {
    const userKey = fc.stringMatching(/^[-._a-zA-Z0-9]{1,12}$/).filter((k) => !['tls.crt', 'tls.key', 'ca.crt'].includes(k));
    const outputs = ['keystore.jks', 'truststore.jks', 'keystore.p12', 'truststore.p12', 'tls.crt.info', 'ca.crt.info'];
    fc.assert(
      fc.property(
        fc.dictionary(fc.oneof(userKey, fc.constantFrom(...outputs)), fc.base64String({ minLength: 4, maxLength: 24 }), {
          minKeys: 1,
          maxKeys: 6,
        }),
        fc.constantFrom('jks', 'pkcs12', 'jks,pkcs12', undefined),
        fc.boolean(),
        fc.boolean(),
        (userValues, formats, claimAll, withForeignRecord) => {
          const wants = wantsOf(formats ? { [A.keystores]: formats } : {});
          const data = { ...tlsData(ec), ...userValues };
          const claimed = claimAll ? Object.keys(data) : Object.keys(userValues);
          const record = withForeignRecord
            ? { uid: 'another-object', keys: Object.fromEntries(claimed.map((k) => [k, valueDigest(b64('x'))])) }
            : undefined;
          const r = desiredKeystoreData(observe(wants, data, { managed: claimed, record, currentHash: 'x' }));
          if (r === undefined || isRefusal(r)) return; // nothing written at all
          for (const k of Object.keys(data)) {
            expect(r.remove).not.toContain(k);
            if (Object.hasOwn(r.set, k)) expect(valueDigest(r.set[k])).toBe(valueDigest(data[k])); // an existing value is never changed
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("a ConfigMap truststore cert-utils-operator wrote is handed over (#17), annotary's own is not", () => {
  const bundle = chainFixture('p256').ca;
  const observeCm = (annotations: Record<string, string>) => {
    const spec = parseTruststoreSpec(annotations, compat, 'changeit');
    if (!spec || isRefusal(spec)) throw new Error('expected a truststore spec');
    const digests = { 'ca-bundle.crt': valueDigest(bundle), 'truststore.jks': valueDigest(b64('written by cert-utils')) };
    return desiredTruststoreData({
      spec,
      bundle,
      password: 'literal' in spec.password ? spec.password.literal : undefined,
      digests,
      uid: UID,
      managed: [],
      inputsHash: 'h',
    });
  };
  test('cert-utils generate-java-truststore: truststore.jks rewritten and managed', () => {
    const c = observeCm({ [A.cuGenerateJavaTruststore]: 'true' });
    if (!c || isRefusal(c)) throw new Error(`expected a change, got ${JSON.stringify(c)}`);
    expect(c.managed).toEqual(['truststore.jks']);
    expect(readJks(Buffer.from(c.set['truststore.jks'], 'base64'), 'changeme').map((e) => e.alias)).toEqual(['alias0']);
  });
  test('annotary.io/truststore over a truststore.jks annotary cannot prove it wrote: KeyConflict', () => {
    expect(refusalOf(observeCm({ [A.truststore]: 'jks' })).reason).toBe('KeyConflict');
  });
});
