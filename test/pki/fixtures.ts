// Test fixtures made by the real `openssl` binary, so the parsers see exactly what users
// paste into Secrets. Generated once into os.tmpdir() and reused (RSA 4096 keygen is slow).
import { execFileSync } from 'node:child_process';
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
    writeFileSync(path.join(d, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
    writeFileSync(
      path.join(d, 'leaf.ext'),
      `basicConstraints=CA:FALSE\nkeyUsage=critical,${leafUsage}\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n`,
    );
    openssl(['genpkey', ...KEYGEN[caKind], '-out', 'root.key'], d);
    openssl(['genpkey', ...KEYGEN[caKind], '-out', 'int.key'], d);
    openssl(['genpkey', ...KEYGEN[kind], '-out', 'leaf.key'], d);
    openssl(['pkey', '-in', 'leaf.key', '-traditional', '-out', 'leaf-trad.key'], d);
    openssl(['req', '-x509', '-new', '-key', 'root.key', '-subj', `/O=annotary test/CN=Root ${kind}`, '-days', '3650', '-sha256',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'root.crt'], d);
    const sign = (csrKey: string, cn: string, caCrt: string, caKey: string, ext: string, out: string, serial: string) => {
      openssl(['req', '-new', '-key', csrKey, '-subj', `/O=annotary test/CN=${cn}`, '-out', `${out}.csr`], d);
      openssl(['x509', '-req', '-in', `${out}.csr`, '-CA', caCrt, '-CAkey', caKey, '-set_serial', serial, '-days', '825', '-sha256',
        '-extfile', ext, '-out', out], d);
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

/** A scratch directory for one test file; removed by the caller in afterAll. */
export function scratchDir(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `annotary-${name}-`));
}

/** A fresh self-signed P-256 certificate valid for `days` (not cached: its clock matters), with openssl's own dates. */
export function shortLivedCert(days: number): { cert: string; key: string; notBefore: string; notAfter: string } {
  const d = scratchDir('short-lived');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=short-lived', '-days', String(days), '-keyout', 'k.pem', '-out', 'c.pem'], d);
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
    execFileSync('bash', ['-c', 'for i in $(seq 1000); do openssl req -x509 -key ca.key -subj "/CN=bundle-ca-$i" -set_serial "$i" -days 3650 -sha256; done > bundle.pem'], { cwd: d });
  });
  const end = '-----END CERTIFICATE-----\n';
  const certs = read(dir, 'bundle.pem').split(end).slice(0, count);
  if (certs.length < count) throw new Error(`caBundle holds 1000 certificates, not ${count}`);
  return certs.map((c) => c + end).join('');
}
