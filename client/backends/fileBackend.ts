import { accessSync, constants as fsConstants, lstatSync, renameSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { BackendClosedError, CacheVaultError, InvalidArgumentError } from '../errors';
import type { BackendCapabilities, BackendStats, EntryPage, HealthCheckStep, ScanOptions, StoredEntry, WriteResult } from '../types';
import { describeError } from '../describeError';
import { positiveOption } from './backendOptions';
import { BaseBackend, type BaseBackendOptions } from './baseBackend';
import { UnsafePathError } from '../fs/errors';
import { lstatOrUndefined, type TightenedPaths } from '../fs/privatePath';
import { BlobStore } from './file/blobStore';
import { FileCacheBusyError, fileBackendError, type FileCacheSchemaError } from './file/errors';
import type { ReplayStore } from './hybrid/replayStore';
import { ReplayJournal } from './file/replayJournal';
import { LAYOUT_VERSION, layoutOf, prepareLayout, type FileLayout } from './file/layout';
import { migrated, SCHEMA_VERSION, SqliteIndex, type EntryRow, type NewRow, type ScanRow } from './file/sqliteIndex';

export interface FileBackendOptions extends BaseBackendOptions {
  /** Directory of the local cache; created if missing. Must be on a local filesystem (SQLite WAL). */
  readonly dir: string;
  /** Upper bound on stored bytes (values, keys and a small per-entry overhead); least recently used entries are evicted past it. @default 1073741824 (1 GiB) */
  readonly maxBytes?: number;
  /** Upper bound on entries; least recently used entries are evicted past it. @default 1000000 */
  readonly maxEntries?: number;
  /**
   * `'normal'`: WAL with `synchronous=NORMAL` and no fsync of blobs. Fast; a power cut (not a
   * process crash) can lose the last few writes, but never corrupts the cache: a blob that did not
   * reach the disk fails its checksum and reads as a miss.
   * `'full'`: `synchronous=FULL` and every blob and its directory fsynced before `set` resolves,
   * so a resolved write survives a power cut. Several times slower per write.
   * @default 'normal'
   */
  readonly durability?: 'normal' | 'full';
  /** Values of at least this many bytes are stored as files beside the database. @default 65536 */
  readonly spillThresholdBytes?: number;
  /** How long an operation waits for another process's write lock before failing. @default 5000 */
  readonly busyTimeoutMs?: number;
}

export interface PruneReport {
  /** Expired rows removed (with their blobs). */
  readonly expired: number;
  /** Blob files no row referenced, older than a minute. */
  readonly orphanedBlobs: number;
  /** Temp files of interrupted writes, older than a minute. */
  readonly tempFiles: number;
}

export interface RepairReport extends PruneReport {
  /** Whether SQLite's `PRAGMA integrity_check` found the database sound. */
  readonly ok: boolean;
  /** SQLite's problem list when `ok` is false; empty otherwise. */
  readonly integrityProblems: readonly string[];
  readonly reindexed: boolean;
  /** Rows whose blob was missing, truncated or failed its checksum; removed. */
  readonly badBlobs: number;
  /** What to do when `ok` is false. */
  readonly hint?: string;
}

export interface CompactReport {
  /** Bytes of the database and its WAL before compaction. */
  readonly bytesBefore: number;
  /** Bytes of the database and its WAL after. */
  readonly bytesAfter: number;
  /**
   * Whether the WAL was checkpointed and truncated to zero bytes. False while another process is
   * still reading old WAL frames (which may hold deleted values): run `compact()` again later.
   */
  readonly walTruncated: boolean;
}

/** Fixed per-entry cost charged against maxBytes, so a flood of tiny entries is bounded too. */
const ENTRY_OVERHEAD_BYTES = 64;
/**
 * Reads record their access time only when the stored one is older than this, and the update
 * is queued for the next write transaction: reads stay reads, and LRU order is exact to within
 * this window, which is plenty for choosing what to evict.
 */
const ACCESS_REFRESH_MS = 10_000;
/** Queued access times are flushed in their own transaction past this many. */
const MAX_PENDING_TOUCHES = 1024;
/** Longest single wait inside SQLite for a lock; beyond it the backend retries asynchronously so the event loop is not held. */
const BUSY_SLICE_MS = 50;
const EVICT_BATCH = 256;
const BUSY = Symbol('busy');

/**
 * The local tier, built the way Python's diskcache is: one SQLite database in WAL mode holds
 * keys (as data), metadata and small values; values at or above `spillThresholdBytes` go to
 * files written atomically beside it. Every value carries a CRC-32 checked on every read; a
 * missing, truncated or corrupt value is a miss, removed, counted and logged once.
 *
 * Calls into SQLite are synchronous (better-sqlite3): a prepared statement on a warm page cache
 * costs a few microseconds, far less than a hop through libuv's thread pool. Each call is one
 * short statement or transaction, so the event loop is never held for long.
 *
 * Several processes may share one directory: writes take the lock up front (`BEGIN IMMEDIATE`),
 * readers never block in WAL mode, and a lock held past `busyTimeoutMs` becomes a BackendError
 * with a hint, never a raw `SQLITE_BUSY`.
 *
 * Whoever can write the directory can cause misses and nothing more (docs/security.md, "The
 * file tier on disk"): everything is owner-only (0700/0600), nothing below `dir` is reached
 * through a symlink, a blob name read back from a row is checked before it becomes a path, and
 * a database without our `application_id` is refused untouched.
 */
export class FileBackend extends BaseBackend {
  /** Directory layout version (`<dir>/v1`); a directory holding a newer one is refused. */
  static readonly LAYOUT_VERSION = LAYOUT_VERSION;
  /** SQLite schema version, kept in `PRAGMA user_version`. */
  static readonly SCHEMA_VERSION = SCHEMA_VERSION;

  readonly name = 'file';
  readonly capabilities: BackendCapabilities = { scanSegments: 1, maxBatchWrite: 500, persistent: true, shared: false };
  readonly dir: string;

  private readonly layout: FileLayout;
  private readonly index: SqliteIndex;
  private readonly blobs: BlobStore;
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly spillThresholdBytes: number;
  private readonly busyTimeoutMs: number;
  private readonly durability: 'normal' | 'full';
  /** Row id -> access time not yet written (see ACCESS_REFRESH_MS). */
  private readonly pendingTouches = new Map<number, number>();
  private readonly loggedCorruptKinds = new Set<string>();
  private replayJournal: ReplayJournal | undefined;

  constructor(options: FileBackendOptions) {
    super(options);
    if (typeof options.dir !== 'string' || options.dir.length === 0) {
      throw new InvalidArgumentError('FileBackend needs a directory (options.dir).', { hint: 'Set file.dir, e.g. ".cachevault/cache".' });
    }
    this.dir = options.dir;
    this.maxBytes = positiveOption('FileBackend', 'maxBytes', options.maxBytes, 1024 * 1024 * 1024);
    this.maxEntries = positiveOption('FileBackend', 'maxEntries', options.maxEntries, 1_000_000);
    this.spillThresholdBytes = positiveOption('FileBackend', 'spillThresholdBytes', options.spillThresholdBytes, 64 * 1024);
    this.busyTimeoutMs = positiveOption('FileBackend', 'busyTimeoutMs', options.busyTimeoutMs, 5_000);
    this.durability = options.durability ?? 'normal';
    if (this.durability !== 'normal' && this.durability !== 'full') {
      throw new InvalidArgumentError(`durability must be 'normal' or 'full', got ${JSON.stringify(this.durability)}.`);
    }
    const tightened: TightenedPaths = [];
    this.layout = prepareLayout(layoutOf(options.dir), tightened);
    this.index = new SqliteIndex(
      this.layout,
      {
        fullSync: this.durability === 'full',
        busySliceMs: Math.min(BUSY_SLICE_MS, this.busyTimeoutMs),
        openTimeoutMs: this.busyTimeoutMs,
      },
      tightened,
    );
    this.blobs = new BlobStore(this.layout, this.durability === 'full');
    const migration = migrated.get(this.index.db);
    if (migration) {
      this.logger.warn(
        { backend: this.name, dir: this.dir, from: migration.from, to: SCHEMA_VERSION, backup: migration.backup },
        'file cache migrated in place from an older schema; the backup beside it can be deleted once this version is kept',
      );
    }
    if (tightened.length > 0) {
      // Made by an older version under a permissive umask: others could read keys, namespaces and sizes until now.
      this.logger.warn(
        { backend: this.name, dir: this.dir, tightened: tightened.length, first: tightened[0] },
        'cache directory was readable by other users; tightened to owner-only (directories 0700, files 0600)',
      );
    }
  }

  // ---- storage ------------------------------------------------------------------------------

  protected async _get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    try {
      return await this.readEntry(namespace, key);
    } catch (err) {
      throw this.explain(err, 'read an entry');
    }
  }

  protected override async _getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    const out: (StoredEntry | undefined)[] = [];
    try {
      for (const key of keys) out.push(await this.readEntry(namespace, key));
    } catch (err) {
      throw this.explain(err, 'read entries');
    }
    return out;
  }

  protected async _setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    const now = this.clock();
    const written: string[] = [];
    let rows: NewRow[];
    try {
      rows = entries.map((entry) => this.toRow(entry, now, written));
    } catch (err) {
      this.blobs.removeAfterCommit(written);
      throw this.explain(err, 'write a value file');
    }
    let outcome: { stale: string[]; evicted: (string | null)[] };
    try {
      outcome = await this.retry('set', () =>
        this.index.writeTransaction(() => {
          this.applyTouches();
          const stale: string[] = [];
          for (const row of rows) {
            const old = this.index.blobOf(row.namespace, row.key);
            if (old) stale.push(old);
            this.index.upsert(row);
          }
          return { stale, evicted: this.enforceLimits(now) };
        }),
      );
    } catch (err) {
      // The rows never committed, so the blobs written for them are unreferenced.
      this.blobs.removeAfterCommit(written);
      throw this.explain(err, 'write entries');
    }
    this.afterCommit(outcome.stale, outcome.evicted);
    return { written: entries.length };
  }

  protected async _deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    try {
      return await this.deleteRefs(namespace, keys);
    } catch (err) {
      throw this.explain(err, 'delete entries');
    }
  }

  private async deleteRefs(namespace: string, keys: readonly string[]): Promise<number> {
    const { removed, blobs } = await this.retry('delete', () =>
      this.index.writeTransaction(() => {
        this.applyTouches();
        let count = 0;
        const names: string[] = [];
        for (const key of keys) {
          const gone = this.index.delete(namespace, key);
          if (!gone.found) continue;
          count += 1;
          if (gone.blob) names.push(gone.blob);
        }
        return { removed: count, blobs: names };
      }),
    );
    this.unlinkCommitted(blobs);
    return removed;
  }

  protected async _clear(namespace: string | undefined): Promise<void> {
    let blobs: string[];
    try {
      blobs = await this.retry('clear', () =>
        this.index.writeTransaction(() => {
          const names = this.index.blobsOf(namespace);
          this.index.clear(namespace);
          return names;
        }),
      );
    } catch (err) {
      throw this.explain(err, 'clear entries');
    }
    this.pendingTouches.clear();
    this.unlinkCommitted(blobs);
  }

  protected async _scan(options: ScanOptions): Promise<EntryPage> {
    const pageSize = Math.max(1, Math.min(options.pageSize ?? 500, 10_000));
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    let rows: ScanRow[];
    try {
      rows = await this.retry('scan', () => this.index.scan(options.namespace, after, pageSize));
    } catch (err) {
      throw this.explain(err, 'scan entries');
    }
    const entries: StoredEntry[] = [];
    for (const [namespace, key, ...row] of rows) {
      // A scan (migration, sweep) is not a use: it must not make every entry look recently used.
      const entry = this.materialize(namespace, key, row as EntryRow, false);
      if (entry) entries.push(entry);
    }
    const last = rows[rows.length - 1];
    return { entries, cursor: rows.length === pageSize && last ? encodeCursor(last[0], last[1]) : undefined };
  }

  /**
   * Sets aside a cache database refused as unmigratable (`FileCacheSchemaError`): renames it and
   * its side files to `<name>.schema-<N>-set-aside-<time>` beside it, so the tier then opens
   * empty and the old rows stay on disk for whoever wants them. The path comes from the error
   * (computed by this library, never read from storage); a link there is refused, not followed.
   * What `cachevault reinit --tier file` does before wiping. Returns the new path.
   */
  static setAsideUnmigratable(err: FileCacheSchemaError): string {
    const target = `${err.path}.schema-${err.found}-set-aside-${Date.now()}`;
    for (const suffix of ['', '-wal', '-shm', '-journal']) {
      const st = lstatOrUndefined(err.path + suffix);
      if (st === undefined) continue;
      if (!st.isFile()) throw new UnsafePathError(err.path + suffix, 'it is not a regular file', `Move ${err.path + suffix} aside by hand.`);
      renameSync(err.path + suffix, target + suffix);
    }
    return target;
  }

  /**
   * The replay queue of a hybrid this tier sits in, kept in `<dir>/v1/replay.db` so that writes
   * the shared tier missed outlive the process (see HybridBackend). Opened once; closed with the tier.
   */
  openReplayStore(): ReplayStore {
    if (this.replayJournal === undefined) {
      const tightened: TightenedPaths = [];
      this.replayJournal = new ReplayJournal(ReplayJournal.pathIn(this.layout), this.busyTimeoutMs, tightened, this.durability === 'full');
      if (tightened.length > 0) this.logger.warn({ backend: this.name, dir: this.dir, tightened: tightened.length }, 'replay journal was readable by other users; tightened to owner-only (0600)');
    }
    return this.replayJournal;
  }

  protected async _close(): Promise<void> {
    this.replayJournal?.close();
    try {
      if (this.pendingTouches.size > 0) this.index.writeTransaction(() => this.applyTouches());
    } catch (err) {
      // Access times only steer eviction; losing a few is harmless, failing close is not.
      this.logger.debug({ backend: this.name, error: describeError(err) }, 'could not record access times at close');
    }
    this.index.close();
  }

  protected override async _healthSteps(): Promise<HealthCheckStep[]> {
    const steps: HealthCheckStep[] = [];
    const mode = String(this.index.db.pragma('journal_mode', { simple: true }));
    steps.push({ name: 'journal', ok: mode === 'wal', detail: mode === 'wal' ? undefined : `journal_mode is ${mode}, expected wal` });
    try {
      accessSync(this.layout.blobsDir, fsConstants.W_OK);
      accessSync(this.layout.tmpDir, fsConstants.W_OK);
      steps.push({ name: 'blobs', ok: true });
    } catch (err) {
      steps.push({ name: 'blobs', ok: false, detail: `blob directory not writable: ${describeError(err)}` });
    }
    return steps;
  }

  protected override _statsExtra(): Pick<BackendStats, 'entries' | 'bytes' | 'extra'> {
    if (this.isClosed) return {};
    try {
      const totals = this.index.totals();
      return {
        entries: totals.entries,
        bytes: totals.bytes,
        extra: {
          spilledBlobs: totals.blobs,
          maxBytes: this.maxBytes,
          maxEntries: this.maxEntries,
          durability: this.durability,
          rejectedBlobRefs: this.blobs.rejectedNames,
          replacedBlobDirs: this.blobs.replacedDirs,
        },
      };
    } catch {
      return {}; // stats must never throw; a locked or closing database just reports no gauges
    }
  }

  // ---- maintenance --------------------------------------------------------------------------

  /** Removes expired entries, blob files no entry references and temp files of interrupted writes. */
  async prune(): Promise<PruneReport> {
    return this.maintenance(async () => {
      const expired = await this.removeExpired();
      return { expired, ...this.sweepFiles() };
    });
  }

  /**
   * Checks and mends the cache: SQLite's integrity check, an index rebuild, every spilled blob
   * verified against its checksum (bad ones removed with their rows), orphaned blobs and stale
   * temp files removed. Reads every blob, so it costs as much as reading the whole cache.
   */
  async repair(): Promise<RepairReport> {
    return this.maintenance(async () => {
      const problems = await this.retry('repair', () => this.index.integrityCheck());
      const ok = problems.length === 1 && problems[0] === 'ok';
      await this.retry('repair', () => this.index.reindex());
      let badBlobs = 0;
      let afterId = 0;
      for (;;) {
        const page = await this.retry('repair', () => this.index.spilled(afterId, 500));
        if (page.length === 0) break;
        for (const [id, blob, size, crc] of page) {
          afterId = id;
          const read = this.blobs.read(blob, size, crc);
          if (read.ok) continue;
          if (await this.retry('repair', () => this.index.writeTransaction(() => this.index.deleteIfUnchanged(id, crc, blob)))) {
            if (read.unsafe !== true) this.unlinkCommitted([blob]);
            badBlobs += 1;
            this.noteCorrupt(read.problem);
          }
        }
      }
      const expired = await this.removeExpired();
      await this.retry('repair', () => this.index.db.pragma('wal_checkpoint(TRUNCATE)'));
      return {
        ok,
        integrityProblems: ok ? [] : problems,
        reindexed: true,
        badBlobs,
        expired,
        ...this.sweepFiles(),
        hint: ok ? undefined : `The cache database is damaged; it holds only cached data, so close every process using it and delete ${this.dir}.`,
      };
    });
  }

  /**
   * Scrubs deleted values from the disk: rebuilds the database with SQLite's `secure_delete` on
   * (`VACUUM`), so no deleted or overwritten row survives in a free page, then checkpoints the
   * WAL and truncates it to zero bytes, so no old page version survives there either. Spilled
   * values are separate files, unlinked when their rows go. Run it after deleting or rewriting
   * sensitive values (the encryption sweep does). It rewrites the whole database and holds the
   * write lock meanwhile: a maintenance operation, not for the request path.
   *
   * What it cannot reach: blocks the filesystem or the SSD has already released (a deleted file's
   * or a truncated file's old contents), snapshots and backups. Encrypt from the first write to
   * avoid plaintext on disk at all.
   */
  async compact(): Promise<CompactReport> {
    return this.maintenance(async () => {
      const bytesBefore = this.databaseBytes();
      if (this.pendingTouches.size > 0) await this.retry('compact', () => this.index.writeTransaction(() => this.applyTouches()));
      const { walTruncated } = await this.retry('compact', () => this.index.compact());
      return { bytesBefore, bytesAfter: this.databaseBytes(), walTruncated };
    });
  }

  // ---- internals ----------------------------------------------------------------------------

  private databaseBytes(): number {
    let total = 0;
    for (const path of [this.layout.dbPath, `${this.layout.dbPath}-wal`]) {
      try {
        total += lstatSync(path).size;
      } catch {
        // no WAL at the moment: nothing to count
      }
    }
    return total;
  }

  private async readEntry(namespace: string, key: string): Promise<StoredEntry | undefined> {
    // Twice at most: a second read covers a blob replaced by another process between our
    // reading its row and opening its file.
    for (let attempt = 0; attempt < 2; attempt++) {
      let row = this.findRow(namespace, key);
      if (row === BUSY) row = await this.retry('get', () => this.index.find(namespace, key));
      if (row === undefined) return undefined;
      const entry = this.materialize(namespace, key, row, true);
      if (entry !== null) return entry;
    }
    return undefined;
  }

  /** The synchronous fast path, without the promise of `retry`; BUSY sends the caller to the retrying path. */
  private findRow(namespace: string, key: string): EntryRow | undefined | typeof BUSY {
    try {
      return this.index.find(namespace, key);
    } catch (err) {
      if (isBusy(err)) return BUSY;
      throw err;
    }
  }

  /**
   * Turns a row into an entry after checking its bytes. Returns `undefined` for a corrupt entry
   * (removed and counted) and `null` when the row changed under us and should be read again.
   */
  private materialize(namespace: string, key: string, row: EntryRow, isUse: boolean): StoredEntry | undefined | null {
    const [id, expiresAt, keyId, createdAt, accessedAt, size, crc, inline, blob] = row;
    let value: Buffer;
    if (blob !== null) {
      const read = this.blobs.read(blob, size, crc);
      if (!read.ok) return this.dropCorrupt(namespace, key, row, read.problem, read.unsafe === true) ? undefined : null;
      value = read.bytes;
    } else {
      value = inline ?? Buffer.alloc(0);
      if (value.byteLength !== size || crc32(value) >>> 0 !== crc >>> 0) {
        return this.dropCorrupt(namespace, key, row, 'value checksum mismatch') ? undefined : null;
      }
    }
    if (isUse) {
      const now = this.clock();
      if (now - (accessedAt ?? 0) >= ACCESS_REFRESH_MS) this.queueTouch(id, now);
    }
    return { namespace, key, value, expiresAt, keyId, createdAt };
  }

  /**
   * Removes a corrupt row unless another writer replaced it meanwhile; true if it was ours to
   * drop. Its blob file goes too, unless `unsafe`: the row named no file of ours, so only the row goes.
   */
  private dropCorrupt(namespace: string, key: string, row: EntryRow, problem: string, unsafe = false): boolean {
    const [id, , , , , , crc, , blob] = row;
    let removed: boolean;
    try {
      removed = this.index.writeTransaction(() => this.index.deleteIfUnchanged(id, crc, blob));
    } catch (err) {
      if (!isBusy(err)) throw err;
      // Cannot remove the row now (another process is writing): still a miss, counted; the next
      // read or repair() removes it. Its blob stays until the row goes.
      this.reportCorrupt(namespace, key, problem);
      return true;
    }
    if (!removed) return false;
    if (blob !== null && !unsafe) this.unlinkCommitted([blob]);
    this.reportCorrupt(namespace, key, problem);
    return true;
  }

  /** Counts every corrupt entry; logs the first of each kind at warn and repeats at debug, so a damaged disk cannot flood logs. */
  protected override reportCorrupt(namespace: string, key: string, reason: string): void {
    this.counters.corrupt += 1;
    this.noteCorrupt(reason, namespace, key.length);
  }

  private noteCorrupt(reason: string, namespace?: string, keyLength?: number): void {
    const kind = reason.replace(/\(.*\)/, '').trim();
    const fields = { backend: this.name, dir: this.dir, namespace, keyLength, reason };
    if (this.loggedCorruptKinds.has(kind)) {
      this.logger.debug(fields, 'corrupt cache entry treated as a miss');
      return;
    }
    this.loggedCorruptKinds.add(kind);
    this.logger.warn(fields, 'corrupt cache entry treated as a miss and removed');
  }

  private toRow(entry: StoredEntry, now: number, written: string[]): NewRow {
    const size = entry.value.byteLength;
    const charge = size + Buffer.byteLength(entry.key) + entry.namespace.length + ENTRY_OVERHEAD_BYTES;
    if (charge > this.maxBytes) {
      throw new InvalidArgumentError(`A ${size}-byte value cannot fit in a file cache limited to ${this.maxBytes} bytes.`, {
        hint: 'Raise file.maxBytes, or do not cache values this large locally.',
      });
    }
    const bytes = Buffer.isBuffer(entry.value) ? entry.value : Buffer.from(entry.value.buffer, entry.value.byteOffset, size);
    const crc = crc32(bytes) >>> 0;
    let blob: string | null = null;
    if (size >= this.spillThresholdBytes) {
      blob = this.blobs.write(bytes);
      written.push(blob);
    }
    return {
      namespace: entry.namespace,
      key: entry.key,
      expiresAt: entry.expiresAt,
      keyId: entry.keyId,
      createdAt: entry.createdAt,
      accessedAt: now,
      size,
      charge,
      crc,
      value: blob === null ? bytes : null,
      blob,
    };
  }

  /**
   * Inside a write transaction: brings the cache back under its bounds, expired entries first,
   * then least recently used. Returns the blobs of removed rows, to unlink after commit.
   */
  private enforceLimits(now: number): (string | null)[] {
    let totals = this.index.totals();
    if (totals.entries <= this.maxEntries && totals.bytes <= this.maxBytes) return [];
    const removed: (string | null)[] = [];
    for (const [id, blob] of this.index.expired(now, EVICT_BATCH)) {
      this.index.deleteById(id);
      removed.push(blob);
    }
    totals = this.index.totals();
    let { entries, bytes } = totals;
    while (entries > this.maxEntries || bytes > this.maxBytes) {
      const batch = this.index.oldest(Math.min(EVICT_BATCH, Math.max(1, entries - this.maxEntries)));
      if (batch.length === 0) break;
      for (const [id, blob, charge] of batch) {
        this.index.deleteById(id);
        removed.push(blob);
        entries -= 1;
        bytes -= charge;
        if (entries <= this.maxEntries && bytes <= this.maxBytes) break;
      }
    }
    return removed;
  }

  private afterCommit(stale: readonly string[], evicted: readonly (string | null)[]): void {
    this.counters.evictions += evicted.length;
    this.unlinkCommitted(stale);
    this.unlinkCommitted(evicted);
  }

  private unlinkCommitted(names: readonly (string | null)[]): void {
    if (names.length === 0) return;
    const failed = this.blobs.removeAfterCommit(names);
    if (failed > 0) this.logger.warn({ backend: this.name, dir: this.dir, failed }, 'could not remove value files of removed entries; prune() will collect them');
  }

  private queueTouch(id: number, now: number): void {
    this.pendingTouches.set(id, now);
    if (this.pendingTouches.size < MAX_PENDING_TOUCHES) return;
    try {
      this.index.writeTransaction(() => this.applyTouches());
    } catch (err) {
      if (!isBusy(err)) throw err;
      // Another process is writing; the touches stay queued for our next write.
    }
  }

  /** Writes queued access times; runs inside a write transaction. */
  private applyTouches(): void {
    if (this.pendingTouches.size === 0) return;
    for (const [id, at] of this.pendingTouches) this.index.touch(id, at);
    this.pendingTouches.clear();
  }

  private async removeExpired(): Promise<number> {
    let total = 0;
    for (;;) {
      const now = this.clock();
      const blobs = await this.retry('prune', () =>
        this.index.writeTransaction(() => {
          const rows = this.index.expired(now, 500);
          for (const [id] of rows) this.index.deleteById(id);
          return rows.map(([, blob]) => blob);
        }),
      );
      this.unlinkCommitted(blobs);
      total += blobs.length;
      if (blobs.length < 500) return total;
    }
  }

  /** File sweeps run on wall-clock time: they compare against file modification times. */
  private sweepFiles(): { orphanedBlobs: number; tempFiles: number } {
    const now = Date.now();
    return {
      orphanedBlobs: this.blobs.removeOrphans((name) => this.index.isReferenced(name), now),
      tempFiles: this.blobs.removeStaleTemps(now),
    };
  }

  private async maintenance<T>(fn: () => Promise<T>): Promise<T> {
    if (this.isClosed) throw new BackendClosedError(this.name);
    try {
      return await fn();
    } catch (err) {
      this.counters.errors += 1;
      throw this.explain(err, 'run maintenance');
    }
  }

  /** Our own errors pass through; raw fs and SQLite failures get a message that says what to do. */
  private explain(err: unknown, operation: string): Error {
    return err instanceof CacheVaultError ? err : fileBackendError(err, this.dir, operation);
  }

  /**
   * Runs a short SQLite call, retrying asynchronously while another process holds the lock
   * (each attempt waits at most BUSY_SLICE_MS inside SQLite), up to busyTimeoutMs in all.
   */
  private async retry<T>(operation: string, fn: () => T): Promise<T> {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err)) throw err;
    }
    const deadline = Date.now() + this.busyTimeoutMs;
    let delay = 2;
    for (;;) {
      await sleep(delay + Math.random() * delay);
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err)) throw err;
        if (Date.now() >= deadline) throw new FileCacheBusyError(this.dir, operation, this.busyTimeoutMs, { cause: err });
        delay = Math.min(delay * 2, 50);
      }
    }
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function encodeCursor(namespace: string, key: string): string {
  return Buffer.from(JSON.stringify([namespace, key])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') {
      return [parsed[0], parsed[1]];
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError('Invalid scan cursor for the file backend.', {
    hint: 'Pass back the cursor a previous scan() of this backend returned, unchanged.',
  });
}
