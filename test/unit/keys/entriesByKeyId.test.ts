import { randomBytes } from 'node:crypto';
import { MemoryBackend } from '../../../client/backends/memoryBackend';
import { AeadEncryption } from '../../../client/crypto/aeadEncryption';
import { NoEncryption } from '../../../client/crypto/noEncryption';
import { StaticKeySource } from '../../../client/keys/staticKeySource';
import { entriesByKeyId, sealedKeyId } from '../../../client/keys/entriesByKeyId';
import type { StoredEntry } from '../../../client/types';
import { ManualClock } from '../../contract/backendContract';

const k1 = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]) });
const k2 = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k2', material: randomBytes(32) }]) });
const plain = new NoEncryption();

async function sealed(provider: AeadEncryption | NoEncryption, key: string, createdAt: number, expiresAt: number | null = null): Promise<StoredEntry> {
  const identity = { namespace: 'n', key, expiresAt };
  const s = await provider.seal(Buffer.from(`value of ${key}`), identity);
  return { ...identity, value: s.bytes, keyId: s.keyId, createdAt };
}

describe('entriesByKeyId', () => {
  test('counts live entries per key version without opening them, and skips expired ones', async () => {
    const clock = new ManualClock();
    const backend = new MemoryBackend({ clock: clock.read });
    await backend.setMany([await sealed(k1, 'a', clock.now), await sealed(k1, 'b', clock.now), await sealed(k2, 'c', clock.now), await sealed(plain, 'd', clock.now), await sealed(k2, 'e', clock.now, clock.now + 10)]);
    clock.advance(10);
    expect(await entriesByKeyId(backend, { pageSize: 2 })).toEqual({ total: 4, byKeyId: { k1: 2, k2: 1, none: 1 }, mismatched: 0, mismatches: [], unreadable: 0 });
  });

  test('an empty cache has no versions in use', async () => {
    expect(await entriesByKeyId(new MemoryBackend())).toEqual({ total: 0, byKeyId: {}, mismatched: 0, mismatches: [], unreadable: 0 });
  });

  test('an entry whose clear key id was relabelled counts for the key id in its envelope header, and is reported', async () => {
    const clock = new ManualClock();
    const backend = new MemoryBackend({ clock: clock.read });
    const entry = await sealed(k1, 'relabelled', clock.now);
    await backend.set({ ...entry, keyId: 'k2' });
    const counted = await entriesByKeyId(backend);
    expect(counted.byKeyId).toEqual({ k1: 1 });
    expect(counted.mismatched).toBe(1);
    expect(counted.mismatches).toEqual([{ namespace: 'n', key: 'relabelled', storedKeyId: 'k2', headerKeyId: 'k1' }]);
  });

  test('bytes that are no envelope count under no key id, as unreadable', async () => {
    const backend = new MemoryBackend();
    await backend.set({ namespace: 'n', key: 'junk', value: Buffer.from('not an envelope'), expiresAt: null, keyId: 'k1', createdAt: 1 });
    expect(await entriesByKeyId(backend)).toMatchObject({ total: 1, byKeyId: {}, unreadable: 1 });
    expect(sealedKeyId({ value: Buffer.from('not an envelope') })).toBeUndefined();
  });
});
