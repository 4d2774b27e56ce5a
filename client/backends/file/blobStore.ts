import { randomBytes } from 'node:crypto';
// Default import on purpose: calls go through the live module object, so tests can inject failures with jest.spyOn(fs, ...).
import fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { blobPath, type FileLayout } from './layout';

/** The result of reading a blob: its bytes, or why it cannot be trusted. */
export type BlobRead = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly problem: string };

/** Files younger than this may belong to a write in flight in another process; sweeps leave them. */
export const SWEEP_GRACE_MS = 60_000;

const BLOB_NAME = /^[0-9a-f]{32}$/;

/**
 * Values too large to sit well inside SQLite rows, one file each. Files are written the way
 * cacache writes content: a unique temp file opened `wx`, written, optionally fsynced, renamed
 * into place, the temp removed in `finally`; a reader therefore sees a whole blob or none.
 * Names are random, never derived from keys, so no key can steer a path.
 *
 * Calls are synchronous on purpose: a blob is a single small file operation, and going through
 * libuv's thread pool costs more than the I/O itself (see BASELINES.md).
 */
export class BlobStore {
  private readonly knownDirs = new Set<string>();

  constructor(
    private readonly layout: FileLayout,
    private readonly fsync: boolean,
  ) {}

  /** Writes `bytes` as a new blob; returns its name. Nothing is visible under that name until it is complete. */
  write(bytes: Uint8Array): string {
    const name = randomBytes(16).toString('hex');
    const target = blobPath(this.layout, name);
    const dir = join(this.layout.blobsDir, name.slice(0, 2));
    if (!this.knownDirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      this.knownDirs.add(dir);
    }
    const temp = join(this.layout.tmpDir, `${name}.${process.pid}.tmp`);
    let renamed = false;
    try {
      const fd = fs.openSync(temp, 'wx', 0o600);
      try {
        fs.writeSync(fd, bytes);
        if (this.fsync) fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      try {
        fs.renameSync(temp, target);
      } catch (err) {
        // The fan-out directory was removed under us (a manual clean-up): make it again, once.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !fs.existsSync(temp)) throw err;
        fs.mkdirSync(dir, { recursive: true });
        fs.renameSync(temp, target);
      }
      renamed = true;
      if (this.fsync) syncDirectory(dir);
    } finally {
      if (!renamed) rmQuiet(temp);
    }
    return name;
  }

  /** Reads a blob and checks it against the size and CRC-32 recorded with its row. */
  read(name: string, size: number, crc: number): BlobRead {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(blobPath(this.layout, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, problem: 'blob file missing' };
      throw err;
    }
    if (bytes.byteLength !== size) return { ok: false, problem: `blob file truncated (${bytes.byteLength} of ${size} bytes)` };
    if (crc32(bytes) >>> 0 !== crc >>> 0) return { ok: false, problem: 'blob checksum mismatch' };
    return { ok: true, bytes };
  }

  /**
   * Removes blobs whose rows are already gone. A failure here must not fail the operation that
   * committed: the file is an orphan now, and `prune()` collects orphans. Returns how many failed.
   */
  removeAfterCommit(names: readonly (string | null)[]): number {
    let failed = 0;
    for (const name of names) {
      if (name === null) continue;
      try {
        rmQuiet(blobPath(this.layout, name));
      } catch {
        failed += 1;
      }
    }
    return failed;
  }

  /**
   * Removes blob files no row references, older than the grace period (a younger one may be a
   * write in another process that has renamed its blob but not yet committed its row).
   */
  removeOrphans(isReferenced: (name: string) => boolean, now: number): number {
    let removed = 0;
    for (const sub of readdirQuiet(this.layout.blobsDir)) {
      const dir = join(this.layout.blobsDir, sub);
      for (const name of readdirQuiet(dir)) {
        const path = join(dir, name);
        if (BLOB_NAME.test(name) && isReferenced(name)) continue;
        if (!olderThan(path, now - SWEEP_GRACE_MS)) continue;
        rmQuiet(path);
        removed += 1;
      }
    }
    return removed;
  }

  /** Removes temp files left by writers that died between open and rename. */
  removeStaleTemps(now: number): number {
    let removed = 0;
    for (const name of readdirQuiet(this.layout.tmpDir)) {
      const path = join(this.layout.tmpDir, name);
      if (!olderThan(path, now - SWEEP_GRACE_MS)) continue;
      rmQuiet(path);
      removed += 1;
    }
    return removed;
  }
}

function olderThan(path: string, cutoff: number): boolean {
  try {
    return fs.statSync(path).mtimeMs < cutoff;
  } catch {
    return false; // gone already
  }
}

function readdirQuiet(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function rmQuiet(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
