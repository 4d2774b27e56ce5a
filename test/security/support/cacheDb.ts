import Database from 'better-sqlite3';
import { join } from 'node:path';
import { FileBackend } from '../../../client/backends/fileBackend';

/** The file tier's SQLite database under a cache directory (`<dir>/v<layout>/cache.db`). */
export function cacheDbPath(cacheDir: string): string {
  return join(cacheDir, `v${FileBackend.LAYOUT_VERSION}`, 'cache.db');
}

/** A column of a table as SQLite reports it. */
export interface ColumnInfo {
  readonly name: string;
  readonly type: string;
  readonly notNull: boolean;
  readonly primaryKey: boolean;
}

/** A value SQLite can hold, as better-sqlite3 binds it. */
export type SqlValue = null | number | bigint | string | Buffer;

/**
 * Opens the cache database directly, as an attacker who can write the cache directory would.
 * Close every cache that uses the directory first (the library's own connections keep
 * statements and a verified-entries memo that a direct edit would race with), and close this
 * handle before reopening the cache.
 */
export class CacheDb {
  readonly db: Database.Database;

  constructor(cacheDir: string) {
    this.db = new Database(cacheDbPath(cacheDir), { fileMustExist: true });
  }

  /** The columns of a table, read from the database itself so new columns are covered without edits here. */
  columns(table = 'entries'): ColumnInfo[] {
    const rows = this.db.prepare(`PRAGMA table_info(${quoteIdent(table)})`).all() as { name: string; type: string; notnull: number; pk: number }[];
    return rows.map((r) => ({ name: r.name, type: r.type, notNull: r.notnull === 1, primaryKey: r.pk > 0 }));
  }

  /** Every row of a table as objects, ordered by rowid. */
  rows(table = 'entries'): Record<string, SqlValue>[] {
    return this.db.prepare(`SELECT * FROM ${quoteIdent(table)} ORDER BY rowid`).all() as Record<string, SqlValue>[];
  }

  /** Every row of a table with its rowid (as `rowid_`), to address rows whose primary key gets edited. */
  rowsWithRowid(table = 'entries'): (Record<string, SqlValue> & { rowid_: number })[] {
    return this.db.prepare(`SELECT rowid AS rowid_, * FROM ${quoteIdent(table)} ORDER BY rowid`).all() as (Record<string, SqlValue> & { rowid_: number })[];
  }

  /** The entry row of one reference, if any. */
  entry(namespace: string, key: string): Record<string, SqlValue> | undefined {
    return this.db.prepare('SELECT * FROM entries WHERE namespace = ? AND key = ?').get(namespace, key) as Record<string, SqlValue> | undefined;
  }

  /**
   * Sets one column of one row. Returns false when SQLite refuses the value (a NOT NULL or
   * UNIQUE constraint, text in an INTEGER PRIMARY KEY): an attacker editing rows meets the same constraints, so that edit simply
   * did not happen.
   */
  update(table: string, rowid: number | bigint, column: string, value: SqlValue): boolean {
    try {
      this.db.prepare(`UPDATE ${quoteIdent(table)} SET ${quoteIdent(column)} = ? WHERE rowid = ?`).run(value, rowid);
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH') return false;
      throw err;
    }
  }

  /** Runs arbitrary SQL (several statements allowed). */
  exec(sql: string): void {
    this.db.exec(sql);
  }

  /** Closes the handle, folding the WAL back so the cache opens the edited file as an attacker left it. */
  close(): void {
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
