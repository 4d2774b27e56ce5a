import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { MemoryBackend } from '../../../client/backends/memoryBackend';
import { CacheManager } from '../../../client/core/cacheManager';
import { AeadEncryption, type AeadAlgorithmName } from '../../../client/crypto/aeadEncryption';
import { associatedData, readHeader, sealPlain } from '../../../client/crypto/envelope';
import { EncryptionClosedError } from '../../../client/crypto/errors';
import { PrkCache, type DataKeyPrk } from '../../../client/crypto/keyDerivation';
import { NoEncryption } from '../../../client/crypto/noEncryption';
import { CacheVaultError, EnvelopeFormatError, IntegrityError, InvalidArgumentError, KeyUnavailableError } from '../../../client/errors';
import { StaticKeySource } from '../../../client/keys/staticKeySource';
import type { EntryIdentity } from '../../../client/types';

const ALGORITHMS: AeadAlgorithmName[] = ['aes-256-gcm', 'aes-256-cbc-hmac-sha-512'];
const identity: EntryIdentity = { namespace: 'users', key: 'user:42', expiresAt: 1_900_000_000_000 };

function setup(algorithm: AeadAlgorithmName, options: { allowUnencryptedReads?: boolean } = {}) {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const keys = new StaticKeySource([{ id: 'k1', material: k1 }, { id: 'k2', material: k2 }], 'k1');
  return { k1, k2, keys, encryption: new AeadEncryption({ keys, algorithm, ...options }) };
}

/** Rewrites the envelope's key id in place (same length), as an attacker editing the header would. */
function withKeyId(envelope: Uint8Array, keyId: string): Buffer {
  const copy = Buffer.from(envelope);
  copy.write(keyId, 5, 'latin1');
  return copy;
}

async function openOutcome(encryption: AeadEncryption, bytes: Uint8Array, id: EntryIdentity): Promise<unknown> {
  try {
    return await encryption.open(bytes, id);
  } catch (err) {
    return err;
  }
}

describe.each(ALGORITHMS)('AeadEncryption with %s', (algorithm) => {
  test.each([0, 1, 15, 16, 17, 100, 1024, 70_000])('round-trips a %i-byte value', async (size) => {
    const { encryption } = setup(algorithm);
    const plaintext = randomBytes(size);
    const sealed = await encryption.seal(plaintext, identity);
    expect(Buffer.from(await encryption.open(sealed.bytes, identity)).equals(plaintext)).toBe(true);
  });

  test('seals with the active key and records its id in the envelope and the result', async () => {
    const { encryption } = setup(algorithm);
    const sealed = await encryption.seal(Buffer.from('hello'), identity);
    expect(sealed.keyId).toBe('k1');
    const header = readHeader(sealed.bytes);
    expect(header.keyId).toBe('k1');
    expect(header.algorithm).toBe(algorithm);
  });

  test('stores no plaintext and never the same bytes twice for the same value', async () => {
    const { encryption } = setup(algorithm);
    const plaintext = Buffer.from('a secret value that must not appear in storage');
    const a = Buffer.from((await encryption.seal(plaintext, identity)).bytes);
    const b = Buffer.from((await encryption.seal(plaintext, identity)).bytes);
    expect(a.includes(plaintext)).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  test.each<[string, Partial<EntryIdentity>]>([
    ['another namespace', { namespace: 'admins' }],
    ['another cache key', { key: 'user:43' }],
    ['a longer expiry', { expiresAt: 1_900_000_000_001 }],
    ['no expiry', { expiresAt: null }],
  ])('a ciphertext moved to %s fails with IntegrityError', async (_what, change) => {
    const { encryption } = setup(algorithm);
    const sealed = await encryption.seal(Buffer.from('value'), identity);
    await expect(encryption.open(sealed.bytes, { ...identity, ...change })).rejects.toThrow(IntegrityError);
  });

  test('a ciphertext relabelled with another key version fails with IntegrityError', async () => {
    const { encryption } = setup(algorithm);
    const sealed = await encryption.seal(Buffer.from('value'), identity);
    await expect(encryption.open(withKeyId(sealed.bytes, 'k2'), identity)).rejects.toThrow(IntegrityError);
  });

  test('every single-bit flip of an envelope fails with one of our typed errors', async () => {
    const { encryption } = setup(algorithm);
    const sealed = Buffer.from((await encryption.seal(Buffer.from('twenty bytes of data'), identity)).bytes);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const tampered = Buffer.from(sealed);
      tampered[bit >> 3]! ^= 1 << (bit & 7);
      const outcome = await openOutcome(encryption, tampered, identity);
      expect([IntegrityError, EnvelopeFormatError, KeyUnavailableError].some((type) => outcome instanceof type)).toBe(true);
    }
  });

  test('every truncation of an envelope fails with one of our typed errors', async () => {
    const { encryption } = setup(algorithm);
    const sealed = Buffer.from((await encryption.seal(Buffer.from('twenty bytes of data'), identity)).bytes);
    for (let length = 0; length < sealed.length; length++) {
      const outcome = await openOutcome(encryption, sealed.subarray(0, length), identity);
      expect(outcome instanceof IntegrityError || outcome instanceof EnvelopeFormatError).toBe(true);
    }
  });

  test('the wrong key material under the same version id fails with IntegrityError', async () => {
    const { encryption } = setup(algorithm);
    const sealed = await encryption.seal(Buffer.from('value'), identity);
    const impostor = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]), algorithm });
    await expect(impostor.open(sealed.bytes, identity)).rejects.toThrow(IntegrityError);
  });

  test('an entry under a key version this client lacks fails with KeyUnavailableError', async () => {
    const { encryption } = setup(algorithm);
    const sealed = await encryption.seal(Buffer.from('value'), identity);
    const other = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k9', material: randomBytes(32) }]), algorithm });
    await expect(other.open(sealed.bytes, identity)).rejects.toThrow(KeyUnavailableError);
  });

  test('entries sealed under an older key stay readable after the active key changes', async () => {
    const { k1, k2, encryption } = setup(algorithm);
    const sealed = await encryption.seal(Buffer.from('old'), identity);
    const rotated = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: k1 }, { id: 'k2', material: k2 }], 'k2'), algorithm });
    expect(Buffer.from(await rotated.open(sealed.bytes, identity)).toString()).toBe('old');
    expect((await rotated.seal(Buffer.from('new'), identity)).keyId).toBe('k2');
  });

  test('refuses unencrypted (old) entries by default, and reads them only with allowUnencryptedReads', async () => {
    const plain = sealPlain(Buffer.from('from before encryption'), identity);
    await expect(setup(algorithm).encryption.open(plain, identity)).rejects.toThrow(IntegrityError);
    expect(Buffer.from(await setup(algorithm, { allowUnencryptedReads: true }).encryption.open(plain, identity)).toString()).toBe('from before encryption');
  });

  test('close() zeroes every cached PRK and later use fails with a typed error', async () => {
    const prks: DataKeyPrk[] = [];
    const original = PrkCache.prototype.prkFor;
    const spy = jest.spyOn(PrkCache.prototype, 'prkFor').mockImplementation(function (this: PrkCache, key) {
      const prk = original.call(this, key);
      prks.push(prk);
      return prk;
    });
    try {
      const { encryption } = setup(algorithm);
      const sealed = await encryption.seal(Buffer.from('value'), identity);
      expect(prks.length).toBeGreaterThan(0);
      expect(prks.every(({ prk }) => !prk.equals(Buffer.alloc(32)))).toBe(true);
      encryption.close();
      expect(prks.every(({ prk }) => prk.equals(Buffer.alloc(32)))).toBe(true);
      await expect(encryption.open(sealed.bytes, identity)).rejects.toThrow(EncryptionClosedError);
      await expect(encryption.seal(Buffer.from('value'), identity)).rejects.toThrow(EncryptionClosedError);
    } finally {
      spy.mockRestore();
    }
  });

  test('no error raised by tampering, wrong keys or truncation contains the key bytes', async () => {
    const { k1, encryption } = setup(algorithm);
    const sealed = Buffer.from((await encryption.seal(Buffer.from('value'), identity)).bytes);
    const outcomes: unknown[] = [];
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Buffer.from(sealed);
      tampered[i]! ^= 0xff;
      outcomes.push(await openOutcome(encryption, tampered, identity));
      outcomes.push(await openOutcome(encryption, sealed.subarray(0, i), identity));
    }
    outcomes.push(await openOutcome(encryption, sealed, { ...identity, key: 'moved' }));
    const text = outcomes
      .map((err) => (err instanceof CacheVaultError ? `${err.message} ${err.stack} ${err.hint} ${JSON.stringify(err.context)}` : ''))
      .join('\n');
    expect(text.length).toBeGreaterThan(0);
    for (const secret of [k1.toString('hex'), k1.toString('base64'), k1.toString('base64url')]) expect(text).not.toContain(secret);
  });

  test('util.inspect of the provider and its static key source shows no key or PRK bytes, at any depth', async () => {
    const { k1, k2, keys, encryption } = setup(algorithm);
    await encryption.seal(Buffer.from('value'), identity);
    const text = `${inspect(encryption, { depth: Infinity })}\n${inspect(keys, { depth: Infinity })}\n${inspect({ encryption }, { depth: Infinity })}`;
    expect(text).toMatch(/AeadEncryption/);
    for (const key of [k1, k2]) {
      // util.inspect shows Buffers as `<Buffer 3f a1 ...>`: any 8 bytes in a row would be a leak.
      expect(text).not.toContain(key.toString('hex').slice(0, 16).match(/../g)!.join(' '));
    }
  });
});

describe('AeadEncryption envelope size', () => {
  test('AES-256-GCM adds 47 bytes (7-byte header with key id k1, 24-byte salt, 16-byte tag)', async () => {
    const { encryption } = setup('aes-256-gcm');
    for (const size of [0, 100, 1024]) {
      const sealed = await encryption.seal(Buffer.alloc(size), identity);
      expect(sealed.bytes.byteLength - size).toBe(7 + 24 + 16);
    }
  });
});

describe('AeadEncryption through CacheManager and MemoryBackend', () => {
  function cache(encryption: AeadEncryption | NoEncryption, backend = new MemoryBackend()) {
    return { backend, manager: new CacheManager({ backend, namespace: 'users', encryption }) };
  }

  test.each(ALGORITHMS)('a tampered %s entry reads as a miss and is counted in decryptFailures', async (algorithm) => {
    const { backend, manager } = cache(setup(algorithm).encryption);
    await manager.set('user:42', { name: 'Ada' });
    expect(await manager.get('user:42')).toEqual({ name: 'Ada' });
    const stored = (await backend.get('users', 'user:42'))!;
    expect(stored.keyId).toBe('k1');
    const tampered = Buffer.from(stored.value);
    tampered[tampered.length - 1]! ^= 1;
    await backend.set({ ...stored, value: tampered });
    expect(await manager.get('user:42')).toBeUndefined();
    expect(manager.stats().decryptFailures).toBe(1);
  });

  test('an entry copied onto another cache key reads as a miss', async () => {
    const { backend, manager } = cache(setup('aes-256-gcm').encryption);
    await manager.set('user:42', 'secret of 42');
    const stored = (await backend.get('users', 'user:42'))!;
    await backend.set({ ...stored, key: 'user:43' });
    expect(await manager.get('user:43')).toBeUndefined();
    expect(manager.stats().decryptFailures).toBe(1);
  });

  test('entries written before encryption was enabled read with allowUnencryptedReads and not without', async () => {
    const backend = new MemoryBackend();
    await cache(new NoEncryption(), backend).manager.set('old', 'written unencrypted');
    expect(await cache(setup('aes-256-gcm', { allowUnencryptedReads: true }).encryption, backend).manager.get('old')).toBe('written unencrypted');
    const strict = cache(setup('aes-256-gcm').encryption, backend).manager;
    expect(await strict.get('old')).toBeUndefined();
    expect(strict.stats().decryptFailures).toBe(1);
  });

  test('an entry under a key this client lacks is a miss counted as keyUnavailable', async () => {
    const backend = new MemoryBackend();
    await cache(setup('aes-256-gcm').encryption, backend).manager.set('k', 'v');
    const stranger = cache(new AeadEncryption({ keys: new StaticKeySource([{ id: 'k7', material: randomBytes(32) }]) }), backend).manager;
    expect(await stranger.get('k')).toBeUndefined();
    expect(stranger.stats().keyUnavailable).toBe(1);
  });
});

describe('AeadEncryption options', () => {
  test('an unknown algorithm name is an InvalidArgumentError naming the valid ones', () => {
    const keys = new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]);
    expect(() => new AeadEncryption({ keys, algorithm: 'aes-128-ecb' as AeadAlgorithmName })).toThrow(InvalidArgumentError);
  });
});

describe('associated data encoding', () => {
  /** A format-`version` header for key id k1, as the envelope writes it. */
  const headerOf = (version: number) => Buffer.from([0xc7, 0x56, version, 1, 2, 0x6b, 0x31]);

  function encoded(namespace: string, key: string, expiry: Buffer): Buffer {
    const ns = Buffer.from(namespace, 'utf8');
    const k = Buffer.from(key, 'utf8');
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32BE(ns.length, 0);
    lengths.writeUInt32BE(k.length, 4);
    return Buffer.concat([lengths.subarray(0, 4), ns, lengths.subarray(4), k, expiry]);
  }
  const double = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(n);
    return b;
  };

  test.each([
    ['ASCII', 'users', 'user:42'],
    ['non-ASCII', 'usuários', 'chave:ção:🔑'],
    ['long', 'n'.repeat(100), 'k'.repeat(300)],
  ])('%s namespaces and keys are encoded as length-prefixed UTF-8, the expiry after a presence byte (v2)', (_what, namespace, key) => {
    const header = headerOf(2);
    expect(associatedData(header, { namespace, key, expiresAt: 123 }).equals(Buffer.concat([header, encoded(namespace, key, Buffer.concat([Buffer.from([1]), double(123)]))]))).toBe(true);
    expect(associatedData(header, { namespace, key, expiresAt: null }).equals(Buffer.concat([header, encoded(namespace, key, Buffer.from([0]))]))).toBe(true);
  });

  test('format 1 headers keep the format-1 encoding (expiry as 8 bytes, -1 for none)', () => {
    const header = headerOf(1);
    expect(associatedData(header, { namespace: 'users', key: 'user:42', expiresAt: 123 }).equals(Buffer.concat([header, encoded('users', 'user:42', double(123))]))).toBe(true);
    expect(associatedData(header, { namespace: 'users', key: 'user:42', expiresAt: null }).equals(Buffer.concat([header, encoded('users', 'user:42', double(-1))]))).toBe(true);
  });

  test('non-ASCII identities round-trip and still bind the ciphertext', async () => {
    const { encryption } = setup('aes-256-gcm');
    const id = { namespace: 'ñ', key: 'clé🔑', expiresAt: null };
    const sealed = await encryption.seal(Buffer.from('v'), id);
    expect(Buffer.from(await encryption.open(sealed.bytes, id)).toString()).toBe('v');
    await expect(encryption.open(sealed.bytes, { ...id, key: 'cle🔑' })).rejects.toThrow(IntegrityError);
  });
});
