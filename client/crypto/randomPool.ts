import { randomFillSync } from 'node:crypto';

/**
 * Public per-entry randomness (salts, IVs) served from a pool refilled 4 KiB at a time.
 * `randomBytes(16)` costs ~2 us per call here, about a fifth of a whole 1 KB AES-GCM round trip;
 * one CSPRNG call per 256 salts makes that ~0.1 us. The bytes drawn are never secret (they are
 * stored in clear in the envelope), and each byte of the pool is handed out once.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let position = POOL_BYTES;

/** Writes `length` (at most 4096) fresh random bytes into `target` at `offset`. */
export function fillRandom(target: Uint8Array, offset: number, length: number): void {
  if (length > POOL_BYTES) {
    randomFillSync(target, offset, length);
    return;
  }
  if (position + length > POOL_BYTES) {
    randomFillSync(pool);
    position = 0;
  }
  target.set(pool.subarray(position, position + length), offset);
  position += length;
}
