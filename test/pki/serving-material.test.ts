// What the reload controller checks of a TLS Secret before it rolls pods onto it (#17, Reloader
// #116): the first certificate of tls.crt certifies tls.key and is within its validity period.
// The dates are the fixture certificate's own: no test reads the clock.
import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import { servingMaterialProblem } from '../../src/pki/serving-material.js';
import { chainFixture, oddKeys } from './fixtures.js';

const ec = chainFixture('p256');
const other = chainFixture('p256', 'rotated');
const rsa = chainFixture('rsa2048');
const leaf = new X509Certificate(ec.leaf);
const DAY = 86_400_000;
const during = new Date(new Date(leaf.validFrom).getTime() + DAY);

describe('servingMaterialProblem', () => {
  test.each([
    ['EC, chain of 2', ec],
    ['RSA, chain of 3', rsa],
  ])('%s: none', (_, f) => {
    expect(servingMaterialProblem(f.certPem(f === rsa ? 3 : 2), f.keyTraditional, during)).toBeUndefined();
  });

  test.each([
    ['another key of the same curve', other.keyPkcs8],
    ['a key of another type', rsa.keyPkcs8],
  ])('tls.key is %s: key_mismatch, naming the leaf', (_, key) => {
    const p = servingMaterialProblem(ec.certPem(2), key, during);
    expect(p?.kind).toBe('key_mismatch');
    expect(p?.message).toBe(`tls.key does not match the first certificate of tls.crt ("${leaf.subject.replace(/\n/g, ', ')}")`);
  });

  test('the matching certificate is not the first (a server presents the first as its leaf): key_mismatch', () => {
    expect(servingMaterialProblem(ec.intermediate + ec.leaf, ec.keyPkcs8, during)?.kind).toBe('key_mismatch');
  });

  test('a day after the leaf expired: expired, with its end date', () => {
    const p = servingMaterialProblem(ec.certPem(2), ec.keyPkcs8, new Date(new Date(leaf.validTo).getTime() + DAY));
    expect(p?.kind).toBe('expired');
    expect(p?.message).toContain(`expired on ${new Date(leaf.validTo).toISOString().replace(/\.\d{3}Z$/, 'Z')}`);
  });

  test('a day before the leaf is valid: not_yet_valid, with when it becomes valid', () => {
    const p = servingMaterialProblem(ec.certPem(2), ec.keyPkcs8, new Date(new Date(leaf.validFrom).getTime() - DAY));
    expect(p?.kind).toBe('not_yet_valid');
    expect(p?.validFrom).toEqual(new Date(leaf.validFrom));
  });

  test.each([
    ['tls.crt is not PEM', 'garbage', ec.keyPkcs8, 'NoCertificate'],
    ['tls.crt is truncated', ec.leaf.slice(0, 200), ec.keyPkcs8, 'MalformedPEM'],
    ['tls.key holds no key', ec.leaf, ec.leaf, 'NoPrivateKey'],
  ])('%s: unparsable, with the PKI reason', (_, crt, key, reason) => {
    const p = servingMaterialProblem(crt, key, during);
    expect(p?.kind).toBe('unparsable');
    expect(p?.message.startsWith(`${reason}: `)).toBe(true);
  });

  test('keys it cannot vouch for (encrypted, Ed25519) are no problem: the application may read them', () => {
    expect(servingMaterialProblem(ec.leaf, oddKeys().encryptedPkcs8, during)).toBeUndefined();
    expect(servingMaterialProblem(ec.leaf, oddKeys().ed25519, during)).toBeUndefined();
  });
});
