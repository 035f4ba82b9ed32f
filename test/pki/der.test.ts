// The DER encoder's X.509 pieces whose rules are easy to get wrong: the UTCTime/GeneralizedTime
// boundaries (RFC 5280 4.1.2.5), named bits without trailing zeros, INTEGER signs, string types.
import { directoryString, namedBits, time, unsignedInteger } from '../../src/pki/der.js';

const hex = (b: Buffer) => b.toString('hex');

describe('time', () => {
  it.each([
    ['1949-12-31T23:59:59Z', '18', '19491231235959Z'],
    ['1950-01-01T00:00:00Z', '17', '500101000000Z'],
    ['2049-12-31T23:59:59.999Z', '17', '491231235959Z'],
    ['2050-01-01T00:00:00Z', '18', '20500101000000Z'],
  ])('%s is tag %s "%s"', (iso, tag, text) => {
    const der = time(new Date(iso));
    expect(hex(der.subarray(0, 1))).toBe(tag);
    expect(der[1]).toBe(text.length);
    expect(der.subarray(2).toString('ascii')).toBe(text);
  });
});

describe('namedBits', () => {
  it.each([
    [[0], '03020780'], // digitalSignature
    [[0, 2], '030205a0'], // + keyEncipherment
    [[0, 5, 6], '03020186'], // + keyCertSign, cRLSign
    [[8], '0303070080'], // decipherOnly: a second byte
    [[], '030100'],
  ])('%j is %s', (bits, der) => expect(hex(namedBits(bits))).toBe(der));
});

it('unsignedInteger strips leading zeros and keeps a high bit positive', () => {
  expect(hex(unsignedInteger(Buffer.from([0, 0, 0x7f])))).toBe('02017f');
  expect(hex(unsignedInteger(Buffer.from([0x80, 1])))).toBe('0203008001');
  expect(hex(unsignedInteger(Buffer.from([0, 0])))).toBe('020100');
});

it('directoryString is a PrintableString when it can be, UTF8String otherwise', () => {
  expect(hex(directoryString("Web (a)-b.c/d:e=f?g+h,i'"))).toMatch(/^1318/);
  expect(hex(directoryString('a*b'))).toBe('0c03612a62');
  expect(hex(directoryString('é'))).toBe('0c02c3a9');
});
