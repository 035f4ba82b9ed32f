// The `ca` issuer: what goes into tls.crt and ca.crt for a root CA and for an intermediate CA
// Secret, and its refusals (a CA Secret that cannot sign, a request it cannot sign).
import { jest } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { caIssuer } from '../../src/issuers/ca.js';
import { isIssued, type Issued, type SignRequest } from '../../src/issuers/issuer.js';
import { isRefusal } from '../../src/kube/refusal.js';
import { createCsr, generateKey, selfSignedCa, signCsr } from '../../src/pki/x509.js';

jest.setTimeout(60_000);
const NOW = new Date('2031-03-01T00:00:00Z');
const DAY = 86_400_000;
const validity = { notBefore: NOW, notAfter: new Date(NOW.getTime() + 3650 * DAY) };

async function request(): Promise<SignRequest> {
  const csr = await createCsr(await generateKey('ec-p256'), { dnsNames: ['svc.test'], ipAddresses: [] });
  return { csr, profile: { durationMs: 30 * DAY, usages: ['server'], isCA: false }, now: NOW };
}

describe('caIssuer', () => {
  it('a root CA: tls.crt is the leaf alone, ca.crt the root; validity backdated 5 minutes', async () => {
    const keyPem = await generateKey('ec-p256');
    const certPem = await selfSignedCa(keyPem, 'root', validity);
    const res = await caIssuer('ns/root', { certPem, keyPem }).sign(await request());
    expect(isIssued(res)).toBe(true);
    const { chain, ca } = res as Issued;
    expect(chain).toHaveLength(1);
    expect(new X509Certificate(ca).fingerprint256).toBe(new X509Certificate(certPem).fingerprint256);
    const leaf = new X509Certificate(chain[0]);
    expect(leaf.checkIssued(new X509Certificate(certPem))).toBe(true);
    expect(new Date(leaf.validFrom).getTime()).toBe(NOW.getTime() - 5 * 60_000);
    expect(new Date(leaf.validTo).getTime()).toBe(NOW.getTime() + 30 * DAY);
  });

  it('an intermediate CA Secret: tls.crt is leaf + intermediate, ca.crt the root from its tls.crt or its ca.crt', async () => {
    const rootKey = await generateKey('ec-p256');
    const root = await selfSignedCa(rootKey, 'root', validity);
    const intKey = await generateKey('rsa-2048');
    const csr = await createCsr(intKey, { commonName: 'int', dnsNames: [], ipAddresses: [] });
    const int = await signCsr(csr, { ...validity, usages: [], isCA: true }, { certPem: root, keyPem: rootKey });
    const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
    const withRoot = (await caIssuer('ns/int', { certPem: int + root, keyPem: intKey }).sign(await request())) as Issued;
    expect(withRoot.chain.map(fp)).toEqual([fp(withRoot.chain[0]), fp(int)]);
    expect(fp(withRoot.ca)).toBe(fp(root));
    const viaBundle = (await caIssuer('ns/int', { certPem: int, keyPem: intKey, caBundlePem: root }).sign(await request())) as Issued;
    expect(viaBundle.chain.map(fp).slice(1)).toEqual([fp(int)]);
    expect(fp(viaBundle.ca)).toBe(fp(root));
  });

  it('refuses, naming the cause, when the CA Secret holds no CA or the wrong key', async () => {
    const keyPem = await generateKey('ec-p256');
    const root = await selfSignedCa(keyPem, 'root', validity);
    const otherKey = await generateKey('ec-p256');
    const leaf = await signCsr(
      await createCsr(otherKey, { dnsNames: ['x.test'], ipAddresses: [] }),
      { ...validity, usages: ['server'] },
      { certPem: root, keyPem },
    );
    for (const [data, cause] of [
      [{ certPem: leaf, keyPem: otherKey }, 'NotCA'],
      [{ certPem: root, keyPem: otherKey }, 'KeyMismatch'],
      [{ certPem: 'garbage', keyPem }, 'NoCertificate'],
    ] as const) {
      const res = await caIssuer('ns/ca', data).sign(await request());
      expect(isRefusal(res) && res.reason).toBe('IssuerNotCA');
      expect(isRefusal(res) && res.message).toContain(`(${cause})`);
    }
  });

  it('refuses a request it cannot sign with the PKI reason', async () => {
    const keyPem = await generateKey('ec-p256');
    const certPem = await selfSignedCa(keyPem, 'root', validity);
    const res = await caIssuer('ns/ca', { certPem, keyPem }).sign({ ...(await request()), csr: 'nope' });
    expect(isRefusal(res) && res.reason).toBe('InvalidCSR');
  });
});
