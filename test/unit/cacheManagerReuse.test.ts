import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import type { EncryptionProvider } from '../../client/crypto/encryptionProvider';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import type { EntryIdentity } from '../../client/types';
import { ManualClock } from '../contract/backendContract';

/** AES-256-GCM with every open() counted, per key. */
class CountingEncryption implements EncryptionProvider {
  readonly algorithm = 'aes-256-gcm' as const;
  readonly opens = new Map<string, number>();
  private readonly inner = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]) });

  seal(plaintext: Uint8Array, identity: EntryIdentity) {
    return this.inner.seal(plaintext, identity);
  }

  open(envelope: Uint8Array, identity: EntryIdentity) {
    this.opens.set(identity.key, (this.opens.get(identity.key) ?? 0) + 1);
    return this.inner.open(envelope, identity);
  }

  total(): number {
    return [...this.opens.values()].reduce((a, b) => a + b, 0);
  }
}

/** Longer than the manager's plaintext reuse window (VERIFIED_REUSE_MS, 1 s). */
const PAST_WINDOW_MS = 1_001;

describe('decrypts per entry and plaintext window', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function memoryCache() {
    const clock = new ManualClock();
    const encryption = new CountingEncryption();
    const cache = new CacheManager({ backend: new MemoryBackend({ clock: clock.read }), clock: clock.read, encryption });
    return { clock, encryption, cache };
  }

  test('reads of values this manager wrote open no envelope within the window, then one per entry', async () => {
    const { clock, encryption, cache } = memoryCache();
    const keys = ['a', 'b', 'c'];
    for (const key of keys) await cache.set(key, { key, list: [1, 2, 3] });
    for (let i = 0; i < 5; i++) for (const key of keys) expect(await cache.get(key)).toEqual({ key, list: [1, 2, 3] });
    expect(encryption.total()).toBe(0);

    clock.advance(PAST_WINDOW_MS);
    for (let i = 0; i < 5; i++) for (const key of keys) expect(await cache.get(key)).toEqual({ key, list: [1, 2, 3] });
    expect(Object.fromEntries(encryption.opens)).toEqual({ a: 1, b: 1, c: 1 });
  });

  test('concurrent first reads of one entry share a single open', async () => {
    const { clock, encryption, cache } = memoryCache();
    await cache.set('hot', { n: 1 });
    clock.advance(PAST_WINDOW_MS);
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.get<{ n: number }>('hot')));
    expect(encryption.opens.get('hot')).toBe(1);
    for (const v of values) expect(v).toEqual({ n: 1 });
    // Still a copy each, in the default mode.
    expect(new Set(values).size).toBe(20);
  });

  test('through a memory tier over a file tier, an entry read from the file tier is opened once per window', async () => {
    const clock = new ManualClock();
    const dir = mkdtempSync(join(tmpdir(), 'cv-reuse-'));
    dirs.push(dir);
    const encryption = new CountingEncryption();
    const file = new FileBackend({ dir, clock: clock.read });
    const writer = new CacheManager({ backend: file, clock: clock.read, encryption });
    for (const key of ['x', 'y']) await writer.set(key, `value of ${key}`);
    const hybrid = new HybridBackend({ clock: clock.read, tiers: [{ name: 'memory', backend: new MemoryBackend({ clock: clock.read }) }, { name: 'file', backend: file }] });
    const reader = new CacheManager({ backend: hybrid, clock: clock.read, encryption });
    encryption.opens.clear();

    for (let i = 0; i < 4; i++) for (const key of ['x', 'y']) expect(await reader.get(key)).toBe(`value of ${key}`);
    expect(Object.fromEntries(encryption.opens)).toEqual({ x: 1, y: 1 });
    expect(hybrid.stats().tiers!.memory!.hits).toBe(6);

    clock.advance(PAST_WINDOW_MS);
    for (let i = 0; i < 4; i++) for (const key of ['x', 'y']) await reader.get(key);
    expect(Object.fromEntries(encryption.opens)).toEqual({ x: 2, y: 2 });
    await reader.close();
  });

  test('a tampered entry in the memory tier is still opened, and missed, on every read', async () => {
    const { encryption, cache } = memoryCache();
    const backend = cache.backend;
    await cache.set('k', { n: 1 });
    const stored = (await backend.get('default', 'k'))!;
    const value = Uint8Array.from(stored.value);
    value[value.length - 1]! ^= 1;
    // A different entry object (as any other writer's would be) gets no reuse of the write.
    await backend.set({ ...stored, value });
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.get('k')).toBeUndefined();
    expect(encryption.opens.get('k')).toBe(2);
    expect(cache.stats().decryptFailures).toBe(2);
  });
});

describe('shared values', () => {
  function setup(sharedValues: boolean) {
    const clock = new ManualClock();
    return new CacheManager({ backend: new MemoryBackend({ clock: clock.read }), clock: clock.read, sharedValues });
  }

  test('by default a mutation by one caller is not seen by another, nor by the writer of the value', async () => {
    const cache = setup(false);
    const original = { name: 'Ada', roles: ['admin'], seen: new Date(0), tags: new Map([['a', 1]]) };
    await cache.set('user', original);
    original.roles.push('changed after set');
    const first = (await cache.get<typeof original>('user'))!;
    first.name = 'Mallory';
    first.roles.push('root');
    first.seen.setTime(1);
    first.tags.set('b', 2);
    const second = await cache.get<typeof original>('user');
    expect(second).toEqual({ name: 'Ada', roles: ['admin'], seen: new Date(0), tags: new Map([['a', 1]]) });
    expect(second).not.toBe(first);
  });

  test("by default a Buffer inside a value is each caller's own: writing into it changes no other read", async () => {
    const cache = setup(false);
    await cache.set('blob', { bytes: Buffer.from('abc') });
    const first = (await cache.get<{ bytes: Buffer }>('blob'))!;
    first.bytes[0] = 0x7a;
    expect((await cache.get<{ bytes: Buffer }>('blob'))!.bytes.toString()).toBe('abc');
  });

  test('with sharedValues every caller gets one deep-frozen object, and a mutation in strict mode code throws', async () => {
    const cache = setup(true);
    await cache.set('user', { name: 'Ada', roles: ['admin'], seen: new Date(0), tags: new Map([['a', 1]]), ids: new Set([1]) });
    type User = { name: string; roles: string[]; seen: Date; tags: Map<string, number>; ids: Set<number> };
    const first = (await cache.get<User>('user'))!;
    const second = (await cache.get<User>('user'))!;
    expect(second).toBe(first);
    const attempts: (() => void)[] = [
      () => {
        'use strict';
        first.name = 'Mallory';
      },
      () => {
        'use strict';
        first.roles.push('root');
      },
      () => {
        'use strict';
        (first as { extra?: number }).extra = 1;
      },
      () => first.seen.setTime(1),
      () => first.tags.set('b', 2),
      () => first.ids.add(2),
    ];
    for (const attempt of attempts) expect(attempt).toThrow(TypeError);
    expect(await cache.get('user')).toEqual({ name: 'Ada', roles: ['admin'], seen: new Date(0), tags: new Map([['a', 1]]), ids: new Set([1]) });
  });

  test('with sharedValues a value holding bytes, which cannot be frozen, is still a copy per get', async () => {
    const cache = setup(true);
    await cache.set('blob', { bytes: Buffer.from('abc') });
    const first = (await cache.get<{ bytes: Buffer }>('blob'))!;
    first.bytes[0] = 0x7a;
    const second = (await cache.get<{ bytes: Buffer }>('blob'))!;
    expect(second).not.toBe(first);
    expect(second.bytes.toString()).toBe('abc');
  });

  test('with sharedValues the object passed to set is never the one shared', async () => {
    const cache = setup(true);
    const original = { n: 1 };
    await cache.set('k', original);
    const got = await cache.get<{ n: number }>('k');
    expect(got).not.toBe(original);
    expect(Object.isFrozen(original)).toBe(false);
    original.n = 2;
    expect(await cache.get('k')).toEqual({ n: 1 });
  });
});
