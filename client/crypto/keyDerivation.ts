import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { KeyUnavailableError } from '../errors';
import type { DataKey } from '../keys/keyProvider';

/**
 * HKDF-SHA-256 (RFC 5869) split in its two halves, because the halves run at different rates:
 * extract once per data key (the PRK is cached), expand once per entry with that entry's random
 * salt in `info`. Node's `hkdfSync` always runs both (~10 us); expand alone is one HMAC per
 * 32 output bytes (~2 us).
 */

const HASH = 'sha256';
const HASH_BYTES = 32;
/** Data keys are AES-256 keys. */
export const DATA_KEY_BYTES = 32;

/**
 * The extract salt: fixed, for domain separation only. Per-entry randomness goes into `info`,
 * where it costs one expand instead of a full extract.
 */
export const EXTRACT_SALT = Buffer.from('cachevault/v1/hkdf-extract', 'latin1');

/** HKDF-Extract: PRK = HMAC-SHA-256(salt, ikm). The caller owns (and zeroes) the result. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac(HASH, salt).update(ikm).digest();
}

const FIRST_BLOCK = Buffer.from([1]);

/**
 * HKDF-Expand: the first `length` bytes of T(1) | T(2) | ..., T(i) = HMAC(PRK, T(i-1) | info | i).
 * Intermediate blocks are zeroed; the caller owns (and zeroes) the result.
 */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  if (!Number.isInteger(length) || length <= 0 || length > 255 * HASH_BYTES) {
    throw new RangeError(`HKDF-Expand length must be 1..${255 * HASH_BYTES}, got ${length}.`);
  }
  if (length <= HASH_BYTES) {
    const block = createHmac(HASH, prk).update(info).update(FIRST_BLOCK).digest();
    if (length === HASH_BYTES) return block;
    const out = Buffer.from(block.subarray(0, length));
    block.fill(0);
    return out;
  }
  const counter = Buffer.alloc(1);
  const out = Buffer.allocUnsafe(length);
  let previous: Buffer | undefined;
  for (let i = 1, offset = 0; offset < length; i++, offset += HASH_BYTES) {
    counter[0] = i;
    const hmac = createHmac(HASH, prk);
    if (previous) hmac.update(previous);
    const block = hmac.update(info).update(counter).digest();
    block.copy(out, offset, 0, Math.min(HASH_BYTES, length - offset));
    previous?.fill(0);
    previous = block;
  }
  previous?.fill(0);
  return out;
}

/** Most data-key versions whose PRK is kept; a fleet holds a handful (active plus decrypt-only). */
const MAX_CACHED_PRKS = 32;
/** Lookups between sweeps for keys their source has zeroed (retired or expired from its cache). */
const SWEEP_EVERY = 1024;

/** SHA-256's block: the size of HMAC's padded key (RFC 2104). */
export const HMAC_PAD_BYTES = 64;

/** What is cached per data key version: its HKDF PRK, and the PRK's HMAC pads. */
export interface DataKeyPrk {
  readonly prk: Buffer;
  /** PRK xor ipad (0x36), one SHA-256 block. */
  readonly innerPad: Buffer;
  /** PRK xor opad (0x5c), one SHA-256 block, then room for the inner digest (96 bytes). */
  readonly outerInput: Buffer;
}

function withPads(prk: Buffer): DataKeyPrk {
  const innerPad = Buffer.alloc(HMAC_PAD_BYTES, 0x36);
  const outerInput = Buffer.alloc(HMAC_PAD_BYTES + HASH_BYTES, 0);
  outerInput.fill(0x5c, 0, HMAC_PAD_BYTES);
  for (let i = 0; i < prk.byteLength; i++) {
    innerPad[i]! ^= prk[i]!;
    outerInput[i]! ^= prk[i]!;
  }
  return { prk, innerPad, outerInput };
}

/**
 * HMAC-SHA-256(PRK, message) (RFC 2104) as two one-shot hashes over the cached pads, where
 * `scratch` is HMAC_PAD_BYTES reserved bytes followed by the message. Node's `createHmac` builds
 * a stream object and re-derives both pads on every call; two `crypto.hash` calls measured about
 * a quarter cheaper per entry. The reserved bytes receive PRK xor ipad and are zeroed again, as
 * is the inner digest; the caller owns (and zeroes) the result. Falls back to createHmac where
 * `crypto.hash` is missing (Node before 20.12).
 */
export function hmacWithPads(prk: DataKeyPrk, scratch: Buffer): Buffer {
  if (typeof hash !== 'function') return createHmac(HASH, prk.prk).update(scratch.subarray(HMAC_PAD_BYTES)).digest();
  prk.innerPad.copy(scratch, 0);
  const inner = hash(HASH, scratch, 'buffer');
  scratch.fill(0, 0, HMAC_PAD_BYTES);
  const outer = prk.outerInput;
  inner.copy(outer, HMAC_PAD_BYTES);
  inner.fill(0);
  const result = hash(HASH, outer, 'buffer');
  outer.fill(0, HMAC_PAD_BYTES);
  return result;
}

/**
 * PRKs of the data keys in use, by key version id. A PRK is tied to the material it was
 * extracted from: if a key source hands out other material under the same id, the old PRK is
 * zeroed and re-extracted. Only a reference to the source's Buffer is kept, never a copy of the
 * key. A source that zeroes a key's material (KeyManager does on retirement and cache expiry)
 * and reports it through `onKeyDropped` gets the matching PRK zeroed at once (`forget`); for a
 * source without that hook, at the next sweep (every 1024 lookups and every extract). All PRKs
 * are zeroed on `clear()`.
 */
export class PrkCache {
  private readonly entries = new Map<string, { readonly material: Buffer; readonly value: DataKeyPrk }>();
  private lookups = 0;

  /** The PRK for `key`, extracted on first use. */
  prkFor(key: DataKey): DataKeyPrk {
    if (++this.lookups >= SWEEP_EVERY) this.sweepZeroed();
    const cached = this.entries.get(key.id);
    if (cached !== undefined) {
      if (cached.material === key.material) return cached.value;
      // A source that hands out a fresh copy per call must not cost an extract per entry.
      // Constant time: the comparison must not reveal how many leading bytes of a key matched.
      if (cached.material.byteLength === key.material.byteLength && timingSafeEqual(cached.material, key.material)) {
        this.entries.set(key.id, { material: key.material, value: cached.value });
        return cached.value;
      }
    }
    if (key.material.byteLength !== DATA_KEY_BYTES) {
      throw new KeyUnavailableError(`Data key ${key.id} is ${key.material.byteLength} bytes; AES-256 needs ${DATA_KEY_BYTES}.`, key.id, {
        hint: 'The key source returned malformed material: check the key provider (a base64 env key must decode to 32 bytes).',
      });
    }
    if (isAllZero(key.material)) {
      // Sealing under a wiped buffer would use a publicly known key.
      throw new KeyUnavailableError(`Data key ${key.id} has been zeroed (closed or retired) by its key source.`, key.id, {
        hint: 'Do not use a key source after close(); a retired key version cannot seal or open entries.',
      });
    }
    if (cached !== undefined) this.drop(key.id);
    this.sweepZeroed();
    if (this.entries.size >= MAX_CACHED_PRKS) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.drop(oldest);
    }
    const prk = hkdfExtract(EXTRACT_SALT, key.material);
    const value = withPads(prk);
    this.entries.set(key.id, { material: key.material, value });
    return value;
  }

  /**
   * Zeroes and forgets the PRK extracted from `key`'s material, if that is the Buffer cached
   * under its id: the hook a key source calls as it zeroes a data key (DataKeySource
   * `onKeyDropped`), so the PRK goes at the same moment, not at a later lookup that an idle
   * process may never make.
   */
  forget(key: DataKey): void {
    const entry = this.entries.get(key.id);
    if (entry !== undefined && entry.material === key.material) this.drop(key.id);
  }

  /** Zeroes and forgets every PRK. */
  clear(): void {
    for (const id of [...this.entries.keys()]) this.drop(id);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops PRKs whose source material is now all zeros (a 2^-256 event for a live key). */
  private sweepZeroed(): void {
    this.lookups = 0;
    for (const [id, entry] of this.entries) {
      if (isAllZero(entry.material)) this.drop(id);
    }
  }

  private drop(id: string): void {
    const entry = this.entries.get(id);
    entry?.value.prk.fill(0);
    entry?.value.innerPad.fill(0);
    entry?.value.outerInput.fill(0);
    this.entries.delete(id);
  }
}

/** Whether every byte is zero, in time independent of where a non-zero byte is. */
function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.byteLength; i++) acc |= bytes[i]!;
  return acc === 0;
}
