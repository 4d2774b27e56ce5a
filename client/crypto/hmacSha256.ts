/**
 * HMAC-SHA-256 with the key schedule done once, for messages of at most 55 bytes (one SHA-256
 * block). It exists for one job: HKDF-Expand's first block on every seal and open.
 *
 * Why not `crypto.createHmac`: on Node 20 every call builds a fresh OpenSSL context and a
 * native handle that the garbage collector must finalize (~2.3 us of CPU here, plus GC work),
 * and Node has no API to reuse a keyed HMAC. With the ipad and opad blocks compressed once per
 * key, an HMAC of a short message is two SHA-256 compressions in plain JavaScript: about half
 * the CPU time (~1.3 us), and no native objects for the collector to finalize.
 *
 * The SHA-256 compression follows FIPS 180-4 6.2.2 and uses only 32-bit add, xor, and, not and
 * rotate, with no data-dependent branches or table lookups, so its timing does not depend on
 * the key. Tests compare it with node:crypto for every message length it accepts and random keys.
 */

// FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
// FIPS 180-4 5.3.3: the initial hash value.
const H0 = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;
/** Longest message that fits one padded block: 64 - 1 (0x80) - 8 (bit length). */
export const MAX_SHORT_MESSAGE_BYTES = 55;

// Scratch space shared by every instance; each call fills and then zeroes it before returning
// (JavaScript runs it to completion, so no two calls interleave).
const schedule = new Int32Array(64);
const block = new Uint8Array(BLOCK_BYTES);
const state = new Int32Array(8);

/** FIPS 180-4 6.2.2: one SHA-256 compression of `input` (64 bytes) into `h`. */
function compress(h: Int32Array, input: Uint8Array): void {
  const w = schedule;
  for (let i = 0; i < 16; i++) {
    const j = i * 4;
    w[i] = (input[j]! << 24) | (input[j + 1]! << 16) | (input[j + 2]! << 8) | input[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const w15 = w[i - 15]!;
    const w2 = w[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
  for (let i = 0; i < 64; i++) {
    const sum1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + sum1 + ch + K[i]! + w[i]!) | 0;
    const sum0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + sum0 + maj) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

/** Pads a message that already sits at the start of `block` and was preceded by one 64-byte block. */
function padAfterOneBlock(messageBytes: number): void {
  block[messageBytes] = 0x80;
  const bits = (BLOCK_BYTES + messageBytes) * 8;
  block[62] = bits >>> 8;
  block[63] = bits & 0xff;
}

/** An HMAC-SHA-256 key, held as the two compressed pad states; zero it with `destroy()`. */
export class PrekeyedHmacSha256 {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);

  /** @param key at most 64 bytes (an HKDF PRK is 32). The caller keeps ownership of `key`. */
  constructor(key: Uint8Array) {
    if (key.byteLength > BLOCK_BYTES) throw new RangeError('PrekeyedHmacSha256 takes keys of at most 64 bytes.');
    this.inner.set(H0);
    this.outer.set(H0);
    for (const [h, pad] of [[this.inner, 0x36], [this.outer, 0x5c]] as const) {
      block.fill(pad);
      for (let i = 0; i < key.byteLength; i++) block[i]! ^= key[i]!;
      compress(h, block);
    }
    block.fill(0);
    schedule.fill(0);
  }

  /** HMAC(key, message) for a message of at most 55 bytes. */
  digestShort(message: Uint8Array): Buffer {
    if (message.byteLength > MAX_SHORT_MESSAGE_BYTES) throw new RangeError(`digestShort takes at most ${MAX_SHORT_MESSAGE_BYTES} bytes.`);
    try {
      // Inner hash: H((K ^ ipad) | message), the first block already compressed.
      block.fill(0);
      block.set(message, 0);
      padAfterOneBlock(message.byteLength);
      state.set(this.inner);
      compress(state, block);
      // Outer hash: H((K ^ opad) | inner digest).
      block.fill(0);
      for (let i = 0; i < 8; i++) writeWord(block, i * 4, state[i]!);
      padAfterOneBlock(DIGEST_BYTES);
      state.set(this.outer);
      compress(state, block);
      const out = Buffer.allocUnsafe(DIGEST_BYTES);
      for (let i = 0; i < 8; i++) writeWord(out, i * 4, state[i]!);
      return out;
    } finally {
      block.fill(0);
      state.fill(0);
      schedule.fill(0);
    }
  }

  /** Zeroes the key-dependent state; the instance must not be used afterwards. */
  destroy(): void {
    this.inner.fill(0);
    this.outer.fill(0);
  }
}

function writeWord(target: Uint8Array, offset: number, word: number): void {
  target[offset] = word >>> 24;
  target[offset + 1] = word >>> 16;
  target[offset + 2] = word >>> 8;
  target[offset + 3] = word;
}
