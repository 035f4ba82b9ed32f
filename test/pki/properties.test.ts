// Hostile-input properties: whatever bytes reach the public API, the only thing that can
// come out is a result or a PkiError (which the controllers turn into a readable Event).
import fc from 'fast-check';
import { PkiError } from '../../src/pki/errors.js';
import { parseCertificates, parsePrivateKey } from '../../src/pki/pem.js';
import { buildStores, buildTruststore } from '../../src/pki/stores.js';
import { chainFixture } from './fixtures.js';

function onlyPkiErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof PkiError)) throw err;
  }
}

const f = chainFixture('p256');

/** Real PEM with a byte range replaced by arbitrary characters: hits the DER parsers, not just the PEM regex. */
const mutatedPem = (pem: string) =>
  fc
    .tuple(fc.nat({ max: pem.length - 1 }), fc.nat({ max: 64 }), fc.string({ maxLength: 64 }))
    .map(([at, len, ins]) => pem.slice(0, at) + ins + pem.slice(at + len));

/** Valid PEM armour around random DER-ish bytes. */
const armoured = (label: string) =>
  fc.uint8Array({ maxLength: 400 }).map(
    (b) =>
      `-----BEGIN ${label}-----\n${Buffer.from(b)
        .toString('base64')
        .replace(/(.{64})/g, '$1\n')}\n-----END ${label}-----\n`,
  );

describe('parsers throw nothing but PkiError on arbitrary input (property)', () => {
  it('arbitrary strings and bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.uint8Array().map((b) => Buffer.from(b).toString('latin1')),
        ),
        (s) => {
          onlyPkiErrors(() => parseCertificates(s));
          onlyPkiErrors(() => parsePrivateKey(s));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes inside valid PEM armour', () => {
    const labels = ['CERTIFICATE', 'PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'PUBLIC KEY'];
    fc.assert(
      fc.property(fc.constantFrom(...labels).chain(armoured), (pem) => {
        onlyPkiErrors(() => parseCertificates(pem));
        onlyPkiErrors(() => parsePrivateKey(pem));
      }),
      { numRuns: 300 },
    );
  });

  it('mutations of real certificates and keys, through the whole store builder', () => {
    fc.assert(
      fc.property(mutatedPem(f.certPem(2)), mutatedPem(f.keyTraditional), mutatedPem(f.ca), (certPem, keyPem, caPem) => {
        onlyPkiErrors(() => buildStores({ certPem, keyPem, caPem, password: 'pw', alias: 'a', formats: ['jks'] }));
        onlyPkiErrors(() => buildTruststore(caPem, 'pw', ['jks'], 'ca'));
      }),
      { numRuns: 120 },
    );
  });
});
