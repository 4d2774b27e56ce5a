import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { FileCacheSchemaError } from '../../client/backends/file/errors';
import { APPLICATION_ID } from '../../client/backends/file/sqliteIndex';
import { FileBackend } from '../../client/backends/fileBackend';
import type { Logger } from '../../client/types';

/**
 * Every released on-disk format of the file tier, as the version that wrote it left it
 * (test/fixtures/file-cache/schema-N, each built by that version's FileBackend: see the README
 * there). Each must open with every entry intact; none may ever be emptied silently.
 */
const FIXTURES = resolve(__dirname, '../fixtures/file-cache');

/** The entries every fixture holds (the text names the schema that wrote it). */
function expected(schema: number) {
  return [
    { namespace: 'fixture', key: 'small', text: `inline value, schema ${schema}`, keyId: 'k1', createdAt: 1_765_000_000_000, expiresAt: null },
    { namespace: 'fixture', key: 'spilled', text: `a value long enough to spill to a blob file, schema ${schema}`, keyId: 'k1', createdAt: 1_765_000_000_000, expiresAt: 4_102_444_800_000 },
    { namespace: 'other', key: 'k', text: `second namespace, schema ${schema}`, keyId: 'k2', createdAt: 1_765_000_000_001, expiresAt: 4_102_444_800_000 },
  ];
}

/** A private copy of a fixture, owner-only as a cache directory is (git does not keep modes). */
function copyFixture(name: string): string {
  const dir = fs.mkdtempSync(join(tmpdir(), `cv-format-${name}-`));
  fs.cpSync(join(FIXTURES, name), dir, { recursive: true });
  const walk = (path: string): void => {
    const st = fs.lstatSync(path);
    fs.chmodSync(path, st.isDirectory() ? 0o700 : 0o600);
    if (st.isDirectory()) for (const child of fs.readdirSync(path)) walk(join(path, child));
  };
  walk(dir);
  return dir;
}

function recordingLogger(): { logger: Logger; warnings: { fields: Record<string, unknown>; msg?: string }[] } {
  const warnings: { fields: Record<string, unknown>; msg?: string }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn(fields, msg) {
      warnings.push({ fields: fields as Record<string, unknown>, msg });
    },
    error() {},
    child: () => logger,
  };
  return { logger, warnings };
}

async function expectEntries(backend: FileBackend, schema: number): Promise<void> {
  for (const e of expected(schema)) {
    const got = await backend.get(e.namespace, e.key);
    expect(got && { text: Buffer.from(got.value).toString(), keyId: got.keyId, createdAt: got.createdAt, expiresAt: got.expiresAt }).toEqual({
      text: e.text,
      keyId: e.keyId,
      createdAt: e.createdAt,
      expiresAt: e.expiresAt,
    });
  }
  expect(backend.stats()).toMatchObject({ entries: 3, corrupt: 0 });
  expect(await backend.repair()).toMatchObject({ ok: true, badBlobs: 0 });
}

describe('file tier on-disk formats', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('a cache of the current schema (2) opens with its entries intact', async () => {
    const dir = copyFixture('schema-2');
    dirs.push(dir);
    expect(FileBackend.SCHEMA_VERSION).toBe(2);
    const backend = new FileBackend({ dir });
    try {
      await expectEntries(backend, 2);
    } finally {
      await backend.close();
    }
  });

  test('a cache of schema 1 is migrated in place after a backup, with every entry, blob and total intact', async () => {
    const dir = copyFixture('schema-1');
    dirs.push(dir);
    const dbPath = join(dir, 'v1', 'cache.db');
    const { logger, warnings } = recordingLogger();
    const backend = new FileBackend({ dir, logger });
    try {
      await expectEntries(backend, 1);
      // Totals were recounted from the rows: limits and stats see the migrated entries.
      expect(backend.stats().bytes).toBeGreaterThan(0);
      await backend.set({ namespace: 'fixture', key: 'after', value: new Uint8Array(Buffer.from('written after the upgrade')), keyId: 'k1', createdAt: 1, expiresAt: null });
      expect(backend.stats().entries).toBe(4);
    } finally {
      await backend.close();
    }
    const migration = warnings.find((w) => /migrated in place/.test(w.msg ?? ''));
    expect(migration?.fields).toMatchObject({ from: 1, to: 2 });

    // The backup is a whole schema-1 database, owner-only, beside the migrated one.
    const backups = fs.readdirSync(join(dir, 'v1')).filter((n) => n.startsWith('cache.db.schema-1-backup-'));
    expect(backups).toHaveLength(1);
    const backupPath = join(dir, 'v1', backups[0]!);
    expect(fs.statSync(backupPath).mode & 0o777).toBe(0o600);
    const old = new Database(backupPath, { readonly: true });
    expect([old.pragma('user_version', { simple: true }), old.prepare('SELECT count(*) FROM entries').pluck(true).get()]).toEqual([1, 3]);
    old.close();

    const db = new Database(dbPath, { readonly: true });
    expect([db.pragma('user_version', { simple: true }), db.pragma('application_id', { simple: true })]).toEqual([2, APPLICATION_ID]);
    db.close();

    // Opening again is a plain open: no second migration, no second backup.
    const again = new FileBackend({ dir });
    try {
      expect(again.stats().entries).toBe(4);
    } finally {
      await again.close();
    }
    expect(fs.readdirSync(join(dir, 'v1')).filter((n) => n.includes('backup'))).toHaveLength(1);
  });

  test('an older schema of ours that cannot be migrated is refused untouched, naming the command that discards it', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'cv-format-unknown-'));
    dirs.push(dir);
    fs.mkdirSync(join(dir, 'v1'), { mode: 0o700 });
    const dbPath = join(dir, 'v1', 'cache.db');
    const db = new Database(dbPath);
    db.exec('CREATE TABLE entries (id INTEGER PRIMARY KEY, namespace TEXT, key TEXT, accessed_at INTEGER NOT NULL)');
    db.prepare('INSERT INTO entries (namespace, key, accessed_at) VALUES (?, ?, ?)').run('n', 'kept', 1);
    db.pragma('user_version = 1');
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.close();
    fs.chmodSync(dbPath, 0o600);
    const before = fs.readFileSync(dbPath);

    let thrown: unknown;
    try {
      new FileBackend({ dir });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(FileCacheSchemaError);
    expect(thrown).toMatchObject({ code: 'FILE_CACHE_SCHEMA_UNMIGRATABLE', found: 1 });
    expect((thrown as FileCacheSchemaError).hint).toMatch(/cachevault reinit --tier file/);
    expect(fs.readFileSync(dbPath).equals(before)).toBe(true);

    // The discard `cachevault reinit --tier file` does: the old database is set aside whole, the tier opens empty.
    const aside = FileBackend.setAsideUnmigratable(thrown as FileCacheSchemaError);
    expect(fs.readFileSync(aside).equals(before)).toBe(true);
    const fresh = new FileBackend({ dir });
    try {
      expect(fresh.stats().entries).toBe(0);
    } finally {
      await fresh.close();
    }
  });
});
