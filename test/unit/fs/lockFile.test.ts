import { existsSync, lutimesSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLockFile, withLockFileSync, type LockFileOptions } from '../../../client/fs/lockFile';

let dir: string;
let lock: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cv-lockfile-'));
  lock = join(dir, 'thing.lock');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

class HeldTooLong extends Error {}
class CouldNotLock extends Error {}
const options = (overrides: Partial<LockFileOptions> = {}): LockFileOptions => ({
  staleMs: 60_000,
  timeoutMs: 0,
  onError: (error) => new CouldNotLock(String(error)),
  onTimeout: () => new HeldTooLong('held'),
  ...overrides,
});

/** A lock file another process left, last touched `ageMs` ago. */
function leftBehind(ageMs: number): void {
  writeFileSync(lock, '');
  const when = (Date.now() - ageMs) / 1000;
  utimesSync(lock, when, when);
}

describe.each([
  ['withLockFileSync', (o: LockFileOptions, fn: () => unknown) => Promise.resolve().then(() => withLockFileSync(lock, o, fn))],
  ['withLockFile', (o: LockFileOptions, fn: () => unknown) => withLockFile(lock, o, async () => fn())],
] as const)('%s', (_name, run) => {
  it('holds the lock file while the function runs and removes it afterwards', async () => {
    let heldDuring = false;
    expect(await run(options(), () => ((heldDuring = existsSync(lock)), 'result'))).toBe('result');
    expect(heldDuring).toBe(true);
    expect(existsSync(lock)).toBe(false);
  });

  it('removes the lock file when the function throws, and passes the error on', async () => {
    await expect(run(options(), () => { throw new Error('inner failure'); })).rejects.toThrow('inner failure');
    expect(existsSync(lock)).toBe(false);
  });

  it('gives up with the caller\'s timeout error while a fresh lock is held, and leaves that lock alone', async () => {
    leftBehind(0);
    const fn = jest.fn();
    await expect(run(options({ timeoutMs: 0 }), fn)).rejects.toBeInstanceOf(HeldTooLong);
    expect(fn).not.toHaveBeenCalled();
    expect(existsSync(lock)).toBe(true);
  });

  it('takes over a lock file older than staleMs (its holder died)', async () => {
    leftBehind(120_000);
    expect(await run(options({ staleMs: 60_000 }), () => 'ran')).toBe('ran');
    expect(existsSync(lock)).toBe(false);
  });

  it('reports a lock that cannot be created for another reason with the caller\'s error', async () => {
    lock = join(dir, 'missing-dir', 'thing.lock');
    await expect(run(options(), () => 'never')).rejects.toBeInstanceOf(CouldNotLock);
  });
});

describe('lock files and the filesystem', () => {
  it('creates the lock file owner-only (0600) whatever the umask', () => {
    const saved = process.umask(0o277);
    let mode = 0;
    try {
      withLockFileSync(lock, options(), () => (mode = statSync(lock).mode & 0o777));
    } finally {
      process.umask(saved);
    }
    expect(mode).toBe(0o600);
  });

  it('judges a planted symlink by its own age, and removing it never touches its target', () => {
    const target = join(dir, 'target');
    writeFileSync(target, 'theirs');
    const old = (Date.now() - 3_600_000) / 1000;
    utimesSync(target, old, old);
    symlinkSync(target, lock);
    // The link is new, so it is a live lock, whatever the age of what it points at.
    expect(() => withLockFileSync(lock, options(), () => 'got it')).toThrow(HeldTooLong);
    lutimesSync(lock, old, old);
    expect(withLockFileSync(lock, options(), () => 'got it')).toBe('got it');
    expect(readFileSync(target, 'utf8')).toBe('theirs');
  });
});
