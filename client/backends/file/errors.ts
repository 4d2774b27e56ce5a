import { BackendError, type CacheVaultErrorOptions } from '../../errors';

/** Another process held the cache's write lock for longer than `busyTimeoutMs`. */
export class FileCacheBusyError extends BackendError {
  override name = 'FileCacheBusyError';
  override readonly code = 'FILE_CACHE_BUSY';
  constructor(dir: string, operation: string, busyTimeoutMs: number, options: CacheVaultErrorOptions = {}) {
    super('file', `The file cache in ${dir} stayed locked by another process for ${busyTimeoutMs} ms (${operation}).`, {
      ...options,
      hint: 'Another process is holding a long write on this directory. Raise file.busyTimeoutMs, or give each process its own file.dir.',
      context: { dir, operation, busyTimeoutMs },
    });
  }
}

/** Known causes of file-tier failures, by Node (errno) or SQLite code, with what to do about each. */
const HINTS: Readonly<Record<string, string>> = {
  ENOSPC: 'The disk is full. Free space, or lower file.maxBytes so the cache stays within what the disk holds.',
  EDQUOT: 'The user\'s disk quota is exhausted. Free space, or lower file.maxBytes.',
  SQLITE_FULL: 'The disk is full. Free space, or lower file.maxBytes so the cache stays within what the disk holds.',
  EACCES: 'This user may not write the cache directory. Fix its permissions, or set file.dir to a writable directory.',
  EPERM: 'This user may not write the cache directory. Fix its permissions, or set file.dir to a writable directory.',
  EROFS: 'The cache directory is on a read-only filesystem. Set file.dir to a writable directory.',
  SQLITE_READONLY: 'The cache database is read-only for this user. Fix the permissions of file.dir, or point it elsewhere.',
  SQLITE_CANTOPEN: 'The cache database cannot be opened. Check that file.dir exists, is writable and is on a local filesystem.',
  SQLITE_CORRUPT: 'The cache database is damaged. Run `repair()` (or `cachevault repair`); if that fails, delete the cache directory: it holds only cached data.',
  SQLITE_NOTADB: 'The file is not a cachevault database. Move it aside or point file.dir elsewhere.',
  SQLITE_IOERR: 'The disk reported an I/O error. Check the disk and the system log.',
};

/**
 * Turns a raw failure of the file tier into a BackendError that says what to do, when the cause
 * is known; unknown failures keep their message and cause.
 */
export function fileBackendError(err: unknown, dir: string, operation: string, fallbackHint?: string): BackendError {
  if (err instanceof BackendError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const known = typeof code === 'string' ? (HINTS[code] ?? HINTS[code.split('_').slice(0, 2).join('_')]) : undefined;
  const reason = err instanceof Error ? err.message : String(err);
  return new BackendError('file', `The file cache in ${dir} failed to ${operation}: ${reason}`, {
    cause: err,
    hint: known ?? fallbackHint,
    context: { dir, operation, code: typeof code === 'string' ? code : undefined },
  });
}

/**
 * The file at `<dir>/v1/cache.db` is not a cachevault cache database: it lacks our
 * `application_id` and is not an empty file or a cache made before application ids existed. It is
 * refused untouched: dropping or creating tables in it, or switching its journal mode, could
 * destroy another program's data.
 */
export class ForeignDatabaseError extends BackendError {
  override name = 'ForeignDatabaseError';
  override readonly code = 'FILE_CACHE_FOREIGN_DB';
  readonly path: string;
  constructor(path: string, detail: string, options: CacheVaultErrorOptions = {}) {
    super('file', `${path} is not a cachevault cache database (${detail}); it was left unchanged.`, {
      ...options,
      hint: `Move it aside (mv ${path} ${path}.not-cachevault) or point file.dir at a directory of its own. If it is a cache from an older cachevault, delete it and its -wal/-shm files: it holds only cached data.`,
      context: { path, detail },
    });
    this.path = path;
  }
}

/**
 * The cache database is ours but written by an older schema this cachevault cannot migrate in
 * place. It is refused untouched rather than emptied: the entries it holds are the user's to
 * keep (by running the older version) or to discard, explicitly.
 */
export class FileCacheSchemaError extends BackendError {
  override name = 'FileCacheSchemaError';
  override readonly code = 'FILE_CACHE_SCHEMA_UNMIGRATABLE';
  readonly path: string;
  readonly found: number;
  constructor(path: string, found: number, supported: number, options: CacheVaultErrorOptions = {}) {
    super('file', `The cache database ${path} has schema version ${found}, which this cachevault (schema ${supported}) cannot migrate; it was left unchanged.`, {
      ...options,
      hint: 'Discard it with `cachevault reinit --tier file` (the file cache is recreated empty), or keep running the cachevault version that wrote it.',
      context: { path, found, supported },
    });
    this.path = path;
    this.found = found;
  }
}
