// The single entry point for controllers and the CLI: PEM in, Java stores out.
// Pure and deterministic: the same input always yields byte-identical files, so the
// controller can compare hashes and skip updates (and pod restarts) when nothing changed.
import type { X509Certificate } from 'node:crypto';
import { orderChain, validityWarnings, dedupe, subjectLine } from './chain.js';
import { PkiError } from './errors.js';
import { checkJavaCertificate, checkJavaKey } from './java.js';
import { writeJks, type JksEntry } from './jks.js';
import { parseCertificates, parsePrivateKey, pemBlocks } from './pem.js';
import type { Pkcs12Profile } from './pkcs12.js';
import { checkPkcs12Password, writePkcs12Keystore, writePkcs12Truststore } from './pkcs12.js';

export type StoreFormat = 'jks' | 'pkcs12';

export interface StoreInput {
  certPem: string;
  keyPem: string;
  caPem?: string;
  extraTrustPem?: string[];
  password: string;
  alias: string;
  formats: StoreFormat[];
  /** Truststore aliases are `${prefix}${i}`; defaults to `alias`. */
  trustAliasPrefix?: string;
  /** the PKCS#12 files' algorithms (pkcs12.ts); default modern */
  pkcs12Profile?: Pkcs12Profile;
}

export interface BuiltStores {
  files: Record<string, Buffer>;
  warnings: string[];
}

export const FILE_NAMES = {
  jks: { keystore: 'keystore.jks', truststore: 'truststore.jks' },
  pkcs12: { keystore: 'keystore.p12', truststore: 'truststore.p12' },
} as const;

function checkParams(password: string, alias: string, formats: StoreFormat[]): void {
  if (password.length === 0) throw new PkiError('InvalidPassword', 'store password must not be empty');
  if (alias.length === 0) throw new PkiError('InvalidAlias', 'alias must not be empty');
  for (const f of formats)
    if (f !== 'jks' && f !== 'pkcs12') throw new PkiError('UnsupportedFormat', `unknown store format "${String(f)}"`);
  if (formats.includes('pkcs12')) checkPkcs12Password(password); // fail before any work
}

function warningText(w: { subject: string; expired: boolean; notYetValid: boolean }): string {
  return `certificate "${w.subject}" is ${w.expired ? 'expired' : 'not yet valid'}`;
}

/** Parse every CA source, each certificate one Java can read; empty or whitespace-only sources are skipped. */
function trustCerts(sources: (string | undefined)[]): X509Certificate[] {
  const certs: X509Certificate[] = [];
  sources.forEach((pem, i) => {
    if (pem === undefined || pem.trim() === '') return;
    const what = i === 0 ? 'CA bundle' : `extra trust bundle ${i}`;
    const parsed = parseCertificates(pem, what);
    for (const c of parsed) checkJavaCertificate(c, `${what} certificate "${subjectLine(c)}"`);
    certs.push(...parsed);
  });
  return dedupe(certs);
}

function truststores(
  certs: X509Certificate[],
  password: string,
  formats: StoreFormat[],
  prefix: string,
  profile: Pkcs12Profile | undefined,
): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  const named = certs.map((c, i) => ({ alias: `${prefix}${i}`, der: c.raw, timestamp: new Date(c.validFrom) }));
  if (formats.includes('jks')) {
    const entries: JksEntry[] = named.map((n) => ({ kind: 'cert', alias: n.alias, timestamp: n.timestamp, cert: n.der }));
    files[FILE_NAMES.jks.truststore] = writeJks(entries, password);
  }
  if (formats.includes('pkcs12')) files[FILE_NAMES.pkcs12.truststore] = writePkcs12Truststore(named, password, profile);
  return files;
}

/** Build keystores (and truststores when CA certificates are given). Throws only PkiError. */
export function buildStores(input: StoreInput): BuiltStores {
  try {
    return build(input);
  } catch (err) {
    if (err instanceof PkiError) throw err;
    throw new PkiError('MalformedPEM', 'unexpected failure while building stores');
  }
}

function build(input: StoreInput): BuiltStores {
  checkParams(input.password, input.alias, input.formats);
  const key = parsePrivateKey(input.keyPem, 'private key');
  checkJavaKey(key.pkcs8, 'private key');
  const { chain, warnings } = orderChain(parseCertificates(input.certPem, 'certificate'), key.key);
  for (const c of chain) checkJavaCertificate(c, `certificate "${subjectLine(c)}"`);
  const leaf = chain[0];
  const ders = chain.map((c) => c.raw);
  // The entry timestamp is the leaf's notBefore, not "now": byte stability over time.
  const leafNotBefore = new Date(leaf.validFrom);
  const files: Record<string, Buffer> = {};
  if (input.formats.includes('jks')) {
    files[FILE_NAMES.jks.keystore] = writeJks(
      [{ kind: 'key', alias: input.alias, timestamp: leafNotBefore, pkcs8: key.pkcs8, chain: ders }],
      input.password,
    );
  }
  if (input.formats.includes('pkcs12')) {
    files[FILE_NAMES.pkcs12.keystore] = writePkcs12Keystore({
      alias: input.alias,
      pkcs8: key.pkcs8,
      chain: ders,
      password: input.password,
      profile: input.pkcs12Profile,
    });
  }
  const cas = trustCerts([input.caPem, ...(input.extraTrustPem ?? [])]);
  const caWarnings = validityWarnings(cas);
  if (cas.length > 0)
    Object.assign(files, truststores(cas, input.password, input.formats, input.trustAliasPrefix ?? input.alias, input.pkcs12Profile));
  return {
    files,
    warnings: [...warnings, ...caWarnings].map(warningText),
  };
}

/** Truststores alone, for ConfigMaps holding a CA bundle. EmptyCABundle when it has no certs. */
export function buildTruststore(
  caPem: string,
  password: string,
  formats: StoreFormat[],
  aliasPrefix: string,
  pkcs12Profile?: Pkcs12Profile,
): Record<string, Buffer> {
  try {
    checkParams(password, aliasPrefix, formats);
    const hasCert = pemBlocks(caPem, 'CA bundle').some((b) => b.label === 'CERTIFICATE');
    if (!hasCert) throw new PkiError('EmptyCABundle', 'CA bundle contains no certificates');
    return truststores(trustCerts([caPem]), password, formats, aliasPrefix, pkcs12Profile);
  } catch (err) {
    if (err instanceof PkiError) throw err;
    throw new PkiError('MalformedPEM', 'unexpected failure while building truststore');
  }
}
