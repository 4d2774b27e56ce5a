// eslint-disable-next-line @typescript-eslint/no-require-imports -- spied on as the module object the code under test calls
import nodeCrypto = require('node:crypto');
import { randomBytes } from 'node:crypto';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { associatedData, readHeader } from '../../client/crypto/envelope';
import { IntegrityError, InvalidArgumentError } from '../../client/errors';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import type { EntryIdentity, StoredEntry } from '../../client/types';

// ---- GF(2^128) as GCM uses it (NIST SP 800-38D 6.3), for the attacker's side only ---------------

const R = 0xe1n << 120n;
const ORDER = (1n << 128n) - 1n; // of the multiplicative group

function mul(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}

function pow(x: bigint, e: bigint): bigint {
  let result = 1n << 127n; // the field's 1 (bit 0 of the block, the leftmost)
  let base = x;
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) result = mul(result, base);
    base = mul(base, base);
  }
  return result;
}

function inverseMod(a: bigint, m: bigint): bigint {
  let [oldR, r, oldS, s] = [a % m, m, 1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('not invertible');
  return ((oldS % m) + m) % m;
}

const toBig = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex').padStart(32, '0') || '0'}`);
const toBytes = (x: bigint) => Buffer.from(x.toString(16).padStart(32, '0'), 'hex');

function blocks(data: Uint8Array): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < data.byteLength; i += 16) {
    const block = Buffer.alloc(16);
    block.set(data.subarray(i, i + 16));
    out.push(toBig(block));
  }
  return out;
}

function ghash(h: bigint, aad: Uint8Array, ciphertext: Uint8Array): bigint {
  const lengths = Buffer.alloc(16);
  lengths.writeBigUInt64BE(BigInt(aad.byteLength) * 8n, 0);
  lengths.writeBigUInt64BE(BigInt(ciphertext.byteLength) * 8n, 8);
  let x = 0n;
  for (const block of [...blocks(aad), ...blocks(ciphertext), toBig(lengths)]) x = mul(x ^ block, h);
  return x;
}

/**
 * The classic forbidden-attack on GCM (Joux): two messages under one key and nonce whose inputs
 * differ in a single GHASH block give that block's difference times H^e; solve for H, then tag
 * anything. Here: two entries that drew the same salt and hold the same value, then a tag for
 * `target`'s identity on the first entry's ciphertext.
 */
function forgeFromRepeatedSalt(a: { bytes: Buffer; id: EntryIdentity }, b: { bytes: Buffer; id: EntryIdentity }, target: EntryIdentity): Buffer {
  const header = readHeader(a.bytes);
  const saltBytes = header.version === 1 ? 16 : 24;
  const split = (bytes: Buffer) => ({
    aad: associatedData(bytes.subarray(0, header.headerLength), { ...a.id, ...(bytes === b.bytes ? b.id : {}) }),
    ciphertext: bytes.subarray(header.headerLength + saltBytes, bytes.byteLength - 16),
    tag: toBig(bytes.subarray(bytes.byteLength - 16)),
  });
  const x = split(a.bytes);
  const y = split(b.bytes);
  const aBlocks = blocks(x.aad);
  const bBlocks = blocks(y.aad);
  const differing = aBlocks.map((block, i) => (block === bBlocks[i] ? -1 : i)).filter((i) => i >= 0);
  if (differing.length !== 1 || !x.ciphertext.equals(y.ciphertext)) {
    // Under distinct entry keys the ciphertexts differ and nothing can be solved: forge blind.
    const blind = Buffer.from(a.bytes);
    randomBytes(16).copy(blind, blind.byteLength - 16);
    return blind;
  }
  const j = differing[0]!;
  const total = aBlocks.length + blocks(x.ciphertext).length + 1;
  const e = BigInt(total - j); // H's exponent for block j (0-based) in GHASH
  const delta = aBlocks[j]! ^ bBlocks[j]!;
  const hToE = mul(x.tag ^ y.tag, pow(delta, ORDER - 1n));
  const h = pow(hToE, inverseMod(e, ORDER));
  const mask = x.tag ^ ghash(h, x.aad, x.ciphertext); // E_K(J0)
  const forged = Buffer.from(a.bytes);
  const targetAad = associatedData(a.bytes.subarray(0, header.headerLength), target);
  toBytes(ghash(h, targetAad, x.ciphertext) ^ mask).copy(forged, forged.byteLength - 16);
  return forged;
}

describe('Forgery across entries after a repeated salt', () => {
  test('two entries that drew the same salt (a cloned CSPRNG) give no tag for a third entry', async () => {
    const keys = new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]);
    const encryption = new AeadEncryption({ keys, algorithm: 'aes-256-gcm' });
    // The test hook: every CSPRNG call returns the same bytes, as two restored clones would.
    const spy = jest.spyOn(nodeCrypto, 'randomFillSync').mockImplementation(((target: Uint8Array, offset = 0, length?: number) => {
      (target as Buffer).fill(0x42, offset, offset + (length ?? target.byteLength - offset));
      return target;
    }) as typeof nodeCrypto.randomFillSync);
    const value = Buffer.alloc(32, 0x61); // two keys caching the same value
    const idA: EntryIdentity = { namespace: 'users', key: 'a', expiresAt: 1_900_000_000_000 };
    const idB: EntryIdentity = { ...idA, key: 'b' };
    const target: EntryIdentity = { ...idA, key: 'c' };
    let a: Buffer;
    let b: Buffer;
    try {
      a = Buffer.from((await encryption.seal(value, idA)).bytes);
      b = Buffer.from((await encryption.seal(value, idB)).bytes);
    } finally {
      spy.mockRestore();
    }
    const forged = forgeFromRepeatedSalt({ bytes: a, id: idA }, { bytes: b, id: idB }, target);
    await expect(encryption.open(forged, target)).rejects.toThrow(IntegrityError);
  });
});

/** A tier that hands back, for some keys, the (authentic) entry stored under another key. */
class SwappingBackend extends MemoryBackend {
  readonly redirect = new Map<string, string>();
  protected override async _get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    return super._get(namespace, this.redirect.get(key) ?? key);
  }
}

describe('Entry substitution and expiry rewriting by a storage writer', () => {
  function setup() {
    const backend = new SwappingBackend();
    const keys = new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]);
    const manager = new CacheManager({ backend, namespace: 'users', encryption: new AeadEncryption({ keys }) });
    return { backend, manager };
  }

  test("an authentic entry of key b, handed back for key a, reads as a miss (open checks the key asked for)", async () => {
    const { backend, manager } = setup();
    await manager.set('b', 'value of b');
    backend.redirect.set('a', 'b');
    expect(await manager.get('a')).toBeUndefined();
    expect(manager.stats().decryptFailures).toBe(1);
  });

  test('an entry verified for key b moments ago is not served from the verified cache for key a', async () => {
    const { backend, manager } = setup();
    await manager.set('b', { secret: 'of b' });
    expect(await manager.get('b')).toEqual({ secret: 'of b' });
    backend.redirect.set('a', 'b');
    expect(await manager.get('a')).toBeUndefined();
    expect(await manager.getMany(['a', 'b'])).toEqual([undefined, { secret: 'of b' }]);
  });

  test('a write with expiresAt -1 is refused, so storage cannot turn it into one that never expires', async () => {
    const { manager } = setup();
    await expect(manager.set('k', 'v', { expiresAt: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(manager.setMany([{ key: 'k', value: 'v', expiresAt: -5 }])).rejects.toThrow(InvalidArgumentError);
  });

  test('an expiry rewritten by storage (set, removed or added) reads as a miss', async () => {
    const { backend, manager } = setup();
    await manager.set('never', 'v', { expiresAt: null });
    await manager.set('soon', 'v', { ttlMs: 60_000 });
    const never = (await backend.get('users', 'never'))!;
    const soon = (await backend.get('users', 'soon'))!;
    await backend.set({ ...never, expiresAt: Date.now() + 60_000 });
    await backend.set({ ...soon, expiresAt: null });
    expect(await manager.get('never')).toBeUndefined();
    expect(await manager.get('soon')).toBeUndefined();
  });

  test('keys with lone surrogates (U+D800, U+DBFF, which encode alike) are refused at the API with a typed error', async () => {
    const { manager } = setup();
    await expect(manager.set('\uD800', 'v')).rejects.toThrow(InvalidArgumentError);
    await expect(manager.get('\uDBFF')).rejects.toThrow(InvalidArgumentError);
    await expect(manager.getMany(['ok', '\uDBFF'])).rejects.toThrow(InvalidArgumentError);
    await expect(manager.delete('x\uDC00')).rejects.toThrow(InvalidArgumentError);
    expect(() => manager.namespace('ns\uD800')).toThrow(InvalidArgumentError);
    await manager.set('key:\u{1F511}', 'whole characters are fine');
    expect(await manager.get('key:\u{1F511}')).toBe('whole characters are fine');
  });
});
