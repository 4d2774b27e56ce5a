import type { EntryIdentity } from '../types';
import { AlgorithmId, identityLength, utf8Length, writeIdentity, type AlgorithmName } from './envelope';
import { HMAC_PAD_BYTES, hkdfExpand, hmacWithPads, type DataKeyPrk } from './keyDerivation';

/**
 * Bytes of the random per-entry salt in a format-2 envelope. 192 bits: two entries under one
 * data key share a salt with probability below q^2 / 2^193 after q entries (2^-97 at 2^48
 * entries), and since the identity is in the derivation too, a shared salt matters only between
 * writes of the very same entry. 32 bytes (Tink's AES-GCM-HKDF) would add 8 bytes to every
 * entry for a bound no cache comes near; 16 (format 1) leaves 2^-65 at 2^32 entries, a margin
 * that a restored snapshot's repeated randomness, not chance, is what erodes.
 */
export const SALT_BYTES = 24;
/** Bytes of the salt in a format-1 envelope (read only). */
export const SALT_BYTES_V1 = 16;

/** Salt bytes for an envelope of format `version` (1 or 2, as readHeader accepts). */
export function saltBytes(version: number): number {
  return version === 1 ? SALT_BYTES_V1 : SALT_BYTES;
}

type SealingAlgorithm = Exclude<AlgorithmName, 'none'>;

/** A per-entry key and the associated data it authenticates (header and identity). */
export interface EntryKey {
  /** The caller zeroes it as soon as the cipher holds it. */
  readonly key: Buffer;
  readonly aad: Buffer;
}

// ---- format 2 ---------------------------------------------------------------------------------

const LABEL_V2 = Buffer.from('cachevault/v2/entry-key', 'latin1');

/**
 * The format-2 per-entry key: HKDF-Expand(PRK, info, length) with
 *
 * ```
 * info = "cachevault/v2/entry-key" | salt (24) | header | identity
 * ```
 *
 * where header | identity is exactly the AAD (so the key is bound to the algorithm, key
 * version, namespace, key and expiry, the same fields the tag covers). With the identity in the
 * derivation, two entries that draw the same salt (a process cloned by a VM snapshot, with its
 * CSPRNG state) still get unrelated keys, unless they are writes of the very same entry.
 *
 * The identity goes into `info` as its injective, length-prefixed encoding rather than as a hash
 * of it: HMAC then binds it under the PRF assumption alone, with no extra hash call per entry
 * and no collision resistance needed from a second function.
 *
 * For 32 bytes (AES-256-GCM, every seal and open) that is T(1) alone: one HMAC-SHA-256 over
 * `info | 0x01`, built in the same buffer as the AAD (after room for the HMAC pad, see
 * hmacWithPads), which is returned as a view of it.
 */
export function deriveEntryKeyV2(prk: DataKeyPrk, salt: Uint8Array, header: Uint8Array, identity: EntryIdentity, length: number): EntryKey {
  return deriveFromEnvelope(prk, header, 0, header.byteLength, salt, identity, length);
}

/**
 * deriveEntryKeyV2 with the header and salt read in place from an envelope (header at 0, salt at
 * `bodyOffset`), as seal and open have them: no views to build on the hot path.
 */
export function deriveEntryKeyInEnvelope(prk: DataKeyPrk, envelope: Uint8Array, bodyOffset: number, identity: EntryIdentity, length: number): EntryKey {
  return deriveFromEnvelope(prk, envelope, 0, bodyOffset, envelope, identity, length, bodyOffset);
}

function deriveFromEnvelope(
  prk: DataKeyPrk,
  headerSource: Uint8Array,
  headerStart: number,
  headerEnd: number,
  saltSource: Uint8Array,
  identity: EntryIdentity,
  length: number,
  saltStart = 0,
): EntryKey {
  const { input, aad } = derivationInput(headerSource, headerStart, headerEnd, saltSource, saltStart, identity);
  if (length === 32) return { key: hmacWithPads(prk, input), aad };
  return { key: hkdfExpand(prk.prk, input.subarray(INFO_OFFSET, input.byteLength - 1), length), aad };
}

/**
 * `room for the HMAC pad (64) | info | 0x01`, info = label | salt | header | identity, and the
 * AAD (header | identity) as a view of it. Exported for the benchmark's comparison only.
 */
export function derivationInput(
  headerSource: Uint8Array,
  headerStart: number,
  headerEnd: number,
  saltSource: Uint8Array,
  saltStart: number,
  identity: EntryIdentity,
): { input: Buffer; aad: Buffer } {
  const nsLength = utf8Length(identity.namespace, 'namespace');
  const keyLength = utf8Length(identity.key, 'key');
  const aadLength = headerEnd - headerStart + identityLength(nsLength, keyLength, identity.expiresAt, 2);
  const aadOffset = INFO_OFFSET + LABEL_V2.byteLength + SALT_BYTES;
  const input = Buffer.allocUnsafe(aadOffset + aadLength + 1);
  // Byte loops: cheaper than native copies for these few bytes.
  let o = INFO_OFFSET;
  for (let i = 0; i < LABEL_V2.byteLength; i++) input[o++] = LABEL_V2[i]!;
  for (let i = 0; i < SALT_BYTES; i++) input[o++] = saltSource[saltStart + i]!;
  for (let i = headerStart; i < headerEnd; i++) input[o++] = headerSource[i]!;
  const end = writeIdentity(input, o, identity, nsLength, keyLength, 2);
  input[end] = 1;
  return { input, aad: input.subarray(aadOffset, end) };
}

/** Where `info` starts in the derivation buffer: after room for the HMAC pad (hmacWithPads). */
const INFO_OFFSET = HMAC_PAD_BYTES;

// ---- format 1 (read only) ---------------------------------------------------------------------

const LABEL_V1 = Buffer.from('cachevault/v1/entry-key', 'latin1');
const INFO_BYTES_V1 = LABEL_V1.byteLength + 1 + SALT_BYTES_V1;

/**
 * The format-1 HKDF `info`: a label, the algorithm id and the entry's 16-byte salt. It leaves the
 * identity out, which is why format 2 replaced it; kept to open entries written before.
 */
export function entryKeyInfo(algorithm: SealingAlgorithm, salt: Uint8Array): Buffer {
  const info = Buffer.allocUnsafe(INFO_BYTES_V1);
  LABEL_V1.copy(info, 0);
  info[LABEL_V1.byteLength] = AlgorithmId[algorithm];
  info.set(salt.subarray(0, SALT_BYTES_V1), LABEL_V1.byteLength + 1);
  return info;
}

/** The format-1 per-entry key: HKDF-Expand(PRK, entryKeyInfo(algorithm, salt), length). */
export function deriveEntryKey(prk: DataKeyPrk, algorithm: SealingAlgorithm, salt: Uint8Array, length: number): Buffer {
  return hkdfExpand(prk.prk, entryKeyInfo(algorithm, salt), length);
}
