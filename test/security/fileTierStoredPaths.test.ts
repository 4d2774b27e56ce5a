import Database from 'better-sqlite3';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import type { StoredEntry } from '../../client/types';

/**
 * The file tier's `blob` column names a file. Whoever can write cache.db can put any text there;
 * the library must never read, write or delete a file outside its blobs directory because of it.
 * Each attempt plants a path to a file beside the cache (where the key manifest lives) and runs
 * one operation that touches the row's blob; the file must survive and the row read as a miss.
 */
const SPILL = 1024;
let root: string;
let dir: string;
let victim: string;
let backend: FileBackend | undefined;
let now: number;

function entry(key: string, over: Partial<StoredEntry> = {}): StoredEntry {
  return { namespace: 'n', key, value: Buffer.alloc(SPILL * 2, 7), expiresAt: null, keyId: 'none', createdAt: now, ...over };
}

function open(over: Partial<ConstructorParameters<typeof FileBackend>[0]> = {}): FileBackend {
  backend = new FileBackend({ dir, spillThresholdBytes: SPILL, clock: () => now, ...over });
  return backend;
}

/** Points the stored row of `key` at `blob`, with a size and CRC that do not match it. */
function plant(key: string, blob: string): void {
  const db = new Database(join(dir, 'v1', 'cache.db'));
  db.prepare('UPDATE entries SET blob = ?, value = NULL WHERE key = ?').run(blob, key);
  db.close();
}

const HOSTILE = [
  ['a relative path climbing out of the blobs directory', () => '../../keys.manifest.json'],
  ['an absolute path', () => victim],
  ['a path with a valid-looking fan-out prefix', () => 'ab/../../../../keys.manifest.json'],
] as const;

beforeEach(() => {
  root = fs.mkdtempSync(join(tmpdir(), 'cv-sec-paths-'));
  dir = join(root, 'cache');
  victim = join(root, 'keys.manifest.json');
  fs.writeFileSync(victim, '{"victim":true}');
  now = 1_700_000_000_000;
});

afterEach(async () => {
  await backend?.close();
  backend = undefined;
  fs.rmSync(root, { recursive: true, force: true });
});

describe('stored fields that name a file (file tier)', () => {
  test.each(HOSTILE)('a get of a row whose blob is %s is a counted miss and leaves the file', async (_what, blob) => {
    const b = open();
    await b.set(entry('a'));
    plant('a', blob());
    expect(await b.get('n', 'a')).toBeUndefined();
    expect(fs.readFileSync(victim, 'utf8')).toBe('{"victim":true}');
    expect(b.stats().corrupt).toBe(1);
    expect(b.stats().extra).toMatchObject({ rejectedBlobRefs: 1 });
    expect(await b.get('n', 'a')).toBeUndefined();
  });

  test.each(HOSTILE)('a delete of a row whose blob is %s leaves the file', async (_what, blob) => {
    const b = open();
    await b.set(entry('a'));
    plant('a', blob());
    expect(await b.delete('n', 'a')).toBe(true);
    expect(fs.existsSync(victim)).toBe(true);
  });

  test('overwriting a row whose blob names a file outside leaves that file', async () => {
    const b = open();
    await b.set(entry('a'));
    plant('a', '../../keys.manifest.json');
    await b.set(entry('a', { value: Buffer.alloc(SPILL * 3, 1) }));
    expect(fs.existsSync(victim)).toBe(true);
    expect((await b.get('n', 'a'))!.value.byteLength).toBe(SPILL * 3);
  });

  test('prune() of an expired row whose blob names a file outside leaves that file', async () => {
    const b = open();
    await b.set(entry('a', { expiresAt: now + 1_000 }));
    plant('a', '../../keys.manifest.json');
    now += 5_000;
    expect((await b.prune()).expired).toBe(1);
    expect(fs.existsSync(victim)).toBe(true);
  });

  test('repair() of a row whose blob names a file outside removes the row and leaves the file', async () => {
    const b = open();
    await b.set(entry('a'));
    plant('a', '../../keys.manifest.json');
    const report = await b.repair();
    expect(report.badBlobs).toBe(1);
    expect(fs.existsSync(victim)).toBe(true);
    expect(await b.get('n', 'a')).toBeUndefined();
  });

  test('clear() of rows whose blobs name files outside leaves those files', async () => {
    const b = open();
    await b.setMany([entry('a'), entry('b')]);
    plant('a', '../../keys.manifest.json');
    plant('b', victim);
    await b.clear();
    expect(fs.existsSync(victim)).toBe(true);
  });

  test('evicting a row whose blob names a file outside leaves that file', async () => {
    const b = open({ maxEntries: 1 });
    await b.set(entry('a'));
    plant('a', '../../keys.manifest.json');
    now += 20_000;
    await b.set(entry('b'));
    expect(await b.get('n', 'a')).toBeUndefined();
    expect(fs.existsSync(victim)).toBe(true);
  });

  test('a row whose blob names the cache database itself does not delete the database', async () => {
    const b = open();
    await b.setMany([entry('a'), entry('keep', { value: Buffer.from('small') })]);
    // blobs/<first two chars>/<name> with a name starting '..' lands in v1/: '../v1/cache.db' is the database.
    plant('a', '../v1/cache.db');
    expect(await b.get('n', 'a')).toBeUndefined();
    expect(fs.existsSync(join(dir, 'v1', 'cache.db'))).toBe(true);
    await b.close();
    expect(Buffer.from((await open().get('n', 'keep'))!.value).toString()).toBe('small');
  });
});
