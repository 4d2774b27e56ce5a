import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { AuditEvent, type AuditSink } from '../audit/auditLog';
import { InvalidArgumentError } from '../errors';
import { BackupFormatError, BackupPassphraseError, KeyStateError, ManifestIntegrityError, ManifestIntegrityFailure } from './errors';
import { keyCheckValue, verifyKeyCheck } from './keyCheck';
import { KeyState, activeVersion, parseManifest, serializeManifest, type KeyManifest, type KeyVersionRecord } from './keyManifest';
import type { DataKey, WrappedKey } from './keyProvider';
import { isRemoteProvider } from './providerRegistry';

/**
 * A key backup: the manifest plus the plaintext of every non-retired data key, sealed under a
 * secret (AES-256-GCM under a key derived from it). It carries plaintext keys because its
 * purpose is recovery where the original wrapping keys are gone (a lost keyring, another
 * machine, another AWS account); on import the keys are wrapped again under that machine's
 * providers. Whoever holds the file can guess the secret offline for as long as they like, so
 * the derivation is what stands between a stolen file and the keys:
 *
 * - a **passphrase** goes through scrypt with N >= 2^17, r = 8, p = 1 (OWASP's recommended
 *   minimum; 128 MiB and ~0.35 s per guess here), and must pass `checkBackupPassphrase`;
 * - a **recovery code** (`generateRecoveryCode`: 160 random bits, shown once) needs no
 *   stretching: HKDF-SHA-256 over its bytes, as guessing 2^160 codes is out of reach anyway.
 *
 * Format 2 layout: `"CVKB" | format=2 (1) | kdf (1) | log2(N) (1) | r (1) | p (1) | salt (16) | iv (12) |
 * ciphertext | tag (16)`; the 37-byte header is the associated data, so the stored parameters
 * cannot be lowered without breaking the tag. Plaintext: `u32 manifest length | manifest JSON |
 * u16 key count | (u8 id length | id | 32-byte key)*`; keys stay binary, never strings.
 *
 * Format 1 (cachevault before this change) had a 36-byte header `"CVKB" | 1 | log2(N) | r | p |
 * salt | iv`, always scrypt at N = 2^15: still importable, but only with `allowWeakKdf` (the
 * CLI's `--allow-weak-kdf`), since its cost is a quarter of today's floor.
 *
 * Parameters read from a file are bounded before any work is done: a crafted header cannot make
 * an import allocate more than 256 MiB or run for minutes.
 *
 * `exportKeyBackup` / `importKeyBackup` are the key manager's `keys backup` / `keys restore`,
 * written against the narrow KeyBackupHost rather than the whole KeyManager.
 */

const MAGIC = Buffer.from('CVKB', 'latin1');
const FORMAT = 2;
const LEGACY_FORMAT = 1;
const HEADER_BYTES = 4 + 5 + 16 + 12;
const LEGACY_HEADER_BYTES = 4 + 4 + 16 + 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** How the sealing key is derived from the secret; stored in the header. */
export const BackupKdf = { scrypt: 1, recoveryCode: 2 } as const;
export type BackupKdf = (typeof BackupKdf)[keyof typeof BackupKdf];

/** The scrypt cost this version writes and the least it accepts: N = 2^17 (OWASP's minimum for scrypt). */
export const BACKUP_SCRYPT_FLOOR = { log2N: 17, r: 8, p: 1 } as const;
/** The legacy format's cost, accepted on import only with `allowWeakKdf`. */
const LEGACY_LOG2_N = 15;
/** The least `testOnlyLowCost` may go to, so even tests exercise a real scrypt. */
const TEST_MIN_LOG2_N = 10;
/**
 * Bounds on what a file may ask for. scrypt needs 128·N·r bytes: 2^18 with r = 8 is 256 MiB,
 * the most we allocate for a file someone else wrote; p multiplies time only.
 */
const MAX_LOG2_N = 18;
const MAX_R = 16;
const MAX_P = 4;
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

/** Minimum passphrase length, in Unicode code points. */
export const MIN_PASSPHRASE_CHARS = 16;
/** Minimum number of distinct characters, so "aaaa…" or "abababab…" are refused whatever their length. */
const MIN_DISTINCT_CHARS = 8;

const RECOVERY_CODE_BYTES = 20;
/** Crockford's base32: no I, L, O or U, so a code read aloud or retyped is unambiguous. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const HKDF_INFO = Buffer.from('cachevault key backup v2: recovery code', 'utf8');

export interface BackupKey {
  readonly id: string;
  readonly material: Buffer;
}

export interface BackupContents {
  readonly manifest: KeyManifest;
  /** Zero each `material` when done. */
  readonly keys: BackupKey[];
}

export interface SealBackupOptions {
  /**
   * What the secret is: a passphrase the user chose (scrypt), or a code from
   * `generateRecoveryCode()` (HKDF).
   * @default 'passphrase'
   */
  readonly secret?: 'passphrase' | 'recovery-code';
  /** log2 of scrypt's N, from 17 to 18. @default 17 */
  readonly log2N?: number;
  /**
   * Tests only: scrypt N = 2^10 unless `log2N` says otherwise (down to 2^10), so suites stay fast. Refused unless
   * `NODE_ENV === 'test'`, so production code cannot write (or, with `OpenBackupOptions`, read)
   * a backup below the floor through it.
   */
  readonly testOnlyLowCost?: boolean;
}

export interface OpenBackupOptions {
  /**
   * Import a backup whose scrypt cost is below today's floor (format 1 files, written with
   * N = 2^15). The upper bounds still apply. @default false
   */
  readonly allowWeakKdf?: boolean;
  /** Tests only, as in `SealBackupOptions`. */
  readonly testOnlyLowCost?: boolean;
}

/** What a backup's header says, read without the secret (for prompts and `--json` output). */
export interface BackupInfo {
  readonly format: 1 | 2;
  readonly kdf: 'scrypt' | 'recovery-code';
  readonly scrypt?: { readonly log2N: number; readonly r: number; readonly p: number };
}

export async function sealBackup(contents: BackupContents, secret: string, options: SealBackupOptions = {}): Promise<Buffer> {
  const kind = options.secret ?? 'passphrase';
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt8(FORMAT, 4);
  let ikm: Buffer;
  if (kind === 'recovery-code') {
    ikm = parseRecoveryCode(secret);
    header.writeUInt8(BackupKdf.recoveryCode, 5);
  } else {
    checkBackupPassphrase(secret);
    const least = lowCostAllowed(options.testOnlyLowCost) ? TEST_MIN_LOG2_N : BACKUP_SCRYPT_FLOOR.log2N;
    const log2N = options.log2N ?? least;
    if (!Number.isInteger(log2N) || log2N < least || log2N > MAX_LOG2_N) {
      throw new InvalidArgumentError(`scrypt log2N must be an integer from ${BACKUP_SCRYPT_FLOOR.log2N} to ${MAX_LOG2_N}.`);
    }
    header.writeUInt8(BackupKdf.scrypt, 5);
    header.writeUInt8(log2N, 6);
    header.writeUInt8(BACKUP_SCRYPT_FLOOR.r, 7);
    header.writeUInt8(BACKUP_SCRYPT_FLOOR.p, 8);
    ikm = Buffer.from(secret.normalize('NFC'), 'utf8');
  }
  randomBytes(16).copy(header, 9);
  randomBytes(12).copy(header, 25);
  const plaintext = encodePayload(contents);
  let kek: Buffer | undefined;
  try {
    kek = await deriveKey(ikm, layoutOf(header));
    const cipher = createCipheriv('aes-256-gcm', kek, header.subarray(25, 37));
    cipher.setAAD(header);
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  } finally {
    kek?.fill(0);
    ikm.fill(0);
    plaintext.fill(0);
  }
}

export async function openBackup(bytes: Uint8Array, secret: string, options: OpenBackupOptions = {}): Promise<BackupContents> {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const layout = readLayout(data);
  checkParameters(layout, options);
  const ikm = layout.kdf === BackupKdf.recoveryCode ? parseRecoveryCode(secret) : Buffer.from(typeof secret === 'string' ? secret.normalize('NFC') : '', 'utf8');
  let kek: Buffer | undefined;
  let plaintext: Buffer;
  try {
    kek = await deriveKey(ikm, layout);
    const decipher = createDecipheriv('aes-256-gcm', kek, layout.iv);
    decipher.setAAD(layout.header);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    plaintext = decipher.update(data.subarray(layout.header.length, data.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      throw new BackupPassphraseError(
        layout.kdf === BackupKdf.recoveryCode
          ? { hint: 'This backup is sealed under a recovery code: check the code (dashes and case do not matter) and that the file was copied intact.' }
          : {},
      );
    }
  } finally {
    kek?.fill(0);
    ikm.fill(0);
  }
  try {
    return decodePayload(plaintext);
  } finally {
    plaintext.fill(0);
  }
}

/** The header of a backup, without opening it: which secret it needs and at what cost. */
export function inspectBackup(bytes: Uint8Array): BackupInfo {
  const layout = readLayout(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (layout.kdf === BackupKdf.recoveryCode) return { format: layout.format, kdf: 'recovery-code' };
  return { format: layout.format, kdf: 'scrypt', scrypt: { log2N: layout.log2N, r: layout.r, p: layout.p } };
}

/**
 * Refuses a passphrase an offline guesser would find quickly: fewer than 16 characters, or
 * fewer than 8 distinct ones. (Length is what counts against a guesser who has the file; a
 * generated recovery code is the stronger choice when nobody needs to remember it.)
 */
export function checkBackupPassphrase(passphrase: string): void {
  const chars = typeof passphrase === 'string' ? [...passphrase] : [];
  if (chars.length < MIN_PASSPHRASE_CHARS) {
    throw new InvalidArgumentError(`A backup passphrase must have at least ${MIN_PASSPHRASE_CHARS} characters (this one has ${chars.length}).`, {
      hint: 'Use several random words (e.g. five from a diceware list), or `keys backup --recovery-code` for a generated code.',
    });
  }
  if (new Set(chars).size < MIN_DISTINCT_CHARS) {
    throw new InvalidArgumentError(`A backup passphrase must use at least ${MIN_DISTINCT_CHARS} different characters; this one repeats a few.`, {
      hint: 'Use several random words (e.g. five from a diceware list), or `keys backup --recovery-code` for a generated code.',
    });
  }
}

/** A fresh recovery code: 160 random bits as 8 groups of 4 Crockford base32 characters. */
export function generateRecoveryCode(): string {
  const bytes = randomBytes(RECOVERY_CODE_BYTES);
  try {
    let bits = 0;
    let value = 0;
    let out = '';
    for (const byte of bytes) {
      value = ((value << 8) | byte) & 0xffff;
      bits += 8;
      while (bits >= 5) {
        out += CROCKFORD[(value >>> (bits - 5)) & 31];
        bits -= 5;
      }
    }
    return out.match(/.{4}/g)!.join('-');
  } finally {
    bytes.fill(0);
  }
}

/**
 * What exporting and importing a backup need from the key manager, and nothing more: the
 * manifest, keys by id, wrapping under this machine's providers, and one guarded manifest update.
 */
export interface KeyBackupHost {
  /** The deployment the manager serves; a backup of another one is refused. */
  readonly app: string;
  readonly environment: string;
  readonly audit?: AuditSink;
  now(): number;
  /** The manifest as stored now (reloaded from its store). */
  freshManifest(): Promise<KeyManifest>;
  /** A key's plaintext; it belongs to the host (copy it, do not zero it). */
  keyById(id: string): Promise<DataKey>;
  /** `material` wrapped under every provider that works here; throws NoKeyProviderError when none does. */
  wrapAll(material: Buffer, keyId: string): Promise<WrappedKey[]>;
  /**
   * Throws when versions no remote provider wrapped may not enter the manifest (a shared one,
   * with a remote provider such as KMS configured: other machines could not read them).
   */
  assertShareable(localOnlyIds: readonly string[], what: string): void;
  /**
   * Under the manifest lock, saves `build(base)`: `base` is the stored manifest, or, when the
   * manager was opened to recover from a refused manifest, an empty one above every revision
   * seen (the backup replaces the refused manifest rather than building on it).
   */
  replaceManifest(build: (base: KeyManifest) => KeyManifest): Promise<KeyManifest>;
  /** Drops cached plaintext of versions the import replaced. */
  forgetKeys(ids: readonly string[]): void;
}

/** The manifest and every non-retired key, sealed under a passphrase or recovery code (`sealBackup`). */
export async function exportKeyBackup(host: KeyBackupHost, secret: string, options: SealBackupOptions = {}): Promise<Buffer> {
  const manifest = await host.freshManifest();
  const keys: BackupKey[] = [];
  try {
    for (const version of manifest.versions) {
      if (version.state === KeyState.retired) continue;
      const key = await host.keyById(version.id);
      keys.push({ id: version.id, material: Buffer.from(key.material) });
    }
    const bytes = await sealBackup({ manifest, keys }, secret, options);
    host.audit?.append(AuditEvent.keysExported, { versions: keys.map((k) => k.id) });
    return bytes;
  } finally {
    for (const key of keys) key.material.fill(0);
  }
}

/**
 * Restores versions from a backup, wrapping each key again under this machine's providers.
 * Versions in the backup replace same-id ones; others are kept, demoted to decrypt-only when the
 * backup brings an active version. Every key is checked against its key-check value before
 * anything is written. A wrong secret throws BackupPassphraseError; a backup below today's
 * scrypt floor needs `options.allowWeakKdf`.
 */
export async function importKeyBackup(
  host: KeyBackupHost,
  bytes: Uint8Array,
  secret: string,
  options: OpenBackupOptions = {},
): Promise<{ imported: string[]; activeKeyId: string | undefined }> {
  const contents = await openBackup(bytes, secret, options);
  try {
    const backup = contents.manifest;
    if (backup.app !== host.app || backup.environment !== host.environment) {
      throw new KeyStateError(
        `The backup holds keys of app "${backup.app}", environment "${backup.environment}", not "${host.app}"/"${host.environment}".`,
        { hint: 'Set keys.app and keys.environment to match the backup, or import it into the right deployment.' },
      );
    }
    const restored = await rewrapBackupVersions(host, backup, new Map(contents.keys.map((k) => [k.id, k.material])));
    host.assertShareable(
      restored.filter((v) => v.state !== KeyState.retired && v.localOnly).map((v) => v.id),
      'import key versions',
    );
    const saved = await host.replaceManifest((base) => mergeBackup(base, backup.revision, restored));
    host.forgetKeys(restored.map((v) => v.id));
    const imported = restored.filter((v) => v.state !== KeyState.retired).map((v) => v.id);
    host.audit?.append(AuditEvent.keysImported, { versions: imported });
    return { imported, activeKeyId: activeVersion(saved)?.id };
  } finally {
    for (const key of contents.keys) key.material.fill(0);
  }
}

/** Each backup version with its key checked and wrapped for this machine; versions without material come back retired. */
async function rewrapBackupVersions(host: KeyBackupHost, backup: KeyManifest, materials: ReadonlyMap<string, Buffer>): Promise<KeyVersionRecord[]> {
  const restored: KeyVersionRecord[] = [];
  for (const version of backup.versions) {
    const material = materials.get(version.id);
    if (version.state === KeyState.retired || !material) {
      restored.push({ ...version, wrapped: [], state: KeyState.retired, retiredAt: version.retiredAt ?? new Date(host.now()).toISOString() });
      continue;
    }
    if (version.check !== undefined && !verifyKeyCheck(material, version.check)) {
      throw new ManifestIntegrityError(ManifestIntegrityFailure.keyCheck, `Key version ${version.id} in the backup does not match its key-check value.`, {
        keyId: version.id,
        hint: 'The backup was altered or damaged; nothing was imported. Use another backup.',
      });
    }
    const wrapped = await host.wrapAll(material, version.id);
    restored.push({ ...version, wrapped, localOnly: !wrapped.some((w) => isRemoteProvider(w.provider)), check: version.check ?? keyCheckValue(material) });
  }
  return restored;
}

/** `base` with the restored versions in: same ids replaced, an active one demoting the current, above both revisions. */
function mergeBackup(base: KeyManifest, backupRevision: number, restored: readonly KeyVersionRecord[]): KeyManifest {
  const backupHasActive = restored.some((v) => v.state === KeyState.active);
  const kept = base.versions
    .filter((v) => !restored.some((r) => r.id === v.id))
    .map((v) => (backupHasActive && v.state === KeyState.active ? { ...v, state: KeyState.decryptOnly } : v));
  return {
    ...base,
    revision: Math.max(base.revision, backupRevision) + 1,
    versions: [...kept, ...restored].sort((a, b) => Number(a.id.slice(1)) - Number(b.id.slice(1))),
  };
}

/** Decodes a recovery code (case, spaces and dashes ignored; I/L read as 1, O as 0). */
function parseRecoveryCode(code: string): Buffer {
  const invalid = () =>
    new InvalidArgumentError('That is not a cachevault recovery code (32 characters of 0-9 and A-Z, in groups of four).', {
      hint: 'Type the code `keys backup --recovery-code` printed; dashes, spaces and case do not matter.',
    });
  if (typeof code !== 'string') throw invalid();
  const text = code.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (text.length !== (RECOVERY_CODE_BYTES * 8) / 5) throw invalid();
  const out = Buffer.alloc(RECOVERY_CODE_BYTES);
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const ch of text) {
    const digit = CROCKFORD.indexOf(ch);
    if (digit === -1) {
      out.fill(0);
      throw invalid();
    }
    value = ((value << 5) | digit) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[index++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

interface Layout {
  readonly format: 1 | 2;
  readonly header: Buffer;
  readonly kdf: BackupKdf;
  readonly log2N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly iv: Buffer;
}

function layoutOf(header: Buffer): Layout {
  return { format: FORMAT, header, kdf: header[5] as BackupKdf, log2N: header[6]!, r: header[7]!, p: header[8]!, salt: header.subarray(9, 25), iv: header.subarray(25, 37) };
}

function readLayout(data: Buffer): Layout {
  if (data.length < LEGACY_HEADER_BYTES + TAG_BYTES || !data.subarray(0, 4).equals(MAGIC)) {
    throw new BackupFormatError('These bytes are not a cachevault key backup.', { hint: 'Pass the file written by `cachevault keys backup --out FILE`.' });
  }
  const format = data[4];
  if (format === LEGACY_FORMAT) {
    const header = data.subarray(0, LEGACY_HEADER_BYTES);
    return { format: 1, header, kdf: BackupKdf.scrypt, log2N: header[5]!, r: header[6]!, p: header[7]!, salt: header.subarray(8, 24), iv: header.subarray(24, 36) };
  }
  if (format !== FORMAT) {
    throw new BackupFormatError(`This key backup has format ${format}, which this cachevault cannot read.`, { hint: 'Import it with the cachevault version that exported it, or a newer one.' });
  }
  if (data.length < HEADER_BYTES + TAG_BYTES) throw new BackupFormatError('This key backup is truncated.', { hint: 'Copy the file again from where it is kept.' });
  const layout = layoutOf(data.subarray(0, HEADER_BYTES));
  if (layout.kdf !== BackupKdf.scrypt && layout.kdf !== BackupKdf.recoveryCode) {
    throw new BackupFormatError(`This key backup names key derivation ${layout.kdf}, which this cachevault does not know.`, { hint: 'Import it with the cachevault version that exported it, or a newer one.' });
  }
  return layout;
}

/** Bounds first (a crafted file must not cost gigabytes), then the floor (a weak file needs an explicit yes). */
function checkParameters(layout: Layout, options: OpenBackupOptions): void {
  if (layout.kdf === BackupKdf.recoveryCode) {
    if (layout.log2N !== 0 || layout.r !== 0 || layout.p !== 0) throw new BackupFormatError('This key backup\'s header is malformed (scrypt parameters on a recovery-code backup).');
    return;
  }
  const { log2N, r, p } = layout;
  if (log2N < 1 || log2N > MAX_LOG2_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P || 128 * 2 ** log2N * r > MAX_SCRYPT_MEMORY) {
    throw new BackupFormatError(`This key backup asks for scrypt N = 2^${log2N}, r = ${r}, p = ${p}, beyond what cachevault accepts (at most N = 2^${MAX_LOG2_N}, r = ${MAX_R}, p = ${MAX_P}, 256 MiB).`, {
      hint: 'It was not written by cachevault, or was altered; restore from another copy.',
    });
  }
  const floor = lowCostAllowed(options.testOnlyLowCost) ? TEST_MIN_LOG2_N : BACKUP_SCRYPT_FLOOR.log2N;
  if (log2N < floor || r < BACKUP_SCRYPT_FLOOR.r) {
    const legacy = layout.format === LEGACY_FORMAT;
    if (!(options.allowWeakKdf && log2N >= LEGACY_LOG2_N && r >= BACKUP_SCRYPT_FLOOR.r)) {
      throw new BackupFormatError(
        `This key backup is sealed with scrypt N = 2^${log2N}, r = ${r}, below the floor of N = 2^${BACKUP_SCRYPT_FLOOR.log2N}, r = ${BACKUP_SCRYPT_FLOOR.r}${legacy ? ' (a backup from an older cachevault)' : ''}.`,
        {
          hint: options.allowWeakKdf
            ? `Backups below N = 2^${LEGACY_LOG2_N} are never accepted; restore from another copy.`
            : 'If you trust this file, restore it with --allow-weak-kdf, then write a new backup (`cachevault keys backup`) and destroy the old one.',
        },
      );
    }
  }
}

function lowCostAllowed(requested: boolean | undefined): boolean {
  if (!requested) return false;
  if (process.env.NODE_ENV !== 'test') {
    throw new InvalidArgumentError('testOnlyLowCost is for test suites only (NODE_ENV=test).', { hint: 'Remove the option: production backups use scrypt N >= 2^17.' });
  }
  return true;
}

function deriveKey(ikm: Buffer, layout: Layout): Promise<Buffer> {
  if (layout.kdf === BackupKdf.recoveryCode) {
    return Promise.resolve(Buffer.from(hkdfSync('sha256', ikm, layout.salt, HKDF_INFO, 32)));
  }
  const N = 2 ** layout.log2N;
  const { r, p } = layout;
  // Node refuses scrypt above maxmem (32 MiB by default); the parameters were bounded above.
  const maxmem = 128 * N * r + 2 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(ikm, layout.salt, 32, { N, r, p, maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function encodePayload(contents: BackupContents): Buffer {
  const json = Buffer.from(serializeManifest(contents.manifest), 'utf8');
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeUInt32BE(json.length);
  const count = Buffer.alloc(2);
  count.writeUInt16BE(contents.keys.length);
  parts.push(head, json, count);
  for (const key of contents.keys) {
    if (key.material.length !== KEY_BYTES) throw new InvalidArgumentError(`Key ${key.id} is not 32 bytes.`);
    const id = Buffer.from(key.id, 'latin1');
    parts.push(Buffer.of(id.length), id, key.material);
  }
  return Buffer.concat(parts);
}

function decodePayload(plaintext: Buffer): BackupContents {
  const damaged = () => new BackupFormatError('The key backup opened but its contents are malformed.');
  if (plaintext.length < 6) throw damaged();
  const jsonLength = plaintext.readUInt32BE(0);
  if (4 + jsonLength + 2 > plaintext.length) throw damaged();
  const manifest = parseManifest(plaintext.subarray(4, 4 + jsonLength).toString('utf8'), 'the key backup');
  let offset = 4 + jsonLength;
  const count = plaintext.readUInt16BE(offset);
  offset += 2;
  const keys: BackupKey[] = [];
  for (let i = 0; i < count; i++) {
    const idLength = plaintext[offset];
    if (idLength === undefined || offset + 1 + idLength + KEY_BYTES > plaintext.length) {
      for (const k of keys) k.material.fill(0);
      throw damaged();
    }
    const id = plaintext.subarray(offset + 1, offset + 1 + idLength).toString('latin1');
    // A copy: the caller owns it, the decrypted buffer is zeroed right after.
    const material = Buffer.from(plaintext.subarray(offset + 1 + idLength, offset + 1 + idLength + KEY_BYTES));
    keys.push({ id, material });
    offset += 1 + idLength + KEY_BYTES;
  }
  return { manifest, keys };
}
