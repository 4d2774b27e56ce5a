import { closeSync, fchmodSync, lstatSync, openSync, rmSync } from 'node:fs';
import { PRIVATE_FILE_MODE } from './privatePath';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A lock between processes as a file created exclusively (`wx`, so never through an existing
 * file or link; mode 0600 whatever the umask) beside what it guards, removed when the holder is
 * done. A link planted at the lock path is never followed: its own age decides staleness, and
 * removing it removes the link. A holder that died leaves it behind, so a lock file
 * older than `staleMs` is taken to be abandoned and removed.
 */
export interface LockFileOptions {
  /** Age (by mtime) past which a lock file is abandoned and removed. */
  readonly staleMs: number;
  /** How long to wait for another holder before `onTimeout`. */
  readonly timeoutMs: number;
  /** The error to throw when the lock file cannot be created for another reason than being held. */
  readonly onError: (error: unknown) => Error;
  /** The error to throw when another holder still has it after `timeoutMs`. */
  readonly onTimeout: () => Error;
}

/** Runs `fn` holding `lockPath`, waiting synchronously (for callers whose API is synchronous). */
export function withLockFileSync<T>(lockPath: string, options: LockFileOptions, fn: () => T): T {
  const deadline = Date.now() + options.timeoutMs;
  let fd = tryLock(lockPath, options, deadline);
  while (fd === undefined) {
    // Holders keep these locks for microseconds; a short synchronous pause keeps the caller synchronous.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    fd = tryLock(lockPath, options, deadline);
  }
  try {
    return fn();
  } finally {
    unlock(lockPath, fd);
  }
}

/** Runs `fn` holding `lockPath`, polling every 20 ms while another process holds it. */
export async function withLockFile<T>(lockPath: string, options: LockFileOptions, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let fd = tryLock(lockPath, options, deadline);
  while (fd === undefined) {
    await sleep(20);
    fd = tryLock(lockPath, options, deadline);
  }
  try {
    return await fn();
  } finally {
    unlock(lockPath, fd);
  }
}

/** The lock's descriptor, or `undefined` while another holder has it and the deadline has not passed. */
function tryLock(lockPath: string, options: LockFileOptions, deadline: number): number | undefined {
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx', PRIVATE_FILE_MODE);
      if (process.platform !== 'win32') fchmodSync(fd, PRIVATE_FILE_MODE);
      return fd;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw options.onError(error);
      if (ageMs(lockPath) > options.staleMs) {
        rmSync(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw options.onTimeout();
      return undefined;
    }
  }
}

function unlock(lockPath: string, fd: number): void {
  closeSync(fd);
  rmSync(lockPath, { force: true });
}

function ageMs(lockPath: string): number {
  try {
    return Date.now() - lstatSync(lockPath).mtimeMs;
  } catch {
    // Gone between the failed create and this look: not stale; the next attempt will likely create it.
    return 0;
  }
}
