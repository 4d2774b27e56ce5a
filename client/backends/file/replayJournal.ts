import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { CacheVaultError, UnsupportedFormatError } from '../../errors';
import { UnsafePathError } from '../../fs/errors';
import { checkPrivateFile, lstatOrUndefined, type TightenedPaths } from '../../fs/privatePath';
import type { PendingOp, QueuedOp, ReplayStore } from '../hybrid/replayStore';
import { ForeignDatabaseError, fileBackendError } from './errors';
import type { FileLayout } from './layout';
import { prepareDatabaseFiles } from './sqliteIndex';

/** `PRAGMA application_id` of the replay journal: ASCII "cvrq", so neither database is mistaken for the other. */
export const JOURNAL_APPLICATION_ID = 0x63767271;
/** Journal schema version, in `PRAGMA user_version`. A newer one is refused, never emptied. */
export const JOURNAL_SCHEMA_VERSION = 1;

const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

// `seq` orders ops across every process sharing the directory (AUTOINCREMENT never reuses one),
// `id` keeps one op per key or cleared namespace. A set carries the entry exactly as the hybrid
// got it: value bytes sealed above storage, and the clear fields every tier stores anyway.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS ops (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('set', 'delete', 'clear')),
  namespace TEXT,
  key TEXT,
  value BLOB,
  expires_at INTEGER,
  key_id TEXT,
  created_at INTEGER
);
CREATE TABLE IF NOT EXISTS meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  dropped INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (id, dropped) VALUES (1, 0);
`;

type OpRow = [seq: number, id: string, kind: string, namespace: string | null, key: string | null, value: Buffer | null, expiresAt: number | null, keyId: string | null, createdAt: number | null];

/**
 * The hybrid's replay queue kept on disk, in its own small SQLite database beside the cache's
 * (`<dir>/v1/replay.db`), so that writes the shared tier missed survive a crash or exit and are
 * replayed by the next process. Kept apart from `cache.db` so the cache's schema (and its
 * migrations) and this queue evolve separately, and a cache rebuild never drops pending writes.
 *
 * Opened under the same rules as the cache database: a regular file of ours created 0600, never
 * through a symlink, checked for our application_id before anything is written. WAL, synced as
 * the file tier is (`durability`): with `normal` a queued op survives the process crashing or
 * exiting the moment `put` returns (the OS has it) and may be lost with the last few on power
 * loss; with `full` it is fsynced before `put` returns (measured here, 1 KB values: ~55 us a put with
 * `normal`, ~2.3-3 ms with `full`; `put` is synchronous, so that is event-loop time on every degraded write).
 */
export class ReplayJournal implements ReplayStore {
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof prepare>;
  private readonly putTx: (id: string, op: PendingOp, maxOps: number) => { seq: number; dropped: number };
  private readonly removeTx: (ops: readonly { readonly id: string; readonly seq?: number }[]) => void;

  constructor(
    readonly path: string,
    busyTimeoutMs: number,
    tightened: TightenedPaths = [],
    fullSync = false,
  ) {
    this.db = openJournal(path, busyTimeoutMs, tightened, fullSync);
    const stmt = prepare(this.db);
    this.stmt = stmt;
    this.putTx = this.db.transaction((id: string, op: PendingOp, maxOps: number) => {
      stmt.removeId.run(id);
      const row =
        op.kind === 'set'
          ? [id, 'set', op.entry.namespace, op.entry.key, op.entry.value, op.entry.expiresAt, op.entry.keyId, op.entry.createdAt]
          : op.kind === 'delete'
            ? [id, 'delete', op.namespace, op.key, null, null, null, null]
            : [id, 'clear', op.namespace ?? null, null, null, null, null, null];
      const seq = stmt.insert.get(...row) as number;
      const over = (stmt.count.get() as number) - maxOps;
      let dropped = 0;
      if (over > 0) {
        dropped = stmt.dropOldest.run(over).changes;
        stmt.addDropped.run(dropped);
      }
      return { seq, dropped };
    }).immediate;
    this.removeTx = this.db.transaction((ops: readonly { readonly id: string; readonly seq?: number }[]) => {
      for (const o of ops) {
        if (o.seq === undefined) stmt.removeId.run(o.id);
        else stmt.removeExact.run(o.id, o.seq);
      }
    }).immediate;
  }

  /** The journal of a file-tier layout. */
  static pathIn(layout: FileLayout): string {
    return join(layout.versionDir, 'replay.db');
  }

  load(): { ops: QueuedOp[]; dropped: number } {
    const rows = this.stmt.all.all() as OpRow[];
    const ops: QueuedOp[] = [];
    for (const [seq, id, kind, namespace, key, value, expiresAt, keyId, createdAt] of rows) {
      if (kind === 'set' && namespace !== null && key !== null && value !== null && keyId !== null && createdAt !== null) {
        ops.push({ id, seq, op: { kind: 'set', entry: { namespace, key, value: new Uint8Array(value), keyId, createdAt, expiresAt } } });
      } else if (kind === 'delete' && namespace !== null && key !== null) {
        ops.push({ id, seq, op: { kind: 'delete', namespace, key } });
      } else if (kind === 'clear') {
        ops.push({ id, seq, op: { kind: 'clear', namespace: namespace ?? undefined } });
      }
      // Anything else is not a row this code wrote: skipped (the CHECK and NOT NULLs make it unreachable short of tampering).
    }
    return { ops, dropped: this.stmt.dropped.get() as number };
  }

  put(id: string, op: PendingOp, maxOps: number): { seq: number; dropped: number } {
    return this.putTx(id, op, maxOps);
  }

  remove(ops: readonly { readonly id: string; readonly seq?: number }[]): void {
    if (ops.length > 0) this.removeTx(ops);
  }

  forgetNamespace(namespace: string | undefined): void {
    if (namespace === undefined) this.stmt.removeAll.run();
    else this.stmt.removeNamespace.run(namespace);
  }

  acknowledgeDropped(): void {
    this.stmt.resetDropped.run();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function prepare(db: Database.Database) {
  return {
    all: db.prepare('SELECT seq, id, kind, namespace, key, value, expires_at, key_id, created_at FROM ops ORDER BY seq').raw(true),
    insert: db
      .prepare('INSERT INTO ops (id, kind, namespace, key, value, expires_at, key_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq')
      .pluck(true),
    count: db.prepare('SELECT count(*) FROM ops').pluck(true),
    dropOldest: db.prepare('DELETE FROM ops WHERE seq IN (SELECT seq FROM ops ORDER BY seq LIMIT ?)'),
    addDropped: db.prepare('UPDATE meta SET dropped = dropped + ? WHERE id = 1'),
    dropped: db.prepare('SELECT dropped FROM meta WHERE id = 1').pluck(true),
    resetDropped: db.prepare('UPDATE meta SET dropped = 0 WHERE id = 1'),
    removeId: db.prepare('DELETE FROM ops WHERE id = ?'),
    removeExact: db.prepare('DELETE FROM ops WHERE id = ? AND seq = ?'),
    removeAll: db.prepare('DELETE FROM ops'),
    removeNamespace: db.prepare('DELETE FROM ops WHERE namespace = ?'),
  };
}

/** True for a journal of ours, false for an empty file; throws for anything else, having written nothing. */
function isJournal(db: Database.Database, path: string): boolean {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  if (appId === 0 && version === 0) {
    const objects = db.prepare("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").pluck(true).get() as number;
    if (objects === 0) return false;
  }
  if (appId !== JOURNAL_APPLICATION_ID) throw new ForeignDatabaseError(path, `application_id ${appId}, expected ${JOURNAL_APPLICATION_ID}`);
  if (version !== JOURNAL_SCHEMA_VERSION) {
    throw new UnsupportedFormatError(`The replay journal ${path} has schema version ${version}; this cachevault understands ${JOURNAL_SCHEMA_VERSION}.`, {
      hint: 'Upgrade cachevault in every process sharing this directory. If the pending writes may be lost, delete replay.db.',
      context: { path, found: version, supported: JOURNAL_SCHEMA_VERSION },
    });
  }
  return true;
}

function openJournal(path: string, busyTimeoutMs: number, tightened: TightenedPaths, fullSync: boolean): Database.Database {
  let before;
  try {
    before = prepareDatabaseFiles(path, tightened);
  } catch (err) {
    if (err instanceof CacheVaultError) throw err;
    throw fileBackendError(err, path, 'create the replay journal');
  }
  let db: Database.Database;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const BetterSqlite3 = require('better-sqlite3') as typeof Database;
    db = new BetterSqlite3(path, { timeout: busyTimeoutMs });
  } catch (err) {
    throw fileBackendError(err, path, 'open the replay journal');
  }
  try {
    const after = lstatOrUndefined(path);
    if (after === undefined || !after.isFile() || after.ino !== before.ino || after.dev !== before.dev) {
      throw new UnsafePathError(path, 'the replay journal was replaced while it was being opened', 'Check what else writes to this directory; cachevault must be the only writer of file.dir.');
    }
    // Whose file this is, from reads alone: nothing is written to a database that is not ours.
    if (!isJournal(db, path)) {
      db.transaction(() => {
        // Another process may have created it while this one waited for the lock.
        if (isJournal(db, path)) return;
        db.exec(SCHEMA);
        db.pragma(`user_version = ${JOURNAL_SCHEMA_VERSION}`);
        db.pragma(`application_id = ${JOURNAL_APPLICATION_ID}`);
      }).immediate();
    }
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${fullSync ? 'FULL' : 'NORMAL'}`);
    for (const suffix of SIDE_FILES) checkPrivateFile(path + suffix, 'replay journal file', tightened);
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    return db;
  } catch (err) {
    db.close();
    throw err instanceof CacheVaultError ? err : fileBackendError(err, path, 'open the replay journal');
  }
}
