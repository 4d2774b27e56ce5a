import type { SqlValue } from './support/cacheDb';
import { makeTempCache, type TempCache } from './support/tempCache';

/**
 * A writer of the cache directory against tags and wrap's grace (docs/caching.md): tag versions
 * are sealed items in the reserved namespace `__tags__`, and an entry's logical expiry, negative
 * marker and tag versions travel inside its sealed bytes. Moving, forging or extending any of
 * them must end in misses, never in an invalidated, expired or absent value served as a hit.
 * Putting back a whole older tag item is a replay, bounded as docs/security.md states.
 */

const TAGS = '__tags__';

describe('replayed and moved entries', () => {
  let cache: TempCache;
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;
  beforeEach(() => {
    cache = makeTempCache();
    now = Date.UTC(2026, 0, 1);
  });
  afterEach(() => cache.remove());

  async function withVault<T>(fn: (vault: Awaited<ReturnType<TempCache['open']>>) => Promise<T>): Promise<T> {
    const vault = await cache.open({ tags: { versionCacheMs: 0 } }, { clock });
    try {
      return await fn(vault);
    } finally {
      await vault.close();
    }
  }

  function row(namespace: string, key: string): Record<string, SqlValue> {
    const db = cache.db();
    try {
      const found = db.entry(namespace, key);
      if (!found) throw new Error(`no row for ${namespace}/${key}`);
      return found;
    } finally {
      db.close();
    }
  }

  function overwrite(namespace: string, key: string, from: Record<string, SqlValue>, columns: readonly string[]): void {
    const db = cache.db();
    try {
      const target = db.entry(namespace, key);
      if (!target) throw new Error(`no row for ${namespace}/${key}`);
      for (const column of columns) if (!db.update('entries', target.id as number, column, from[column] ?? null)) throw new Error(`SQLite refused ${column}`);
    } finally {
      db.close();
    }
  }

  it('a tag version item moved from another tag does not bring back entries invalidated under this one', async () => {
    await withVault(async (v) => {
      await v.cache.set('k', 'invalidated value', { tags: ['t'] });
      await v.cache.set('other', 'o', { tags: ['u'] });
      await v.cache.invalidateTags(['t']);
    });
    // The attacker copies tag u's current item (a valid, sealed token) over tag t's.
    overwrite(TAGS, 'default\nt', row(TAGS, 'default\nu'), ['expires_at', 'key_id', 'created_at', 'size', 'charge', 'crc', 'value']);
    await withVault(async (v) => {
      // The moved item fails its seal (bound to its own tag's key), so tag t reads as having no version.
      expect(await v.cache.get('k')).toBeUndefined();
      expect(v.cache.stats().tagInvalidated).toBe(1);
      expect(v.cache.stats().decryptFailures).toBe(1);
      expect(await v.cache.get('other')).toBe('o');
    });
  });

  it('an entry’s bytes moved under a key whose tag was never invalidated stay a miss', async () => {
    await withVault(async (v) => {
      await v.cache.set('victim', 'secret-ish', { tags: ['t'] });
      await v.cache.set('decoy', 'decoy', { tags: ['t'] });
    });
    overwrite('default', 'decoy', row('default', 'victim'), ['size', 'crc', 'value']);
    await withVault(async (v) => {
      expect(await v.cache.get('decoy')).toBeUndefined();
    });
  });

  it('a grace-kept entry past its logical expiry is not served by get, whatever its clear expiry column says', async () => {
    await withVault((v) => v.cache.wrap('k', async () => 'stale', { ttlMs: 60_000, graceMs: 3_600_000 }));
    now += 120_000;
    const stored = row('default', 'k');
    // The clear expiry is already an hour past the logical one; pushing it further breaks the seal.
    overwrite('default', 'k', { ...stored, expires_at: (stored.expires_at as number) + 86_400_000 }, ['expires_at']);
    await withVault(async (v) => {
      expect(await v.cache.get('k')).toBeUndefined();
      expect(await v.cache.wrap('k', async () => 'fresh')).toBe('fresh');
    });
  });

  it('a negatively cached absence moved over a real entry is a miss, not an absence served to wrap', async () => {
    await withVault(async (v) => {
      await v.cache.wrap('absent', async () => null, { negativeTtlMs: 60_000 });
      await v.cache.set('present', 'value');
    });
    overwrite('default', 'present', row('default', 'absent'), ['expires_at', 'size', 'crc', 'value']);
    await withVault(async (v) => {
      let calls = 0;
      expect(await v.cache.wrap('present', async () => `loaded ${++calls}`, { negativeTtlMs: 60_000 })).toBe('loaded 1');
    });
  });
});
