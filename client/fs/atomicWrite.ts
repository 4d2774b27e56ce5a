import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, fsyncSync, openSync, promises as fs, renameSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Replacing a small file (config, key manifest, checkpoint) so that a reader or a crash never
 * sees half of it: the bytes go to a unique temp file beside it (created with `wx`, mode 0600),
 * which is renamed over the target. The temp file is removed whatever happens, so a failed write
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
    fd = openSync(temp, 'wx', 0o600);
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
    const handle = await fs.open(temp, 'wx', 0o600);
    try {
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

/** Unique per process and call, so concurrent writers never share a temp file. */
function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}
