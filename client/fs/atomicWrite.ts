import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fdatasyncSync, fsyncSync, openSync, promises as fs, renameSync, rmSync, writeFileSync } from 'node:fs';
import { PRIVATE_FILE_MODE } from './privatePath';

/**
 * Replacing a small file (config, key manifest, backups, checkpoint) so that a reader or a crash
 * never sees half of it: the bytes go to a unique temp file beside it (created with `wx`, so never
 * through an existing file or link), which is renamed over the target. The result is always
 * owner-only (0600, set with fchmod, whatever the umask or the old file's mode), and a link at the
 * target is replaced, never followed. The temp file is removed whatever happens, so a failed write
 * leaves the previous file as it was and no debris.
 */
export interface AtomicWriteOptions {
  /**
   * Flush the temp file to disk before the rename, so a power loss cannot leave an empty file
   * under the target's name. `data` flushes the contents only (fdatasync), enough for a file
   * replaced by rename.
   * @default false
   */
  readonly flush?: false | 'full' | 'data';
}

/** Replaces `path` with `data` atomically, synchronously. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const temp = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', PRIVATE_FILE_MODE);
    if (POSIX) fchmodSync(fd, PRIVATE_FILE_MODE);
    writeFileSync(fd, data);
    if (options.flush === 'full') fsyncSync(fd);
    else if (options.flush === 'data') fdatasyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
  }
}

/** Replaces `path` with `data` atomically. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = tempPathFor(path);
  try {
    const handle = await fs.open(temp, 'wx', PRIVATE_FILE_MODE);
    try {
      if (POSIX) await handle.chmod(PRIVATE_FILE_MODE);
      await handle.writeFile(data);
      if (options.flush === 'full') await handle.sync();
      else if (options.flush === 'data') await handle.datasync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, path);
  } finally {
    await fs.rm(temp, { force: true });
  }
}

const POSIX = process.platform !== 'win32';

/** Unique per process and call, so concurrent writers never share a temp file. */
function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}
