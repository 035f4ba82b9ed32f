import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keystoreCommand } from '../../src/keystore-cli.js';
import { readJks } from '../../src/pki/jks.js';
import { chainFixture, scratchDir } from './fixtures.js';

const f = chainFixture('rsa2048');
const dir = scratchDir('cli');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await keystoreCommand(args, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
  return { code, out, err };
}

const files = (() => {
  const p = (n: string, c: string) => (writeFileSync(path.join(dir, n), c), path.join(dir, n));
  return {
    cert: p('tls.crt', f.certPem(2)),
    key: p('tls.key', f.keyTraditional),
    ca: p('ca.crt', f.ca),
    pw: p('pw.txt', 'from-file\n'),
    bad: p('bad.key', 'nonsense'),
  };
})();

describe('annotary keystore writes Java stores from PEM files', () => {
  it('writes all four stores and reports names and sizes, never the password', async () => {
    const out = path.join(dir, 'all');
    const r = await run(['--cert', files.cert, '--key', files.key, '--ca', files.ca, '--password', 's3cret-pw', '--out-dir', out]);
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['keystore.jks', 'keystore.p12', 'truststore.jks', 'truststore.p12']);
    expect(r.out).toHaveLength(4);
    expect(r.out[0]).toMatch(/^wrote .*keystore\.jks \(\d+ bytes\)$/);
    expect([...r.out, ...r.err].join('\n')).not.toContain('s3cret-pw');
  });

  it('without --ca no truststores; --formats and --alias are honoured; password file newline is stripped', async () => {
    const out = path.join(dir, 'jks-only');
    const r = await run([
      '--cert',
      files.cert,
      '--key',
      files.key,
      '--password-file',
      files.pw,
      '--alias',
      'Server',
      '--formats',
      'jks',
      '--out-dir',
      out,
    ]);
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(['keystore.jks']);
    expect(readJks(readFileSync(path.join(out, 'keystore.jks')), 'from-file')[0].alias).toBe('server');
  });

  it('bad input → exit 2 and exactly one line "annotary keystore: <reason>: <message>"', async () => {
    const out = path.join(dir, 'bad');
    const r = await run(['--cert', files.cert, '--key', files.bad, '--password', 'pw', '--out-dir', out]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual(['annotary keystore: NoPrivateKey: private key: no PRIVATE KEY block found']);
    expect(existsSync(out)).toBe(false);
  });

  it('usage errors → exit 2 with one line', async () => {
    for (const args of [
      [],
      ['--cert', files.cert],
      ['--bogus'],
      ['--cert', files.cert, '--key', files.key, '--password', 'x', '--password-file', files.pw, '--out-dir', dir],
    ]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/^annotary keystore: Usage: /);
    }
    expect((await run(['--help'])).code).toBe(0);
  });
});
