// `annotary keystore`: the same store builder the operator uses, for CI pipelines and for
// reproducing what the controller would write. Exit codes: 0 ok, 2 bad input or usage.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PkiError } from './pki/errors.js';
import { buildStores, type StoreFormat } from './pki/stores.js';

const USAGE = `Usage: annotary keystore --cert tls.crt --key tls.key [--ca ca.crt]
                         (--password PW | --password-file FILE) [--alias NAME]
                         [--formats jks,pkcs12] --out-dir DIR

Writes keystore.jks / keystore.p12 (and truststore.jks / truststore.p12 when --ca is given)
into DIR. Output is byte-identical for identical input.`;

export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

const defaultIo: CliIo = {
  stdout: (l) => process.stdout.write(`${l}\n`),
  stderr: (l) => process.stderr.write(`${l}\n`),
};

class UsageError extends Error {}

function readInput(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Write via a temp file + rename so readers never see a half-written store. */
function writeAtomic(dir: string, name: string, data: Buffer): void {
  const tmp = path.join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, path.join(dir, name));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export async function keystoreCommand(argv: string[], io: CliIo = defaultIo): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        cert: { type: 'string' },
        key: { type: 'string' },
        ca: { type: 'string' },
        password: { type: 'string' },
        'password-file': { type: 'string' },
        alias: { type: 'string', default: 'alias' },
        formats: { type: 'string', default: 'jks,pkcs12' },
        'out-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    for (const req of ['cert', 'key', 'out-dir'] as const) if (!values[req]) throw new UsageError(`--${req} is required`);
    if ((values.password === undefined) === (values['password-file'] === undefined)) {
      throw new UsageError('exactly one of --password or --password-file is required');
    }
    // A trailing newline in a password file is an editor artefact, not part of the password.
    const password = values.password ?? readInput(values['password-file']!, 'password').replace(/\r?\n$/, '');
    const formats = values.formats
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
    for (const f of formats) if (f !== 'jks' && f !== 'pkcs12') throw new UsageError(`unknown format "${f}" (jks, pkcs12)`);
    if (formats.length === 0) throw new UsageError('--formats must name at least one format');

    const built = buildStores({
      certPem: readInput(values.cert!, 'certificate'),
      keyPem: readInput(values.key!, 'key'),
      caPem: values.ca ? readInput(values.ca, 'CA') : undefined,
      password,
      alias: values.alias,
      formats: formats as StoreFormat[],
    });
    const outDir = values['out-dir']!;
    mkdirSync(outDir, { recursive: true });
    for (const name of Object.keys(built.files).sort()) {
      writeAtomic(outDir, name, built.files[name]);
      io.stdout(`wrote ${path.join(outDir, name)} (${built.files[name].length} bytes)`);
    }
    for (const w of built.warnings) io.stderr(`annotary keystore: warning: ${w}`);
    return 0;
  } catch (err) {
    if (err instanceof PkiError) io.stderr(`annotary keystore: ${err.reason}: ${err.message}`);
    else if (err instanceof UsageError) io.stderr(`annotary keystore: Usage: ${err.message}`);
    else if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      io.stderr(`annotary keystore: Usage: ${(err as Error).message}`);
    else io.stderr(`annotary keystore: IOError: ${(err as NodeJS.ErrnoException).code ?? 'unexpected failure'}`);
    return 2;
  }
}
