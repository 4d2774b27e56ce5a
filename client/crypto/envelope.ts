import { crc32 } from 'node:zlib';
import { EnvelopeFormatError, IntegrityError, InvalidArgumentError } from '../errors';
import type { EntryIdentity } from '../types';

/**
 * The binary envelope every stored value travels in, encrypted or not:
 *
 * ```
 * magic (2) | format version (1) | algorithm id (1) | key id length (1) | key id | body
 * ```
 *
 * The body is algorithm-specific (for AES-GCM: salt | ciphertext | tag; for `none`: payload |
 * CRC-32). The associated data authenticated with the body is the whole header plus the entry's
 * identity (namespace, key, expiresAt), so bytes moved to another key, namespace, key version or
 * expiry fail to open. One reader handles every algorithm, so turning encryption on is a
 * rewrite, never a format guess.
 *
 * Format versions (byte 2), each read by its own path and never reinterpreted:
 * - 1: 16-byte salt; per-entry key from the salt alone; the AAD encodes "never expires" as the
 *   expiry -1. Still read; no longer written.
 * - 2 (written now): 24-byte salt; the per-entry key is bound to the whole AAD (header and
 *   identity), so a repeated salt cannot forge across entries; the AAD marks the expiry's
 *   presence with its own byte, and refuses negative expiries and malformed Unicode.
 */
export const ENVELOPE_MAGIC = Buffer.from([0xc7, 0x56]);
/** The format version new envelopes are written in. */
export const ENVELOPE_VERSION = 2;
/** Format versions this reader opens. */
export const READABLE_ENVELOPE_VERSIONS: readonly number[] = [1, 2];

/** Algorithm ids as stored in byte 3. Never renumber: they are on disk. */
export const AlgorithmId = {
  none: 0,
  'aes-256-gcm': 1,
  'aes-256-cbc-hmac-sha-512': 2,
} as const;
export type AlgorithmName = keyof typeof AlgorithmId;

export const NO_KEY_ID = 'none';
const FIXED_HEADER_BYTES = 5;
const MAX_KEY_ID_BYTES = 64;
const KEY_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export interface EnvelopeHeader {
  readonly version: number;
  readonly algorithm: AlgorithmName;
  readonly keyId: string;
  /** Bytes of the header; the body starts here. */
  readonly headerLength: number;
}

const ALGORITHM_BY_ID = new Map<number, AlgorithmName>(
  (Object.entries(AlgorithmId) as [AlgorithmName, number][]).map(([name, id]) => [id, name]),
);

export function headerLength(keyId: string): number {
  return FIXED_HEADER_BYTES + Buffer.byteLength(keyId);
}

/**
 * Allocates the whole envelope once (header plus `bodyLength` bytes) and writes the header, so
 * providers fill the body in place instead of concatenating copies of large payloads.
 */
export function allocateEnvelope(algorithm: AlgorithmName, keyId: string, bodyLength: number): { envelope: Buffer; bodyOffset: number } {
  const header = headerBytes(algorithm, keyId);
  const envelope = Buffer.allocUnsafe(header.byteLength + bodyLength);
  envelope.set(header, 0);
  return { envelope, bodyOffset: header.byteLength };
}

/** Built headers by algorithm and key id: a client seals under one or two key ids at a time. */
const headerCache = new Map<string, Buffer>();
const MAX_CACHED_HEADERS = 64;

function headerBytes(algorithm: AlgorithmName, keyId: string): Buffer {
  const cacheKey = `${AlgorithmId[algorithm]}:${keyId}`;
  const cached = headerCache.get(cacheKey);
  if (cached !== undefined) return cached;
  if (!KEY_ID_PATTERN.test(keyId)) throw new EnvelopeFormatError(`Invalid key id ${JSON.stringify(keyId)}.`);
  const length = headerLength(keyId);
  const header = Buffer.alloc(length);
  ENVELOPE_MAGIC.copy(header, 0);
  header[2] = ENVELOPE_VERSION;
  header[3] = AlgorithmId[algorithm];
  header[4] = length - FIXED_HEADER_BYTES;
  header.write(keyId, FIXED_HEADER_BYTES, 'latin1');
  if (headerCache.size >= MAX_CACHED_HEADERS) headerCache.clear();
  headerCache.set(cacheKey, header);
  return header;
}

/** Parses and checks the header; throws EnvelopeFormatError for anything that is not ours. */
export function readHeader(bytes: Uint8Array): EnvelopeHeader {
  if (bytes.byteLength < FIXED_HEADER_BYTES || bytes[0] !== ENVELOPE_MAGIC[0] || bytes[1] !== ENVELOPE_MAGIC[1]) {
    throw new EnvelopeFormatError('Not a cachevault envelope (bad magic or too short).');
  }
  const version = bytes[2]!;
  if (version !== 1 && version !== 2) {
    throw new EnvelopeFormatError(`Envelope format version ${version} is not supported (this version reads ${READABLE_ENVELOPE_VERSIONS.join(' and ')}).`, {
      hint: 'The entry was written by a newer cachevault; upgrade this client.',
    });
  }
  const algorithm = ALGORITHM_BY_ID.get(bytes[3]!);
  if (algorithm === undefined) throw new EnvelopeFormatError(`Unknown envelope algorithm id ${bytes[3]}.`);
  const keyIdLength = bytes[4]!;
  const length = FIXED_HEADER_BYTES + keyIdLength;
  if (keyIdLength === 0 || keyIdLength > MAX_KEY_ID_BYTES || bytes.byteLength < length) {
    throw new EnvelopeFormatError('Envelope key id is missing or truncated.');
  }
  // Key ids are at most 64 latin1 bytes; decoding them in JS is cheaper than a native call.
  let keyId = '';
  for (let i = FIXED_HEADER_BYTES; i < length; i++) keyId += String.fromCharCode(bytes[i]!);
  if (!KEY_ID_PATTERN.test(keyId)) throw new EnvelopeFormatError('Envelope key id has invalid characters.');
  return { version, algorithm, keyId, headerLength: length };
}

/**
 * Associated data: the envelope header, then the entry identity in the encoding of the header's
 * format version (byte 2), each string length-prefixed so no two distinct identities encode
 * alike. Throws InvalidArgumentError for an identity no version can encode unambiguously.
 */
export function associatedData(header: Uint8Array, identity: EntryIdentity): Buffer {
  // Sized first and written once: this runs on every seal and open.
  const version = header[2]!;
  const nsLength = utf8Length(identity.namespace, 'namespace');
  const keyLength = utf8Length(identity.key, 'key');
  const out = Buffer.allocUnsafe(header.byteLength + identityLength(nsLength, keyLength, identity.expiresAt, version));
  out.set(header, 0);
  writeIdentity(out, header.byteLength, identity, nsLength, keyLength, version);
  return out;
}

/** Bytes of the encoded identity; `nsLength`/`keyLength` are UTF-8 lengths from `utf8Length`. */
export function identityLength(nsLength: number, keyLength: number, expiresAt: number | null, version: number): number {
  // v1: the expiry is always 8 bytes (-1 for none); v2: a presence byte, then 8 bytes if present.
  const expiry = version === 1 ? 8 : expiresAt === null ? 1 : 9;
  return 4 + nsLength + 4 + keyLength + expiry;
}

/**
 * Writes the identity at `offset` in the encoding of format `version`; returns the offset after
 * it. v2 refuses what v1 encoded ambiguously: a negative expiry (v1 wrote "never" as -1).
 */
export function writeIdentity(out: Buffer, offset: number, identity: EntryIdentity, nsLength: number, keyLength: number, version: number): number {
  let o = out.writeUInt32BE(nsLength, offset);
  o = writeUtf8(out, identity.namespace, nsLength, o);
  o = out.writeUInt32BE(keyLength, o);
  o = writeUtf8(out, identity.key, keyLength, o);
  const { expiresAt } = identity;
  if (version === 1) return out.writeDoubleBE(expiresAt ?? -1, o);
  if (expiresAt === null) {
    out[o] = 0;
    return o + 1;
  }
  checkExpiresAt(expiresAt);
  out[o] = 1;
  return out.writeDoubleBE(expiresAt, o + 1);
}

/** An expiry a v2 envelope can carry: finite epoch milliseconds, not negative. */
export function checkExpiresAt(expiresAt: number): void {
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt) || expiresAt < 0) {
    throw new InvalidArgumentError(`expiresAt must be non-negative epoch milliseconds or null (never expires), got ${String(expiresAt)}.`, {
      hint: 'Pass null for an entry that never expires; a past expiry is written as an already-expired entry, not as -1.',
    });
  }
}

/**
 * Throws InvalidArgumentError unless `s` is well-formed UTF-16. A lone surrogate has no UTF-8
 * form: encoding replaces each with U+FFFD, so keys "\uD800" and "\uDBFF" would share their
 * bytes (and their entry). `field` names it in the error, never its value.
 */
export function checkWellFormed(s: string, field: 'namespace' | 'key'): void {
  if (typeof s !== 'string' || !(s as unknown as WellFormedString).isWellFormed()) {
    throw new InvalidArgumentError(`The cache ${field} is not well-formed Unicode (it has a lone surrogate).`, {
      hint: `Build ${field}s from whole characters; a lone UTF-16 surrogate (U+D800-U+DFFF) has no byte encoding and would collide with others.`,
      context: { field },
    });
  }
}

/** ES2024 String.prototype.isWellFormed (Node >= 20); the TS lib here is ES2023. */
interface WellFormedString {
  isWellFormed(): boolean;
}

/**
 * UTF-8 length of `s`, refusing malformed Unicode. Cache keys are short and mostly ASCII; for
 * those a JS loop beats the native call (`Buffer.byteLength`), which only non-ASCII strings take
 * (and only they can hold a lone surrogate).
 */
export function utf8Length(s: string, field: 'namespace' | 'key'): number {
  if (typeof s !== 'string') checkWellFormed(s, field);
  if (s.length > 64) {
    checkWellFormed(s, field);
    return Buffer.byteLength(s, 'utf8');
  }
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      checkWellFormed(s, field);
      return Buffer.byteLength(s, 'utf8');
    }
  }
  return s.length;
}

/** Writes `s` (`byteLength` bytes of UTF-8) at `offset`; returns the offset after it. */
export function writeUtf8(out: Buffer, s: string, byteLength: number, offset: number): number {
  if (byteLength !== s.length) return offset + out.write(s, offset, byteLength, 'utf8');
  // ASCII: one byte per UTF-16 unit.
  for (let i = 0; i < byteLength; i++) out[offset + i] = s.charCodeAt(i);
  return offset + byteLength;
}

const CHECKSUM_BYTES = 4;

/** Frames `payload` unencrypted, with a CRC-32 over the associated data and the payload. */
export function sealPlain(payload: Uint8Array, identity: EntryIdentity): Buffer {
  const { envelope, bodyOffset } = allocateEnvelope('none', NO_KEY_ID, payload.byteLength + CHECKSUM_BYTES);
  envelope.set(payload, bodyOffset);
  const sum = crc32(payload, crc32(associatedData(envelope.subarray(0, bodyOffset), identity)));
  envelope.writeUInt32BE(sum, bodyOffset + payload.byteLength);
  return envelope;
}

/** Returns the payload of an unencrypted envelope, or throws IntegrityError on a bad checksum. */
export function openPlain(envelope: Uint8Array, header: EnvelopeHeader, identity: EntryIdentity): Uint8Array {
  const end = envelope.byteLength - CHECKSUM_BYTES;
  if (end < header.headerLength) throw new EnvelopeFormatError('Unencrypted envelope is truncated.');
  const payload = envelope.subarray(header.headerLength, end);
  const expected = crc32(payload, crc32(associatedData(envelope.subarray(0, header.headerLength), identity)));
  const stored = Buffer.from(envelope.buffer, envelope.byteOffset + end, CHECKSUM_BYTES).readUInt32BE(0);
  if (stored !== expected) throw new IntegrityError('Unencrypted entry failed its checksum (corrupt, or moved to another key).');
  return payload;
}
