// Hostile-input properties: whatever bytes reach the public API, the only thing that can
// come out is a result or a PkiError (which the controllers turn into a readable Event).
import fc from 'fast-check';
import { PkiError } from '../../src/pki/errors.js';
import { pemBlocks, parseCertificates, parsePrivateKey } from '../../src/pki/pem.js';
import { buildStores, buildTruststore } from '../../src/pki/stores.js';
import { chainFixture } from './fixtures.js';
import { expectReason } from './helpers.js';

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

/**
 * The block splitter pemBlocks replaced, kept as a reference: a backtracking regex, right but
 * quadratic (every BEGIN without an END rescans the rest), so only fed short inputs here.
 * It answers the blocks' labels and bodies, or undefined where pemBlocks must throw MalformedPEM.
 */
function referenceBlocks(text: string): { label: string; body: string }[] | undefined {
  const found = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g)];
  if (found.length !== (text.match(/-----BEGIN /g)?.length ?? 0)) return undefined;
  const bodies = found.map((m) => ({
    label: m[1],
    body: m[2]
      .split(/\r?\n/)
      .map((l) => l.trim())
      .join(''),
  }));
  return bodies.every((b) => /^[A-Za-z0-9+/]*={0,2}$/.test(b.body) && b.body.length % 4 === 0 && b.body.length > 0) ? bodies : undefined;
}

describe('pemBlocks reads PEM in one pass (property)', () => {
  it('it splits PEM-like text as the backtracking regex did, on short inputs', () => {
    const label = fc.constantFrom('CERTIFICATE', 'A B', 'x', '');
    const often = <T>(usual: T, other: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: fc.constant(usual), weight: 4 }, { arbitrary: other, weight: 1 });
    const body = fc.array(often('QUJD', fc.constantFrom('QUJDRA==', 'QU', '', '  QUJD  ', '!!!', '-----')), { minLength: 1, maxLength: 3 });
    // mostly blocks whose END names their BEGIN's label, with cut-off, mismatched and glued lines in between
    const tail = often('-----', fc.constantFrom('', '----------BEGIN A B-----', '-----BEGIN x-----'));
    const block = fc
      .tuple(label, body, often('same', label), tail)
      .map(([l, b, end, tail]) => [`-----BEGIN ${l}-----`, ...b, `-----END ${end === 'same' ? l : end}${tail}`]);
    const noise = fc.constantFrom('Bag Attributes', '-----BEGIN CERTIFICATE', '-----END CERTIFICATE-----', '-----', '').map((l) => [l]);
    fc.assert(
      fc.property(fc.array(fc.oneof(block, block, noise), { maxLength: 5 }), fc.constantFrom('\n', '\r\n'), (parts, eol) => {
        const text = parts.flat().join(eol);
        const expected = referenceBlocks(text);
        let got: { label: string; body: string }[] | undefined;
        try {
          got = pemBlocks(text, 'input').map((b) => ({ label: b.label, body: b.der.toString('base64') }));
        } catch (err) {
          if (!(err instanceof PkiError) || err.reason !== 'MalformedPEM') throw err;
        }
        // (the reference's bodies are base64 text: compare them decoded and encoded again)
        expect(got).toEqual(expected?.map((b) => ({ label: b.label, body: Buffer.from(b.body, 'base64').toString('base64') })));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['a megabyte of BEGIN lines without END', '-----BEGIN A-----\n'.repeat(58_000)],
    ['a BEGIN with a half-megabyte label', `-----BEGIN ${'A'.repeat(500_000)}-----\nQUJD\n-----END ${'A'.repeat(500_000)}-----`],
    ['BEGIN lines, each with its END far away', `${'-----BEGIN A-----\n'.repeat(29_000)}${'QUJD\n'.repeat(100)}-----END A-----\n`],
  ])('%s: MalformedPEM', (_what, text) => {
    expectReason(() => pemBlocks(text, 'tls.crt'), 'MalformedPEM');
  });
});
