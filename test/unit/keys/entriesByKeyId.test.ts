import { MemoryBackend } from '../../../client/backends/memoryBackend';
import { entriesByKeyId } from '../../../client/keys/entriesByKeyId';
import { ManualClock } from '../../contract/backendContract';

describe('entriesByKeyId', () => {
  test('counts live entries per key version without opening them, and skips expired ones', async () => {
    const clock = new ManualClock();
    const backend = new MemoryBackend({ clock: clock.read });
    const entry = (key: string, keyId: string, expiresAt: number | null = null) => ({ namespace: 'n', key, value: Buffer.from('x'), expiresAt, keyId, createdAt: clock.now });
    await backend.setMany([entry('a', 'k1'), entry('b', 'k1'), entry('c', 'k2'), entry('d', 'none'), entry('e', 'k2', clock.now + 10)]);
    clock.advance(10);
    expect(await entriesByKeyId(backend, { pageSize: 2 })).toEqual({ total: 4, byKeyId: { k1: 2, k2: 1, none: 1 } });
  });

  test('an empty cache has no versions in use', async () => {
    expect(await entriesByKeyId(new MemoryBackend())).toEqual({ total: 0, byKeyId: {} });
  });
});
