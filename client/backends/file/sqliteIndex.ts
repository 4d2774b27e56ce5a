import type Database from 'better-sqlite3';
import fs from 'node:fs';
import { CacheVaultError, UnsupportedFormatError } from '../../errors';
import { UnsafePathError } from '../../fs/errors';
import { checkPrivateFile, createPrivateFile, lstatOrUndefined, type TightenedPaths } from '../../fs/privatePath';
import { FileCacheBusyError, FileCacheSchemaError, ForeignDatabaseError, fileBackendError } from './errors';
import { MIGRATE_V1_FINISH, MIGRATE_V1_START, SCHEMA_V1 } from './schemaHistory';
import type { FileLayout } from './layout';

/**
 * Schema version kept in `PRAGMA user_version`. A released older schema (schemaHistory.ts) is
 * migrated in place, after a backup copy of the database is written beside it; an older one that
 * cannot be migrated is refused untouched (FileCacheSchemaError names the command that discards
 * it); a newer one is refused. The cache is never silently emptied.
 */
export const SCHEMA_VERSION = 2;

/**
 * `PRAGMA application_id` of every database the file tier creates: the ASCII bytes "cvlt"
 * (0x63766c74). The library drops, creates or rewrites tables only in a database that carries
 * it (or in an empty one, which it then stamps), so a foreign database put in its place is
 * refused untouched. Caches made before the id existed are recognised by their exact schema and
 * stamped on first open.
 */
export const APPLICATION_ID = 0x63766c74;

/** WAL pages between automatic checkpoints (see openDatabase). */
const WAL_AUTOCHECKPOINT_PAGES = 4000;

/** The files SQLite keeps beside the database; each is checked like the database itself. */
const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/** One row as read back, in column order (raw arrays are several times cheaper than objects). */
export type EntryRow = [
  id: number,
  expiresAt: number | null,
  keyId: string,
  createdAt: number,
  /** Last recorded use; `null` in scans, which do not need it. */
  accessedAt: number | null,
  size: number,
  crc: number,
  value: Buffer | null,
  blob: string | null,
];

/** A scanned row also carries its reference. */
export type ScanRow = [namespace: string, key: string, ...EntryRow];

export interface NewRow {
  readonly namespace: string;
  readonly key: string;
  readonly expiresAt: number | null;
  readonly keyId: string;
  readonly createdAt: number;
  readonly accessedAt: number;
  readonly size: number;
  /** What the row counts against maxBytes: value, key and a fixed overhead. */
  readonly charge: number;
  readonly crc: number;
  readonly value: Uint8Array | null;
  readonly blob: string | null;
}

export interface Totals {
  readonly entries: number;
  readonly bytes: number;
  readonly blobs: number;
}

/** A row removed to make room or because it expired; its blob must be unlinked after commit. */
export interface RemovedRow {
  readonly id: number;
  readonly blob: string | null;
}

export interface IndexOptions {
  readonly fullSync: boolean;
  /** How long SQLite itself waits for a lock inside one call (the caller retries beyond it). */
  readonly busySliceMs: number;
  /** How long opening waits for another process creating the schema. */
  readonly openTimeoutMs: number;
}

const COLUMNS = 'e.id, e.expires_at, e.key_id, e.created_at, a.at, e.size, e.crc, e.value, e.blob';
const SCAN_COLUMNS = 'namespace, key, id, expires_at, key_id, created_at, NULL, size, crc, value, blob';

// Totals live in a one-row table kept by triggers (diskcache does the same), so bounds checks
// and stats are one indexed read even with several processes writing.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY,
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  expires_at INTEGER,
  key_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  charge INTEGER NOT NULL,
  crc INTEGER NOT NULL,
  value BLOB,
  blob TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_ref ON entries (namespace, key);
CREATE INDEX IF NOT EXISTS entries_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_blob ON entries (blob) WHERE blob IS NOT NULL;
-- Access times live apart from the entries: recording a use rewrites a 16-byte row here, not a
-- page of values, so reads that refresh LRU order cost little.
CREATE TABLE IF NOT EXISTS access (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS access_at ON access (at);
CREATE TABLE IF NOT EXISTS totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  entries INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  blobs INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals (id, entries, bytes, blobs) VALUES (1, 0, 0, 0);
CREATE TRIGGER IF NOT EXISTS entries_insert AFTER INSERT ON entries BEGIN
  UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.charge, blobs = blobs + (NEW.blob IS NOT NULL) WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS entries_delete AFTER DELETE ON entries BEGIN
  DELETE FROM access WHERE id = OLD.id;
  UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.charge, blobs = blobs - (OLD.blob IS NOT NULL) WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS entries_update AFTER UPDATE OF charge, blob ON entries BEGIN
  UPDATE totals SET bytes = bytes - OLD.charge + NEW.charge,
    blobs = blobs - (OLD.blob IS NOT NULL) + (NEW.blob IS NOT NULL) WHERE id = 1;
END;
`;


/**
 * The totals triggers as they run: a row's `charge` is used only when it is a whole number in
 * range, else counted as 0. A writer of the database who set one charge to Infinity (or the text
 * '9e999') made Infinity - Infinity = NULL of the totals, and every later write, delete and
 * clear failed on its NOT NULL constraint; a rogue charge now costs at most a wrong byte total.
 */
const SAFE = (column: string) => `(CASE WHEN typeof(${column}) = 'integer' AND ${column} BETWEEN 0 AND 1125899906842624 THEN ${column} ELSE 0 END)`;
const HARDENED_TRIGGERS: readonly { readonly name: string; readonly sql: string }[] = [
  {
    name: 'entries_insert',
    sql: `CREATE TRIGGER entries_insert AFTER INSERT ON entries BEGIN
  UPDATE totals SET entries = entries + 1, bytes = bytes + ${SAFE('NEW.charge')}, blobs = blobs + (NEW.blob IS NOT NULL) WHERE id = 1;
END`,
  },
  {
    name: 'entries_delete',
    sql: `CREATE TRIGGER entries_delete AFTER DELETE ON entries BEGIN
  DELETE FROM access WHERE id = OLD.id;
  UPDATE totals SET entries = entries - 1, bytes = bytes - ${SAFE('OLD.charge')}, blobs = blobs - (OLD.blob IS NOT NULL) WHERE id = 1;
END`,
  },
  {
    name: 'entries_update',
    sql: `CREATE TRIGGER entries_update AFTER UPDATE OF charge, blob ON entries BEGIN
  UPDATE totals SET bytes = bytes - ${SAFE('OLD.charge')} + ${SAFE('NEW.charge')},
    blobs = blobs - (OLD.blob IS NOT NULL) + (NEW.blob IS NOT NULL) WHERE id = 1;
END`,
  },
];

/** SCHEMA as it stands once its triggers are hardened. */
const HARDENED_SCHEMA = `${SCHEMA}\n${HARDENED_TRIGGERS.map((t) => `DROP TRIGGER ${t.name};\n${t.sql};`).join('\n')}`;

/**
 * Replaces the released triggers (SCHEMA's, kept as they are so older caches are still
 * recognised) with the hardened ones, once per database, and recounts the totals they keep.
 */
function hardenTriggers(db: Database.Database): void {
  const current = () => {
    const rows = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all() as { name: string; sql: string }[];
    return HARDENED_TRIGGERS.every((t) => rows.some((r) => r.name === t.name && r.sql === t.sql));
  };
  if (current()) return;
  db.transaction(() => {
    if (current()) return;
    for (const t of HARDENED_TRIGGERS) {
      db.exec(`DROP TRIGGER IF EXISTS ${t.name}`);
      db.exec(t.sql);
    }
    db.exec(`UPDATE totals SET entries = (SELECT COUNT(*) FROM entries), bytes = (SELECT COALESCE(SUM(${SAFE('charge')}), 0) FROM entries),
      blobs = (SELECT COUNT(*) FROM entries WHERE blob IS NOT NULL) WHERE id = 1`);
  }).immediate();
}

/**
 * The SQLite side of the file tier: schema, pragmas and prepared statements. It holds no policy
 * (limits, retries, blobs); FileBackend decides, this module only speaks SQL. Every method is
 * one short synchronous call.
 */
export class SqliteIndex {
  readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  /** Built once: better-sqlite3 compiles a wrapper per `transaction()` call. */
  private readonly immediate: (fn: () => unknown) => unknown;

  constructor(layout: FileLayout, options: IndexOptions, tightened: TightenedPaths = []) {
    this.db = openDatabase(layout.dbPath, options, tightened);
    const db = this.db;
    const run = db.transaction((fn: () => unknown) => fn());
    this.immediate = (fn) => run.immediate(fn);
    try {
      this.stmt = prepareStatements(db);
    } catch (err) {
      db.close();
      throw prepareError(err, layout.dbPath, options.openTimeoutMs);
    }
  }

  find(namespace: string, key: string): EntryRow | undefined {
    return this.stmt.find.get(namespace, key) as EntryRow | undefined;
  }

  /** The blob a reference currently points at (to unlink once a replacement commits). */
  blobOf(namespace: string, key: string): string | null | undefined {
    return this.stmt.findBlob.get(namespace, key) as string | null | undefined;
  }

  /** Inserts or replaces in place, keeping the row id (so pending access-time updates still apply). */
  upsert(row: NewRow): void {
    const id = this.stmt.upsert.get(row) as number;
    this.stmt.access.run(id, row.accessedAt);
  }

  /** Removes one reference; returns whether it existed and its blob. */
  delete(namespace: string, key: string): { found: boolean; blob: string | null } {
    const blob = this.stmt.deleteRef.get(namespace, key) as string | null | undefined;
    return { found: blob !== undefined, blob: blob ?? null };
  }

  /** Removes a row found corrupt, unless another writer replaced it since it was read. */
  deleteIfUnchanged(id: number, crc: number, blob: string | null): boolean {
    return this.stmt.deleteIfUnchanged.run(id, crc, blob).changes > 0;
  }

  deleteById(id: number): void {
    this.stmt.deleteById.run(id);
  }

  touch(id: number, accessedAt: number): void {
    this.stmt.touch.run(accessedAt, id, accessedAt);
  }

  totals(): Totals {
    return this.stmt.totals.get() as Totals;
  }

  /** Least recently used rows first: [id, blob, charge]. */
  oldest(limit: number): [number, string | null, number][] {
    return this.stmt.oldest.all(limit) as [number, string | null, number][];
  }

  expired(now: number, limit: number): [number, string | null][] {
    return this.stmt.expired.all(now, limit) as [number, string | null][];
  }

  blobsOf(namespace: string | undefined): string[] {
    return (namespace === undefined ? this.stmt.allBlobs.all() : this.stmt.blobsOf.all(namespace)) as string[];
  }

  clear(namespace: string | undefined): void {
    if (namespace === undefined) this.stmt.clearAll.run();
    else this.stmt.clearNamespace.run(namespace);
  }

  isReferenced(blob: string): boolean {
    return this.stmt.isReferenced.get(blob) !== undefined;
  }

  /** Spilled rows in id order after `afterId`: [id, blob, size, crc]. */
  spilled(afterId: number, limit: number): [number, string, number, number][] {
    return this.stmt.spilled.all(afterId, limit) as [number, string, number, number][];
  }

  /** Keyset pagination over (namespace, key): resumes after the last reference returned, never OFFSET. */
  scan(namespace: string | undefined, after: readonly [string, string] | undefined, limit: number): ScanRow[] {
    const s = this.stmt;
    if (namespace !== undefined) {
      return (after === undefined ? s.scanNamespaceFirst.all(namespace, limit) : s.scanNamespace.all(namespace, after[1], limit)) as ScanRow[];
    }
    return (after === undefined ? s.scanAllFirst.all(limit) : s.scanAll.all(after[0], after[1], limit)) as ScanRow[];
  }

  /** `PRAGMA integrity_check`: `['ok']` when healthy, otherwise SQLite's list of problems. */
  integrityCheck(): string[] {
    const rows = this.db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check);
  }

  reindex(): void {
    this.db.exec('REINDEX');
  }

  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so two writers never deadlock upgrading. */
  writeTransaction<T>(fn: () => T): T {
    return this.immediate(fn) as T;
  }

  /**
   * Rebuilds the database with `secure_delete` on, so no deleted row survives in a free page,
   * then checkpoints the WAL and truncates it to zero bytes. Returns whether the truncation
   * completed (it cannot while another connection is still reading old WAL frames).
   */
  compact(): { walTruncated: boolean } {
    this.db.pragma('secure_delete = ON');
    this.db.exec('VACUUM');
    const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
    return { walTruncated: result !== undefined && result.busy === 0 && result.log === 0 };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Every statement the index runs, prepared once per connection. */
function prepareStatements(db: Database.Database) {
  return {
      find: db.prepare(`SELECT ${COLUMNS} FROM entries e LEFT JOIN access a ON a.id = e.id WHERE e.namespace = ? AND e.key = ?`).raw(true),
      findBlob: db.prepare('SELECT blob FROM entries WHERE namespace = ? AND key = ?').pluck(true),
      upsert: db.prepare(
        `INSERT INTO entries (namespace, key, expires_at, key_id, created_at, size, charge, crc, value, blob)
         VALUES (@namespace, @key, @expiresAt, @keyId, @createdAt, @size, @charge, @crc, @value, @blob)
         ON CONFLICT (namespace, key) DO UPDATE SET expires_at = excluded.expires_at, key_id = excluded.key_id,
           created_at = excluded.created_at, size = excluded.size,
           charge = excluded.charge, crc = excluded.crc, value = excluded.value, blob = excluded.blob
         RETURNING id`,
      ).pluck(true),
      access: db.prepare('INSERT INTO access (id, at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at'),
      deleteRef: db.prepare('DELETE FROM entries WHERE namespace = ? AND key = ? RETURNING blob').pluck(true),
      deleteIfUnchanged: db.prepare('DELETE FROM entries WHERE id = ? AND crc = ? AND blob IS ?'),
      deleteById: db.prepare('DELETE FROM entries WHERE id = ?'),
      touch: db.prepare('UPDATE access SET at = ? WHERE id = ? AND at < ?'),
      totals: db.prepare('SELECT entries, bytes, blobs FROM totals WHERE id = 1'),
      oldest: db
        .prepare('SELECT e.id, e.blob, e.charge FROM access a JOIN entries e ON e.id = a.id ORDER BY a.at, a.id LIMIT ?')
        .raw(true),
      expired: db.prepare('SELECT id, blob FROM entries WHERE expires_at <= ? ORDER BY expires_at LIMIT ?').raw(true),
      blobsOf: db.prepare('SELECT blob FROM entries WHERE namespace = ? AND blob IS NOT NULL').pluck(true),
      allBlobs: db.prepare('SELECT blob FROM entries WHERE blob IS NOT NULL').pluck(true),
      clearNamespace: db.prepare('DELETE FROM entries WHERE namespace = ?'),
      clearAll: db.prepare('DELETE FROM entries'),
      isReferenced: db.prepare('SELECT 1 FROM entries WHERE blob = ? LIMIT 1').pluck(true),
      spilled: db.prepare('SELECT id, blob, size, crc FROM entries WHERE blob IS NOT NULL AND id > ? ORDER BY id LIMIT ?').raw(true),
      scanAll: db
        .prepare(`SELECT ${SCAN_COLUMNS} FROM entries WHERE (namespace, key) > (?, ?) ORDER BY namespace, key LIMIT ?`)
        .raw(true),
      scanAllFirst: db.prepare(`SELECT ${SCAN_COLUMNS} FROM entries ORDER BY namespace, key LIMIT ?`).raw(true),
      scanNamespaceFirst: db
        .prepare(`SELECT ${SCAN_COLUMNS} FROM entries WHERE namespace = ? ORDER BY key LIMIT ?`)
        .raw(true),
      scanNamespace: db
        .prepare(`SELECT ${SCAN_COLUMNS} FROM entries WHERE namespace = ? AND key > ? ORDER BY key LIMIT ?`)
        .raw(true),
  };
}

const LOCAL_FS_HINT = 'Check that the directory is writable and on a local filesystem (SQLite WAL needs shared memory, which network filesystems lack).';

function prepareError(err: unknown, path: string, timeoutMs: number): Error {
  if (err instanceof CacheVaultError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return new FileCacheBusyError(path, 'open', timeoutMs, { cause: err });
  return fileBackendError(err, path, 'prepare the cache database', 'If the file is not a cachevault database or is damaged, move it aside; the cache will be rebuilt empty.');
}

/**
 * Checks a database file and its side files before SQLite opens them: each must be a regular
 * file of ours (never a link: SQLite would follow it and write the target), tightened to 0600 if
 * an older version left it readable. A missing database is created here, exclusively and 0600,
 * so SQLite creates its -wal and -shm with the same mode (it copies the database's).
 */
export function prepareDatabaseFiles(path: string, tightened: TightenedPaths): fs.Stats {
  for (const suffix of SIDE_FILES) checkPrivateFile(path + suffix, 'cache database file', tightened);
  if (!checkPrivateFile(path, 'cache database', tightened)) {
    try {
      fs.closeSync(createPrivateFile(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      checkPrivateFile(path, 'cache database', tightened); // another process created it first
    }
  }
  return fs.lstatSync(path);
}

type Identity = 'ours' | 'empty' | 'unstamped' | 'schema-1';

/**
 * Whose database this is, decided from reads alone. 'unstamped': a cache of the current schema
 * made before application ids existed (every table, index and trigger exactly ours). Anything
 * else without our id is foreign and refused before a byte is written.
 */
function identify(db: Database.Database, path: string): Identity {
  const appId = db.pragma('application_id', { simple: true }) as number;
  if (appId === APPLICATION_ID) {
    // Stamped databases all have schema 2 or later, but a stamp on schema 1's exact objects is still schema 1.
    const stamped = db.pragma('user_version', { simple: true }) as number;
    return stamped === 1 && schemaOf(db) === expectedSchema(db, SCHEMA_V1) ? 'schema-1' : 'ours';
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  if (appId !== 0) throw new ForeignDatabaseError(path, `application_id ${appId}, expected ${APPLICATION_ID}`);
  const objects = schemaOf(db);
  if (objects === '[]' && version === 0) return 'empty';
  // With the released triggers, or the hardened ones an application id lost later.
  if (version === SCHEMA_VERSION && (objects === expectedSchema(db, SCHEMA) || objects === expectedSchema(db, HARDENED_SCHEMA))) return 'unstamped';
  // Schema 1 predates application ids: recognised by its exact objects, like 'unstamped'.
  if (version === 1 && objects === expectedSchema(db, SCHEMA_V1)) return 'schema-1';
  throw new ForeignDatabaseError(path, `no cachevault application_id; user_version ${version}`);
}

function schemaOf(db: Database.Database): string {
  const rows = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name").raw(true).all();
  return JSON.stringify(rows);
}

const schemaTexts = new Map<string, string>();
/** The schema objects a cache made with `sql` has, built once in memory with the same SQL. */
function expectedSchema(like: Database.Database, sql: string): string {
  let text = schemaTexts.get(sql);
  if (text === undefined) {
    const Ctor = like.constructor as typeof Database;
    const mem = new Ctor(':memory:');
    try {
      mem.exec(sql);
      text = schemaOf(mem);
      schemaTexts.set(sql, text);
    } finally {
      mem.close();
    }
  }
  return text;
}

/**
 * Writes a consistent copy of the database beside it before a migration: a new file created
 * exclusively and 0600 (never through a link), filled by `VACUUM INTO` (which accepts an empty
 * file). Returns its path; the migration does not start if this fails.
 */
function backupBeforeMigration(db: Database.Database, path: string, from: number): string {
  const backup = `${path}.schema-${from}-backup-${Date.now()}-${process.pid}`;
  fs.closeSync(createPrivateFile(backup));
  try {
    db.prepare('VACUUM INTO ?').run(backup);
  } catch (err) {
    fs.rmSync(backup, { force: true });
    throw err;
  }
  return backup;
}

/** Databases this process migrated on open, for the backend to log. */
export const migrated: WeakMap<Database.Database, { readonly from: number; readonly backup: string }> = new WeakMap();

function openDatabase(path: string, options: IndexOptions, tightened: TightenedPaths): Database.Database {
  let db: Database.Database;
  let before: fs.Stats;
  try {
    before = prepareDatabaseFiles(path, tightened);
  } catch (err) {
    throw prepareError(err, path, options.openTimeoutMs);
  }
  try {
    // Loaded on first open, not at import: the native module costs tens of milliseconds of
    // start-up that apps importing cachevault without a file tier should not pay.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const BetterSqlite3 = require('better-sqlite3') as typeof Database;
    db = new BetterSqlite3(path, { timeout: options.openTimeoutMs });
  } catch (err) {
    throw fileBackendError(err, path, 'open the cache database', LOCAL_FS_HINT);
  }
  try {
    // The file SQLite opened must be the one checked: not swapped for a link in between.
    const after = lstatOrUndefined(path);
    if (after === undefined || !after.isFile() || after.ino !== before.ino || after.dev !== before.dev) {
      throw new UnsafePathError(path, 'the cache database was replaced while it was being opened', 'Check what else writes to this directory; cachevault must be the only writer of file.dir.');
    }
    const identity = identify(db, path);
    const found = db.pragma('user_version', { simple: true }) as number;
    if (found > SCHEMA_VERSION) {
      throw new UnsupportedFormatError(
        `The cache database ${path} has schema version ${found}, newer than this cachevault understands (${SCHEMA_VERSION}).`,
        {
          hint: 'Upgrade cachevault in every process sharing this directory, or point file.dir elsewhere.',
          context: { path, found, supported: SCHEMA_VERSION },
        },
      );
    }
    // Refused before anything (even the journal mode) is written.
    if (identity === 'ours' && found > 0 && found < SCHEMA_VERSION) throw new FileCacheSchemaError(path, found, SCHEMA_VERSION);
    // WAL: readers never block the writer and a crash leaves the last committed state.
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.fullSync ? 'FULL' : 'NORMAL'}`);
    // Deleted and overwritten rows are zeroed where that costs no extra I/O: measured free (set,
    // overwrite and delete rates within noise of OFF), and after a checkpoint it left none of 300
    // overwritten values in the file, where OFF left all 300. `compact()` goes the rest of the way.
    db.pragma('secure_delete = FAST');
    // Checkpoint every 4,000 WAL pages (~16 MiB) rather than SQLite's 1,000. With
    // synchronous=NORMAL a commit does not fsync but a checkpoint fsyncs the WAL and the database,
    // and a set writes ~6 pages (row, key index, access row and its index, totals), so at 1,000 a
    // checkpoint and its two fsyncs came every ~170 sets, a large share of a set's wall time on a
    // busy disk (CPU per set unchanged). Durability is the same (WAL, NORMAL): a checkpoint only
    // moves committed pages into the database. The WAL file grows to about that size and is
    // reused; `compact()` truncates it.
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    for (const suffix of SIDE_FILES) checkPrivateFile(path + suffix, 'cache database file', tightened);
    const backup = identity === 'schema-1' ? backupBeforeMigration(db, path, 1) : undefined;
    if (found < SCHEMA_VERSION || identity !== 'ours') {
      db.transaction(() => {
        // Another process may have created or stamped the schema while this one waited for the lock.
        const now = identify(db, path);
        const version = db.pragma('user_version', { simple: true }) as number;
        if (now === 'unstamped') {
          db.pragma(`application_id = ${APPLICATION_ID}`);
          return;
        }
        if (now === 'ours') {
          if (version > SCHEMA_VERSION) throw new UnsupportedFormatError(`The cache database ${path} was upgraded by a newer cachevault.`);
          if (version === SCHEMA_VERSION) return;
          if (version > 0) throw new FileCacheSchemaError(path, version, SCHEMA_VERSION);
        }
        if (now === 'schema-1') {
          db.exec(MIGRATE_V1_START);
          db.exec(SCHEMA);
          db.exec(MIGRATE_V1_FINISH);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
          db.pragma(`application_id = ${APPLICATION_ID}`);
          return;
        }
        db.exec(SCHEMA);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        db.pragma(`application_id = ${APPLICATION_ID}`);
      }).immediate();
    }
    hardenTriggers(db);
    db.pragma(`busy_timeout = ${options.busySliceMs}`);
    if (backup !== undefined) migrated.set(db, { from: 1, backup });
    return db;
  } catch (err) {
    db.close();
    throw prepareError(err, path, options.openTimeoutMs);
  }
}
