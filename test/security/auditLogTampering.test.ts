/**
 * Attacks on the audit log by someone who can write the log file (and the cache directory) but
 * holds neither the root key nor the key manifest's MAC key: forge, edit, cut, delete, redirect.
 * Each attempt runs the real CLI in-process over a file cache with an env root key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../../client/cli/index';

interface Verification {
  ok: boolean;
  status: string;
  records: number;
  line?: number;
  problem?: string;
  anchoredSeq: number | null;
}

describe('audit log tampering', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let auditPath: string;
  const cli = async (argv: string[]) => {
    const captured = { out: '', err: '' };
    const io: CliIo = { stdout: (s) => void (captured.out += s), stderr: (s) => void (captured.err += s), isTTY: false, env, cwd: dir };
    const code = await main(argv, io);
    return { code, ...captured };
  };
  const verify = async () => {
    const { code, out } = await cli(['--json', 'audit', 'verify']);
    return { code, body: JSON.parse(out) as Verification };
  };
  const lines = () => readFileSync(auditPath, 'utf8').trimEnd().split('\n');
  const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cv-sec-audit-'));
    auditPath = join(dir, 'audit.jsonl');
    env = {
      CACHEVAULT_BACKEND: 'file',
      CACHEVAULT_KEYS_PROVIDERS: 'env',
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      CACHEVAULT_FILE_DIR: join(dir, 'cache'),
      CACHEVAULT_KEYS_MANIFEST_PATH: join(dir, 'keys.manifest.json'),
      CACHEVAULT_AUDIT_PATH: auditPath,
      CACHEVAULT_LOGGING_LEVEL: 'silent',
    };
    // k1 is made on the first write, then rotated: three lifecycle records, the head anchored in the manifest.
    expect((await cli(['set', 'a', '"alpha"'])).code).toBe(0);
    expect((await cli(['encryption', 'rotate'])).code).toBe(0);
    const before = await verify();
    expect(before).toMatchObject({ code: 0, body: { ok: true, status: 'verified', records: 3, anchoredSeq: 3 } });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a forged, well-chained line appended to the log fails verify', async () => {
    const all = lines();
    const last = JSON.parse(all[all.length - 1]!) as Record<string, unknown>;
    const body = JSON.stringify({ v: 2, seq: all.length + 1, time: last.time, event: 'keys.imported', host: last.host, pid: last.pid, details: { versions: ['k1'] }, prev: sha256(all[all.length - 1]!), kid: last.kid });
    writeFileSync(auditPath, `${[...all, `${body.slice(0, -1)},"mac":"${randomBytes(32).toString('hex')}"}`].join('\n')}\n`);
    expect(await verify()).toMatchObject({ code: 1, body: { ok: false, status: 'broken', line: 4 } });
  });

  it('a forged line with no MAC appended to the log fails verify', async () => {
    const all = lines();
    const last = JSON.parse(all[all.length - 1]!) as Record<string, unknown>;
    const body = JSON.stringify({ v: 2, seq: all.length + 1, time: last.time, event: 'keys.imported', host: last.host, pid: last.pid, details: {}, prev: sha256(all[all.length - 1]!), kid: null });
    writeFileSync(auditPath, `${[...all, `${body.slice(0, -1)},"mac":null}`].join('\n')}\n`);
    expect(await verify()).toMatchObject({ code: 1, body: { ok: false, status: 'unauthenticated', line: 4 } });
  });

  it('cutting the first records and disguising the cut as an archive fails verify', async () => {
    const all = lines();
    const second = JSON.parse(all[1]!) as Record<string, unknown>;
    const body = JSON.stringify({ v: 2, seq: 2, time: second.time, event: 'audit.archived', host: second.host, pid: second.pid, details: { archive: 'audit.jsonl.old.archived', records: 1 }, prev: sha256(all[0]!), kid: second.kid });
    writeFileSync(auditPath, `${[`${body.slice(0, -1)},"mac":"${randomBytes(32).toString('hex')}"}`, ...all.slice(2)].join('\n')}\n`);
    expect(await verify()).toMatchObject({ code: 1, body: { ok: false, status: 'broken', line: 1 } });
  });

  it('an edited line fails verify', async () => {
    const all = lines();
    all[1] = all[1]!.replace('"keyId":"k2"', '"keyId":"k9"');
    expect(all[1]).toContain('"keyId":"k9"');
    writeFileSync(auditPath, `${all.join('\n')}\n`);
    expect(await verify()).toMatchObject({ code: 1, body: { ok: false, status: 'broken', line: 2 } });
  });

  it('cutting records off the end, back before the anchored head, fails verify', async () => {
    writeFileSync(auditPath, `${lines().slice(0, 1).join('\n')}\n`);
    expect(await verify()).toMatchObject({ code: 1, body: { ok: false, status: 'broken', problem: expect.stringMatching(/anchors record 3/) } });
  });

  it('deleting the log while the manifest anchors a head fails verify (not "no log yet")', async () => {
    rmSync(auditPath);
    const result = await verify();
    expect(result).toMatchObject({ code: 1, body: { ok: false, status: 'broken', problem: expect.stringMatching(/missing, but the key manifest anchors record 3/) } });
  });

  it('replacing the log with one from a different root key fails verify', async () => {
    const other = mkdtempSync(join(tmpdir(), 'cv-sec-audit-other-'));
    try {
      const otherEnv = { ...env, CACHEVAULT_KEY: randomBytes(32).toString('base64'), CACHEVAULT_FILE_DIR: join(other, 'cache'), CACHEVAULT_KEYS_MANIFEST_PATH: join(other, 'm.json'), CACHEVAULT_AUDIT_PATH: join(other, 'audit.jsonl') };
      const saved = env;
      env = otherEnv;
      await cli(['set', 'b', '"beta"']);
      await cli(['encryption', 'rotate']);
      await cli(['encryption', 'rotate']);
      env = saved;
      writeFileSync(auditPath, readFileSync(join(other, 'audit.jsonl')));
      expect((await verify()).body.ok).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('a symlink planted at the log path is refused, and its target is not written', async () => {
    rmSync(auditPath);
    const target = join(dir, 'victim.txt');
    writeFileSync(target, 'precious\n');
    symlinkSync(target, auditPath);
    const rotate = await cli(['encryption', 'rotate']);
    // The rotation happened; that its record could not be written is said, not swallowed.
    expect(rotate.err).toMatch(/warning: closing the cache failed: The audit log .* is a symbolic link/);
    const check = await cli(['audit', 'verify']);
    expect(check.code).toBe(1);
    expect(check.err).toMatch(/symbolic link/);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('the log is owner-only (0600)', () => {
    expect(statSync(auditPath).mode & 0o777).toBe(0o600);
  });
});
