import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import type { StoredEntry } from '../../client/types';

/**
 * Symlinks planted in the cache directory by someone who can write it. Nothing the file tier
 * opens, writes or deletes may be reached through one: the database and its -wal/-shm, the blobs
 * and temp directories, the blob fan-out directories and the blob files.
 */
const SPILL = 1024;
let root: string;
let dir: string;
let outside: string;
let backend: FileBackend | undefined;

function entry(key: string, size = SPILL * 2): StoredEntry {
  return { namespace: 'n', key, value: Buffer.alloc(size, 5), expiresAt: null, keyId: 'none', createdAt: Date.now() };
}

function open(): FileBackend {
  backend = new FileBackend({ dir, spillThresholdBytes: SPILL });
  return backend;
}

function openError(): { code?: string; message: string; hint?: string } {
  try {
    open();
  } catch (err) {
    return err as { code?: string; message: string; hint?: string };
  }
  throw new Error('the cache opened');
}

/** Hash of every file under `path`, by relative name: proves nothing there changed. */
function snapshot(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(path, { recursive: true }) as string[]) {
    const full = join(path, name);
    const st = fs.lstatSync(full);
    out[name] = st.isFile() ? createHash('sha256').update(fs.readFileSync(full)).digest('hex') : st.isDirectory() ? 'dir' : 'other';
  }
  return out;
}

function foreignDatabase(path: string, userVersion: number): void {
  const db = new Database(path);
  db.exec("CREATE TABLE entries (id INTEGER PRIMARY KEY, payload TEXT); INSERT INTO entries (payload) VALUES ('their data');");
  db.pragma(`user_version = ${userVersion}`);
  db.close();
}

beforeEach(() => {
  root = fs.mkdtempSync(join(tmpdir(), 'cv-sec-links-'));
  dir = join(root, 'cache');
  outside = join(root, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(join(outside, 'important.txt'), 'do not touch');
  const old = new Date(Date.now() - 3_600_000);
  fs.utimesSync(join(outside, 'important.txt'), old, old);
});

afterEach(async () => {
  await backend?.close();
  backend = undefined;
  fs.rmSync(root, { recursive: true, force: true });
});

describe('symlinks in the file tier', () => {
  test('a cache.db symlinked to another application\'s database is refused, and that database is left as it was', () => {
    const foreign = join(outside, 'app.db');
    foreignDatabase(foreign, 1);
    const before = snapshot(outside);
    fs.mkdirSync(join(dir, 'v1'), { recursive: true });
    fs.symlinkSync(foreign, join(dir, 'v1', 'cache.db'));
    const err = openError();
    expect(err.code).toBe('UNSAFE_PATH');
    expect(err.message).toContain(join(dir, 'v1', 'cache.db'));
    expect(snapshot(outside)).toEqual(before);
    const db = new Database(foreign, { readonly: true });
    expect(db.prepare('SELECT payload FROM entries').pluck().all()).toEqual(['their data']);
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    db.close();
  });

  test.each(['cache.db-wal', 'cache.db-shm', 'cache.db-journal'])('a %s symlinked to a file outside is refused and the file left as it was', async (name) => {
    await open().set(entry('a', 10));
    await backend!.close();
    backend = undefined;
    fs.rmSync(join(dir, 'v1', name), { force: true });
    fs.symlinkSync(join(outside, 'important.txt'), join(dir, 'v1', name));
    expect(openError().code).toBe('UNSAFE_PATH');
    expect(fs.readFileSync(join(outside, 'important.txt'), 'utf8')).toBe('do not touch');
  });

  test.each(['v1', 'v1/blobs', 'v1/tmp'])('a %s directory symlinked outside the cache is refused', (sub) => {
    fs.mkdirSync(join(dir, sub, '..'), { recursive: true });
    fs.symlinkSync(outside, join(dir, sub));
    const before = snapshot(outside);
    expect(openError().code).toBe('UNSAFE_PATH');
    expect(snapshot(outside)).toEqual(before);
  });

  test('blob fan-out directories symlinked outside never get a value file written into them', async () => {
    const b = open();
    for (let i = 0; i < 256; i++) fs.symlinkSync(outside, join(dir, 'v1', 'blobs', i.toString(16).padStart(2, '0')));
    const before = snapshot(outside);
    await b.setMany(Array.from({ length: 20 }, (_, i) => entry(`k${i}`)));
    expect(snapshot(outside)).toEqual(before);
    expect((await b.getMany('n', ['k0', 'k19'])).map((e) => e?.value.byteLength)).toEqual([SPILL * 2, SPILL * 2]);
  });

  test('prune() never deletes files from a fan-out directory symlinked outside', async () => {
    const b = open();
    fs.symlinkSync(outside, join(dir, 'v1', 'blobs', 'ab'));
    await b.prune();
    await b.repair();
    expect(fs.readFileSync(join(outside, 'important.txt'), 'utf8')).toBe('do not touch');
  });

  test('reading a row whose fan-out directory became a symlink is a miss and deletes nothing outside', async () => {
    const b = open();
    await b.set(entry('a'));
    const db = new Database(join(dir, 'v1', 'cache.db'), { readonly: true });
    const name = db.prepare('SELECT blob FROM entries').pluck().get() as string;
    db.close();
    const fanOut = join(dir, 'v1', 'blobs', name.slice(0, 2));
    fs.rmSync(fanOut, { recursive: true });
    fs.symlinkSync(outside, fanOut);
    fs.writeFileSync(join(outside, name), 'a file of theirs that happens to share the name');
    expect(await b.get('n', 'a')).toBeUndefined();
    expect(await b.delete('n', 'a')).toBe(false);
    expect(fs.readFileSync(join(outside, name), 'utf8')).toMatch(/a file of theirs/);
  });

  test('a blob file replaced by a symlink to a file outside is a miss and that file is left', async () => {
    const b = open();
    await b.set(entry('a'));
    const db = new Database(join(dir, 'v1', 'cache.db'), { readonly: true });
    const name = db.prepare('SELECT blob FROM entries').pluck().get() as string;
    db.close();
    const path = join(dir, 'v1', 'blobs', name.slice(0, 2), name);
    fs.copyFileSync(path, join(outside, 'copy'));
    fs.rmSync(path);
    fs.symlinkSync(join(outside, 'copy'), path);
    expect(await b.get('n', 'a')).toBeUndefined();
    expect(fs.existsSync(join(outside, 'copy'))).toBe(true);
  });

  test('a stale temp file that is a symlink is removed without touching its target', async () => {
    const b = open();
    const link = join(dir, 'v1', 'tmp', 'x.1.tmp');
    fs.symlinkSync(join(outside, 'important.txt'), link);
    const old = new Date(Date.now() - 3_600_000);
    fs.lutimesSync(link, old, old);
    await b.prune();
    expect(fs.existsSync(link)).toBe(false);
    expect(fs.readFileSync(join(outside, 'important.txt'), 'utf8')).toBe('do not touch');
  });
});
