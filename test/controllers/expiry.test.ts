// The pure parts of the expiry controller: the leaf's validity, the threshold, the verdict.
import { expiryVerdict, leafValidity, warningThreshold } from '../../src/controllers/expiry.js';
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
