// What a generated key is declared as: `annotary.io/generate.<key>: "type=password,length=32"`,
// a comma list of name=value pairs in the style of kees. GENERATE_TYPES is the one table of
// types, their options, defaults and the data keys each writes: the parser reads it and
// docs/generated-secrets.md's table is printed from it (`annotary generate-types`), so the
// two cannot drift. Pure: no Kubernetes imports, no randomness (see generators.ts).

/** Every failure of a declaration or a generation; `reason` is the Event reason, the message never holds a value. */
export type GenerateReason = 'UnknownGenerateType' | 'InvalidGenerateSpec' | 'GeneratedKeyMismatch';

export class GenerateError extends Error {
  constructor(
    readonly reason: GenerateReason,
    message: string,
  ) {
    super(message);
    this.name = 'GenerateError';
  }
}

export const CHAR_CLASSES = {
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digit: '0123456789',
  // no quotes, backslash, comma, space or `$`: safe unquoted in shells, YAML, URLs' userinfo aside, and .env files
  symbol: '!#%&()*+-./:;<=>?@[]^_{|}~',
} as const;
export type CharClass = keyof typeof CHAR_CLASSES;

export type ByteEncoding = 'hex' | 'base64' | 'base64url';
export type RsaSize = 2048 | 3072 | 4096;

export type GenerateSpec =
  | { type: 'password'; length: number; classes: CharClass[] }
  | { type: 'bytes'; length: number; encoding: ByteEncoding }
  | { type: 'uuid' }
  | { type: 'rsa'; size: RsaSize }
  | { type: 'ec'; curve: 'p256' | 'p384' }
  | { type: 'ed25519' }
  | { type: 'ssh'; algo: 'ed25519' | 'rsa'; size: RsaSize; comment: string }
  | { type: 'basic-auth'; user: string; length: number; classes: CharClass[] }
  | { type: 'gpg'; userId: string; algo: 'ed25519' | 'rsa'; size: RsaSize; passphraseLength: number }
  // mittwald's kubernetes-secret-generator (compat): the same meaning as there, fixed data keys
  | { type: 'mittwald-string'; length: number; byteLength: boolean; encoding: MittwaldEncoding }
  | { type: 'mittwald-ssh'; size: RsaSize }
  | { type: 'mittwald-basic-auth'; user: string; length: number; byteLength: boolean; encoding: MittwaldEncoding };

export type MittwaldEncoding = 'base64' | 'base64url' | 'base32' | 'hex' | 'raw';
export type GenerateType = Exclude<GenerateSpec['type'], `mittwald-${string}`>;

interface OptionRow {
  name: string;
  /** the spec field it sets (defaults to name) */
  field?: string;
  values: string;
  /** undefined: required */
  default: string | undefined;
  parse(v: string, name: string): unknown;
}

export interface TypeRow {
  type: GenerateType;
  /** the data keys written, as suffixes of `<key>` ('' is `<key>` itself) */
  outputs: string[];
  options: OptionRow[];
  description: string;
}

const bad = (msg: string) => new GenerateError('InvalidGenerateSpec', msg);

/** Lengths annotary accepts: over this a "password" is a mistake (a Secret holds at most 1 MiB). */
export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_BYTES_LENGTH = 65536;

function intIn(min: number, max: number) {
  return (v: string, name: string): number => {
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(`${name}=${v} is not a whole number from ${min} to ${max}`);
    return n;
  };
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (v: string, name: string): T => {
    if (!choices.includes(v as T)) throw bad(`${name}=${v} is not one of ${choices.join(', ')}`);
    return v as T;
  };
}

const rsaSize = (v: string, name: string): RsaSize => Number(oneOf(['2048', '3072', '4096'])(v, name)) as RsaSize;

function classList(v: string, name: string): CharClass[] {
  const names = v.split('+').map((s) => s.trim());
  for (const c of names)
    if (!Object.hasOwn(CHAR_CLASSES, c)) throw bad(`${name}: "${c}" is not one of ${Object.keys(CHAR_CLASSES).join(', ')}`);
  return [...new Set(names as CharClass[])];
}

/** Text written into a value (a user name, a comment, a user id): printable, no colon where htpasswd splits. */
function text(opts: { noColon?: boolean } = {}) {
  return (v: string, name: string): string => {
    if (!/^[\x20-\x7e]{1,256}$/.test(v)) throw bad(`${name} must be 1 to 256 printable ASCII characters`);
    if (opts.noColon && v.includes(':')) throw bad(`${name} must not contain ":"`);
    return v;
  };
}

const LENGTH = (def: number, max: number): OptionRow => ({
  name: 'length',
  values: `1–${max}`,
  default: String(def),
  parse: intIn(1, max),
});
const CLASSES: OptionRow = {
  name: 'classes',
  values: '`+` list of lower, upper, digit, symbol',
  default: 'lower+upper+digit',
  parse: classList,
};
const SIZE: OptionRow = { name: 'size', values: '2048, 3072, 4096', default: '3072', parse: rsaSize };

export const GENERATE_TYPES: readonly TypeRow[] = [
  {
    type: 'password',
    outputs: [''],
    options: [LENGTH(32, MAX_PASSWORD_LENGTH), CLASSES],
    description: 'Random characters, at least one of each class.',
  },
  {
    type: 'bytes',
    outputs: [''],
    options: [
      LENGTH(32, MAX_BYTES_LENGTH),
      { name: 'encoding', values: 'hex, base64, base64url', default: 'base64', parse: oneOf(['hex', 'base64', 'base64url']) },
    ],
    description: '`length` random bytes, as text in `encoding`.',
  },
  { type: 'uuid', outputs: [''], options: [], description: 'A random (version 4) UUID.' },
  {
    type: 'rsa',
    outputs: ['', '.pub'],
    options: [SIZE],
    description: 'RSA key: PKCS#8 PEM private key in `<key>`, SPKI PEM public key in `<key>.pub`.',
  },
  {
    type: 'ec',
    outputs: ['', '.pub'],
    options: [{ name: 'curve', values: 'p256, p384', default: 'p256', parse: oneOf(['p256', 'p384']) }],
    description: 'EC key (named curve): PKCS#8 PEM private key in `<key>`, SPKI PEM public key in `<key>.pub`.',
  },
  {
    type: 'ed25519',
    outputs: ['', '.pub'],
    options: [],
    description: 'Ed25519 key: PKCS#8 PEM private key in `<key>`, SPKI PEM public key in `<key>.pub`.',
  },
  {
    type: 'ssh',
    outputs: ['', '.pub'],
    options: [
      { name: 'algo', values: 'ed25519, rsa', default: 'ed25519', parse: oneOf(['ed25519', 'rsa']) },
      { ...SIZE, values: '2048, 3072, 4096 (rsa)' },
      { name: 'comment', values: 'printable text', default: '', parse: (v, n) => (v === '' ? v : text()(v, n)) },
    ],
    description: 'SSH key: OpenSSH private key in `<key>`, `authorized_keys` line in `<key>.pub`.',
  },
  {
    type: 'basic-auth',
    outputs: ['', '.password'],
    options: [
      { name: 'user', values: 'user name (no `:`)', default: 'admin', parse: text({ noColon: true }) },
      LENGTH(32, MAX_PASSWORD_LENGTH),
      CLASSES,
    ],
    description: 'An htpasswd line `user:<bcrypt hash>` in `<key>` (ingress-nginx: name the key `auth`), the password in `<key>.password`.',
  },
  {
    type: 'gpg',
    outputs: ['', '.pub', '.passphrase'],
    options: [
      { name: 'user-id', field: 'userId', values: '`Name <email>` or an email', default: undefined, parse: text() },
      { name: 'algo', values: 'ed25519, rsa', default: 'ed25519', parse: oneOf(['ed25519', 'rsa']) },
      { ...SIZE, values: '2048, 3072, 4096 (rsa)' },
      {
        name: 'passphrase-length',
        field: 'passphraseLength',
        values: `16–${MAX_PASSWORD_LENGTH}`,
        default: '32',
        parse: intIn(16, MAX_PASSWORD_LENGTH),
      },
    ],
    description:
      'OpenPGP key pair (v4; ed25519 signs, cv25519 subkey encrypts): armored private key locked with the passphrase in `<key>`, ' +
      'armored public key in `<key>.pub`, the passphrase in `<key>.passphrase`.',
  },
];

const ROW_OF = new Map(GENERATE_TYPES.map((r) => [r.type, r]));

/** The data keys a declaration of `type` writes for `key`. */
export function outputsOf(type: GenerateType, key: string): string[] {
  return ROW_OF.get(type)!.outputs.map((s) => key + s);
}

/** Parses `type=…,name=value,…`. Throws GenerateError with the precise problem. */
export function parseGenerateSpec(value: string): GenerateSpec {
  const pairs = new Map<string, string>();
  for (const part of value.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw bad(`"${part.trim()}" is not name=value`);
    const name = part.slice(0, eq).trim().toLowerCase();
    if (pairs.has(name)) throw bad(`${name} is given twice`);
    pairs.set(name, part.slice(eq + 1).trim());
  }
  const type = pairs.get('type');
  if (type === undefined) throw bad('type is missing (e.g. type=password)');
  const row = ROW_OF.get(type as GenerateType);
  if (!row) throw new GenerateError('UnknownGenerateType', `type=${type} is not one of ${GENERATE_TYPES.map((r) => r.type).join(', ')}`);
  pairs.delete('type');
  const spec: Record<string, unknown> = { type };
  for (const o of row.options) {
    const v = pairs.get(o.name) ?? o.default;
    if (v === undefined) throw bad(`type=${type} needs ${o.name}`);
    spec[o.field ?? o.name] = o.parse(v, o.name);
    pairs.delete(o.name);
  }
  const unknown = [...pairs.keys()];
  if (unknown.length) {
    const known = row.options.map((o) => o.name).join(', ') || 'no options';
    throw bad(`type=${type} has no option ${unknown.join(', ')} (it takes ${known})`);
  }
  if ((type === 'password' || type === 'basic-auth') && (spec.length as number) < (spec.classes as CharClass[]).length)
    throw bad(`length=${String(spec.length)} is shorter than the ${(spec.classes as CharClass[]).length} classes it must contain`);
  return spec as GenerateSpec;
}

// ---- mittwald's kubernetes-secret-generator, annotation mode (pkg/controller/secret, v3.4)

/** Its defaults: --secret-length 40, --secret-encoding base64, --ssh-key-length 2048, basic-auth user admin. */
export const MITTWALD_DEFAULTS = { length: '40', encoding: 'base64', sshLength: '2048', user: 'admin' } as const;
export const MITTWALD_TYPES = ['string', 'ssh-keypair', 'basic-auth'] as const;

/** Its `length`: characters of the encoded text, or with a B/b suffix the random bytes encoded whole. */
function mittwaldLength(v: string): { length: number; byteLength: boolean } {
  const m = /^(\d+)([bB]?)$/.exec(v.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(n) || n < 1 || n > MAX_PASSWORD_LENGTH)
    throw bad(`length=${v} is not a whole number from 1 to ${MAX_PASSWORD_LENGTH}, with an optional B suffix`);
  return { length: n, byteLength: m[2] !== '' };
}

export interface MittwaldAnnotations {
  type?: string;
  autogenerate?: string;
  length?: string;
  encoding?: string;
  username?: string;
}

/** The data keys mittwald's generator writes per type, and the spec of each; undefined when nothing is declared. */
export function parseMittwald(a: MittwaldAnnotations): { keys: string[]; spec: GenerateSpec } | undefined {
  const type = a.type?.trim() || (a.autogenerate !== undefined ? 'string' : undefined);
  if (type === undefined) return undefined;
  if (!(MITTWALD_TYPES as readonly string[]).includes(type))
    throw new GenerateError('UnknownGenerateType', `type=${type} is not one of ${MITTWALD_TYPES.join(', ')}`);
  const encoding = oneOf<MittwaldEncoding>(['base64', 'base64url', 'base32', 'hex', 'raw'])(
    a.encoding?.trim() || MITTWALD_DEFAULTS.encoding,
    'encoding',
  );
  if (type === 'ssh-keypair') {
    const size = rsaSize(a.length?.trim() || MITTWALD_DEFAULTS.sshLength, 'length');
    return { keys: ['ssh-privatekey', 'ssh-publickey'], spec: { type: 'mittwald-ssh', size } };
  }
  const length = mittwaldLength(a.length?.trim() || MITTWALD_DEFAULTS.length);
  if (type === 'basic-auth') {
    const user = text({ noColon: true })(a.username?.trim() || MITTWALD_DEFAULTS.user, 'basic-auth-username');
    // bcryptjs hashes text: raw bytes would be hashed as something else than the password written
    if (encoding === 'raw') throw bad('encoding=raw cannot be used for basic-auth (the htpasswd hash is of text)');
    const keys = ['auth', 'username', 'password'];
    return { keys, spec: { type: 'mittwald-basic-auth', user, encoding, ...length } };
  }
  const fields = (a.autogenerate ?? '').split(',').map((s) => s.trim());
  if (fields.some((f) => f === '')) throw bad('autogenerate names an empty field');
  if (new Set(fields).size !== fields.length) throw bad('autogenerate names a field twice');
  return { keys: fields, spec: { type: 'mittwald-string', encoding, ...length } };
}

/** docs/generated-secrets.md's table (`annotary generate-types`). */
export function generateTypesTable(): string {
  const opt = (o: OptionRow) => `\`${o.name}\` (${o.values}; ${o.default === undefined ? 'required' : `default \`${o.default || '""'}\``})`;
  const rows = GENERATE_TYPES.map(
    (r) =>
      `| \`${r.type}\` | ${r.outputs.map((s) => `\`<key>${s}\``).join(', ')} | ${r.options.map(opt).join('<br>') || '—'} | ${r.description} |`,
  );
  return ['| type | writes | options | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
