import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CacheBackend } from '../../client/backends/cacheBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager, type CacheManagerOptions } from '../../client/core/cacheManager';
import { TAG_NAMESPACE } from '../../client/core/tagVersions';
import { BackendError, InvalidArgumentError } from '../../client/errors';
import type { StoredEntry } from '../../client/types';
import { ManualClock } from '../contract/backendContract';

/** A MemoryBackend that counts reads and writes of the tag version items. */
class TagCountingBackend extends MemoryBackend {
  tagReads = 0;
  tagWrites = 0;
  failReads = false;
  override async getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    if (namespace === TAG_NAMESPACE) {
      this.tagReads += 1;
      if (this.failReads) throw new BackendError('memory', 'tag store unreachable (test)');
    }
    return super.getMany(namespace, keys);
  }
  override async setMany(entries: readonly StoredEntry[]) {
    if (entries.some((e) => e.namespace === TAG_NAMESPACE)) this.tagWrites += 1;
    return super.setMany(entries);
  }
}

function setup(overrides: Partial<CacheManagerOptions> = {}) {
  const clock = new ManualClock();
  const backend = new TagCountingBackend({ clock: clock.read });
  const cache = new CacheManager({ backend, clock: clock.read, ...overrides });
  return { clock, backend, cache };
}

describe('tags on one instance', () => {
  test('invalidating a tag makes its entries misses and leaves untagged and other-tag entries', async () => {
    const { cache } = setup();
    await cache.set('user:1', 'alice', { tags: ['users'] });
    await cache.set('user:2', 'bob', { tags: ['users'] });
    await cache.set('report', 'r', { tags: ['reports'] });
    await cache.set('plain', 'p');
    await cache.invalidateTags(['users']);
    expect(await cache.getMany(['user:1', 'user:2', 'report', 'plain'])).toEqual([undefined, undefined, 'r', 'p']);
    expect(cache.stats().tagInvalidated).toBe(2);
  });

  test('an entry with several tags is invalidated by any one of them', async () => {
    const { cache } = setup();
    await cache.set('a', 1, { tags: ['t1', 't2', 't3'] });
    await cache.set('b', 2, { tags: ['t1', 't2', 't3'] });
    await cache.invalidateTags(['t3']);
    expect(await cache.get('a')).toBeUndefined();
    await cache.set('a', 1, { tags: ['t1', 't2', 't3'] });
    expect(await cache.get('a')).toBe(1);
    await cache.invalidateTags(['t1']);
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.has('b')).toBe(false);
  });

  test('an entry written after the invalidation is a hit, and the invalidated one is deleted lazily', async () => {
    const { cache, backend } = setup();
    await cache.set('k', 'old', { tags: ['t'] });
    await cache.invalidateTags(['t']);
    expect(await cache.get('k')).toBeUndefined();
    await new Promise(setImmediate);
    expect(await backend.get('default', 'k')).toBeUndefined();
    await cache.set('k', 'new', { tags: ['t'] });
    expect(await cache.get('k')).toBe('new');
  });

  test('wrap records tags: a tagged wrap is invalidated like a tagged set', async () => {
    const { cache } = setup();
    let calls = 0;
    const load = async () => `v${++calls}`;
    expect(await cache.wrap('k', load, { tags: ['t'] })).toBe('v1');
    expect(await cache.wrap('k', load, { tags: ['t'] })).toBe('v1');
    await cache.invalidateTags(['t']);
    expect(await cache.wrap('k', load, { tags: ['t'] })).toBe('v2');
  });

  test('wrap takes tag versions before its loader runs: an invalidation during the load leaves the value a miss', async () => {
    const { cache } = setup();
    await cache.set('seed', 0, { tags: ['t'] }); // the tag has a version before the load starts
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const pending = cache.wrap('k', async () => {
      await gate;
      return 'computed from data the invalidation replaced';
    }, { tags: ['t'] });
    await new Promise(setImmediate);
    await cache.invalidateTags(['t']);
    release();
    expect(await pending).toBe('computed from data the invalidation replaced');
    expect(await cache.get('k')).toBeUndefined();
  });

  test('concurrent first uses of a new tag share one version: every entry written stays a hit', async () => {
    const { cache, backend } = setup();
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((key) => cache.set(key, key, { tags: ['fresh-tag'] })));
    expect(await cache.getMany(keys)).toEqual(keys);
    expect(backend.tagWrites).toBe(1);
  });

  test('setMany records each item’s tags', async () => {
    const { cache, backend } = setup();
    await cache.setMany([
      { key: 'a', value: 1, tags: ['t'] },
      { key: 'b', value: 2, tags: ['t', 'u'] },
      { key: 'c', value: 3 },
    ]);
    // a reads t; b joins that read for t and reads u: one store read per tag at most.
    expect(backend.tagReads).toBe(2);
    await cache.invalidateTags(['u']);
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([1, undefined, 3]);
  });

  test('a tag is scoped to its namespace', async () => {
    const { cache } = setup();
    const other = cache.namespace('other');
    await cache.set('k', 'here', { tags: ['t'] });
    await other.set('k', 'there', { tags: ['t'] });
    await other.invalidateTags(['t']);
    expect(await cache.get('k')).toBe('here');
    expect(await other.get('k')).toBeUndefined();
  });

  test('tag versions are read at most once per tagVersionCacheMs, whatever the number of tagged reads', async () => {
    const { cache, backend, clock } = setup({ tagVersionCacheMs: 1_000 });
    await cache.set('a', 1, { tags: ['t'] }); // reads the tag (absent), writes its first version
    expect([backend.tagReads, backend.tagWrites]).toEqual([1, 1]);
    await cache.set('b', 2, { tags: ['t'] });
    for (let i = 0; i < 50; i++) await cache.getMany(['a', 'b']);
    expect([backend.tagReads, backend.tagWrites]).toEqual([1, 1]);
    clock.advance(1_000);
    // Concurrent reads of entries sharing a tag share one store read.
    await Promise.all([cache.getMany(['a', 'b']), cache.get('a'), cache.get('b'), cache.wrap('c', async () => 3, { tags: ['t'] })]);
    expect(backend.tagReads).toBe(2);
    await cache.invalidateTags(['t']);
    expect([backend.tagReads, backend.tagWrites]).toEqual([2, 2]);
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, undefined]);
    expect(backend.tagReads).toBe(2); // the invalidating instance knows the new version
  });

  test('a tag read that started before a local invalidation does not put the old version back in the cache', async () => {
    const { cache, backend, clock } = setup({ tagVersionCacheMs: 10_000 });
    await cache.set('k', 'v', { tags: ['t'] });
    clock.advance(10_000);
    // The read of t's version is slow: it answers with the old token after the invalidation landed.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const getMany = backend.getMany.bind(backend);
    const old = await getMany(TAG_NAMESPACE, ['default\nt']);
    backend.getMany = async (namespace, keys) => {
      if (namespace !== TAG_NAMESPACE) return getMany(namespace, keys);
      await gate;
      return old;
    };
    const racing = cache.get('k');
    await new Promise(setImmediate);
    await cache.invalidateTags(['t']);
    release();
    await racing; // either answer is fine for a read concurrent with the invalidation
    backend.getMany = getMany;
    expect(await cache.get('k')).toBeUndefined();
  });

  test('tag versions that cannot be read make tagged entries misses, not stale hits, and are retried after a second', async () => {
    const { cache, backend, clock } = setup({ tagVersionCacheMs: 1_000 });
    await cache.set('tagged', 1, { tags: ['t'] });
    await cache.set('plain', 2);
    clock.advance(1_000);
    backend.failReads = true;
    const readsBefore = backend.tagReads;
    expect(await cache.get('tagged')).toBeUndefined();
    expect(await cache.get('plain')).toBe(2);
    expect(cache.stats().errors).toBe(1);
    // For a second after a failure, tagged reads fail fast instead of each asking the store again.
    backend.failReads = false;
    for (let i = 0; i < 10; i++) expect(await cache.get('tagged')).toBeUndefined();
    expect(backend.tagReads).toBe(readsBefore + 1);
    clock.advance(1_000);
    expect(await cache.get('tagged')).toBe(1);
  });

  test('invalid tag lists are refused with a hint', async () => {
    const { cache } = setup();
    await expect(cache.set('k', 1, { tags: 'users' as never })).rejects.toThrow(InvalidArgumentError);
    await expect(cache.set('k', 1, { tags: [''] })).rejects.toThrow(/non-empty, well-formed string/);
    await expect(cache.invalidateTags(Array.from({ length: 65 }, (_, i) => `t${i}`))).rejects.toThrow(/at most 64/);
  });
});

describe('tags across instances and tiers', () => {
  let dir: string;
  const opened: CacheBackend[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(join(tmpdir(), 'cachevault-tags-'));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((b) => b.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const file = (clock: ManualClock) => {
    const b = new FileBackend({ dir, clock: clock.read });
    opened.push(b);
    return b;
  };

  test('two instances sharing a file directory: an invalidation on one is seen by the other within tagVersionCacheMs', async () => {
    const clock = new ManualClock();
    const a = new CacheManager({ backend: file(clock), clock: clock.read, tagVersionCacheMs: 500 });
    const b = new CacheManager({ backend: file(clock), clock: clock.read, tagVersionCacheMs: 500 });
    await a.set('k', 'v', { tags: ['t'] });
    await a.set('k2', 'v2', { tags: ['t'] });
    await a.set('other', 'o', { tags: ['u'] });
    expect(await b.getMany(['k', 'k2'])).toEqual(['v', 'v2']);
    await a.invalidateTags(['t']);
    expect(await a.get('k')).toBeUndefined(); // and deleted, lazily
    // b trusts the version it read for tagVersionCacheMs: that is the documented window.
    clock.advance(499);
    expect(await b.get('k2')).toBe('v2');
    clock.advance(1);
    expect(await b.get('k2')).toBeUndefined();
    expect(await b.get('other')).toBe('o');
  });

  test('hybrid memory+file on two instances: the tag version lives in the file tier, so a local memory copy is invalidated too', async () => {
    const clock = new ManualClock();
    const hybrid = () => {
      const h = new HybridBackend({ clock: clock.read, tiers: [{ name: 'memory', backend: new MemoryBackend({ clock: clock.read }) }, { name: 'file', backend: file(clock) }] });
      opened.push(h);
      return h;
    };
    const a = new CacheManager({ backend: hybrid(), clock: clock.read });
    const b = new CacheManager({ backend: hybrid(), clock: clock.read });
    await a.set('k', 'v', { tags: ['t'] });
    await a.set('plain', 'p');
    expect(await b.get('k')).toBe('v'); // now also in b's memory tier
    await b.invalidateTags(['t']);
    expect(await b.get('k')).toBeUndefined();
    clock.advance(1_000);
    expect(await a.get('k')).toBeUndefined();
    expect(await a.get('plain')).toBe('p');
    // b stores a newer value; a's memory tier still holds the invalidated copy, so a reads the file tier's.
    await b.set('k', 'v2', { tags: ['t'] });
    expect(await a.get('k')).toBe('v2');
    // The tag items are in the shared file tier, not only in memory.
    expect(await file(clock).get(TAG_NAMESPACE, 'default\nt')).toBeDefined();
  });
});

describe('tags through createCache', () => {
  test('tags.versionCacheMs from the configuration sets how long another instance trusts a tag version', async () => {
    const { createCache } = await import('../../client/createCache');
    const dir = fs.mkdtempSync(join(tmpdir(), 'cachevault-tags-config-'));
    const clock = new ManualClock();
    const open = () =>
      createCache({
        cwd: dir,
        env: {},
        clock: clock.read,
        backend: 'file',
        file: { dir: join(dir, 'cache') },
        encryption: { enabled: false },
        audit: { enabled: false },
        tags: { versionCacheMs: 5_000 },
      });
    const a = await open();
    const b = await open();
    try {
      await a.set('k', 'v', { tags: ['t'] });
      await a.set('k2', 'v2', { tags: ['t'] });
      expect(await b.get('k')).toBe('v');
      await a.invalidateTags(['t']);
      clock.advance(4_999);
      expect(await b.get('k2')).toBe('v2');
      clock.advance(1);
      expect(await b.get('k2')).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close()]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
