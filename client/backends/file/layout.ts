import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BackendError, UnsupportedFormatError } from '../../errors';

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
 */
export const LAYOUT_VERSION = 1;

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
 * Creates the directories of the current layout, refusing a directory that already holds a
 * newer layout: reading it as empty would silently drop another version's cache.
 */
export function prepareLayout(layout: FileLayout): void {
  try {
    mkdirSync(layout.blobsDir, { recursive: true });
    mkdirSync(layout.tmpDir, { recursive: true });
  } catch (err) {
    throw new BackendError('file', `Cannot create the cache directory ${layout.root}: ${(err as Error).message}`, {
      cause: err,
      hint: 'Check that the path is writable by this user, or set file.dir to a writable directory.',
      context: { dir: layout.root },
    });
  }
  const newer = readdirSync(layout.root)
    .map((name) => /^v(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((v) => v > LAYOUT_VERSION);
  if (newer.length > 0) {
    throw new UnsupportedFormatError(
      `The cache directory ${layout.root} holds layout v${Math.max(...newer)}, newer than this cachevault understands (v${LAYOUT_VERSION}).`,
      {
        hint: 'Upgrade cachevault in every process sharing this directory, or point file.dir elsewhere.',
        context: { dir: layout.root, found: Math.max(...newer), supported: LAYOUT_VERSION },
      },
    );
  }
}

/** Blob files fan out over 256 subdirectories so no directory grows past a few thousand files. */
export function blobPath(layout: FileLayout, name: string): string {
  return join(layout.blobsDir, name.slice(0, 2), name);
}
