import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { BackendError, IntegrityError, InvalidArgumentError } from '../../client/errors';
import { compressionTransform } from '../../client/core/compression';
import type { CacheBackend } from '../../client/backends/cacheBackend';
import type { StoredEntry } from '../../client/types';
import type { StampedeLease } from '../../client/core/stampedeLease';
import { ManualClock } from '../contract/backendContract';

function setup(overrides: Partial<ConstructorParameters<typeof CacheManager>[0]> = {}) {
  const clock = new ManualClock();
  const backend = new MemoryBackend({ clock: clock.read });
  const cache = new CacheManager({ backend, clock: clock.read, ...overrides });
  return { clock, backend, cache };
}

describe('CacheManager', () => {
  test('values of rich types survive a round trip with their types', async () => {
    const { cache } = setup();
    const value = {
      text: 'héllo',
      n: 42.5,
      nested: { list: [1, 'two', { three: 3 }], missing: undefined },
      buf: Buffer.from([1, 2, 3]),
      bytes: new Uint8Array([9, 8, 7]),
      when: new Date('2026-01-02T03:04:05.678Z'),
      map: new Map<string, unknown>([['a', 1], ['b', { c: 2 }]]),
      set: new Set([1, 'x']),
      big: 2n ** 100n,
      neg: -(2n ** 70n),
      nil: null,
    };
    await cache.set('rich', value);
    const got = await cache.get<typeof value>('rich');
    expect(got).toEqual(value);
    expect(got!.map).toBeInstanceOf(Map);
    expect(got!.set).toBeInstanceOf(Set);
    expect(got!.when).toBeInstanceOf(Date);
    expect(typeof got!.big).toBe('bigint');
    expect(Buffer.isBuffer(got!.buf)).toBe(true);
    expect(got!.bytes).toBeInstanceOf(Uint8Array);
    expect('missing' in got!.nested).toBe(true);
  });

  test('top-level strings, numbers, booleans and Buffers round-trip', async () => {
    const { cache } = setup();
    for (const [key, value] of [['s', 'str'], ['n', 7], ['b', false], ['buf', Buffer.from('raw')]] as const) {
      await cache.set(key, value);
      expect(await cache.get(key)).toEqual(value);
    }
  });

  test('.lookup() tells a cached undefined apart from a miss', async () => {
    const { cache } = setup();
    await cache.set('u', undefined);
    expect(await cache.lookup('u')).toMatchObject({ found: true, value: undefined });
    expect(await cache.lookup('absent')).toMatchObject({ found: false });
  });

  test('entries expire after ttlMs, measured on the injected clock', async () => {
    const { cache, clock } = setup();
    await cache.set('k', 'v', { ttlMs: 1_000 });
    clock.advance(999);
    expect(await cache.get('k')).toBe('v');
    clock.advance(1);
    expect(await cache.get('k')).toBeUndefined();
  });

  test('an absolute expiresAt is stored with the entry', async () => {
    const { cache, clock, backend } = setup();
    await cache.set('k', 'v', { expiresAt: clock.now + 5_000 });
    expect((await backend.get('default', 'k'))!.expiresAt).toBe(clock.now + 5_000);
    expect((await cache.lookup('k')).expiresAt).toBe(clock.now + 5_000);
  });

  test('the default TTL applies when a write names none, and null means no expiry', async () => {
    const { cache, clock, backend } = setup({ defaultTtlMs: 10_000 });
    await cache.set('d', 1);
    expect((await backend.get('default', 'd'))!.expiresAt).toBe(clock.now + 10_000);
    await cache.set('forever', 1, { ttlMs: null });
    expect((await backend.get('default', 'forever'))!.expiresAt).toBeNull();
  });

  test('a TTL that is not a positive number is rejected with the unit named', async () => {
    const { cache } = setup();
    await expect(cache.set('k', 1, { ttlMs: 0 })).rejects.toThrow(/milliseconds/);
    await expect(cache.set('k', 1, { ttlMs: Number.NaN })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => setup({ defaultTtlMs: -5 })).toThrow(InvalidArgumentError);
  });

  test('namespaces isolate keys and share stats', async () => {
    const { cache } = setup();
    const users = cache.namespace('users');
    await cache.set('id', 'default-ns');
    await users.set('id', 'users-ns');
    expect(await cache.get('id')).toBe('default-ns');
    expect(await users.get('id')).toBe('users-ns');
    await users.clear();
    expect(await users.get('id')).toBeUndefined();
    expect(await cache.get('id')).toBe('default-ns');
    expect(cache.stats().sets).toBe(2);
  });

  test('.wrap() calls fn once for 100 concurrent misses on one key', async () => {
    const { cache } = setup();
    let calls = 0;
    const fn = async () => {
      calls += 1;
      await new Promise((r) => setImmediate(r));
      return { computed: true };
    };
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.wrap('hot', fn)));
    expect(calls).toBe(1);
    expect(results.every((r) => r.computed)).toBe(true);
    expect(await cache.wrap('hot', fn)).toEqual({ computed: true });
    expect(calls).toBe(1);
  });

  test('.wrap() does not cache a failure, and the next call computes again', async () => {
    const { cache } = setup();
    await expect(cache.wrap('k', () => Promise.reject(new Error('upstream down')))).rejects.toThrow('upstream down');
    expect(await cache.wrap('k', () => 'ok')).toBe('ok');
  });

  test('.wrap() with a lease waits for the holder elsewhere and uses its value', async () => {
    const { cache } = setup();
    const lease: StampedeLease = {
      acquire: async () => ({ acquired: false, release: async () => {} }),
      waitFor: async (_ref, lookup) => {
        await cache.set('leased', 'from-other-machine', { ttlMs: 1000 });
        return lookup();
      },
    };
    const leased = new CacheManager({ backend: (cache as unknown as { backend: CacheBackend }).backend, lease });
    let calls = 0;
    expect(await leased.wrap('leased', () => { calls += 1; return 'local'; })).toBe('from-other-machine');
    expect(calls).toBe(0);
  });

  test('a corrupted stored entry reads as a miss and is counted, never returned', async () => {
    const { cache, backend } = setup();
    await cache.set('k', { secret: 'value' });
    const stored = (await backend.get('default', 'k'))!;
    const flipped = Buffer.from(stored.value);
    flipped[flipped.length - 6]! ^= 0x01;
    await backend.set({ ...stored, value: flipped });
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.stats().decryptFailures).toBe(1);
  });

  test('an entry moved to another key or given a longer expiry reads as a miss', async () => {
    const { cache, backend } = setup();
    await cache.set('a', 'value-of-a');
    const stored = (await backend.get('default', 'a'))!;
    await backend.set({ ...stored, key: 'b' });
    await backend.set({ ...stored, expiresAt: stored.expiresAt! + 1_000_000 });
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toBeUndefined();
    expect(cache.stats().decryptFailures).toBe(2);
  });

  test('bytes that are not an envelope read as a miss', async () => {
    const { cache, backend, clock } = setup();
    await backend.set({ namespace: 'default', key: 'junk', value: Buffer.from('not an envelope'), expiresAt: null, keyId: 'none', createdAt: clock.now });
    expect(await cache.get('junk')).toBeUndefined();
    expect(cache.stats().decryptFailures).toBe(1);
  });

  test('a failing backend read is a counted miss, or an error in strict mode', async () => {
    const failing = new MemoryBackend();
    failing.get = async () => {
      throw new BackendError('memory', 'disk on fire');
    };
    const lenient = new CacheManager({ backend: failing });
    expect(await lenient.get('k')).toBeUndefined();
    expect(lenient.stats().errors).toBe(1);
    const strict = new CacheManager({ backend: failing, strict: true });
    await expect(strict.get('k')).rejects.toThrow('disk on fire');
  });

  test('getMany, setMany and deleteMany work in batches', async () => {
    const { cache } = setup();
    await cache.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2, ttlMs: 50 }]);
    expect(await cache.getMany(['a', 'x', 'b'])).toEqual([1, undefined, 2]);
    expect(await cache.deleteMany(['a', 'b', 'x'])).toBe(2);
    expect(cache.stats()).toMatchObject({ sets: 2, deletes: 2 });
  });

  test('large compressible values are stored compressed and come back whole', async () => {
    const { cache, backend } = setup();
    const text = 'cachevault '.repeat(10_000);
    await cache.set('big', text);
    expect((await backend.get('default', 'big'))!.value.byteLength).toBeLessThan(text.length / 10);
    expect(await cache.get('big')).toBe(text);
  });

  test('stats count hits, misses and bytes alongside the backend stats', async () => {
    const { cache } = setup();
    await cache.set('k', 'v');
    await cache.get('k');
    await cache.get('nope');
    const stats = cache.stats();
    expect(stats).toMatchObject({ hits: 1, misses: 1, sets: 1 });
    expect(stats.bytesWritten).toBeGreaterThan(0);
    expect(stats.backend.backend).toBe('memory');
  });

  test('each get returns its own copy of an object value by default', async () => {
    const { cache } = setup();
    await cache.set('obj', { n: 1 });
    const first = await cache.get<{ n: number }>('obj');
    first!.n = 99;
    expect(await cache.get('obj')).toEqual({ n: 1 });
  });

  test('with sharedValues, memory hits hand every caller the same decoded object', async () => {
    const { cache } = setup({ sharedValues: true });
    await cache.set('obj', { n: 1 });
    const first = await cache.get<{ n: number }>('obj');
    const second = await cache.get<{ n: number }>('obj');
    expect(second).toBe(first);
    expect(second).toEqual({ n: 1 });
  });

  test('a stored entry carries the key id of the provider that sealed it', async () => {
    const { cache, backend } = setup();
    await cache.set('k', 1);
    const stored: StoredEntry = (await backend.get('default', 'k'))!;
    expect(stored.keyId).toBe('none');
  });
});

describe('compressionTransform', () => {
  test('a stored value that would inflate past maxDecompressedBytes reads as a corrupt miss, not an allocation', async () => {
    const identity = { namespace: 'n', key: 'k', expiresAt: null };
    const small = compressionTransform({ maxDecompressedBytes: 64 * 1024 });
    const bomb = await compressionTransform().encode(Buffer.alloc(1024 * 1024), identity);
    expect(bomb.byteLength).toBeLessThan(1024);
    expect(() => small.decode(bomb, identity)).toThrow(IntegrityError);
    expect((await compressionTransform().decode(bomb, identity)).byteLength).toBe(1024 * 1024);
  });
});
