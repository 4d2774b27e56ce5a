import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';

/**
 * A cache.db that is not ours (copied or moved into the cache directory, or a path mistake in
 * file.dir). The file tier must not drop, create or rewrite a table in it, nor switch its
 * journal mode: it refuses to open, naming the file and what to do.
 */
let dir: string;
let dbPath: string;

function digest(path: string): string {
  return createHash('sha256').update(fs.readFileSync(path)).digest('hex');
}

function openError(): { code?: string; message: string; hint?: string } {
  try {
    new FileBackend({ dir });
  } catch (err) {
    return err as { code?: string; message: string; hint?: string };
  }
  throw new Error('the cache opened');
}

beforeEach(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'cv-sec-foreign-'));
  fs.mkdirSync(join(dir, 'v1'), { recursive: true, mode: 0o700 });
  dbPath = join(dir, 'v1', 'cache.db');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('foreign databases in the file tier', () => {
  test.each([
    ['user_version 1 and an entries table', 1, 'CREATE TABLE entries (id INTEGER PRIMARY KEY, payload TEXT)'],
    ['our schema version and an entries table of its own', 2, 'CREATE TABLE entries (id INTEGER PRIMARY KEY, payload TEXT)'],
    ['user_version 0 and tables of its own', 0, 'CREATE TABLE orders (id INTEGER PRIMARY KEY, payload TEXT)'],
    ['a newer application id', 0, 'CREATE TABLE t (x)'],
  ])('a database with %s is refused and left byte for byte as it was', (what, version, ddl) => {
    const db = new Database(dbPath);
    db.exec(ddl);
    db.pragma(`user_version = ${version}`);
    if (what.startsWith('a newer application id')) db.pragma('application_id = 1234');
    db.close();
    const before = digest(dbPath);
    const err = openError();
    expect(err.code).toBe('FILE_CACHE_FOREIGN_DB');
    expect(err.message).toContain(dbPath);
    expect(err.hint).toMatch(/Move it aside|point file\.dir/);
    expect(digest(dbPath)).toBe(before);
    const check = new Database(dbPath, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    check.close();
  });
});
