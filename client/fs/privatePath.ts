// Default import on purpose: calls go through the live module object, so tests can inject failures with jest.spyOn(fs, ...).
import fs from 'node:fs';
import { UnsafePathError } from './errors';

/**
 * Owner-only files and directories, and opening them without following symlinks. Everything the
 * file tier keeps on disk goes through here, so one set of rules holds for all of it:
 *
 * - directories are 0700 and files 0600, set explicitly (chmod after create), so the umask does
 *   not matter;
 * - a path that is a symlink, or not the kind of file expected, is refused (`UnsafePathError`),
 *   never followed;
 * - on POSIX, a path owned by another user, or a directory others can write (group- or
 *   world-writable, without the sticky bit), is refused: whoever else can write there could
 *   plant files or links;
 * - one of ours that others can merely read (made by an older version under umask 022) is
 *   tightened in place and reported to the caller, which warns once.
 */

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

const POSIX = process.platform !== 'win32';
/** 0 where the platform has no such flag (Windows has no symlink-following open to guard). */
export const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fs.constants.O_NONBLOCK ?? 0;
const O_DIRECTORY = fs.constants.O_DIRECTORY ?? 0;

/** Paths tightened from group/world-readable to owner-only, for the caller's one warning. */
export type TightenedPaths = string[];

/** The effective user, or undefined where ownership is not POSIX (Windows). */
function currentUid(): number | undefined {
  return POSIX && typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/** `lstat`, or undefined if nothing is there. */
export function lstatOrUndefined(path: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes sure `path` is a real directory owned by this user that no one else can write, creating
 * it (0700) if missing. Group/world-readable ones are tightened to 0700 and listed in `tightened`.
 * `what` names it in errors ("cache directory").
 */
export function ensurePrivateDir(path: string, what: string, tightened: TightenedPaths): void {
  if (lstatOrUndefined(path) === undefined) {
    try {
      fs.mkdirSync(path, { mode: PRIVATE_DIR_MODE });
      if (POSIX) fs.chmodSync(path, PRIVATE_DIR_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process made it first: check theirs like any existing one.
    }
  }
  checkPrivateDir(path, what, tightened);
}

/** Checks an existing directory by the rules above (`st`: its lstat, if the caller has it); see ensurePrivateDir. */
export function checkPrivateDir(path: string, what: string, tightened: TightenedPaths, st: fs.Stats = fs.lstatSync(path)): void {
  if (st.isSymbolicLink()) {
    throw new UnsafePathError(path, `the ${what} is a symbolic link`, `Replace the link with a real directory (rm ${path}), or point file.dir at the link's target.`);
  }
  if (!st.isDirectory()) {
    throw new UnsafePathError(path, `the ${what} is not a directory`, `Move ${path} aside, or point file.dir elsewhere.`);
  }
  checkOwnerAndMode(path, st, what, PRIVATE_DIR_MODE, tightened);
}

/**
 * Checks an existing file by the same rules: a regular file (not a link, FIFO or device), ours,
 * tightened to 0600 if others could read it. Returns false if nothing is there.
 */
export function checkPrivateFile(path: string, what: string, tightened: TightenedPaths): boolean {
  const st = lstatOrUndefined(path);
  if (st === undefined) return false;
  if (st.isSymbolicLink()) {
    throw new UnsafePathError(path, `the ${what} is a symbolic link`, `Delete the link (rm ${path}); cachevault never follows links inside its directory.`);
  }
  if (!st.isFile()) {
    throw new UnsafePathError(path, `the ${what} is not a regular file`, `Move ${path} aside; cachevault recreates what it needs.`);
  }
  checkOwnerAndMode(path, st, what, PRIVATE_FILE_MODE, tightened);
  return true;
}

function checkOwnerAndMode(path: string, st: fs.Stats, what: string, privateMode: number, tightened: TightenedPaths): void {
  const uid = currentUid();
  if (uid === undefined) return;
  if (st.uid !== uid) {
    throw new UnsafePathError(path, `the ${what} is owned by another user (uid ${st.uid}, this process runs as ${uid})`, `Run as the owner, or give this user its own file.dir (or chown -R ${uid} ${path} if it is yours).`);
  }
  const mode = st.mode & 0o7777;
  const sticky = (mode & 0o1000) !== 0;
  if (st.isDirectory() && (mode & 0o022) !== 0 && !sticky) {
    throw new UnsafePathError(path, `the ${what} is writable by other users (mode ${mode.toString(8)})`, `Check nothing in it was planted by someone else, then run: chmod 700 ${path}`);
  }
  // A file of ours that others could read or write is tightened, not refused: what it holds is
  // checked on every read anyway (checksums, the envelope's tag, the database's application_id).
  if ((mode & 0o077) !== 0 || (sticky && st.isDirectory())) {
    fs.chmodSync(path, privateMode);
    tightened.push(path);
  }
}

/**
 * Creates a new file exclusively (never through an existing file or link: `O_EXCL` fails on
 * both), owner-only whatever the umask. Returns its descriptor; throws EEXIST if anything is there.
 */
export function createPrivateFile(path: string): number {
  const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, PRIVATE_FILE_MODE);
  try {
    if (POSIX) fs.fchmodSync(fd, PRIVATE_FILE_MODE);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Opens an existing file for reading without following a final symlink, and without blocking
 * on a FIFO planted in its place. Returns undefined (with the reason) when the path is not a
 * regular file; throws only for I/O errors. ENOENT is reported as 'missing'.
 */
export function openRegularForRead(path: string): { fd: number; size: number } | { problem: 'missing' | 'not a regular file' } {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: 'missing' };
    // ELOOP: the final component is a symlink (O_NOFOLLOW); EISDIR/ENXIO: a directory or a socket.
    if (code === 'ELOOP' || code === 'EISDIR' || code === 'ENXIO' || code === 'EMLINK') return { problem: 'not a regular file' };
    throw err;
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    return { problem: 'not a regular file' };
  }
  return { fd, size: st.size };
}

/** Whether `path` is a real directory now (not a link to one). */
export function isRealDirectory(path: string): boolean {
  const st = lstatOrUndefined(path);
  return st !== undefined && st.isDirectory() && !st.isSymbolicLink();
}

/** Opens a directory for fsync without following a link in its place. */
export function openDirectory(path: string): number {
  return fs.openSync(path, fs.constants.O_RDONLY | O_NOFOLLOW | O_DIRECTORY);
}
