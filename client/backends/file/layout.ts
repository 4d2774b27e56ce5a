import fs from 'node:fs';
import { join } from 'node:path';
import { BackendError, CacheVaultError, UnsupportedFormatError } from '../../errors';
import { checkPrivateDir, checkPrivateFile, ensurePrivateDir, lstatOrUndefined, PRIVATE_DIR_MODE, type TightenedPaths } from '../../fs/privatePath';

/**
 * The on-disk layout of the file tier, versioned in the directory name the way cacache does
 * (`content-v2`): a future incompatible layout goes to `v2/` beside this one, so an old reader
 * recognises it instead of misreading it.
 *
 * ```
 * <dir>/v1/cache.db      SQLite (WAL): keys, metadata, small values
 * <dir>/v1/blobs/ab/...  values at or above the spill threshold, one file each
 * <dir>/v1/tmp/          temp files of writes in flight (renamed into blobs/)
 * ```
 *
 * `<dir>` itself may be reached through a symlink the user configured (it is resolved once, at
 * open); nothing below it may be a symlink. Directories are 0700, files 0600.
 */
export const LAYOUT_VERSION = 1;

/** Blob names: 128 random bits in lowercase hex. Anything else read back from a row is not ours. */
export const BLOB_NAME = /^[0-9a-f]{32}$/;

export interface FileLayout {
  readonly root: string;
  readonly versionDir: string;
  readonly dbPath: string;
  readonly blobsDir: string;
  readonly tmpDir: string;
}

export function layoutOf(dir: string): FileLayout {
  const versionDir = join(dir, `v${LAYOUT_VERSION}`);
  return {
    root: dir,
    versionDir,
    dbPath: join(versionDir, 'cache.db'),
    blobsDir: join(versionDir, 'blobs'),
    tmpDir: join(versionDir, 'tmp'),
  };
}

/**
 * Creates (0700) or checks the directories of the current layout and returns the layout with
 * the root resolved to its real path. Refuses a directory that holds a newer layout (reading it
 * as empty would silently drop another version's cache), and any part of the tree that is a
 * symlink, owned by another user or writable by others. Parts that others can read (made by an
 * older version under umask 022) are tightened and listed in `tightened`.
 */
export function prepareLayout(requested: FileLayout, tightened: TightenedPaths): FileLayout {
  let layout: FileLayout;
  try {
    if (fs.mkdirSync(requested.root, { recursive: true, mode: PRIVATE_DIR_MODE }) !== undefined && process.platform !== 'win32') {
      fs.chmodSync(requested.root, PRIVATE_DIR_MODE);
    }
    layout = layoutOf(fs.realpathSync(requested.root));
    checkPrivateDir(layout.root, 'cache directory', tightened);
    ensurePrivateDir(layout.versionDir, 'cache layout directory', tightened);
    ensurePrivateDir(layout.blobsDir, 'blob directory', tightened);
    ensurePrivateDir(layout.tmpDir, 'temp directory', tightened);
  } catch (err) {
    if (err instanceof CacheVaultError) throw err;
    throw new BackendError('file', `Cannot create the cache directory ${requested.root}: ${(err as Error).message}`, {
      cause: err,
      hint: 'Check that the path is writable by this user, or set file.dir to a writable directory.',
      context: { dir: requested.root },
    });
  }
  const newer = fs
    .readdirSync(layout.root)
    .map((name) => /^v(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((v) => v > LAYOUT_VERSION);
  if (newer.length > 0) {
    throw new UnsupportedFormatError(
      `The cache directory ${requested.root} holds layout v${Math.max(...newer)}, newer than this cachevault understands (v${LAYOUT_VERSION}).`,
      {
        hint: 'Upgrade cachevault in every process sharing this directory, or point file.dir elsewhere.',
        context: { dir: requested.root, found: Math.max(...newer), supported: LAYOUT_VERSION },
      },
    );
  }
  checkBlobTree(layout, tightened);
  return layout;
}

/**
 * Checks the fan-out directories like the rest of the tree. Links and stray files among them are
 * left alone here: reads treat them as misses, writes replace them and `prune()` removes them,
 * all without following them. The files of a directory that had to be tightened are tightened too.
 */
function checkBlobTree(layout: FileLayout, tightened: TightenedPaths): void {
  for (const name of fs.readdirSync(layout.blobsDir)) {
    const dir = join(layout.blobsDir, name);
    // Other processes may be writing and sweeping meanwhile: what vanished needs no check.
    const st = lstatOrUndefined(dir);
    if (st?.isDirectory() !== true) continue;
    const before = tightened.length;
    checkPrivateDir(dir, 'blob directory', tightened, st);
    if (tightened.length > before) {
      for (const file of fs.readdirSync(dir)) {
        const path = join(dir, file);
        if (lstatOrUndefined(path)?.isFile() === true) checkPrivateFile(path, 'value file', tightened);
      }
    }
  }
  for (const file of fs.readdirSync(layout.tmpDir)) {
    const path = join(layout.tmpDir, file);
    if (lstatOrUndefined(path)?.isFile() === true) checkPrivateFile(path, 'temp file', tightened);
  }
}

/** Blob files fan out over 256 subdirectories so no directory grows past a few thousand files. */
export function fanOutDir(layout: FileLayout, name: string): string {
  return join(layout.blobsDir, name.slice(0, 2));
}

/**
 * The path of a blob, or undefined for a name that is not one of ours. The only way a blob name
 * becomes a path: a name read back from the database is data, and a strict pattern keeps it
 * inside the blobs directory (no separators, no dots, fixed length).
 */
export function blobPath(layout: FileLayout, name: string): string | undefined {
  if (!BLOB_NAME.test(name)) return undefined;
  return join(layout.blobsDir, name.slice(0, 2), name);
}
