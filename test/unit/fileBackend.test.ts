import Database from 'better-sqlite3';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend, type FileBackendOptions } from '../../client/backends/fileBackend';
import { FileCacheBusyError, ForeignDatabaseError } from '../../client/backends/file/errors';
import { APPLICATION_ID } from '../../client/backends/file/sqliteIndex';
import { BackendError, InvalidArgumentError, UnsupportedFormatError } from '../../client/errors';
import type { Logger, StoredEntry } from '../../client/types';
import { ManualClock } from '../contract/backendContract';

const SPILL = 1024;

let dir: string;
let clock: ManualClock;
const open: FileBackend[] = [];

function make(over: Partial<FileBackendOptions> = {}): FileBackend {
  const backend = new FileBackend({ dir, clock: clock.read, spillThresholdBytes: SPILL, ...over });
  open.push(backend);
  return backend;
}

function entry(key: string, value: Buffer | string, over: Partial<StoredEntry> = {}): StoredEntry {
  return { namespace: 'n', key, value: typeof value === 'string' ? Buffer.from(value) : value, expiresAt: null, keyId: 'none', createdAt: clock.now, ...over };
}

/** Every file under the blobs directory (the fan-out subdirectories flattened). */
function blobFiles(): string[] {
  const root = join(dir, 'v1', 'blobs');
  return fs.readdirSync(root).flatMap((sub) => fs.readdirSync(join(root, sub)).map((name) => join(root, sub, name)));
}

function tempFiles(): string[] {
  return fs.readdirSync(join(dir, 'v1', 'tmp'));
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, warn: (_obj, msg) => warnings.push(msg ?? ''), error() {} };
}

beforeEach(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'cachevault-file-'));
  clock = new ManualClock(1_700_000_000_000);
});

afterEach(async () => {
  jest.restoreAllMocks();
  for (const b of open.splice(0)) await b.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('FileBackend layout and persistence', () => {
  test('stores its database under a versioned directory with the schema version in user_version', async () => {
    await make().set(entry('a', 'x'));
    expect(fs.existsSync(join(dir, 'v1', 'cache.db'))).toBe(true);
    const db = new Database(join(dir, 'v1', 'cache.db'), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(FileBackend.SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    expect(FileBackend.LAYOUT_VERSION).toBe(1);
  });

  test('entries, inline and spilled, survive closing and reopening the directory', async () => {
    const first = make();
    const big = Buffer.alloc(SPILL * 3, 7);
    await first.setMany([entry('small', 'tiny'), entry('big', big, { expiresAt: clock.now + 5_000, keyId: 'k9' })]);
    await first.close();
    const second = make();
    expect(Buffer.from((await second.get('n', 'small'))!.value).toString()).toBe('tiny');
    const got = await second.get('n', 'big');
    expect(Buffer.from(got!.value).equals(big)).toBe(true);
    expect(got).toMatchObject({ expiresAt: clock.now + 5_000, keyId: 'k9', createdAt: clock.now });
    expect(second.stats()).toMatchObject({ entries: 2, extra: expect.objectContaining({ spilledBlobs: 1 }) });
  });

  test('a directory holding a newer layout version is refused with UnsupportedFormatError', () => {
    fs.mkdirSync(join(dir, 'v2'));
    expect(() => make()).toThrow(UnsupportedFormatError);
  });

  test('a database with a newer schema version is refused, not read as empty', async () => {
    await make().set(entry('a', 'x'));
    await open.pop()!.close();
    const db = new Database(join(dir, 'v1', 'cache.db'));
    db.pragma(`user_version = ${FileBackend.SCHEMA_VERSION + 1}`);
    db.close();
    let thrown: unknown;
    try {
      make();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UnsupportedFormatError);
    expect((thrown as UnsupportedFormatError).hint).toMatch(/Upgrade cachevault/);
  });

  test('file.dir itself may be a symlink the user configured: it is resolved once and the cache lives in its target', async () => {
    fs.mkdirSync(join(dir, 'real'), { mode: 0o700 });
    fs.symlinkSync(join(dir, 'real'), join(dir, 'link'));
    const backend = make({ dir: join(dir, 'link') });
    await backend.set(entry('a', Buffer.alloc(SPILL * 2, 1)));
    expect(fs.existsSync(join(dir, 'real', 'v1', 'cache.db'))).toBe(true);
    expect(fs.lstatSync(join(dir, 'link')).isSymbolicLink()).toBe(true);
    expect((await backend.get('n', 'a'))!.value.byteLength).toBe(SPILL * 2);
  });

  test('every database it creates carries the cachevault application_id', async () => {
    await make().set(entry('a', 'x'));
    const db = new Database(join(dir, 'v1', 'cache.db'), { readonly: true });
    expect(db.pragma('application_id', { simple: true })).toBe(0x63766c74);
    db.close();
  });

  test('a cache of the current schema made before application ids is recognised, kept and stamped', async () => {
    const first = make();
    await first.set(entry('kept', 'value'));
    await open.pop()!.close();
    const db = new Database(join(dir, 'v1', 'cache.db'));
    db.pragma('application_id = 0');
    db.close();
    expect(Buffer.from((await make().get('n', 'kept'))!.value).toString()).toBe('value');
    const check = new Database(join(dir, 'v1', 'cache.db'), { readonly: true });
    expect(check.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    check.close();
  });

  test('a database without our application_id whose schema differs in one index is foreign, not rebuilt', async () => {
    await make().set(entry('a', 'x'));
    await open.pop()!.close();
    const db = new Database(join(dir, 'v1', 'cache.db'));
    db.pragma('application_id = 0');
    db.exec('DROP INDEX entries_blob');
    db.close();
    expect(() => make()).toThrow(ForeignDatabaseError);
  });

  test('a cache.db that is not a database fails at construction with a hint, not a raw SQLite error', () => {
    fs.mkdirSync(join(dir, 'v1'), { recursive: true });
    fs.writeFileSync(join(dir, 'v1', 'cache.db'), 'this is not sqlite'.repeat(100));
    let thrown: unknown;
    try {
      make();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BackendError);
    expect((thrown as BackendError).hint).toMatch(/not a cachevault database/);
  });

  test('invalid options fail at construction with the option named', () => {
    expect(() => make({ maxBytes: -1 })).toThrow(/maxBytes/);
    expect(() => make({ durability: 'sometimes' as 'full' })).toThrow(InvalidArgumentError);
  });
});

describe('FileBackend keys', () => {
  test('keys differing only in unpaired surrogates stay distinct entries', async () => {
    const backend = make();
    await backend.setMany([entry('a\uD800', 'high'), entry('a\uDC00', 'low'), entry('a\uFFFD', 'replacement')]);
    const got = await backend.getMany('n', ['a\uD800', 'a\uDC00', 'a\uFFFD']);
    expect(got.map((e) => Buffer.from(e!.value).toString())).toEqual(['high', 'low', 'replacement']);
  });
});

describe('FileBackend spilled values', () => {
  test('values at the spill threshold go to a blob file named by a random id, never by the key', async () => {
    const backend = make();
    await backend.setMany([entry('../../escape', Buffer.alloc(SPILL, 1)), entry('below', Buffer.alloc(SPILL - 1, 2))]);
    const files = blobFiles();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/[/\\]v1[/\\]blobs[/\\][0-9a-f]{2}[/\\][0-9a-f]{32}$/);
    expect(fs.existsSync(join(dir, '..', 'escape'))).toBe(false);
    expect(tempFiles()).toEqual([]);
  });

  test('replacing, deleting and clearing spilled entries removes their blob files', async () => {
    const backend = make();
    await backend.set(entry('a', Buffer.alloc(SPILL * 2, 1)));
    await backend.set(entry('a', Buffer.alloc(SPILL * 2, 2)));
    expect(blobFiles()).toHaveLength(1);
    await backend.set(entry('a', 'now small'));
    expect(blobFiles()).toHaveLength(0);
    await backend.setMany([entry('b', Buffer.alloc(SPILL, 3)), entry('c', Buffer.alloc(SPILL, 4)), { ...entry('d', Buffer.alloc(SPILL, 5)), namespace: 'other' }]);
    await backend.delete('n', 'b');
    expect(blobFiles()).toHaveLength(2);
    await backend.clear('n');
    expect(blobFiles()).toHaveLength(1);
    await backend.clear();
    expect(blobFiles()).toHaveLength(0);
    expect(backend.stats()).toMatchObject({ entries: 0, bytes: 0, extra: expect.objectContaining({ spilledBlobs: 0 }) });
  });
});

describe('FileBackend integrity on read', () => {
  test.each([
    ['a corrupt blob', (path: string) => {
      const bytes = fs.readFileSync(path);
      bytes[100] ^= 0xff;
      fs.writeFileSync(path, bytes);
    }],
    ['a truncated blob', (path: string) => fs.truncateSync(path, 10)],
    ['a missing blob', (path: string) => fs.unlinkSync(path)],
  ])('%s reads as a miss, is removed and counted as corrupt', async (_label, damage) => {
    const backend = make();
    await backend.set(entry('big', Buffer.alloc(SPILL * 4, 9)));
    damage(blobFiles()[0]!);
    expect(await backend.get('n', 'big')).toBeUndefined();
    expect(backend.stats()).toMatchObject({ corrupt: 1, misses: 1, hits: 0, entries: 0 });
    expect(blobFiles()).toEqual([]);
    expect(await backend.get('n', 'big')).toBeUndefined();
    expect(backend.stats().corrupt).toBe(1);
  });

  test('a corrupt inline value reads as a miss and is counted', async () => {
    const backend = make();
    await backend.set(entry('small', 'hello world'));
    const db = new Database(join(dir, 'v1', 'cache.db'));
    db.prepare("UPDATE entries SET value = ? WHERE key = 'small'").run(Buffer.from('hellO world'));
    db.close();
    expect(await backend.get('n', 'small')).toBeUndefined();
    expect(backend.stats().corrupt).toBe(1);
  });

  test('corruption is logged once per kind, however many entries are hit', async () => {
    const logger = recordingLogger();
    const backend = make({ logger });
    await backend.setMany(['a', 'b', 'c'].map((k) => entry(k, Buffer.alloc(SPILL * 2, 1))));
    for (const path of blobFiles()) fs.unlinkSync(path);
    await backend.getMany('n', ['a', 'b', 'c']);
    expect(backend.stats().corrupt).toBe(3);
    expect(logger.warnings).toHaveLength(1);
  });
});

describe('FileBackend atomic writes', () => {
  test('a write interrupted between temp file and rename leaves nothing half-written and no temp file', async () => {
    const backend = make();
    const before = Buffer.alloc(SPILL * 2, 1);
    await backend.set(entry('a', before));
    const rename = jest.spyOn(fs, 'renameSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
    });
    await expect(backend.set(entry('a', Buffer.alloc(SPILL * 2, 2)))).rejects.toBeInstanceOf(BackendError);
    expect(rename).toHaveBeenCalledTimes(1);
    expect(tempFiles()).toEqual([]);
    expect(blobFiles()).toHaveLength(1);
    expect(Buffer.from((await backend.get('n', 'a'))!.value).equals(before)).toBe(true);
    expect(backend.stats().errors).toBe(1);
  });

  test('a batch whose second blob fails to write stores none of the batch and leaves no blob behind', async () => {
    const backend = make();
    const real = fs.writeSync;
    let calls = 0;
    jest.spyOn(fs, 'writeSync').mockImplementation(((...args: Parameters<typeof fs.writeSync>) => {
      if (++calls === 2) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return (real as (...a: Parameters<typeof fs.writeSync>) => number)(...args);
    }) as typeof fs.writeSync);
    const err = (await backend.setMany([entry('x', Buffer.alloc(SPILL, 1)), entry('y', Buffer.alloc(SPILL, 2))]).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/ENOSPC/);
    expect(err.hint).toMatch(/disk is full/);
    expect(await backend.getMany('n', ['x', 'y'])).toEqual([undefined, undefined]);
    expect(blobFiles()).toEqual([]);
    expect(tempFiles()).toEqual([]);
  });

  test('a committed write still succeeds when the replaced value file cannot be removed', async () => {
    const logger = recordingLogger();
    const backend = make({ logger });
    await backend.set(entry('a', Buffer.alloc(SPILL * 2, 1)));
    jest.spyOn(fs, 'unlinkSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EACCES: permission denied, unlink'), { code: 'EACCES' });
    });
    await expect(backend.set(entry('a', Buffer.alloc(SPILL * 2, 2)))).resolves.toEqual({ written: 1 });
    expect((await backend.get('n', 'a'))!.value[0]).toBe(2);
    expect(blobFiles()).toHaveLength(2); // the old one is an orphan now, for prune() to collect
    expect(logger.warnings).toEqual([expect.stringMatching(/prune\(\) will collect them/)]);
  });

  test('a blob directory removed while the cache runs is made again', async () => {
    const backend = make();
    await backend.set(entry('a', Buffer.alloc(SPILL, 1)));
    fs.rmSync(join(dir, 'v1', 'blobs'), { recursive: true });
    fs.mkdirSync(join(dir, 'v1', 'blobs'));
    await backend.setMany(Array.from({ length: 20 }, (_, i) => entry(`k${i}`, Buffer.alloc(SPILL, i))));
    expect((await backend.getMany('n', ['k0', 'k19'])).map((e) => e?.value[0])).toEqual([0, 19]);
  });

  test('a write that fails in SQLite removes the blob it had already written', async () => {
    const backend = make();
    const db = new Database(join(dir, 'v1', 'cache.db'));
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON entries WHEN NEW.key = 'doomed' BEGIN SELECT RAISE(ABORT, 'refused by test'); END;");
    db.close();
    await expect(backend.set(entry('doomed', Buffer.alloc(SPILL * 2, 1)))).rejects.toThrow(/refused by test/);
    expect(blobFiles()).toEqual([]);
  });
});

describe('FileBackend bounds and maintenance', () => {
  test('past maxEntries the least recently used entry is evicted and counted', async () => {
    const backend = make({ maxEntries: 3 });
    await backend.set(entry('a', '1'));
    clock.advance(1_000);
    await backend.set(entry('b', '2'));
    clock.advance(1_000);
    await backend.set(entry('c', '3'));
    clock.advance(60_000);
    await backend.get('n', 'a'); // 'a' is now the most recently used
    await backend.set(entry('d', '4'));
    expect(await backend.has('n', 'a')).toBe(true);
    expect(await backend.has('n', 'b')).toBe(false);
    expect(await backend.has('n', 'c')).toBe(true);
    expect(backend.stats()).toMatchObject({ evictions: 1, entries: 3 });
  });

  test('walking entries with scan() does not count as use for eviction', async () => {
    const backend = make({ maxEntries: 2 });
    await backend.set(entry('a', '1'));
    clock.advance(1_000);
    await backend.set(entry('b', '2'));
    clock.advance(60_000);
    const seen: string[] = [];
    for await (const e of backend.entries({ namespace: 'n' })) seen.push(e.key);
    expect(seen).toEqual(['a', 'b']);
    await backend.set(entry('c', '3'));
    expect(await backend.has('n', 'a')).toBe(false);
    expect(await backend.has('n', 'b')).toBe(true);
  });

  test('past maxBytes entries are evicted, spilled ones with their blob files, until the total fits', async () => {
    const backend = make({ maxBytes: 10_000 });
    for (let i = 0; i < 10; i++) {
      await backend.set(entry(`k${i}`, Buffer.alloc(1_500, i)));
      clock.advance(1_000);
    }
    const stats = backend.stats();
    expect(stats.bytes).toBeLessThanOrEqual(10_000);
    expect(stats.entries).toBe(6);
    expect(stats.evictions).toBe(4);
    expect(blobFiles()).toHaveLength(6);
    expect(await backend.has('n', 'k9')).toBe(true);
    expect(await backend.has('n', 'k0')).toBe(false);
  });

  test('expired entries are evicted before live ones', async () => {
    const backend = make({ maxEntries: 2 });
    await backend.set(entry('live', '1'));
    await backend.set(entry('dying', '2', { expiresAt: clock.now + 10 }));
    clock.advance(20);
    await backend.set(entry('new', '3'));
    expect(await backend.has('n', 'live')).toBe(true);
    expect(await backend.has('n', 'new')).toBe(true);
    expect(backend.stats().entries).toBe(2);
  });

  test('a value larger than maxBytes is refused with a clear error and nothing is stored', async () => {
    const backend = make({ maxBytes: 4_096 });
    await expect(backend.set(entry('huge', Buffer.alloc(8_192)))).rejects.toThrow(/cannot fit/);
    expect(backend.stats().entries).toBe(0);
    expect(blobFiles()).toEqual([]);
  });

  test('prune() removes expired entries and their blobs, stale temp files and old orphaned blobs', async () => {
    const backend = make();
    await backend.setMany([
      entry('old-big', Buffer.alloc(SPILL * 2, 1), { expiresAt: clock.now + 1_000 }),
      entry('old-small', 'x', { expiresAt: clock.now + 1_000 }),
      entry('keep', Buffer.alloc(SPILL * 2, 2), { expiresAt: clock.now + 60_000 }),
    ]);
    clock.advance(2_000);
    const tmp = join(dir, 'v1', 'tmp');
    const longAgo = new Date(Date.now() - 5 * 60_000);
    fs.writeFileSync(join(tmp, 'dead-writer.tmp'), 'partial');
    fs.utimesSync(join(tmp, 'dead-writer.tmp'), longAgo, longAgo);
    fs.writeFileSync(join(tmp, 'in-flight.tmp'), 'partial');
    const orphanDir = join(dir, 'v1', 'blobs', 'ff');
    fs.mkdirSync(orphanDir, { recursive: true });
    fs.writeFileSync(join(orphanDir, 'ff'.repeat(16)), 'orphan');
    fs.utimesSync(join(orphanDir, 'ff'.repeat(16)), longAgo, longAgo);
    fs.writeFileSync(join(orphanDir, 'fe'.repeat(16)), 'young orphan, maybe a write in another process');

    expect(await backend.prune()).toEqual({ expired: 2, orphanedBlobs: 1, tempFiles: 1 });
    expect(tempFiles()).toEqual(['in-flight.tmp']);
    expect(blobFiles()).toHaveLength(2);
    expect(await backend.has('n', 'keep')).toBe(true);
    expect(backend.stats().entries).toBe(1);
  });

  test('repair() checks integrity, rebuilds indexes and removes rows whose blobs are bad', async () => {
    const backend = make();
    await backend.setMany([entry('good', Buffer.alloc(SPILL * 2, 1)), entry('bad', Buffer.alloc(SPILL * 2, 2))]);
    const bad = (await new Database(join(dir, 'v1', 'cache.db'), { readonly: true }).prepare("SELECT blob FROM entries WHERE key = 'bad'").pluck().get()) as string;
    fs.truncateSync(join(dir, 'v1', 'blobs', bad.slice(0, 2), bad), 5);
    const report = await backend.repair();
    expect(report).toMatchObject({ ok: true, integrityProblems: [], reindexed: true, badBlobs: 1 });
    expect(await backend.has('n', 'good')).toBe(true);
    expect(await backend.has('n', 'bad')).toBe(false);
    expect(backend.stats().corrupt).toBe(0); // found by repair, not by a read: reported in the repair report
  });

  test('an invalid scan cursor is a clear InvalidArgumentError', async () => {
    await expect(make().scan({ cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  test("durability 'full' fsyncs each value file and its directory before the write resolves; 'normal' does not", async () => {
    const fsync = jest.spyOn(fs, 'fsyncSync');
    await make({ durability: 'normal' }).set(entry('b', Buffer.alloc(SPILL * 2, 3)));
    expect(fsync).not.toHaveBeenCalled();
    await open.pop()!.close();
    const backend = make({ durability: 'full' });
    await backend.setMany([entry('a', 'x'), entry('b', Buffer.alloc(SPILL * 2, 3))]);
    expect(fsync).toHaveBeenCalledTimes(2);
    const db = new Database(join(dir, 'v1', 'cache.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    expect((await backend.getMany('n', ['a', 'b'])).map((e) => e?.value.byteLength)).toEqual([1, SPILL * 2]);
    expect(backend.stats().extra).toMatchObject({ durability: 'full' });
  });
});

describe('FileBackend under a lock held by another connection', () => {
  test('a write waits for a lock that is released and then succeeds', async () => {
    const backend = make({ busyTimeoutMs: 10_000 });
    await backend.set(entry('a', '1'));
    const other = new Database(join(dir, 'v1', 'cache.db'));
    other.exec('BEGIN IMMEDIATE');
    const pending = backend.set(entry('b', '2'));
    setTimeout(() => {
      other.exec('COMMIT');
      other.close();
    }, 150);
    await expect(pending).resolves.toEqual({ written: 1 });
    expect(await backend.has('n', 'b')).toBe(true);
  });

  test('a lock held past busyTimeoutMs becomes a BackendError with a hint, never a raw SQLITE_BUSY', async () => {
    const backend = make({ busyTimeoutMs: 200 });
    const other = new Database(join(dir, 'v1', 'cache.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      const err = (await backend.set(entry('b', '2')).catch((e: unknown) => e)) as BackendError;
      expect(err).toBeInstanceOf(FileCacheBusyError);
      expect(err.code).toBe('FILE_CACHE_BUSY');
      expect(err.message).toMatch(/stayed locked by another process/);
      expect(err.hint).toMatch(/busyTimeoutMs/);
      // Reads are not blocked by a writer in WAL mode.
      expect(await backend.get('n', 'b')).toBeUndefined();
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
  });
});
