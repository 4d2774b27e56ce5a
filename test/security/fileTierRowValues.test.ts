import type { SqlValue } from './support/cacheDb';
import { makeTempCache, type TempCache } from './support/tempCache';

/**
 * One cell of one row of the file tier set to a value of another type or an absurd size (what a
 * writer of the cache directory can do with the sqlite3 shell). The entry may become a miss; the
 * cache must keep working: reads of other entries, writes that evict, overwrites, deletes,
 * clear(), prune() and repair() never throw, and a value written afterwards reads back. The
 * property test (fileTierProperty.test.ts) explores the same ground at random; these are the
 * cases it found, kept as named attempts.
 */

const HOSTILE: readonly [string, SqlValue][] = [
  ['+Infinity', Infinity],
  ['-Infinity', -Infinity],
  ["text '9e999' (infinite as a number)", '9e999'],
  ['-1', -1],
  ['2^63 - 1', 2n ** 63n - 1n],
  ['-2^63', -(2n ** 63n)],
  ['1e300', 1e300],
  ["text 'abc'", 'abc'],
  ['bytes', Buffer.from([0xff, 0x00, 0x2f, 0x2e])],
  ['NULL', null],
];

const COLUMNS = ['expires_at', 'key_id', 'created_at', 'size', 'charge', 'crc', 'value', 'blob'] as const;

/** Applies one edit to the row of `victim`, then uses the cache; returns the operations that threw, or read a wrong value. */
async function attempt(column: string, value: SqlValue): Promise<string[]> {
  const cache: TempCache = makeTempCache();
  const problems: string[] = [];
  try {
    let vault = await cache.open();
    try {
      await vault.cache.set('victim', 'x'.repeat(10) + column); // inline
      await vault.cache.set('spilled', Buffer.alloc(600, 7).toString('base64')); // a blob
      await vault.cache.set('bystander', 'still here');
    } finally {
      await vault.close();
    }
    const db = cache.db();
    try {
      for (const key of ['victim', 'spilled']) {
        const row = db.entry('default', key)!;
        db.update('entries', row.id as number, column, value); // refused by a constraint: nothing changed, fine
      }
    } finally {
      db.close();
    }
    vault = await cache.open({ file: { maxEntries: 4 } });
    try {
      const step = async (name: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          problems.push(`${name} threw: ${(err as Error).message}`);
        }
      };
      await step('get victim', async () => {
        const got = await vault.cache.get('victim');
        if (got !== undefined && got !== 'x'.repeat(10) + column) problems.push(`get victim returned ${JSON.stringify(got)}`);
      });
      await step('get spilled', async () => {
        const got = await vault.cache.get('spilled');
        if (got !== undefined && got !== Buffer.alloc(600, 7).toString('base64')) problems.push('get spilled returned another value');
      });
      await step('get bystander', async () => {
        if ((await vault.cache.get('bystander')) !== 'still here') problems.push('bystander lost');
      });
      for (let i = 0; i < 4; i++) await step(`set n${i} (evicting)`, () => vault.cache.set(`n${i}`, `new ${i}`));
      await step('overwrite victim', () => vault.cache.set('victim', 'rewritten'));
      await step('delete spilled', () => vault.cache.delete('spilled'));
      await step('prune', () => cache.fileBackend(vault).prune());
      await step('repair', () => cache.fileBackend(vault).repair());
      await step('set after repair', () => vault.cache.set('after', 'after repair'));
      await step('get after repair', async () => {
        const got = await vault.cache.get('after');
        if (got !== 'after repair') problems.push(`a value written after the damage reads back as ${JSON.stringify(got)}`);
      });
      await step('clear', () => vault.cache.clear());
    } finally {
      await vault.close();
    }
  } finally {
    cache.remove();
  }
  return problems;
}

describe('file tier row values', () => {
  // Broken when written for `charge`: an infinite charge makes the totals trigger compute
  // Infinity - Infinity = NULL, and every later write, delete and clear fails on totals' NOT NULL
  // constraint; repair() does not mend it.
  it.each(COLUMNS.map((c) => [c]))('hostile values in the %s column leave the cache working (misses at most)', async (column) => {
    const found: Record<string, string[]> = {};
    for (const [label, value] of HOSTILE) {
      const problems = await attempt(column, value);
      if (problems.length > 0) found[label] = problems;
    }
    expect(found).toEqual({});
  });
});
