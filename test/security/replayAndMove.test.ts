import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlValue } from './support/cacheDb';
import { makeTempCache, type TempCache } from './support/tempCache';

/**
 * A writer of the cache directory puts back bytes that were once valid: an older ciphertext of
 * the same key, one key's bytes under another key or namespace, a longer expiry in the clear
 * column than the one sealed in the envelope, a relabelled key version. The envelope binds
 * (format, namespace, key, expiresAt, key version) as associated data, so each of these is a
 * counted miss, except one the design accepts and docs/security.md states: a whole old row of the
 * same key put back is served until the expiry sealed in it (no write counter exists to tell
 * an old write from the latest one). The attempts below check that bound too.
 */

const MINUTE = 60_000;
/** Columns that make up one stored entry, beside its reference (namespace, key) and row id. */
const ENTRY_COLUMNS = ['expires_at', 'key_id', 'created_at', 'size', 'charge', 'crc', 'value', 'blob'] as const;

function manualClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  const clock = () => now;
  return { clock, advance: (ms: number) => (now += ms), set: (t: number) => (now = t), get now() {
    return now;
  } };
}

/** The stored columns of one entry. */
function rowOf(cache: TempCache, namespace: string, key: string): Record<string, SqlValue> {
  const db = cache.db();
  try {
    const row = db.entry(namespace, key);
    if (!row) throw new Error(`no row for ${namespace}/${key}`);
    return row;
  } finally {
    db.close();
  }
}

/** Writes `columns` over the row of (namespace, key). */
function putColumns(cache: TempCache, namespace: string, key: string, columns: Partial<Record<string, SqlValue>>): void {
  const db = cache.db();
  try {
    const row = db.entry(namespace, key);
    if (!row) throw new Error(`no row for ${namespace}/${key}`);
    for (const [column, value] of Object.entries(columns)) {
      if (!db.update('entries', row.id as number, column, value ?? null)) throw new Error(`SQLite refused ${column}`);
    }
  } finally {
    db.close();
  }
}

function pick(row: Record<string, SqlValue>, columns: readonly string[]): Record<string, SqlValue> {
  return Object.fromEntries(columns.map((c) => [c, row[c] ?? null]));
}

describe('replayed and moved entries', () => {
  let cache: TempCache;
  const time = manualClock();

  beforeEach(() => {
    cache = makeTempCache();
    time.set(Date.UTC(2026, 0, 1));
  });
  afterEach(() => cache.remove());

  async function withVault<T>(fn: (vault: Awaited<ReturnType<TempCache['open']>>) => Promise<T>): Promise<T> {
    const vault = await cache.open({}, { clock: time.clock });
    try {
      return await fn(vault);
    } finally {
      await vault.close();
    }
  }

  /** Two writes of one key ten seconds apart (v1 expires a minute after it was written), and v1's row as stored. */
  async function twoWrites(value1: unknown, value2: unknown): Promise<Record<string, SqlValue>> {
    await withVault((v) => v.cache.set('k', value1, { ttlMs: MINUTE }));
    const first = rowOf(cache, 'default', 'k');
    time.advance(10_000);
    await withVault((v) => v.cache.set('k', value2, { ttlMs: MINUTE }));
    return first;
  }

  it('a whole older row of the same key put back is served only until the expiry sealed in it', async () => {
    const first = await twoWrites('v1 (old)', 'v2 (current)');
    putColumns(cache, 'default', 'k', pick(first, ['expires_at', 'key_id', 'created_at', 'size', 'charge', 'crc', 'value']));
    // Within v1's own expiry, the replay is indistinguishable from a valid older write (documented).
    time.advance(30_000);
    expect(await withVault((v) => v.cache.get('k'))).toBe('v1 (old)');
    // Past v1's sealed expiry it is a miss, although v2 would still have lived ten more seconds.
    time.set((first.expires_at as number) + 1);
    await withVault(async (v) => {
      expect(await v.cache.get('k')).toBeUndefined();
      expect(v.cache.stats().misses).toBe(1);
    });
  });

  it('an older ciphertext put back under the current expiry column is a counted miss', async () => {
    const first = await twoWrites('v1 (old)', 'v2 (current)');
    putColumns(cache, 'default', 'k', pick(first, ['size', 'crc', 'value']));
    await withVault(async (v) => {
      expect(await v.cache.get('k')).toBeUndefined();
      expect(v.cache.stats().decryptFailures).toBe(1);
    });
  });

  it('an older spilled blob put back (bytes, size and checksum) under the current expiry column is a counted miss', async () => {
    const blobFile = (name: SqlValue) => join(cache.cacheDir, 'v1', 'blobs', String(name).slice(0, 2), String(name));
    const big = randomBytes(1500).toString('base64');
    await withVault((v) => v.cache.set('k', `${big} v1`, { ttlMs: MINUTE }));
    const first = rowOf(cache, 'default', 'k');
    expect(first.blob).not.toBeNull();
    // The attacker keeps a copy of the blob before the overwrite unlinks it.
    const oldBytes = readFileSync(blobFile(first.blob));
    time.advance(10_000);
    await withVault((v) => v.cache.set('k', `${big} v2`, { ttlMs: MINUTE }));
    const current = rowOf(cache, 'default', 'k');
    writeFileSync(blobFile(current.blob), oldBytes);
    putColumns(cache, 'default', 'k', { size: first.size, crc: first.crc });
    await withVault(async (v) => {
      expect(await v.cache.get('k')).toBeUndefined();
      expect(v.cache.stats().decryptFailures).toBe(1);
    });
  });

  it("one key's ciphertext copied under another key of the same namespace is a counted miss", async () => {
    await withVault(async (v) => {
      await v.cache.set('alice', 'alice-secret');
      await v.cache.set('bob', 'bob-value');
    });
    const alice = rowOf(cache, 'default', 'alice');
    putColumns(cache, 'default', 'bob', pick(alice, ENTRY_COLUMNS.filter((c) => c !== 'blob')));
    await withVault(async (v) => {
      expect(await v.cache.get('bob')).toBeUndefined();
      expect(v.cache.stats().decryptFailures).toBe(1);
      expect(await v.cache.get('alice')).toBe('alice-secret');
    });
  });

  it('a row renamed to another key (its whole row moved) is a counted miss under the new name', async () => {
    await withVault((v) => v.cache.set('alice', 'alice-secret'));
    const db = cache.db();
    try {
      db.exec("UPDATE entries SET key = 'mallory' WHERE namespace = 'default' AND key = 'alice'");
    } finally {
      db.close();
    }
    await withVault(async (v) => {
      expect(await v.cache.get('mallory')).toBeUndefined();
      expect(await v.cache.get('alice')).toBeUndefined();
      expect(v.cache.stats().decryptFailures).toBe(1);
    });
  });

  it('an entry moved to another namespace (row renamed, or bytes copied over an entry there) is a counted miss', async () => {
    await withVault(async (v) => {
      await v.cache.namespace('tenant-a').set('profile', { tenant: 'a', admin: true });
      await v.cache.namespace('tenant-a').set('other', 'a-other');
      await v.cache.namespace('tenant-b').set('profile', { tenant: 'b', admin: false });
    });
    const a = rowOf(cache, 'tenant-a', 'profile');
    putColumns(cache, 'tenant-b', 'profile', pick(a, ENTRY_COLUMNS.filter((c) => c !== 'blob')));
    const db = cache.db();
    try {
      db.exec("UPDATE entries SET namespace = 'tenant-b' WHERE namespace = 'tenant-a' AND key = 'other'");
    } finally {
      db.close();
    }
    await withVault(async (v) => {
      expect(await v.cache.namespace('tenant-b').get('profile')).toBeUndefined();
      expect(await v.cache.namespace('tenant-b').get('other')).toBeUndefined();
      expect(v.cache.stats().decryptFailures).toBe(2);
    });
  });

  it('an expiry extended in the clear column (later, or never) is a counted miss, not a longer life', async () => {
    await withVault(async (v) => {
      await v.cache.set('later', 'short-lived', { ttlMs: MINUTE });
      await v.cache.set('never', 'short-lived too', { ttlMs: MINUTE });
    });
    const later = rowOf(cache, 'default', 'later');
    putColumns(cache, 'default', 'later', { expires_at: (later.expires_at as number) + 365 * 24 * 60 * MINUTE });
    putColumns(cache, 'default', 'never', { expires_at: null });
    // Even before the real expiry, the edited rows no longer match what was sealed.
    await withVault(async (v) => {
      expect(await v.cache.get('later')).toBeUndefined();
      expect(await v.cache.get('never')).toBeUndefined();
      expect(v.cache.stats().decryptFailures).toBe(2);
    });
    time.advance(2 * MINUTE);
    await withVault(async (v) => {
      expect(await v.cache.get('later')).toBeUndefined();
      expect(await v.cache.get('never')).toBeUndefined();
    });
  });

  it('a key version relabelled in the clear column changes nothing: the authenticated header decides, or the row is a miss', async () => {
    await withVault(async (v) => {
      await v.cache.set('before-rotation', 'sealed under k1');
      await v.keys!.rotate();
      await v.cache.set('after-rotation', 'sealed under k2');
    });
    expect(rowOf(cache, 'default', 'before-rotation').key_id).toMatch(/^k1:[0-9a-f]{16}$/);
    expect(rowOf(cache, 'default', 'after-rotation').key_id).toMatch(/^k2:[0-9a-f]{16}$/);
    putColumns(cache, 'default', 'before-rotation', { key_id: 'k2' });
    putColumns(cache, 'default', 'after-rotation', { key_id: 'k9' });
    await withVault(async (v) => {
      const values = [await v.cache.get('before-rotation'), await v.cache.get('after-rotation')];
      expect(['sealed under k1', undefined]).toContain(values[0]);
      expect(['sealed under k2', undefined]).toContain(values[1]);
      expect(v.cache.stats().misses).toBe(values.filter((x) => x === undefined).length);
    });
  });

  it('an old ciphertext kept from before its key version was retired is a counted miss when put back', async () => {
    await withVault((v) => v.cache.set('k', 'sealed under k1'));
    const old = rowOf(cache, 'default', 'k');
    expect(old.key_id).toMatch(/^k1:[0-9a-f]{16}$/);
    await withVault(async (v) => {
      await v.keys!.rotate();
      await v.cache.set('k', 'sealed under k2'); // the sweep's rewrite, in short
      await v.keys!.retire('k1');
    });
    putColumns(cache, 'default', 'k', pick(old, ENTRY_COLUMNS.filter((c) => c !== 'blob')));
    await withVault(async (v) => {
      expect(await v.cache.get('k')).toBeUndefined();
      expect(v.cache.stats().keyUnavailable).toBe(1);
    });
  });

  it('a ciphertext sealed by a cache with another root key is a miss in this one', async () => {
    const foreign = makeTempCache();
    try {
      const vault = await foreign.open();
      try {
        await vault.cache.set('k', 'foreign value');
      } finally {
        await vault.close();
      }
      await withVault((v) => v.cache.set('k', 'own value'));
      putColumns(cache, 'default', 'k', pick(rowOf(foreign, 'default', 'k'), ENTRY_COLUMNS.filter((c) => c !== 'blob')));
      await withVault(async (v) => {
        expect(await v.cache.get('k')).toBeUndefined();
        expect(v.cache.stats().misses).toBe(1);
      });
    } finally {
      foreign.remove();
    }
  });
});
