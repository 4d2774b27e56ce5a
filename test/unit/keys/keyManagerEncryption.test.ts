import { MemoryBackend } from '../../../client/backends/memoryBackend';
import { CacheManager } from '../../../client/core/cacheManager';
import { AeadEncryption } from '../../../client/crypto/aeadEncryption';
import { KeyManager } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';
import { ManualClock } from '../../contract/backendContract';
import { FakeKeyring, MemoryManifestStore, awsError, fakeKms } from './fakes';

/** KeyManager as the DataKeySource of the real encryption layer, through CacheManager. */
function setup() {
  const kms = fakeKms();
  const keyring = new FakeKeyring();
  const store = new MemoryManifestStore();
  const clock = new ManualClock();
  const backend = new MemoryBackend({ clock: clock.read });
  const open = async () => {
    const keys = await KeyManager.open({
      providers: [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client }), new KeyringKeyProvider({ entryFactory: keyring.factory })],
      store,
      app: 'shop',
      environment: 'dev',
      clock: clock.read,
      cache: { maxAgeMs: 60_000 },
    });
    const cache = new CacheManager({ backend, encryption: new AeadEncryption({ keys }), clock: clock.read, defaultTtlMs: null });
    return { keys, cache };
  };
  return { kms, keyring, store, clock, backend, open };
}

describe('KeyManager under the encryption layer', () => {
  it('entries sealed before a rotation stay readable; new ones carry the new key id', async () => {
    const { open, backend } = setup();
    const { keys, cache } = await open();
    await cache.set('a', { n: 1 });
    await keys.rotate();
    await cache.set('b', { n: 2 });
    await expect(cache.get('a')).resolves.toEqual({ n: 1 });
    await expect(cache.get('b')).resolves.toEqual({ n: 2 });
    const page = await backend.scan({});
    // Entries carry the version qualified by the manifest's id, unique across manifests.
    expect(keys.manifestId).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.fromEntries(page.entries.map((e) => [e.key, e.keyId]))).toEqual({ a: `k1:${keys.manifestId}`, b: `k2:${keys.manifestId}` });
  });

  it('an entry under a retired key reads as a counted miss, not an error', async () => {
    const { open, clock } = setup();
    const { keys, cache } = await open();
    await cache.set('old', 'value');
    await keys.rotate();
    await keys.retire('k1');
    // A value written or read in the last second is served from the manager's verified copy
    // (its plaintext reuse window); a key's retirement takes effect once that window has passed.
    clock.advance(1_001);
    await expect(cache.get('old')).resolves.toBeUndefined();
    expect(cache.stats().keyUnavailable).toBe(1);
  });

  it('keeps reading and writing through a KMS outage: warm clients from the cache, cold ones via the keyring copy', async () => {
    const { open, kms, clock } = setup();
    const warm = await open();
    await warm.cache.set('x', 42);
    kms.failWith(awsError('ThrottlingException'));
    await expect(warm.cache.get('x')).resolves.toBe(42);
    clock.advance(60_000); // cached key expired: unwrapped again through the keyring
    await warm.cache.set('y', 43);
    await expect(warm.cache.get('y')).resolves.toBe(43);
    const cold = await open();
    await expect(cold.cache.get('x')).resolves.toBe(42);
    expect(cold.keys.stats().fallbacks).toBe(1);
  });

  it('a client of another deployment (other keyring, no KMS access) reads misses counted as foreignManifest, never garbage', async () => {
    const { open, backend } = setup();
    const { cache } = await open();
    await cache.set('secret', 'value');
    const strangerKms = fakeKms();
    strangerKms.failWith(awsError('AccessDeniedException'));
    const strangerStore = new MemoryManifestStore();
    const stranger = await KeyManager.open({
      providers: [new KmsKeyProvider({ keyId: 'alias/cv', client: strangerKms.client }), new KeyringKeyProvider({ entryFactory: new FakeKeyring().factory })],
      store: strangerStore,
      app: 'shop',
      environment: 'dev',
    });
    const strangerCache = new CacheManager({ backend, encryption: new AeadEncryption({ keys: stranger }), defaultTtlMs: null });
    // Its own k1 is another manifest's: the entry's key id says so, and the read is a counted
    // miss of its own kind, with no key looked up and no integrity failure.
    await strangerCache.set('own', 'mine');
    const reloads = stranger.stats().manifestReloads;
    await expect(strangerCache.get('secret')).resolves.toBeUndefined();
    expect(strangerCache.stats()).toMatchObject({ foreignManifest: 1, decryptFailures: 0, keyUnavailable: 0, misses: 1 });
    expect(stranger.stats().manifestReloads).toBe(reloads);
    await expect(strangerCache.get('own')).resolves.toBe('mine');
  });
});
