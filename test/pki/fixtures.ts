// Test fixtures made by the real `openssl` binary, so the parsers see exactly what users
// paste into Secrets. Generated once into os.tmpdir() and reused (RSA 4096 keygen is slow).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type KeyKind = 'rsa2048' | 'rsa4096' | 'p256' | 'p384';
export const KEY_KINDS: KeyKind[] = ['rsa2048', 'rsa4096', 'p256', 'p384'];
export type ChainLength = 1 | 2 | 3;

export interface ChainFixture {
  kind: KeyKind;
  dir: string;
  /** The same leaf key in PKCS#8 and in the traditional form (PKCS#1 for RSA, SEC1 for EC). */
  keyPkcs8: string;
  keyTraditional: string;
  root: string;
  intermediate: string;
  /** Leaf signed by the intermediate, and a second leaf (same key) signed by the root. */
  leaf: string;
  leafUnderRoot: string;
  /** tls.crt contents for chain length 1 (leafUnderRoot), 2 (leaf+int), 3 (leaf+int+root). */
  certPem: (len: ChainLength) => string;
  ca: string;
}

const ROOT = path.join(os.tmpdir(), 'annotary-pki-fixtures-v2');

export function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const KEYGEN: Record<KeyKind, string[]> = {
  rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsa4096: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:4096'],
  p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
};

/** Generate into a temp dir, then rename: concurrent Jest workers never see half a fixture. */
function cached(name: string, make: (dir: string) => void): string {
  const final = path.join(ROOT, name);
  if (existsSync(path.join(final, 'done'))) return final;
  mkdirSync(ROOT, { recursive: true });
  const tmp = mkdtempSync(path.join(ROOT, `.${name}-`));
  make(tmp);
  writeFileSync(path.join(tmp, 'done'), '');
  try {
    renameSync(tmp, final);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another worker won the race
  }
  return final;
}

const read = (dir: string, f: string) => readFileSync(path.join(dir, f), 'utf8');

/** CA keys: RSA 2048 under RSA leaves, the leaf's own curve under EC leaves. */
export function chainFixture(kind: KeyKind, tag = 'main'): ChainFixture {
  const caKind: KeyKind = kind.startsWith('rsa') ? 'rsa2048' : kind;
  const dir = cached(`${kind}-${tag}`, (d) => {
    const leafUsage = kind.startsWith('rsa') ? 'digitalSignature,keyEncipherment' : 'digitalSignature';
    writeFileSync(
      path.join(d, 'ca.ext'),
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n',
    );
    writeFileSync(
      path.join(d, 'leaf.ext'),
      `basicConstraints=CA:FALSE\nkeyUsage=critical,${leafUsage}\n` +
        'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
    );
    openssl(['genpkey', ...KEYGEN[caKind], '-out', 'root.key'], d);
    openssl(['genpkey', ...KEYGEN[caKind], '-out', 'int.key'], d);
    openssl(['genpkey', ...KEYGEN[kind], '-out', 'leaf.key'], d);
    openssl(['pkey', '-in', 'leaf.key', '-traditional', '-out', 'leaf-trad.key'], d);
    openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'root.key',
        '-subj',
        `/O=annotary test/CN=Root ${kind}`,
        '-days',
        '3650',
        '-sha256',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-out',
        'root.crt',
      ],
      d,
    );
    const sign = (csrKey: string, cn: string, caCrt: string, caKey: string, ext: string, out: string, serial: string) => {
      openssl(['req', '-new', '-key', csrKey, '-subj', `/O=annotary test/CN=${cn}`, '-out', `${out}.csr`], d);
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${out}.csr`,
          '-CA',
          caCrt,
          '-CAkey',
          caKey,
          '-set_serial',
          serial,
          '-days',
          '825',
          '-sha256',
          '-extfile',
          ext,
          '-out',
          out,
        ],
        d,
      );
    };
    sign('int.key', `Intermediate ${kind}`, 'root.crt', 'root.key', 'ca.ext', 'int.crt', '2');
    sign('leaf.key', 'localhost', 'int.crt', 'int.key', 'leaf.ext', 'leaf.crt', '3');
    sign('leaf.key', 'localhost', 'root.crt', 'root.key', 'leaf.ext', 'leaf-root.crt', '4');
  });
  const root = read(dir, 'root.crt');
  const intermediate = read(dir, 'int.crt');
  const leaf = read(dir, 'leaf.crt');
  const leafUnderRoot = read(dir, 'leaf-root.crt');
  return {
    kind,
    dir,
    keyPkcs8: read(dir, 'leaf.key'),
    keyTraditional: read(dir, 'leaf-trad.key'),
    root,
    intermediate,
    leaf,
    leafUnderRoot,
    certPem: (len) => (len === 1 ? leafUnderRoot : len === 2 ? leaf + intermediate : leaf + intermediate + root),
    ca: root,
  };
}

export interface OddKeys {
  encryptedPkcs8: string;
  encryptedTraditional: string;
  dsaTraditional: string;
  dsaPkcs8: string;
  ed25519: string;
  p521: string;
}

/** Keys we must refuse, each with a precise reason. */
export function oddKeys(): OddKeys {
  const dir = cached('odd-keys', (d) => {
    openssl(['genpkey', ...KEYGEN.p256, '-out', 'k.pem'], d);
    openssl(['pkey', '-in', 'k.pem', '-aes256', '-passout', 'pass:secret', '-out', 'enc8.pem'], d);
    openssl(['ec', '-in', 'k.pem', '-aes256', '-passout', 'pass:secret', '-out', 'enc-trad.pem'], d);
    openssl(['dsaparam', '-genkey', '-noout', '-out', 'dsa-trad.pem', '1024'], d);
    openssl(['pkey', '-in', 'dsa-trad.pem', '-out', 'dsa8.pem'], d);
    openssl(['genpkey', '-algorithm', 'ed25519', '-out', 'ed.pem'], d);
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521', '-out', 'p521.pem'], d);
  });
  return {
    encryptedPkcs8: read(dir, 'enc8.pem'),
    encryptedTraditional: read(dir, 'enc-trad.pem'),
    dsaTraditional: read(dir, 'dsa-trad.pem'),
    dsaPkcs8: read(dir, 'dsa8.pem'),
    ed25519: read(dir, 'ed.pem'),
    p521: read(dir, 'p521.pem'),
  };
}

/**
 * Trust anchors of key kinds beyond the leaf kinds above: a self-signed root of that kind and a P-256 leaf
 * (localhost) it signed, so an openssl s_server can present a chain that only this anchor verifies.
 */
export type AnchorKind = 'p521' | 'ed25519' | 'ed448' | 'rsa-pss' | 'dsa' | 'secp256k1' | 'brainpoolP256r1';
/** The anchors Java 17 can use (keytool lists them, JSSE verifies chains with them). */
export const JAVA_ANCHOR_KINDS: AnchorKind[] = ['p521', 'ed25519', 'ed448', 'rsa-pss', 'dsa'];
/** Curves Java 16+ no longer implements (JDK-8251547): keytool lists such anchors, but no signature verifies. */
export const LEGACY_CURVE_ANCHOR_KINDS: AnchorKind[] = ['secp256k1', 'brainpoolP256r1'];

export interface AnchorFixture {
  kind: AnchorKind;
  dir: string;
  root: string;
  leaf: string;
  leafKey: string;
}

const ANCHOR_KEYGEN: Record<AnchorKind, string[]> = {
  p521: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  ed25519: ['genpkey', '-algorithm', 'ed25519'],
  ed448: ['genpkey', '-algorithm', 'ed448'],
  'rsa-pss': ['genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'],
  dsa: ['genpkey', '-paramfile', 'dsa.param'],
  secp256k1: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  brainpoolP256r1: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1'],
};

export function anchorFixture(kind: AnchorKind): AnchorFixture {
  const dir = cached(`anchor-${kind}`, (d) => {
    if (kind === 'dsa')
      openssl(['genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:2048', '-out', 'dsa.param'], d);
    openssl([...ANCHOR_KEYGEN[kind], '-out', 'root.key'], d);
    // No digest option: openssl picks the one the key type needs (none for EdDSA, PSS padding for RSA-PSS).
    openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'root.key',
        '-subj',
        `/O=annotary test/CN=Root ${kind}`,
        '-days',
        '3650',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-out',
        'root.crt',
      ],
      d,
    );
    const leafExt = 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n';
    writeFileSync(path.join(d, 'leaf.ext'), leafExt);
    openssl(['genpkey', ...KEYGEN.p256, '-out', 'leaf.key'], d);
    openssl(['req', '-new', '-key', 'leaf.key', '-subj', '/O=annotary test/CN=localhost', '-out', 'leaf.csr'], d);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'leaf.csr',
        '-CA',
        'root.crt',
        '-CAkey',
        'root.key',
        '-set_serial',
        '5',
        '-days',
        '825',
        '-extfile',
        'leaf.ext',
        '-out',
        'leaf.crt',
      ],
      d,
    );
  });
  return { kind, dir, root: read(dir, 'root.crt'), leaf: read(dir, 'leaf.crt'), leafKey: read(dir, 'leaf.key') };
}

/**
 * Certificates whose RSA public key sits at or just beyond a limit of Java's RSAKeyFactory: modulus of 512 to
 * 16384 bits, and a public exponent of at most 64 bits when the modulus exceeds 3072 bits. Nobody holds these
 * keys (the modulus is random, forced into a certificate signed by a P-256 CA): they serve as CA bundle entries.
 */
export type RsaEdge = 'rsa512' | 'rsa16384' | 'rsa3072-e72' | 'rsa504' | 'rsa16392' | 'rsa4096-e72';
export const JAVA_RSA_EDGES: RsaEdge[] = ['rsa512', 'rsa16384', 'rsa3072-e72'];
export const NON_JAVA_RSA_EDGES: RsaEdge[] = ['rsa504', 'rsa16392', 'rsa4096-e72'];
const RSA_EDGE_SHAPE: Record<RsaEdge, { bits: number; exponent: string }> = {
  rsa512: { bits: 512, exponent: '010001' },
  rsa16384: { bits: 16384, exponent: '010001' },
  'rsa3072-e72': { bits: 3072, exponent: 'ff'.repeat(9) },
  rsa504: { bits: 504, exponent: '010001' },
  rsa16392: { bits: 16392, exponent: '010001' },
  'rsa4096-e72': { bits: 4096, exponent: 'ff'.repeat(9) },
};

export function rsaEdgeCertificates(): Record<RsaEdge, string> {
  const edges = Object.keys(RSA_EDGE_SHAPE) as RsaEdge[];
  const dir = cached('rsa-edges', (d) => {
    openssl(['genpkey', ...KEYGEN.p256, '-out', 'ca.key'], d);
    openssl(
      ['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/O=annotary test/CN=RSA edge signer', '-days', '3650', '-out', 'ca.crt'],
      d,
    );
    for (const edge of edges) {
      const { bits, exponent } = RSA_EDGE_SHAPE[edge];
      const modulus = randomBytes(bits / 8);
      modulus[0] = modulus[0] | 0x80; // exactly `bits` bits
      modulus[modulus.length - 1] = modulus[modulus.length - 1] | 1;
      // An RSA SubjectPublicKeyInfo in openssl's ASN1_generate_nconf syntax.
      const spki = [
        'asn1=SEQUENCE:spki',
        '[spki]',
        'alg=SEQUENCE:alg',
        'key=BITWRAP,SEQUENCE:rsa',
        '[alg]',
        'oid=OID:rsaEncryption',
        'params=NULL',
        '[rsa]',
        `n=INTEGER:0x${modulus.toString('hex')}`,
        `e=INTEGER:0x${exponent}`,
        '',
      ];
      writeFileSync(path.join(d, `${edge}.cnf`), spki.join('\n'));
      openssl(['asn1parse', '-genconf', `${edge}.cnf`, '-noout', '-out', `${edge}.der`], d);
      openssl(['pkey', '-pubin', '-inform', 'DER', '-in', `${edge}.der`, '-out', `${edge}.pub`], d);
      openssl(['req', '-new', '-key', 'ca.key', '-subj', `/O=annotary test/CN=${edge}`, '-out', `${edge}.csr`], d);
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${edge}.csr`,
          '-CA',
          'ca.crt',
          '-CAkey',
          'ca.key',
          '-force_pubkey',
          `${edge}.pub`,
          '-set_serial',
          '6',
          '-days',
          '3650',
          '-out',
          `${edge}.crt`,
        ],
        d,
      );
    }
  });
  return Object.fromEntries(edges.map((e) => [e, read(dir, `${e}.crt`)])) as Record<RsaEdge, string>;
}

export interface ExplicitEcFixture {
  /** What `openssl ecparam -name prime256v1 -param_enc explicit -genkey` writes: EC PARAMETERS and a SEC1 key, both explicit. */
  key: string;
  /** The same key with the named curve. */
  keyNamed: string;
  /** Self-signed certificates for that key: the public key with explicit parameters, and with the named curve. */
  cert: string;
  certNamed: string;
}

/** A P-256 key written with explicit curve parameters, which Java refuses ("Only named ECParameters supported"). */
export function explicitEcFixture(): ExplicitEcFixture {
  const dir = cached('ec-explicit', (d) => {
    openssl(['ecparam', '-name', 'prime256v1', '-param_enc', 'explicit', '-genkey', '-out', 'key.pem'], d);
    openssl(['ec', '-in', 'key.pem', '-param_enc', 'named_curve', '-out', 'key-named.pem'], d);
    for (const [key, out] of [
      ['key.pem', 'cert.pem'],
      ['key-named.pem', 'cert-named.pem'],
    ]) {
      openssl(['req', '-x509', '-new', '-key', key, '-subj', '/O=annotary test/CN=localhost', '-days', '825', '-out', out], d);
    }
  });
  return {
    key: read(dir, 'key.pem'),
    keyNamed: read(dir, 'key-named.pem'),
    cert: read(dir, 'cert.pem'),
    certNamed: read(dir, 'cert-named.pem'),
  };
}

/** A scratch directory for one test file; removed by the caller in afterAll. */
export function scratchDir(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `annotary-${name}-`));
}

/** A fresh self-signed P-256 certificate valid for `days` (not cached: its clock matters), with openssl's own dates. */
export function shortLivedCert(days: number): { cert: string; key: string; notBefore: string; notAfter: string } {
  const d = scratchDir('short-lived');
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=short-lived',
      '-days',
      String(days),
      '-keyout',
      'k.pem',
      '-out',
      'c.pem',
    ],
    d,
  );
  const dates = execFileSync('openssl', ['x509', '-in', path.join(d, 'c.pem'), '-noout', '-startdate', '-enddate'], { encoding: 'utf8' });
  const field = (name: string) => new RegExp(`${name}=(.*)`).exec(dates)![1].trim();
  const out = { cert: read(d, 'c.pem'), key: read(d, 'k.pem'), notBefore: field('notBefore'), notAfter: field('notAfter') };
  rmSync(d, { recursive: true, force: true });
  return out;
}

/** A CA bundle of `count` (at most 1,000) distinct self-signed P-256 certificates, one key, one serial each: stores that grow with it. */
export function caBundle(count: number): string {
  const dir = cached('ca-bundle-1000', (d) => {
    openssl(['genpkey', ...KEYGEN.p256, '-out', 'ca.key'], d);
    execFileSync(
      'bash',
      [
        '-c',
        'for i in $(seq 1000); do ' +
          'openssl req -x509 -key ca.key -subj "/CN=bundle-ca-$i" -set_serial "$i" -days 3650 -sha256; done > bundle.pem',
      ],
      { cwd: d },
    );
  });
  const end = '-----END CERTIFICATE-----\n';
  const certs = read(dir, 'bundle.pem').split(end).slice(0, count);
  if (certs.length < count) throw new Error(`caBundle holds 1000 certificates, not ${count}`);
  return certs.map((c) => c + end).join('');
}

/**
 * `count` distinct self-signed certificates of about 400 KB of PEM each (a 300,000-character
 * nsComment): a few of them make a CA bundle over Kubernetes' 1 MiB while each stays under the
 * PEM parser's own 1 MiB input limit.
 */
export function bigCertificates(count: number): string[] {
  const dir = cached(`big-certs-${count}`, (d) => {
    for (let i = 0; i < count; i++) {
      const cnf = `[req]\ndistinguished_name=dn\nprompt=no\nx509_extensions=ext\n[dn]\nCN=big ${i}\n[ext]\nnsComment="${'a'.repeat(300_000)}"\n`;
      writeFileSync(path.join(d, `${i}.cnf`), cnf);
      openssl(
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          `${i}.key`,
          '-out',
          `${i}.pem`,
          '-days',
          '3650',
          '-config',
          `${i}.cnf`,
        ],
        d,
      );
    }
  });
  return Array.from({ length: count }, (_, i) => read(dir, `${i}.pem`));
}
