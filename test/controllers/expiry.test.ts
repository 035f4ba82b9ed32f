// The pure parts of the expiry controller: the leaf's validity, the threshold, the verdict,
// cert-utils-operator's alert keys.
import { AnnotationReader } from '../../src/annotations.js';
import { certUtilsAlert, expiryVerdict, warningThreshold } from '../../src/controllers/expiry.js';
import { leafValidity } from '../../src/pki/chain.js';
import { servingMaterialProblem } from '../../src/pki/serving-material.js';
import { isRefusal } from '../../src/kube/refusal.js';
import { chainFixture, shortLivedCert } from '../pki/fixtures.js';

const H = 3_600_000;

describe('leafValidity', () => {
  test('matches openssl x509 -startdate/-enddate', () => {
    const c = shortLivedCert(2);
    expect(leafValidity(c.cert)).toEqual({ notBeforeMs: Date.parse(c.notBefore), notAfterMs: Date.parse(c.notAfter) });
  });

  test('the first certificate of a chain is the leaf', () => {
    const f = chainFixture('p256');
    expect(leafValidity(f.certPem(3))).toEqual(leafValidity(f.leaf));
    expect(leafValidity(f.certPem(3))).not.toEqual(leafValidity(f.root));
  });

  test('no certificate: throws (the controller publishes no series)', () => {
    expect(() => leafValidity('not pem')).toThrow();
  });
});

describe('one reading of the leaf validity', () => {
  test('at notAfter itself the leaf is still valid (RFC 5280: inclusive), for the expiry Warning and the check before rolling alike', () => {
    const f = chainFixture('p256');
    const v = leafValidity(f.leaf);
    const at = (ms: number) => ({
      expiry: expiryVerdict(v, ms, H),
      serving: servingMaterialProblem(f.leaf, f.keyPkcs8, new Date(ms))?.kind,
    });
    // the last instant of the period: a Warning that it expires (under the threshold), nothing held
    expect(at(v.notAfterMs).serving).toBeUndefined();
    expect(at(v.notAfterMs).expiry).toMatchObject({
      warn: true,
      message: `the certificate in tls.crt expires at ${new Date(v.notAfterMs).toISOString()} (in 0h, under the annotary.io/expiry-warning threshold)`,
    });
    expect(at(v.notAfterMs + 1000).serving).toBe('expired');
    expect(at(v.notAfterMs + 1000).expiry).toMatchObject({
      warn: true,
      message: `the certificate in tls.crt expired at ${new Date(v.notAfterMs).toISOString()}`,
    });
    expect(at(v.notBeforeMs - 1000).serving).toBe('not_yet_valid');
    expect(at(v.notBeforeMs).serving).toBeUndefined();
  });
});

describe('warningThreshold', () => {
  test('the annotation wins over the default; a bad duration is refused', () => {
    expect(warningThreshold(undefined, 720 * H)).toBe(720 * H);
    expect(warningThreshold('48h', 720 * H)).toBe(48 * H);
    const bad = warningThreshold('a month', 720 * H);
    expect(isRefusal(bad) && bad.reason).toBe('InvalidAnnotation');
  });
});

describe('expiryVerdict', () => {
  const v = { notBeforeMs: 0, notAfterMs: 1000 * H };

  test('outside the threshold: recheck when it is crossed', () => {
    expect(expiryVerdict(v, 275 * H, 720 * H)).toEqual({ warn: false, recheckInMs: 5 * H + 1 });
  });

  test('far outside: the recheck is capped (timers hold ~24 days at most)', () => {
    const r = expiryVerdict(v, 0, H);
    expect(r.warn).toBe(false);
    expect(!r.warn && r.recheckInMs).toBe(12 * H);
  });

  test('inside the threshold: warn with the expiry time', () => {
    const r = expiryVerdict(v, 990 * H, 720 * H);
    expect(r.warn && r.message).toMatch(/expires at .* \(in 10h/);
  });

  test('expired: warn that it expired', () => {
    const r = expiryVerdict(v, 1001 * H, 720 * H);
    expect(r.warn && r.message).toMatch(/expired at/);
  });
});

describe("cert-utils-operator's expiry alert keys (#17)", () => {
  const reader = new AnnotationReader(true);
  const CU = 'cert-utils-operator.redhat-cop.io/';
  test('off unless generate-cert-expiry-alert is exactly "true"; defaults 90 days and 1h', () => {
    expect(certUtilsAlert({ [`${CU}generate-cert-expiry-alert`]: 'True' }, reader)).toBeUndefined();
    expect(certUtilsAlert({}, reader)).toBeUndefined();
    expect(certUtilsAlert({ [`${CU}generate-cert-expiry-alert`]: 'true' }, reader)).toEqual({
      thresholdMs: 90 * 86_400_000,
      repeatMs: 3_600_000,
    });
  });
  test('Go durations, as cert-utils parses them; one Go refuses is InvalidAnnotation; --compat=false reads none', () => {
    const on = { [`${CU}generate-cert-expiry-alert`]: 'true' };
    expect(
      certUtilsAlert(
        { ...on, [`${CU}cert-soon-to-expire-threshold`]: '720h', [`${CU}cert-soon-to-expire-check-frequency`]: '1h30m' },
        reader,
      ),
    ).toEqual({ thresholdMs: 720 * 3_600_000, repeatMs: 90 * 60_000 });
    const bad = certUtilsAlert({ ...on, [`${CU}cert-soon-to-expire-threshold`]: '30d' }, reader);
    expect(isRefusal(bad) && bad.reason).toBe('InvalidAnnotation');
    expect(certUtilsAlert(on, new AnnotationReader(false))).toBeUndefined();
  });
  test('the Warning names the threshold that applied', () => {
    const v = { notBeforeMs: 0, notAfterMs: 10 * 3_600_000 };
    const w = expiryVerdict(v, 0, 20 * 3_600_000, `${CU}cert-soon-to-expire-threshold`);
    expect(w.warn && w.message).toContain(`under the ${CU}cert-soon-to-expire-threshold threshold`);
  });
});
