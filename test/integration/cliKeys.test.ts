import { randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliWorkspace, expectCleanError, type CliWorkspace } from './cliRunner';

interface EncryptionStatus {
  enabled: boolean;
  entries: number;
  entriesByKeyId: Record<string, number>;
  encryptedShare: number | null;
  activeKeyId: string | null;
}

describe('cachevault encryption, keys and audit (built CLI, file cache, env key)', () => {
  let ws: CliWorkspace;
  let configFile: string;
  const run = (args: string[], env: Record<string, string> = {}) => ws.run(['--config', configFile, ...args], { env });
  const json = <T>(args: string[], env: Record<string, string> = {}) => ws.json<T>(['--config', configFile, ...args], { env });

  beforeAll(async () => {
    ws = cliWorkspace({ backend: 'file' });
    configFile = join(ws.dir, 'cachevault.config.json');
    writeFileSync(configFile, JSON.stringify({ encryption: { enabled: false } }));
    for (let i = 0; i < 5; i++) await run(['set', `k${i}`, `"v${i}"`]);
  }, 60_000);
  afterAll(() => ws.remove());

  it('encryption status counts unencrypted entries', async () => {
    const { code, body } = await json<EncryptionStatus>(['encryption', 'status']);
    expect(code).toBe(0);
    expect(body).toMatchObject({ enabled: false, entries: 5, entriesByKeyId: { none: 5 }, encryptedShare: 0 });
  });

  it('status --count detects a cache written without encryption once encryption is on, and points at the upgrade', async () => {
    const { code, body, stderr } = await json<{ counted: { entries: number; unencrypted: number } }>(['status', '--count'], { CACHEVAULT_ENCRYPTION_ENABLED: 'true' });
    expect(code).toBe(0);
    expect(body.counted).toMatchObject({ entries: 5, unencrypted: 5 });
    expect(stderr).toContain('warning: 5 of 5 entries are stored unencrypted');
    expect(stderr).toContain('they read as misses');
    expect(stderr).toContain('cachevault encryption enable');
  });

  it('with encryption turned on by hand, the old unencrypted entries read as misses (allowUnencryptedReads defaults to false)', async () => {
    const { code, stderr } = await run(['get', 'k1'], { CACHEVAULT_ENCRYPTION_ENABLED: 'true' });
    expect(code).toBe(1);
    expect(stderr).toContain('is stored but was refused');
    const asJson = await json<{ found: boolean; refused: boolean }>(['get', 'k1'], { CACHEVAULT_ENCRYPTION_ENABLED: 'true' });
    expect(asJson.body).toMatchObject({ found: false, refused: true });
    const status = await json<{ unencryptedRefused: number }>(['encryption', 'status'], { CACHEVAULT_ENCRYPTION_ENABLED: 'true' });
    expect(status.body.unencryptedRefused).toBe(5);
  });

  it('encryption enable rewrites every entry encrypted, records each config change, and turns plaintext reads off again', async () => {
    const { code, body } = await json<{
      enabled: boolean;
      alreadyEnabled: boolean;
      configChanges: { key: string; from: unknown; to: unknown }[];
      unencryptedRemaining: number;
      backup: { dir: string; entries: number; plaintext: boolean; removeCommand: string; restoreCommands: string[] };
      rollbackCommands: string[];
      counts: { rewritten: number; failed: number; keyIdsAfter: Record<string, number> };
    }>(['encryption', 'enable']);
    expect(code).toBe(0);
    expect(body.alreadyEnabled).toBe(false);
    expect(body.counts).toMatchObject({ rewritten: 5, failed: 0 });
    // Entries carry the version qualified by the manifest's id.
    expect(Object.entries(body.counts.keyIdsAfter)).toEqual([[expect.stringMatching(/^k1:[0-9a-f]{16}$/), 5]]);
    expect(body.unencryptedRemaining).toBe(0);
    // `from` is absent for a key the file did not have.
    expect(body.configChanges).toEqual([
      { key: 'encryption.enabled', from: false, to: true },
      { key: 'encryption.allowUnencryptedReads', to: false },
    ]);
    // The upgrade took a backup first, named and protected as the plaintext it is, and says how to roll back and remove it.
    expect(body.backup.entries).toBe(5);
    expect(body.backup.plaintext).toBe(true);
    expect(body.backup.dir).toMatch(/\.plaintext-backup$/);
    expect(statSync(body.backup.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(body.backup.dir, 'v1', 'cache.db')).mode & 0o777).toBe(0o600);
    expect(body.backup.removeCommand).toBe(`rm -rf -- ${body.backup.dir}`);
    expect(body.backup.restoreCommands).toEqual([`cachevault migrate --from file:${body.backup.dir} --to file:${ws.env.CACHEVAULT_FILE_DIR}`]);
    // The rollback puts back the values the file had, not a hard-coded one.
    expect(body.rollbackCommands).toEqual([
      ...body.backup.restoreCommands,
      `cachevault --config ${configFile} config set encryption.enabled false`,
      `cachevault --config ${configFile} config unset encryption.allowUnencryptedReads`,
    ]);
    expect(JSON.parse(readFileSync(configFile, 'utf8'))).toEqual({ encryption: { enabled: true, allowUnencryptedReads: false } });
    const status = await json<EncryptionStatus>(['encryption', 'status']);
    expect(status.body).toMatchObject({ enabled: true, encryptedShare: 1, activeKeyId: 'k1' });
    expect((await json<{ value: unknown }>(['get', 'k3'])).body.value).toBe('v3');
  });

  it('encryption enable on an already encrypted cache is a no-op that says so: no backup, no rewrite, no config change', async () => {
    const configBefore = readFileSync(configFile, 'utf8');
    const backupsBefore = readdirSync(join(ws.dir, 'backups'));
    const { code, body } = await json<{ alreadyEnabled: boolean; backup: unknown; configChanges: unknown[]; counts?: unknown }>(['encryption', 'enable']);
    expect(code).toBe(0);
    expect(body).toMatchObject({ alreadyEnabled: true, backup: null, configChanges: [] });
    expect(body.counts).toBeUndefined();
    expect(readFileSync(configFile, 'utf8')).toBe(configBefore);
    expect(readdirSync(join(ws.dir, 'backups'))).toEqual(backupsBefore);
  });

  it('encryption rotate makes k2 active, re-encrypts the entries and can retire k1', async () => {
    const { code, body } = await json<{ previous: string; current: string; retired: string[]; sweep: { counts: { rewritten: number; keyIdsAfter: Record<string, number> } } }>(['encryption', 'rotate', '--retire']);
    expect(code).toBe(0);
    expect(body).toMatchObject({ previous: 'k1', current: 'k2', retired: ['k1'] });
    expect(body.sweep.counts).toMatchObject({ rewritten: 5 });
    expect(Object.entries(body.sweep.counts.keyIdsAfter)).toEqual([[expect.stringMatching(/^k2:[0-9a-f]{16}$/), 5]]);
    expect((await json<{ value: unknown }>(['get', 'k0'])).body.value).toBe('v0');
  });

  it('entries cannot be read with another env key', async () => {
    const other = randomBytes(32).toString('base64');
    const { code } = await run(['get', 'k0'], { CACHEVAULT_KEY: other });
    expect(code).not.toBe(0);
  });

  it('keys backup needs a passphrase and, with no terminal, says how to give one', async () => {
    const { code, stderr } = await run(['keys', 'backup', '--out', join(ws.dir, 'nope.bin')]);
    expect(code).toBe(2);
    expectCleanError(stderr);
    expect(stderr).toContain('--passphrase-env');
  });

  it('keys backup writes an owner-only file; restore with a wrong passphrase fails with exit 1', async () => {
    const out = join(ws.dir, 'keys.backup');
    const backup = await json<{ file: string; versions: string[] }>(['keys', 'backup', '--out', out, '--passphrase-env', 'BACKUP_PASS'], { BACKUP_PASS: 'a long and correct passphrase' });
    expect(backup.code).toBe(0);
    expect(backup.body).toMatchObject({ file: out, versions: ['k2'] });
    const bytes = readFileSync(out);
    expect(bytes.includes(Buffer.from(ws.env.CACHEVAULT_KEY!, 'base64'))).toBe(false);
    expect((await run(['keys', 'backup', '--out', out, '--passphrase-env', 'BACKUP_PASS'], { BACKUP_PASS: 'a long and correct passphrase' })).code).toBe(2);

    const wrong = await run(['keys', 'restore', out, '--passphrase-env', 'BACKUP_PASS'], { BACKUP_PASS: 'not the passphrase at all' });
    expect(wrong.code).toBe(1);
    expectCleanError(wrong.stderr);
    expect(wrong.stderr).toContain('passphrase is wrong');
  });

  it('keys restore brings the keys to a machine with another root key, which can then read the entries', async () => {
    const out = join(ws.dir, 'keys.backup');
    // Another machine: its own root key, manifest, revision pin and audit log (records there are
    // MACed under its root key), and a copy of the cache files.
    cpSync(ws.env.CACHEVAULT_FILE_DIR!, join(ws.dir, 'other', 'cache'), { recursive: true });
    const otherMachine = {
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      CACHEVAULT_FILE_DIR: join(ws.dir, 'other', 'cache'),
      CACHEVAULT_KEYS_MANIFEST_PATH: join(ws.dir, 'other', 'keys.manifest.json'),
      CACHEVAULT_AUDIT_PATH: join(ws.dir, 'other', 'audit.log'),
      BACKUP_PASS: 'a long and correct passphrase',
    };
    const restored = await json<{ imported: string[]; activeKeyId: string }>(['keys', 'restore', out, '--passphrase-env', 'BACKUP_PASS'], otherMachine);
    expect(restored).toMatchObject({ code: 0, body: { imported: ['k2'], activeKeyId: 'k2' } });
    expect((await json<{ value: unknown }>(['get', 'k1'], otherMachine)).body.value).toBe('v1');
  });

  it('audit verify finds a verified, anchored chain of the key events', async () => {
    const { code, body } = await json<{ ok: boolean; status: string; records: number; macVerified: number; anchoredSeq: number | null }>(['audit', 'verify']);
    expect(code).toBe(0);
    expect(body).toMatchObject({ ok: true, status: 'verified' });
    expect(body.records).toBeGreaterThanOrEqual(4);
    expect(body.macVerified).toBe(body.records);
    expect(body.anchoredSeq).toBe(body.records);
  });

  it('audit report gives encryption coverage, key ages and chain status as JSON and SARIF', async () => {
    const report = await json<{ encryption: { encryptedShare: number }; keys: { versions: { id: string; overAge: boolean }[] }; auditChain: { ok: boolean }; findings: unknown[] }>(['audit', 'report']);
    expect(report.code).toBe(0);
    expect(report.body.encryption.encryptedShare).toBe(1);
    expect(report.body.keys.versions.map((v) => v.id)).toEqual(['k1', 'k2']);
    expect(report.body.auditChain.ok).toBe(true);
    expect(report.body.findings).toEqual([]);

    const aged = await ws.run(['--config', configFile, 'audit', 'report', '--format', 'sarif'], { env: { CACHEVAULT_KEYS_MAX_KEY_AGE_DAYS: '1' } });
    const sarif = JSON.parse(aged.stdout) as { version: string; runs: { tool: { driver: { name: string } }; results: unknown[] }[] };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0]!.tool.driver.name).toBe('cachevault');
  });

  it('an edited audit log fails verify with exit 1 and shows up in the report', async () => {
    const path = ws.env.CACHEVAULT_AUDIT_PATH!;
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    lines[1] = lines[1]!.replace('"event":"', '"event":"x');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const verify = await json<{ ok: boolean; line: number }>(['audit', 'verify']);
    expect(verify.code).toBe(1);
    expect(verify.body.ok).toBe(false);
    const sarif = JSON.parse((await run(['audit', 'report', '--format', 'sarif'])).stdout) as { runs: { results: { ruleId: string; level: string }[] }[] };
    expect(sarif.runs[0]!.results).toContainEqual(expect.objectContaining({ ruleId: 'CV004', level: 'error' }));
    appendFileSync(path, '');
  });

  it('encryption disable --yes decrypts every entry and turns encryption off', async () => {
    const { code, body } = await json<{ enabled: boolean; counts: { rewritten: number; keyIdsAfter: Record<string, number> } }>(['encryption', 'disable', '--yes', '--no-backup']);
    expect(code).toBe(0);
    expect(body.counts).toMatchObject({ rewritten: 5, keyIdsAfter: { none: 5 } });
    expect((await json<EncryptionStatus>(['encryption', 'status'])).body).toMatchObject({ enabled: false, encryptedShare: 0 });
  });
});

describe('cachevault encryption enable in human form (built CLI, file cache)', () => {
  let ws: CliWorkspace;
  let configFile: string;
  const run = (args: string[]) => ws.run(['--config', configFile, ...args]);

  beforeAll(async () => {
    ws = cliWorkspace({ backend: 'file' });
    configFile = join(ws.dir, 'cachevault.config.json');
    writeFileSync(configFile, JSON.stringify({ encryption: { enabled: false } }));
    for (let i = 0; i < 3; i++) expect((await run(['set', `key-${i}`, `value ${i}`])).code).toBe(0);
  }, 60_000);
  afterAll(() => ws.remove());

  it('shows the config changes, the plaintext backup, how to remove it and how to roll back', async () => {
    const { code, stdout } = await run(['encryption', 'enable']);
    expect(code).toBe(0);
    expect(stdout).toContain('Encryption enabled');
    expect(stdout).toContain('encryption.enabled: false -> true');
    expect(stdout).toContain('encryption.allowUnencryptedReads: (not set) -> false');
    expect(stdout).toMatch(/Backup: 3 entries in \S+\.plaintext-backup/);
    expect(stdout).toContain('UNENCRYPTED copy');
    expect(stdout).toMatch(/rm -rf -- \S+\.plaintext-backup/);
    expect(stdout).toContain(`cachevault --config ${configFile} config set encryption.enabled false`);
    expect(stdout).toContain(`cachevault --config ${configFile} config unset encryption.allowUnencryptedReads`);
  });

  it('run again, it says encryption is already enabled and changes nothing', async () => {
    const { code, stdout } = await run(['encryption', 'enable']);
    expect(code).toBe(0);
    expect(stdout).toContain('Encryption is already enabled (3 entries; none unencrypted). Nothing was changed: no backup, no rewrite.');
  });
});
