import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnsafePathError } from '../../../client/fs/errors';
import { checkPrivateDir, checkPrivateFile, createPrivateFile, ensurePrivateDir, openRegularForRead } from '../../../client/fs/privatePath';

const posix = process.platform !== 'win32';
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'cv-private-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

(posix ? describe : describe.skip)('privatePath', () => {
  test('ensurePrivateDir creates a 0700 directory even under a umask that strips the owner\'s bits', () => {
    const saved = process.umask(0o277);
    try {
      ensurePrivateDir(join(dir, 'd'), 'test directory', []);
    } finally {
      process.umask(saved);
    }
    expect(fs.statSync(join(dir, 'd')).mode & 0o7777).toBe(0o700);
  });

  test('a directory others can read is tightened and reported; one others can write is refused with the chmod', () => {
    const tightened: string[] = [];
    fs.mkdirSync(join(dir, 'readable'));
    fs.chmodSync(join(dir, 'readable'), 0o755);
    checkPrivateDir(join(dir, 'readable'), 'test directory', tightened);
    expect(tightened).toEqual([join(dir, 'readable')]);
    expect(fs.statSync(join(dir, 'readable')).mode & 0o777).toBe(0o700);
    fs.mkdirSync(join(dir, 'writable'));
    fs.chmodSync(join(dir, 'writable'), 0o775);
    expect(() => checkPrivateDir(join(dir, 'writable'), 'test directory', [])).toThrow(UnsafePathError);
    expect(() => checkPrivateDir(join(dir, 'writable'), 'test directory', [])).toThrow(expect.objectContaining({ hint: expect.stringContaining(`chmod 700 ${join(dir, 'writable')}`) }));
  });

  test('a sticky world-writable directory of ours is not refused, only tightened', () => {
    const tightened: string[] = [];
    fs.mkdirSync(join(dir, 'sticky'));
    fs.chmodSync(join(dir, 'sticky'), 0o1777);
    checkPrivateDir(join(dir, 'sticky'), 'test directory', tightened);
    expect(fs.statSync(join(dir, 'sticky')).mode & 0o7777).toBe(0o700);
  });

  test('links are refused for directories and files, never followed', () => {
    fs.mkdirSync(join(dir, 'real'));
    fs.symlinkSync(join(dir, 'real'), join(dir, 'link'));
    expect(() => checkPrivateDir(join(dir, 'link'), 'test directory', [])).toThrow(/symbolic link/);
    expect(() => ensurePrivateDir(join(dir, 'link'), 'test directory', [])).toThrow(UnsafePathError);
    fs.writeFileSync(join(dir, 'file'), 'x');
    fs.symlinkSync(join(dir, 'file'), join(dir, 'file-link'));
    expect(() => checkPrivateFile(join(dir, 'file-link'), 'test file', [])).toThrow(/symbolic link/);
    expect(checkPrivateFile(join(dir, 'absent'), 'test file', [])).toBe(false);
  });

  test('createPrivateFile never opens an existing file or link, and makes a 0600 file whatever the umask', () => {
    fs.writeFileSync(join(dir, 'target'), 'theirs');
    fs.symlinkSync(join(dir, 'target'), join(dir, 'link'));
    expect(() => createPrivateFile(join(dir, 'link'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    const saved = process.umask(0o277);
    try {
      fs.closeSync(createPrivateFile(join(dir, 'new')));
    } finally {
      process.umask(saved);
    }
    expect(fs.statSync(join(dir, 'new')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(join(dir, 'target'), 'utf8')).toBe('theirs');
  });

  test('openRegularForRead reports links, directories and FIFOs instead of following or blocking on them', () => {
    fs.writeFileSync(join(dir, 'file'), 'abc');
    fs.symlinkSync(join(dir, 'file'), join(dir, 'link'));
    fs.mkdirSync(join(dir, 'sub'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const opened = openRegularForRead(join(dir, 'file'));
    expect(opened).toMatchObject({ size: 3 });
    if ('fd' in opened) fs.closeSync(opened.fd);
    expect(openRegularForRead(join(dir, 'link'))).toEqual({ problem: 'not a regular file' });
    expect(openRegularForRead(join(dir, 'sub'))).toEqual({ problem: 'not a regular file' });
    expect(openRegularForRead(join(dir, 'fifo'))).toEqual({ problem: 'not a regular file' });
    expect(openRegularForRead(join(dir, 'absent'))).toEqual({ problem: 'missing' });
  });
});
