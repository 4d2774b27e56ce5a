import { IntegrityError } from '../errors';

/**
 * What an entry may carry besides its value, inside the sealed bytes (so the encryption
 * authenticates it and storage never sees it):
 *
 * - `staleUntil`: the entry is logically expired at its `expiresAt` field of this record
 *   (`freshUntil`) but kept in storage until its physical `expiresAt` so `wrap(..., { graceMs })`
 *   can serve it while the loader fails or is slow. Plain `get` treats it as expired at
 *   `freshUntil`.
 * - `negative`: the loader found nothing (it returned `null` or `undefined`) and `wrap` cached the
 *   absence (`negativeTtlMs`). `get` treats it as a miss; `wrap` returns the stored `null` or
 *   `undefined` without calling the loader.
 * - `tags`: the version token of each tag the entry was written under; an entry whose token is
 *   no longer the tag's current one was invalidated (`invalidateTags`).
 */
export interface EntryMeta {
  /** Logical expiry (epoch ms, `null` never); the entry's own `expiresAt` then holds the grace deadline. */
  readonly freshUntil?: number | null;
  readonly negative?: boolean;
  /** `[tag, version token]` pairs. */
  readonly tags?: readonly (readonly [string, string])[];
}

/**
 * The frame that carries {@link EntryMeta}, between the serializer and the byte transforms:
 *
 * ```
 * 0xC1 'c' 'v' 'm' (4) | frame version (1) | meta length (4, BE) | meta (JSON, UTF-8) | serialized value
 * ```
 *
 * Entries without metadata are written exactly as before (serialized value only), so a plain
 * `set` costs nothing and old entries stay readable. 0xC1 is the one byte MessagePack never uses
 * and is never valid in UTF-8, so no msgpack or text serializer output starts with this magic;
 * a custom serializer whose output does is framed with empty metadata, so the two cannot be
 * confused. A client older than the frame reads a framed entry as undecodable (a counted miss),
 * never as a wrong value.
 */
const MAGIC = [0xc1, 0x63, 0x76, 0x6d] as const;
const FRAME_VERSION = 1;
const HEADER_BYTES = MAGIC.length + 1 + 4;
/** Metadata is a few tags and numbers; anything larger is not ours. */
const MAX_META_BYTES = 64 * 1024;

function startsWithMagic(bytes: Uint8Array): boolean {
  return bytes.byteLength >= MAGIC.length && bytes[0] === MAGIC[0] && bytes[1] === MAGIC[1] && bytes[2] === MAGIC[2] && bytes[3] === MAGIC[3];
}

function isEmpty(meta: EntryMeta | undefined): boolean {
  return meta === undefined || (meta.freshUntil === undefined && meta.negative !== true && (meta.tags === undefined || meta.tags.length === 0));
}

/** Prefixes `payload` with the metadata frame when there is metadata (or the payload could pass for a frame). */
export function frameEntry(payload: Uint8Array, meta: EntryMeta | undefined): Uint8Array {
  if (isEmpty(meta) && !startsWithMagic(payload)) return payload;
  const record: Record<string, unknown> = {};
  if (meta?.freshUntil !== undefined) record.f = meta.freshUntil;
  if (meta?.negative === true) record.n = 1;
  if (meta?.tags !== undefined && meta.tags.length > 0) record.t = meta.tags;
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  const out = Buffer.allocUnsafe(HEADER_BYTES + json.byteLength + payload.byteLength);
  out.set(MAGIC, 0);
  out[MAGIC.length] = FRAME_VERSION;
  out.writeUInt32BE(json.byteLength, MAGIC.length + 1);
  out.set(json, HEADER_BYTES);
  out.set(payload, HEADER_BYTES + json.byteLength);
  return out;
}

/** Splits opened bytes into metadata (undefined when unframed) and the serialized value. */
export function unframeEntry(bytes: Uint8Array): { readonly meta: EntryMeta | undefined; readonly payload: Uint8Array } {
  if (!startsWithMagic(bytes)) return { meta: undefined, payload: bytes };
  if (bytes.byteLength < HEADER_BYTES) throw new IntegrityError('Stored entry has a truncated metadata frame.');
  if (bytes[MAGIC.length] !== FRAME_VERSION) {
    throw new IntegrityError(`Stored entry has metadata frame version ${bytes[MAGIC.length]}; this client reads version ${FRAME_VERSION}.`, {
      hint: 'The entry was written by a newer cachevault; upgrade this client.',
    });
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.readUInt32BE(MAGIC.length + 1);
  if (length > MAX_META_BYTES || HEADER_BYTES + length > bytes.byteLength) throw new IntegrityError('Stored entry has a malformed metadata frame.');
  let record: unknown;
  try {
    record = JSON.parse(view.toString('utf8', HEADER_BYTES, HEADER_BYTES + length));
  } catch (err) {
    throw new IntegrityError('Stored entry has unreadable metadata.', { cause: err });
  }
  return { meta: parseMeta(record), payload: bytes.subarray(HEADER_BYTES + length) };
}

function parseMeta(record: unknown): EntryMeta {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new IntegrityError('Stored entry metadata is not an object.');
  const { f, n, t } = record as Record<string, unknown>;
  const meta: { freshUntil?: number | null; negative?: boolean; tags?: [string, string][] } = {};
  if (f !== undefined) {
    if (f !== null && (typeof f !== 'number' || !Number.isFinite(f) || f < 0)) throw new IntegrityError('Stored entry metadata has an invalid logical expiry.');
    meta.freshUntil = f;
  }
  if (n !== undefined) {
    if (n !== 1) throw new IntegrityError('Stored entry metadata has an invalid negative marker.');
    meta.negative = true;
  }
  if (t !== undefined) {
    if (!Array.isArray(t) || !t.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) {
      throw new IntegrityError('Stored entry metadata has invalid tags.');
    }
    meta.tags = t as [string, string][];
  }
  return meta;
}
