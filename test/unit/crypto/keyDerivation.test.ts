import { hkdfSync, randomBytes } from 'node:crypto';
import { deriveEntryKey, entryKeyInfo } from '../../../client/crypto/entryKeyInfo';
import { DATA_KEY_BYTES, EXTRACT_SALT, hkdfExpand, hkdfExtract, PrkCache } from '../../../client/crypto/keyDerivation';
import { KeyUnavailableError } from '../../../client/errors';

const hex = (s: string) => Buffer.from(s, 'hex');

describe('HKDF-SHA-256 split into extract and expand', () => {
  test('reproduces RFC 5869 test case 1 (PRK and 42-byte OKM)', () => {
    const prk = hkdfExtract(hex('000102030405060708090a0b0c'), Buffer.alloc(22, 0x0b));
    expect(prk.toString('hex')).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    const okm = hkdfExpand(prk, hex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(okm.toString('hex')).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  test.each([1, 12, 32, 44, 64, 100])('extract then expand to %i bytes equals node:crypto hkdfSync', (length) => {
    const ikm = randomBytes(32);
    const info = randomBytes(40);
    const expected = Buffer.from(hkdfSync('sha256', ikm, EXTRACT_SALT, info, length));
    expect(hkdfExpand(hkdfExtract(EXTRACT_SALT, ikm), info, length).equals(expected)).toBe(true);
  });

  test('expand rejects lengths HKDF cannot produce', () => {
    expect(() => hkdfExpand(randomBytes(32), Buffer.alloc(0), 0)).toThrow(RangeError);
    expect(() => hkdfExpand(randomBytes(32), Buffer.alloc(0), 255 * 32 + 1)).toThrow(RangeError);
  });
});

describe('per-entry key derivation', () => {
  test.each<['aes-256-gcm' | 'aes-256-cbc-hmac-sha-512', number]>([
    ['aes-256-gcm', 32],
    ['aes-256-cbc-hmac-sha-512', 64],
  ])('the %s entry key is exactly HKDF-SHA-256(data key, extract salt, info with the salt)', (algorithm, length) => {
    const dataKey = randomBytes(32);
    const prk = new PrkCache().prkFor({ id: 'k1', material: dataKey });
    for (let i = 0; i < 5; i++) {
      const salt = randomBytes(16);
      const expected = Buffer.from(hkdfSync('sha256', dataKey, EXTRACT_SALT, entryKeyInfo(algorithm, salt), length));
      expect(deriveEntryKey(prk, algorithm, salt, length).equals(expected)).toBe(true);
    }
  });

  test('the two algorithms derive different keys from the same data key and salt', () => {
    const prk = new PrkCache().prkFor({ id: 'k1', material: randomBytes(32) });
    const salt = randomBytes(16);
    const gcm = deriveEntryKey(prk, 'aes-256-gcm', salt, 32);
    const cbc = deriveEntryKey(prk, 'aes-256-cbc-hmac-sha-512', salt, 64);
    expect(gcm.equals(cbc.subarray(0, 32))).toBe(false);
  });
});

describe('PrkCache', () => {
  test('extracts once per key version and returns the same PRK after', () => {
    const cache = new PrkCache();
    const key = { id: 'k1', material: randomBytes(DATA_KEY_BYTES) };
    const first = cache.prkFor(key);
    expect(cache.prkFor(key)).toBe(first);
    expect(first.prk.equals(hkdfExtract(EXTRACT_SALT, key.material))).toBe(true);
  });

  test('reuses the PRK when the source hands out an equal copy of the material', () => {
    const cache = new PrkCache();
    const material = randomBytes(32);
    const first = cache.prkFor({ id: 'k1', material });
    expect(cache.prkFor({ id: 'k1', material: Buffer.from(material) })).toBe(first);
    expect(first.prk.equals(Buffer.alloc(32))).toBe(false);
  });

  test('re-extracts and zeroes the old PRK when a version id comes back with other material', () => {
    const cache = new PrkCache();
    const old = cache.prkFor({ id: 'k1', material: randomBytes(32) }).prk;
    const replacement = { id: 'k1', material: randomBytes(32) };
    const fresh = cache.prkFor(replacement).prk;
    expect(old.equals(Buffer.alloc(32))).toBe(true);
    expect(fresh.equals(hkdfExtract(EXTRACT_SALT, replacement.material))).toBe(true);
  });

  test('zeroes the PRK of a key whose source zeroed the material (retired), at the next sweep', () => {
    const cache = new PrkCache();
    const retired = { id: 'k1', material: randomBytes(32) };
    const active = { id: 'k2', material: randomBytes(32) };
    const old = cache.prkFor(retired);
    cache.prkFor(active);
    retired.material.fill(0);
    for (let i = 0; i < 1024; i++) cache.prkFor(active);
    expect(old.prk.equals(Buffer.alloc(32))).toBe(true);
    expect(cache.size).toBe(1);
  });

  test('clear() zeroes every cached PRK', () => {
    const cache = new PrkCache();
    const prks = ['k1', 'k2', 'k3'].map((id) => cache.prkFor({ id, material: randomBytes(32) }));
    expect(prks.every((p) => !p.prk.equals(Buffer.alloc(32)))).toBe(true);
    cache.clear();
    expect(cache.size).toBe(0);
    for (const p of prks) expect(p.prk.equals(Buffer.alloc(32))).toBe(true);
  });

  test('refuses zeroed key material, rather than sealing under a publicly known key', () => {
    expect(() => new PrkCache().prkFor({ id: 'k1', material: Buffer.alloc(32) })).toThrow(KeyUnavailableError);
  });

  test('rejects key material that is not 32 bytes with KeyUnavailableError', () => {
    expect(() => new PrkCache().prkFor({ id: 'k1', material: randomBytes(16) })).toThrow(KeyUnavailableError);
  });

  test('holds a bounded number of versions, zeroing the oldest', () => {
    const cache = new PrkCache();
    const first = cache.prkFor({ id: 'k0', material: randomBytes(32) }).prk;
    for (let i = 1; i <= 40; i++) cache.prkFor({ id: `k${i}`, material: randomBytes(32) });
    expect(cache.size).toBeLessThanOrEqual(32);
    expect(first.equals(Buffer.alloc(32))).toBe(true);
  });
});
