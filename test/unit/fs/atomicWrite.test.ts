import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync, type AtomicWriteOptions } from '../../../client/fs/atomicWrite';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cv-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe.each([
  ['writeFileAtomicSync', (path: string, data: string | Uint8Array, o?: AtomicWriteOptions) => Promise.resolve().then(() => writeFileAtomicSync(path, data, o))],
  ['writeFileAtomic', writeFileAtomic],
] as const)('%s', (_name, write) => {
  it.each([false, 'data', 'full'] as const)('replaces the file with the new contents, owner-only, leaving no temp file (flush: %s)', async (flush) => {
    const path = join(dir, 'state.json');
    writeFileSync(path, 'old contents');
    await write(path, '{"new":true}\n', { flush });
    expect(readFileSync(path, 'utf8')).toBe('{"new":true}\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('leaves an owner-only file (0600) whatever the umask, even one that would strip the owner\'s write bit', async () => {
    const saved = process.umask(0o277);
    try {
      await write(join(dir, 'manifest.json'), '{}');
    } finally {
      process.umask(saved);
    }
    expect(statSync(join(dir, 'manifest.json')).mode & 0o777).toBe(0o600);
  });

  it('replaces a symlink at the target instead of writing through it', async () => {
    writeFileSync(join(dir, 'elsewhere'), 'theirs');
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'target'));
    await write(join(dir, 'target'), 'ours');
    expect(readFileSync(join(dir, 'elsewhere'), 'utf8')).toBe('theirs');
    expect(lstatSync(join(dir, 'target')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(dir, 'target'), 'utf8')).toBe('ours');
  });

  it('writes bytes as given', async () => {
    const path = join(dir, 'blob');
    await write(path, Uint8Array.of(0, 255, 1));
    expect([...readFileSync(path)]).toEqual([0, 255, 1]);
  });

  it('removes its temp file and passes the error on when the rename fails', async () => {
    // A non-empty directory under the target's name: renaming a file over it fails.
    const path = join(dir, 'taken');
    mkdirSync(join(path, 'inside'), { recursive: true });
    await expect(write(path, 'new')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readdirSync(path)).toEqual(['inside']);
  });
});
