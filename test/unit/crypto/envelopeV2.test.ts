// eslint-disable-next-line @typescript-eslint/no-require-imports -- spied on as the module object the code under test calls
import nodeCrypto = require('node:crypto');
import { hkdfSync, randomBytes } from 'node:crypto';
import { AeadEncryption, type AeadAlgorithmName } from '../../../client/crypto/aeadEncryption';
import { readHeader, sealPlain } from '../../../client/crypto/envelope';
import { deriveEntryKeyV2, SALT_BYTES } from '../../../client/crypto/entryKeyInfo';
import { HMAC_PAD_BYTES, hmacWithPads, PrkCache, type DataKeyPrk } from '../../../client/crypto/keyDerivation';
import { NoEncryption } from '../../../client/crypto/noEncryption';
import { IntegrityError, InvalidArgumentError } from '../../../client/errors';
import { DataKeyCache } from '../../../client/keys/dataKeyCache';
import type { DataKey } from '../../../client/keys/keyProvider';
import { StaticKeySource } from '../../../client/keys/staticKeySource';
import type { EntryIdentity } from '../../../client/types';

const ALGORITHMS: AeadAlgorithmName[] = ['aes-256-gcm', 'aes-256-cbc-hmac-sha-512'];
const identity: EntryIdentity = { namespace: 'users', key: 'user:42', expiresAt: 1_900_000_000_000 };

function setup(algorithm: AeadAlgorithmName) {
  const keys = new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]);
  return { keys, encryption: new AeadEncryption({ keys, algorithm }) };
}

/**
 * Makes node:crypto's randomFillSync write `fill` (each call), as a CSPRNG cloned by a snapshot
 * would repeat itself. Spied on the module object itself (a `* as` import is a copy under swc).
 */
function forceRandom(fill: (target: Uint8Array, offset: number, length: number) => void): jest.SpyInstance {
  return jest.spyOn(nodeCrypto, 'randomFillSync').mockImplementation(((target: Uint8Array, offset = 0, length?: number) => {
    fill(target, offset, length ?? target.byteLength - offset);
    return target;
  }) as typeof nodeCrypto.randomFillSync);
}

describe.each(ALGORITHMS)('envelope format 2 with %s', (algorithm) => {
  test('new envelopes are written in format 2 with a 24-byte salt', async () => {
    const { encryption } = setup(algorithm);
    const sealed = await encryption.seal(Buffer.from('v'), identity);
    const header = readHeader(sealed.bytes);
    expect(header.version).toBe(2);
    expect(SALT_BYTES).toBe(24);
    expect(Buffer.from(await encryption.open(sealed.bytes, identity)).toString()).toBe('v');
  });

  test('each seal takes its salt from the CSPRNG at that moment, not from bytes drawn before (a snapshot restore)', async () => {
    const { encryption } = setup(algorithm);
    // Draw once, as a process does before its snapshot is taken.
    await encryption.seal(Buffer.from('before the snapshot'), identity);
    // "Restored": the generator now yields bytes the process could not have drawn before.
    const spy = forceRandom((target, offset, length) => target.fill(0xa5, offset, offset + length));
    try {
      const sealed = Buffer.from((await encryption.seal(Buffer.from('after the restore'), identity)).bytes);
      const bodyOffset = readHeader(sealed).headerLength;
      expect(sealed.subarray(bodyOffset, bodyOffset + SALT_BYTES).equals(Buffer.alloc(SALT_BYTES, 0xa5))).toBe(true);
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  test('an entry with no expiry does not open as one with expiry -1, and -1 is refused when sealing', async () => {
    const { encryption } = setup(algorithm);
    const never = await encryption.seal(Buffer.from('v'), { ...identity, expiresAt: null });
    await expect(encryption.open(never.bytes, { ...identity, expiresAt: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(encryption.seal(Buffer.from('v'), { ...identity, expiresAt: -1 })).rejects.toThrow(InvalidArgumentError);
    const past = await encryption.seal(Buffer.from('v'), { ...identity, expiresAt: 0 });
    await expect(encryption.open(past.bytes, { ...identity, expiresAt: null })).rejects.toThrow(IntegrityError);
    await expect(encryption.open(never.bytes, { ...identity, expiresAt: 0 })).rejects.toThrow(IntegrityError);
  });

  test.each([Number.NaN, Number.POSITIVE_INFINITY, -0.5])('expiry %p is refused when sealing', async (expiresAt) => {
    const { encryption } = setup(algorithm);
    await expect(encryption.seal(Buffer.from('v'), { ...identity, expiresAt })).rejects.toThrow(InvalidArgumentError);
  });

  test('keys with lone surrogates are refused with a typed error, so U+D800 and U+DBFF cannot share an entry', async () => {
    const { encryption } = setup(algorithm);
    await expect(encryption.seal(Buffer.from('v'), { ...identity, key: 'user:\uD800' })).rejects.toThrow(InvalidArgumentError);
    await expect(encryption.seal(Buffer.from('v'), { ...identity, key: 'x'.repeat(70) + '\uDC00' })).rejects.toThrow(InvalidArgumentError);
    await expect(encryption.seal(Buffer.from('v'), { ...identity, namespace: 'ns\uDBFF' })).rejects.toThrow(InvalidArgumentError);
    const sealed = await encryption.seal(Buffer.from('v'), { ...identity, key: 'user:\u{1F511}' });
    await expect(encryption.open(sealed.bytes, { ...identity, key: 'user:\uD83D' })).rejects.toThrow(InvalidArgumentError);
  });

  test('two entries sealed with one repeated salt get unrelated keys and keystreams', async () => {
    const { encryption } = setup(algorithm);
    const salt = randomBytes(64);
    const spy = forceRandom((target, offset, length) => target.set(salt.subarray(0, length), offset));
    try {
      const plaintext = Buffer.alloc(64, 0);
      const a = Buffer.from((await encryption.seal(plaintext, { ...identity, key: 'a' })).bytes);
      const b = Buffer.from((await encryption.seal(plaintext, { ...identity, key: 'b' })).bytes);
      const bodyOffset = readHeader(a).headerLength;
      // Same salt (and IV) in both...
      expect(a.subarray(bodyOffset, bodyOffset + SALT_BYTES).equals(b.subarray(bodyOffset, bodyOffset + SALT_BYTES))).toBe(true);
      // ...but a zero plaintext's ciphertext, the keystream (GCM) or the first CBC block, differs.
      const start = bodyOffset + SALT_BYTES + (algorithm === 'aes-256-gcm' ? 0 : 16);
      expect(a.subarray(start, start + 16).equals(b.subarray(start, start + 16))).toBe(false);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('the format-2 entry key', () => {
  const prk: DataKeyPrk = new PrkCache().prkFor({ id: 'k1', material: randomBytes(32) });
  const header = Buffer.from([0xc7, 0x56, 2, 1, 2, 0x6b, 0x31]);
  const salt = randomBytes(SALT_BYTES);

  test('is HKDF-Expand over label, salt, header and identity (RFC 5869, checked against hkdfSync)', () => {
    const material = randomBytes(32);
    const cache = new PrkCache();
    const { key, aad } = deriveEntryKeyV2(cache.prkFor({ id: 'k1', material }), salt, header, identity, 32);
    const info = Buffer.concat([Buffer.from('cachevault/v2/entry-key'), salt, aad]);
    const expected = Buffer.from(hkdfSync('sha256', material, Buffer.from('cachevault/v1/hkdf-extract'), info, 32));
    expect(key.equals(expected)).toBe(true);
    const long = deriveEntryKeyV2(cache.prkFor({ id: 'k1', material }), salt, header, identity, 64);
    expect(long.key.equals(Buffer.from(hkdfSync('sha256', material, Buffer.from('cachevault/v1/hkdf-extract'), info, 64)))).toBe(true);
  });

  test.each([
    ['two one-shot hashes', true],
    ['createHmac (Node before 20.12)', false],
  ])('the HMAC over cached pads equals createHmac, by %s, and leaves no pad or digest behind', (_how, oneShot) => {
    const material = randomBytes(32);
    const cached = new PrkCache().prkFor({ id: 'k1', material });
    const original = Object.getOwnPropertyDescriptor(nodeCrypto, 'hash')!;
    if (!oneShot) Object.defineProperty(nodeCrypto, 'hash', { ...original, value: undefined });
    expect(typeof nodeCrypto.hash === 'function').toBe(oneShot);
    try {
      for (const size of [0, 1, 55, 56, 64, 119, 120, 300]) {
        const message = randomBytes(size);
        const scratch = Buffer.concat([Buffer.alloc(HMAC_PAD_BYTES), message]);
        const mac = hmacWithPads(cached, scratch);
        expect(mac.equals(nodeCrypto.createHmac('sha256', cached.prk).update(message).digest())).toBe(true);
        expect(scratch.subarray(0, HMAC_PAD_BYTES).every((byte) => byte === 0)).toBe(true);
        expect(cached.outerInput.subarray(HMAC_PAD_BYTES).every((byte) => byte === 0)).toBe(true);
      }
    } finally {
      Object.defineProperty(nodeCrypto, 'hash', original);
    }
  });

  test.each([
    ['namespace', { ...identity, namespace: 'users2' }],
    ['key', { ...identity, key: 'user:43' }],
    ['expiry', { ...identity, expiresAt: identity.expiresAt! + 1 }],
    ['absent expiry', { ...identity, expiresAt: null }],
  ])('changes with the %s under the same salt', (_field, other) => {
    expect(deriveEntryKeyV2(prk, salt, header, identity, 32).key.equals(deriveEntryKeyV2(prk, salt, header, other, 32).key)).toBe(false);
  });

  test('changes with the header (algorithm, key version) under the same salt', () => {
    const otherAlgorithm = Buffer.from(header);
    otherAlgorithm[3] = 2;
    expect(deriveEntryKeyV2(prk, salt, header, identity, 32).key.equals(deriveEntryKeyV2(prk, salt, otherAlgorithm, identity, 32).key)).toBe(false);
  });
});

describe('unencrypted envelopes in format 2', () => {
  test('carry the expiry presence byte: no expiry does not verify as -1', () => {
    const plain = sealPlain(Buffer.from('v'), { ...identity, expiresAt: null });
    expect(readHeader(plain).version).toBe(2);
    expect(() => new NoEncryption().open(plain, { ...identity, expiresAt: -1 })).toThrow(InvalidArgumentError);
    expect(Buffer.from(new NoEncryption().open(plain, { ...identity, expiresAt: null })).toString()).toBe('v');
  });
});

describe('PRK lifetime', () => {
  function capturePrks(): { prks: DataKeyPrk[]; restore: () => void } {
    const prks: DataKeyPrk[] = [];
    const original = PrkCache.prototype.prkFor;
    const spy = jest.spyOn(PrkCache.prototype, 'prkFor').mockImplementation(function (this: PrkCache, key) {
      const prk = original.call(this, key);
      prks.push(prk);
      return prk;
    });
    return { prks, restore: () => spy.mockRestore() };
  }

  test('a PRK is zeroed as soon as its key source zeroes the data key, with no further lookups', async () => {
    const { prks, restore } = capturePrks();
    try {
      const { keys, encryption } = setup('aes-256-gcm');
      await encryption.seal(Buffer.from('v'), identity);
      expect(prks.length).toBeGreaterThan(0);
      expect(prks.every(({ prk }) => prk.some((byte) => byte !== 0))).toBe(true);
      keys.close(); // the source zeroes its keys; the provider stays idle
      expect(prks.every(({ prk }) => prk.every((byte) => byte === 0))).toBe(true);
    } finally {
      restore();
    }
  });

  test('a PRK is zeroed when a KeyManager-style DataKeyCache drops its key (age limit), with no further lookups', async () => {
    const { prks, restore } = capturePrks();
    try {
      let now = 0;
      const cache = new DataKeyCache({ maxAgeMs: 1_000 }, () => now);
      cache.put('k1', randomBytes(32));
      const source = {
        activeKey: async (): Promise<DataKey> => cache.use('k1')!,
        keyById: async (id: string): Promise<DataKey> => cache.use(id)!,
        onKeyDropped: (listener: (key: DataKey) => void) => cache.onDrop(listener),
      };
      const encryption = new AeadEncryption({ keys: source });
      await encryption.seal(Buffer.from('v'), identity);
      now = 5_000;
      expect(cache.use('k1')).toBeUndefined(); // past its age: the cache zeroes and drops it
      expect(prks.length).toBeGreaterThan(0);
      expect(prks.every(({ prk }) => prk.every((byte) => byte === 0))).toBe(true);
      encryption.close();
    } finally {
      restore();
    }
  });

  test('close() unsubscribes from the key source', async () => {
    const { keys, encryption } = setup('aes-256-gcm');
    const listeners: unknown[] = [];
    const original = keys.onKeyDropped.bind(keys);
    const spy = jest.spyOn(keys, 'onKeyDropped').mockImplementation((listener) => {
      listeners.push(listener);
      return original(listener);
    });
    const tracked = new AeadEncryption({ keys });
    expect(listeners).toHaveLength(1);
    tracked.close();
    encryption.close();
    expect(() => keys.close()).not.toThrow();
    spy.mockRestore();
  });
});
