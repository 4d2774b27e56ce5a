import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import { writeFileAtomic, writeFileAtomicSync } from '../../client/fs/atomicWrite';
import { withLockFileSync } from '../../client/fs/lockFile';
import type { Logger, StoredEntry } from '../../client/types';

/**
 * Another local user must read nothing and write nothing: every directory the file tier and the
 * fs helpers create is 0700 and every file 0600 whatever the umask; a cache directory others can
 * write is refused; one others can read (made by an older version) is tightened, with a warning.
 */
const SPILL = 1024;
const isPosix = process.platform !== 'win32';
let root: string;
let dir: string;
let savedUmask: number;
let backend: FileBackend | undefined;

function entry(key: string, size: number): StoredEntry {
  return { namespace: 'n', key, value: Buffer.alloc(size, 3), expiresAt: null, keyId: 'none', createdAt: Date.now() };
}

function recordingLogger(): Logger & { warnings: { fields: object; msg: string }[] } {
  const warnings: { fields: object; msg: string }[] = [];
  return { warnings, debug() {}, info() {}, warn: (fields, msg) => warnings.push({ fields, msg: msg ?? '' }), error() {} };
}

/** Every path under `path` (itself included) whose permission bits are not `dirMode`/`fileMode`. */
function looser(path: string, dirMode = 0o700, fileMode = 0o600): string[] {
  const bad: string[] = [];
  const visit = (p: string): void => {
    const st = fs.lstatSync(p);
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      if (mode !== dirMode) bad.push(`${p} ${mode.toString(8)}`);
      for (const name of fs.readdirSync(p)) visit(join(p, name));
    } else if (mode !== fileMode) {
      bad.push(`${p} ${mode.toString(8)}`);
    }
  };
  visit(path);
  return bad;
}

function openError(logger?: Logger): { code?: string; message: string; hint?: string } {
  try {
    backend = new FileBackend({ dir, logger });
  } catch (err) {
    return err as { code?: string; message: string; hint?: string };
  }
  throw new Error('the cache opened');
}

beforeEach(() => {
  savedUmask = process.umask();
  root = fs.mkdtempSync(join(tmpdir(), 'cv-sec-perm-'));
  dir = join(root, 'app', 'cache');
});

afterEach(async () => {
  process.umask(savedUmask);
  await backend?.close();
  backend = undefined;
  jest.restoreAllMocks();
  fs.rmSync(root, { recursive: true, force: true });
});

(isPosix ? describe : describe.skip)('local file permissions', () => {
  test.each(['022', '000', '002'])('under umask %s every directory of the file tier is 0700 and every file 0600', async (umask) => {
    process.umask(parseInt(umask, 8));
    backend = new FileBackend({ dir, spillThresholdBytes: SPILL });
    await backend.setMany([entry('small', 10), entry('big', SPILL * 4)]);
    await backend.get('n', 'big');
    expect(fs.existsSync(join(dir, 'v1', 'cache.db-wal'))).toBe(true);
    expect(fs.existsSync(join(dir, 'v1', 'cache.db-shm'))).toBe(true);
    expect(looser(dir)).toEqual([]);
    // The directories file.dir needed above it were created owner-only too.
    expect(fs.statSync(join(root, 'app')).mode & 0o777).toBe(0o700);
  });

  test.each(['022', '000'])('under umask %s files written through atomicWrite (manifest, backups, env keys) are 0600', async (umask) => {
    process.umask(parseInt(umask, 8));
    writeFileAtomicSync(join(root, 'keys.manifest.json'), '{}');
    await writeFileAtomic(join(root, 'backup.json'), '{}');
    // An existing file another version made world-readable is replaced by an owner-only one.
    fs.writeFileSync(join(root, 'env.key'), 'old', { mode: 0o644 });
    fs.chmodSync(join(root, 'env.key'), 0o644);
    writeFileAtomicSync(join(root, 'env.key'), 'new');
    for (const name of ['keys.manifest.json', 'backup.json', 'env.key']) expect(fs.statSync(join(root, name)).mode & 0o777).toBe(0o600);
  });

  test('under umask 000 a lock file is 0600 while held', () => {
    process.umask(0);
    const lock = join(root, 'x.lock');
    const mode = withLockFileSync(lock, { staleMs: 60_000, timeoutMs: 1_000, onError: (e) => e as Error, onTimeout: () => new Error('timeout') }, () => fs.statSync(lock).mode & 0o777);
    expect(mode).toBe(0o600);
  });

  test.each([
    ['world-writable cache directory', '', 0o777],
    ['group-writable cache directory', '', 0o770],
    ['world-writable layout directory', 'v1', 0o757],
    ['group-writable blobs directory', 'v1/blobs', 0o770],
  ])('a %s is refused with the chmod that fixes it', async (_what, sub, mode) => {
    await new FileBackend({ dir }).close();
    fs.chmodSync(join(dir, sub), mode);
    const err = openError();
    expect(err.code).toBe('UNSAFE_PATH');
    expect(err.message).toContain(join(dir, sub).replace(/\/$/, ''));
    expect(err.hint).toContain(`chmod 700 ${join(dir, sub).replace(/\/$/, '')}`);
  });

  test('a cache directory owned by another user is refused', async () => {
    await new FileBackend({ dir }).close();
    jest.spyOn(process, 'getuid').mockReturnValue(process.getuid!() + 4242);
    const err = openError();
    expect(err.code).toBe('UNSAFE_PATH');
    expect(err.message).toMatch(/owned by another user/);
  });

  (process.getuid?.() === 0 ? test : test.skip)('a cache.db owned by another user is refused (chown as root)', async () => {
    await new FileBackend({ dir }).close();
    fs.chownSync(join(dir, 'v1', 'cache.db'), 4242, 4242);
    const err = openError();
    expect(err.code).toBe('UNSAFE_PATH');
    expect(err.message).toContain(join(dir, 'v1', 'cache.db'));
  });

  test('a cache made readable by others (0755/0644 by an older version) is tightened on open, with one warning', async () => {
    process.umask(0o022);
    const first = new FileBackend({ dir, spillThresholdBytes: SPILL });
    await first.setMany([entry('small', 10), entry('big', SPILL * 4)]);
    await first.close();
    const visit = (p: string): void => {
      const st = fs.lstatSync(p);
      fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
      if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(join(p, name));
    };
    visit(dir);
    const logger = recordingLogger();
    backend = new FileBackend({ dir, spillThresholdBytes: SPILL, logger });
    expect(looser(dir)).toEqual([]);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]!.msg).toMatch(/readable by other users/);
    expect((await backend.get('n', 'big'))!.value.byteLength).toBe(SPILL * 4);
  });
});
