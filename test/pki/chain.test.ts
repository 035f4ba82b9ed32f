import { keyMatchesCert, orderChain } from '../../src/pki/chain.js';
import { parseCertificates, parsePrivateKey } from '../../src/pki/pem.js';
import { chainFixture } from './fixtures.js';
import { expectReason, selfSigned } from './helpers.js';

const cn = (c: { subject: string }) => c.subject.split('\n').pop();

describe('the private key must belong to the certificate', () => {
  it('matching key and leaf are accepted', () => {
    const f = chainFixture('rsa2048');
    expect(keyMatchesCert(parsePrivateKey(f.keyPkcs8).key, parseCertificates(f.leaf)[0])).toBe(true);
  });
  it('a key from another chain → KeyMismatch (RSA cert, EC key and vice versa)', () => {
    const rsa = chainFixture('rsa2048');
    const ec = chainFixture('p256');
    expectReason(() => orderChain(parseCertificates(rsa.certPem(2)), parsePrivateKey(ec.keyPkcs8).key), 'KeyMismatch');
    expectReason(() => orderChain(parseCertificates(ec.certPem(1)), parsePrivateKey(rsa.keyPkcs8).key), 'KeyMismatch');
    expectReason(() => orderChain(parseCertificates(ec.certPem(2)), parsePrivateKey(chainFixture('p384').keyPkcs8).key), 'KeyMismatch');
    // same type and size, another key
    expect(keyMatchesCert(parsePrivateKey(chainFixture('rsa2048', 'rotated').keyPkcs8).key, parseCertificates(rsa.leaf)[0])).toBe(false);
    expect(keyMatchesCert(parsePrivateKey(chainFixture('p256', 'rotated').keyPkcs8).key, parseCertificates(ec.leaf)[0])).toBe(false);
  });
});

describe('chains given out of order are put leaf-first', () => {
  const f = chainFixture('p256');
  const key = parsePrivateKey(f.keyPkcs8).key;
  it.each([
    ['root, intermediate, leaf', () => f.root + f.intermediate + f.leaf],
    ['intermediate, leaf, root', () => f.intermediate + f.leaf + f.root],
    ['intermediate, root, leaf', () => f.intermediate + f.root + f.leaf],
  ])('%s', (_name, pem) => {
    const { chain } = orderChain(parseCertificates(pem()), key);
    expect(chain.map(cn)).toEqual(['CN=localhost', 'CN=Intermediate p256', 'CN=Root p256']);
  });
  it('duplicate certificates are dropped, not reported as foreign', () => {
    expect(orderChain(parseCertificates(f.leaf + f.intermediate + f.intermediate), key).chain).toHaveLength(2);
  });
});

describe('certificates that are not part of the chain are rejected', () => {
  const f = chainFixture('p256');
  const key = parsePrivateKey(f.keyPkcs8).key;
  it('a root from another hierarchy → ChainBroken', () => {
    const err = expectReason(
      () => orderChain(parseCertificates(f.leaf + f.intermediate + chainFixture('rsa2048').root), key),
      'ChainBroken',
    );
    expect(err.message).toContain('Root rsa2048');
  });
  it('a root with no intermediate to link it → ChainBroken', () =>
    void expectReason(() => orderChain(parseCertificates(f.leaf + f.root), key), 'ChainBroken'));
  it('same subject and issuer name but a different key → ChainBroken (signatures are checked)', () => {
    // The twin hierarchy uses identical names, so only signature verification can tell them apart.
    const other = chainFixture('p256', 'twin');
    expect(other.intermediate).not.toBe(f.intermediate);
    expectReason(() => orderChain(parseCertificates(f.leaf + other.intermediate), key), 'ChainBroken');
  });
});

describe('expired certificates are accepted with a warning', () => {
  it('an expired leaf yields { expired: true } and no error', () => {
    const old = selfSigned('expired.example', new Date('2001-01-01T00:00:00Z'), new Date('2002-01-01T00:00:00Z'));
    const { chain, warnings } = orderChain(parseCertificates(old.certPem), parsePrivateKey(old.keyPem).key);
    expect(chain).toHaveLength(1);
    expect(warnings).toEqual([{ subject: 'CN=expired.example', expired: true, notYetValid: false }]);
  });
  it('warnings are relative to the supplied clock', () => {
    const f = chainFixture('p256');
    const { warnings } = orderChain(parseCertificates(f.certPem(2)), parsePrivateKey(f.keyPkcs8).key, new Date('2199-01-01'));
    expect(warnings.map((w) => w.expired)).toEqual([true, true]);
  });
});
