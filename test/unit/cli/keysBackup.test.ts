import { cpSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main, type CliIo } from '../../../client/cli/index';
import { inspectBackup } from '../../../client/keys/keyBackup';

const FORMAT1_FIXTURE = resolve(__dirname, '../../fixtures/key-backup-format1.cvkb');

interface Run extends CliIo {
  out: string;
  err: string;
  asked: string[];
}

describe('keys backup and keys restore (CLI in-process, file cache, env key)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = async (argv: string[], extraEnv: NodeJS.ProcessEnv = {}, answers: string[] = []): Promise<{ code: number } & Run> => {
    const captured: Run = {
      out: '',
      err: '',
      asked: [],
      stdout: (s) => void (captured.out += s),
      stderr: (s) => void (captured.err += s),
      isTTY: false,
      env: { ...env, ...extraEnv },
      cwd: dir,
      ...(answers.length > 0
        ? {
            prompt: async (question: string) => {
              captured.asked.push(question);
              return answers.shift() ?? '';
            },
          }
        : {}),
    };
    const code = await main(argv, captured);
    return Object.assign(captured, { code });
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cv-cli-backup-'));
    env = {
      CACHEVAULT_BACKEND: 'file',
      CACHEVAULT_KEYS_PROVIDERS: 'env',
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      CACHEVAULT_FILE_DIR: join(dir, 'cache'),
      CACHEVAULT_KEYS_MANIFEST_PATH: join(dir, 'keys.manifest.json'),
      CACHEVAULT_AUDIT_PATH: join(dir, 'audit.log'),
      CACHEVAULT_LOGGING_LEVEL: 'silent',
    };
    expect((await run(['set', 'a', '"alpha"'])).code).toBe(0);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--recovery-code prints a code once, seals under it, and restore on another machine asks for "Recovery code"', async () => {
    const out = join(dir, 'keys.cvkb');
    const backup = await run(['keys', 'backup', '--out', out, '--recovery-code']);
    expect(backup.code).toBe(0);
    const code = /^ {4}([0-9A-Z]{4}(?:-[0-9A-Z]{4}){7})$/m.exec(backup.out)?.[1];
    expect(code).toBeDefined();
    expect(backup.out).toContain('shown once');
    expect(inspectBackup(readFileSync(out))).toEqual({ format: 2, kdf: 'recovery-code' });

    // Another machine: its own root key, manifest, audit log and (a copy of the) cache.
    cpSync(join(dir, 'cache'), join(dir, 'other', 'cache'), { recursive: true });
    const other = {
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      CACHEVAULT_FILE_DIR: join(dir, 'other', 'cache'),
      CACHEVAULT_KEYS_MANIFEST_PATH: join(dir, 'other', 'keys.manifest.json'),
      CACHEVAULT_AUDIT_PATH: join(dir, 'other', 'audit.log'),
    };
    const restore = await run(['keys', 'restore', out], other, [code!]);
    expect(restore.asked).toEqual(['Recovery code: ']);
    expect(restore.err).not.toContain('error:');
    expect(restore.code).toBe(0);
    expect(restore.out).toContain('Restored key versions k1');
    const get = await run(['--json', 'get', 'a'], other);
    expect(JSON.parse(get.out)).toMatchObject({ value: 'alpha' });
  });

  it('writes the backup 0600 even under umask 000, and never through an existing symlink', async () => {
    const out = join(dir, 'keys.cvkb');
    const previous = process.umask(0);
    try {
      expect((await run(['keys', 'backup', '--out', out, '--passphrase-env', 'P'], { P: 'a long and correct passphrase' })).code).toBe(0);
    } finally {
      process.umask(previous);
    }
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(inspectBackup(readFileSync(out))).toEqual({ format: 2, kdf: 'scrypt', scrypt: { log2N: 17, r: 8, p: 1 } });

    const target = join(dir, 'elsewhere.txt');
    writeFileSync(target, 'not yours');
    const link = join(dir, 'link.cvkb');
    symlinkSync(target, link);
    const refused = await run(['keys', 'backup', '--out', link, '--passphrase-env', 'P'], { P: 'a long and correct passphrase' });
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('already exists');
    expect(readFileSync(target, 'utf8')).toBe('not yours');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    // Refused before exporting: the audit log records only the one backup that was written.
    expect(readFileSync(join(dir, 'audit.log'), 'utf8').match(/"event":"keys\.exported"/g)).toHaveLength(1);
  });

  it('refuses a weak passphrase with the rule in the message, and writes nothing', async () => {
    const out = join(dir, 'weak.cvkb');
    const weak = await run(['keys', 'backup', '--out', out, '--passphrase-env', 'P'], { P: 'short-pass' });
    expect(weak.code).toBe(2);
    expect(weak.err).toMatch(/at least 16 characters \(this one has 10\)/);
    expect(weak.err).toContain('--recovery-code');
    expect(() => statSync(out)).toThrow();
    const repetitive = await run(['keys', 'backup', '--out', out, '--passphrase-env', 'P'], { P: 'abcabcabcabcabcabcabc' });
    expect(repetitive.code).toBe(2);
    expect(repetitive.err).toMatch(/at least 8 different characters/);
  });

  it('restores a format-1 backup only with --allow-weak-kdf, and says to replace it', async () => {
    const legacyEnv = { CACHEVAULT_KEYS_APP: 'shop', CACHEVAULT_KEYS_ENVIRONMENT: 'dev', CACHEVAULT_KEYS_MANIFEST_PATH: join(dir, 'shop.manifest.json'), P: 'correct horse battery staple' };
    const refused = await run(['keys', 'restore', FORMAT1_FIXTURE, '--passphrase-env', 'P'], legacyEnv);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('below the floor of N = 2^17');
    expect(refused.err).toContain('--allow-weak-kdf');
    const restored = await run(['--json', 'keys', 'restore', FORMAT1_FIXTURE, '--passphrase-env', 'P', '--allow-weak-kdf'], legacyEnv);
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.out)).toMatchObject({ format: 1, kdf: 'scrypt', imported: ['k1'], activeKeyId: 'k1' });
  });
});
