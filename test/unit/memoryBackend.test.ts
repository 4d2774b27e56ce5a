import { MemoryBackend } from '../../client/backends/memoryBackend';
import { InvalidArgumentError } from '../../client/errors';
import { runBackendContract } from '../contract/backendContract';

runBackendContract('memory', ({ clock }) => new MemoryBackend({ clock, maxBytes: 256 * 1024 * 1024 }));

describe('MemoryBackend bounds', () => {
  test('evicts the least recently used entry past maxEntries and counts it', async () => {
    const backend = new MemoryBackend({ maxEntries: 2 });
    const e = (key: string) => ({ namespace: 'n', key, value: Buffer.from(key), expiresAt: null, keyId: 'none', createdAt: 0 });
    await backend.set(e('a'));
    await backend.set(e('b'));
    await backend.get('n', 'a');
    await backend.set(e('c'));
    expect(await backend.has('n', 'a')).toBe(true);
    expect(await backend.has('n', 'b')).toBe(false);
    expect(backend.stats().evictions).toBe(1);
  });

  test('stays under maxBytes', async () => {
    const backend = new MemoryBackend({ maxBytes: 10_000 });
    for (let i = 0; i < 50; i++) {
      await backend.set({ namespace: 'n', key: `k${i}`, value: Buffer.alloc(1000), expiresAt: null, keyId: 'none', createdAt: 0 });
    }
    expect(backend.stats().bytes).toBeLessThanOrEqual(10_000);
    expect(backend.stats().entries).toBeLessThan(10);
  });
});

describe('MemoryBackend scan cursors', () => {
  test('a cursor this backend did not hand out is rejected instead of restarting the scan forever', async () => {
    const backend = new MemoryBackend();
    await backend.set({ namespace: 'n', key: 'a', value: Buffer.from('a'), expiresAt: null, keyId: 'none', createdAt: 0 });
    await expect(backend.scan({ cursor: 'WyJuIiwiYSJd' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(backend.scan({ cursor: '-1' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
