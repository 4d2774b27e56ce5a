/**
 * Two deployments (their own root keys and key manifests) share one store, or a writer of the
 * store copies one deployment's entries into the other's slots. Both number their key versions
 * `k1`, `k2`, ...; the entries carry `k1:<manifest id>`, so another manifest's entry is a named,
 * counted miss (`foreignManifest`), never its value, never an integrity alarm, and never a reason
 * to reload the manifest or make a key.
 */
import { randomBytes } from 'node:crypto';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { readHeader } from '../../client/crypto/envelope';
import { KeyManager } from '../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../client/keys/keyringKeyProvider';
import { FakeKeyring, MemoryManifestStore } from '../unit/keys/fakes';

async function deployment(backend: MemoryBackend) {
  const keys = await KeyManager.open({
    providers: [new KeyringKeyProvider({ entryFactory: new FakeKeyring().factory })],
    store: new MemoryManifestStore(),
    app: 'shop',
    environment: 'prod',
  });
  return { keys, cache: new CacheManager({ backend, encryption: new AeadEncryption({ keys }), defaultTtlMs: null }) };
}

/** The envelope with its key id replaced by `keyId` of the same length (what a writer of the store can do). */
function withHeaderKeyId(bytes: Uint8Array, keyId: string): Buffer {
  const header = readHeader(bytes);
  if (Buffer.byteLength(keyId) !== header.keyId.length) throw new Error('the relabel keeps the length');
  const out = Buffer.from(bytes);
  out.write(keyId, 5, 'latin1');
  return out;
}

describe('cross-deployment entries', () => {
  it("an entry from another deployment's manifest, copied into this deployment's slot, is a foreignManifest miss and costs no reload or key", async () => {
    const theirs = new MemoryBackend();
    const ours = new MemoryBackend();
    const other = await deployment(theirs);
    const self = await deployment(ours);
    await self.cache.set('price', 10);
    await other.cache.set('price', 99);
    const copied = (await theirs.get('default', 'price'))!;
    await ours.set(copied);
    const reloads = self.keys.stats().manifestReloads;
    await expect(self.cache.get('price')).resolves.toBeUndefined();
    expect(self.cache.stats()).toMatchObject({ foreignManifest: 1, decryptFailures: 0, hits: 0 });
    expect(self.keys.stats().manifestReloads).toBe(reloads);
    expect(self.keys.status().versions.map((v) => v.id)).toEqual(['k1']);
  });

  it("relabelling another deployment's entry to carry this manifest's id fails authentication: a counted integrity failure, never its value", async () => {
    const backend = new MemoryBackend();
    const other = await deployment(backend);
    const self = await deployment(backend);
    await self.cache.set('mine', 'ours');
    await other.cache.set('forged', 'theirs');
    const entry = (await backend.get('default', 'forged'))!;
    const mine = (await self.keys.activeKey()).entryKeyId!;
    await backend.set({ ...entry, value: withHeaderKeyId(entry.value, mine), keyId: mine });
    await expect(self.cache.get('forged')).resolves.toBeUndefined();
    expect(self.cache.stats()).toMatchObject({ decryptFailures: 1, foreignManifest: 0, hits: 0 });
    await expect(self.cache.get('mine')).resolves.toBe('ours');
  });

  it('a flood of entries naming made-up manifests is counted as foreignManifest misses without one manifest reload', async () => {
    const backend = new MemoryBackend();
    const self = await deployment(backend);
    await self.cache.set('seed', 'x');
    const seed = (await backend.get('default', 'seed'))!;
    for (let i = 0; i < 200; i++) {
      const forged = `k${1 + (i % 9)}:${randomBytes(8).toString('hex')}`;
      await backend.set({ ...seed, key: `forged-${i}`, value: withHeaderKeyId(seed.value, forged), keyId: forged });
    }
    const reloads = self.keys.stats().manifestReloads;
    for (let i = 0; i < 200; i++) await expect(self.cache.get(`forged-${i}`)).resolves.toBeUndefined();
    expect(self.cache.stats()).toMatchObject({ foreignManifest: 200, decryptFailures: 0, keyUnavailable: 0 });
    expect(self.keys.stats().manifestReloads).toBe(reloads);
    await expect(self.cache.get('seed')).resolves.toBe('x');
  });
});
