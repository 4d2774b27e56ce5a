import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { InvalidArgumentError } from '../errors';
import { BackupFormatError, BackupPassphraseError } from './errors';
import { parseManifest, serializeManifest, type KeyManifest } from './keyManifest';

/**
 * A key backup: the manifest plus the plaintext of every non-retired data key, sealed under a
 * passphrase (scrypt, then AES-256-GCM). It carries plaintext keys because its purpose is
 * recovery where the original wrapping keys are gone (a lost keyring, another machine, another
 * AWS account); on import the keys are wrapped again under that machine's providers.
 *
 * Layout: `"CVKB" | format (1) | log2(N) (1) | r (1) | p (1) | salt (16) | iv (12) | ciphertext | tag (16)`,
 * the 36-byte header being the associated data. Plaintext: `u32 manifest length | manifest JSON |
 * u16 key count | (u8 id length | id | 32-byte key)*`; keys stay binary, never strings.
 */

const MAGIC = Buffer.from('CVKB', 'latin1');
const FORMAT = 1;
const HEADER_BYTES = 4 + 4 + 16 + 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** scrypt work factor: N = 2^15 (32 MiB with r = 8), OWASP's minimum for scrypt. */
export const DEFAULT_BACKUP_LOG2_N = 15;
/** Upper bound accepted on import, so a crafted file cannot make us allocate gigabytes. */
const MAX_LOG2_N = 20;
const MIN_PASSPHRASE_CHARS = 10;

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
  /** log2 of scrypt's N; at least 15. @default 15 */
  readonly log2N?: number;
}

export async function sealBackup(contents: BackupContents, passphrase: string, options: SealBackupOptions = {}): Promise<Buffer> {
  checkPassphrase(passphrase);
  const log2N = options.log2N ?? DEFAULT_BACKUP_LOG2_N;
  if (!Number.isInteger(log2N) || log2N < DEFAULT_BACKUP_LOG2_N || log2N > MAX_LOG2_N) {
    throw new InvalidArgumentError(`scrypt log2N must be an integer from ${DEFAULT_BACKUP_LOG2_N} to ${MAX_LOG2_N}.`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt8(FORMAT, 4);
  header.writeUInt8(log2N, 5);
  header.writeUInt8(8, 6);
  header.writeUInt8(1, 7);
  randomBytes(16).copy(header, 8);
  randomBytes(12).copy(header, 24);
  const plaintext = encodePayload(contents);
  const kek = await deriveKey(passphrase, header);
  try {
    const cipher = createCipheriv('aes-256-gcm', kek, header.subarray(24, 36));
    cipher.setAAD(header);
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  } finally {
    kek.fill(0);
    plaintext.fill(0);
  }
}

export async function openBackup(bytes: Uint8Array, passphrase: string): Promise<BackupContents> {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length < HEADER_BYTES + TAG_BYTES || !data.subarray(0, 4).equals(MAGIC)) {
    throw new BackupFormatError('These bytes are not a cachevault key backup.', { hint: 'Pass the file written by `cachevault keys backup --out FILE`.' });
  }
  const header = data.subarray(0, HEADER_BYTES);
  if (header[4] !== FORMAT) {
    throw new BackupFormatError(`This key backup has format ${header[4]}, which this cachevault cannot read.`, { hint: 'Import it with the cachevault version that exported it, or a newer one.' });
  }
  const log2N = header[5]!;
  if (log2N < DEFAULT_BACKUP_LOG2_N || log2N > MAX_LOG2_N || header[6] !== 8 || header[7] !== 1) {
    throw new BackupFormatError('This key backup has unsupported scrypt parameters.');
  }
  const kek = await deriveKey(passphrase, header);
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, header.subarray(24, 36));
    decipher.setAAD(header);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    plaintext = decipher.update(data.subarray(HEADER_BYTES, data.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      throw new BackupPassphraseError();
    }
  } finally {
    kek.fill(0);
  }
  try {
    return decodePayload(plaintext);
  } finally {
    plaintext.fill(0);
  }
}

function checkPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || [...passphrase].length < MIN_PASSPHRASE_CHARS) {
    throw new InvalidArgumentError(`A backup passphrase must have at least ${MIN_PASSPHRASE_CHARS} characters.`, {
      hint: 'Use a long passphrase (several random words) and keep it apart from the backup file.',
    });
  }
}

function deriveKey(passphrase: string, header: Buffer): Promise<Buffer> {
  const N = 2 ** header[5]!;
  const r = header[6]!;
  const p = header[7]!;
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize('NFC'), header.subarray(8, 24), 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
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
