import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../../client/cli/index';
import { parseConfigValue } from '../../client/cli/configEditor';
import { parseValue } from '../../client/cli/commands/entries';
import { keyValues, table } from '../../client/cli/output';

function io(env: NodeJS.ProcessEnv, cwd: string): CliIo & { out: string; err: string } {
  const captured = { out: '', err: '' };
  return Object.assign(captured, {
    stdout: (s: string) => void (captured.out += s),
    stderr: (s: string) => void (captured.err += s),
    isTTY: false,
    env,
    cwd,
  });
}

describe('the CLI run in-process', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cachevault-cli-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('set, get and delete through a memory cache in one invocation each', async () => {
    const env = { CACHEVAULT_BACKEND: 'memory', CACHEVAULT_ENCRYPTION_ENABLED: 'false', CACHEVAULT_FILE_DIR: join(dir, 'c') };
    const set = io(env, dir);
    expect(await main(['--json', 'set', 'k', '{"a":1}', '--ttl', '5000'], set)).toBe(0);
    expect(JSON.parse(set.out)).toMatchObject({ key: 'k', namespace: 'default', written: 1, degraded: [] });
    // A memory cache does not outlive the process: the next invocation misses, and says so with exit 1.
    const get = io(env, dir);
    expect(await main(['get', 'k'], get)).toBe(1);
    expect(get.err).toContain('No live entry "k"');
  });

  it('unknown options exit 2 and print one error line', async () => {
    const run = io({}, dir);
    expect(await main(['status', '--nope'], run)).toBe(2);
    expect(run.err.split('\n')[0]).toBe("error: unknown option '--nope'");
    expect(run.out).toBe('');
  });

  it('--json errors go to stdout as a document too', async () => {
    const run = io({}, dir);
    expect(await main(['--json', '--config', join(dir, 'absent.json'), 'status'], run)).toBe(2);
    expect(JSON.parse(run.out)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
  });

  it('status where nothing is cached yet creates nothing, and still fails with exit 3 when no key provider works', async () => {
    const env = { CACHEVAULT_BACKEND: 'file', CACHEVAULT_FILE_DIR: join(dir, 'fresh', 'cache'), CACHEVAULT_KEYS_PROVIDERS: 'env', CACHEVAULT_KEYS_ENV_KEY_VARIABLE: 'CACHEVAULT_TEST_UNSET_KEY' };
    const status = io(env, dir);
    expect(await main(['--json', 'status'], status)).toBe(3);
    expect(JSON.parse(status.out)).toMatchObject({ initialized: false, healthy: false, keyProviders: [{ provider: 'env', ok: false }] });
    expect(existsSync(join(dir, 'fresh'))).toBe(false);
    const withKey = io({ ...env, CACHEVAULT_TEST_UNSET_KEY: randomBytes(32).toString('base64') }, dir);
    expect(await main(['--json', 'status'], withKey)).toBe(0);
    expect(existsSync(join(dir, 'fresh'))).toBe(false);
  });

  it('status reports the same health as health: an unusable key provider fails it with exit 3', async () => {
    const env = { CACHEVAULT_BACKEND: 'file', CACHEVAULT_FILE_DIR: join(dir, 'used', 'cache'), CACHEVAULT_KEYS_PROVIDERS: 'env', CACHEVAULT_KEYS_ENV_KEY_VARIABLE: 'CACHEVAULT_TEST_UNSET_KEY' };
    // A cache that exists (written without encryption), now opened with a key provider that cannot work.
    expect(await main(['set', 'k', '1'], io({ ...env, CACHEVAULT_ENCRYPTION_ENABLED: 'false' }, dir))).toBe(0);
    const health = io(env, dir);
    expect(await main(['--json', 'health'], health)).toBe(3);
    const status = io(env, dir);
    expect(await main(['--json', 'status'], status)).toBe(3);
    const report = JSON.parse(status.out) as { health: { healthy: boolean; checks: { name: string; ok: boolean }[] } };
    expect(report.health.healthy).toBe(false);
    expect(report.health.checks.map((c) => c.name)).toEqual((JSON.parse(health.out) as { checks: { name: string }[] }).checks.map((c) => c.name));
    expect(report.health.checks.find((c) => c.name === 'keys.active')).toMatchObject({ ok: false });
  });

  it('migrate prints an undo command that, run as printed, rolls back the run made with --state-dir and --batch-size', async () => {
    const env = { CACHEVAULT_BACKEND: 'file', CACHEVAULT_ENCRYPTION_ENABLED: 'false', CACHEVAULT_FILE_DIR: join(dir, 'from') };
    expect(await main(['set', 'k', '1'], io(env, dir))).toBe(0);
    const from = `file:${join(dir, 'from')}`;
    const to = `file:${join(dir, 'to')}?durability=full`;
    const run = io(env, dir);
    expect(await main(['migrate', '--from', from, '--to', to, '--state-dir', 'state', '--batch-size', '7'], run)).toBe(0);
    const undo = /undo with:\s+cachevault (.*)$/m.exec(run.out)?.[1];
    expect(undo).toBe(`migrate --from '${from}' --to '${to}' --state-dir '${join(dir, 'state')}' --batch-size 7 --rollback`);
    const args = [...undo!.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    const rollback = io(env, dir);
    expect(await main(['--json', ...args], rollback)).toBe(0);
    expect(JSON.parse(rollback.out)).toMatchObject({ mode: 'rollback', removed: 1 });
  });

  it('migrate from a file cache directory that does not exist exits 2 and creates neither side', async () => {
    const run = io({ CACHEVAULT_ENCRYPTION_ENABLED: 'false' }, dir);
    expect(await main(['migrate', '--from', 'file:./typo', '--to', 'file:./dest'], run)).toBe(2);
    expect(run.err.split('\n')[0]).toContain(join(dir, 'typo'));
    expect(existsSync(join(dir, 'typo'))).toBe(false);
    expect(existsSync(join(dir, 'dest'))).toBe(false);
  });

  it('encryption rotate after a rotate killed mid-sweep resumes the recorded version instead of making another', async () => {
    const env = {
      CACHEVAULT_BACKEND: 'file',
      CACHEVAULT_FILE_DIR: join(dir, 'cache'),
      CACHEVAULT_KEYS_PROVIDERS: 'env',
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      CACHEVAULT_AUDIT_ENABLED: 'false',
    };
    expect(await main(['set', 'a', '1'], io(env, dir))).toBe(0);
    expect(await main(['--json', 'encryption', 'rotate'], io(env, dir))).toBe(0);
    // A kill during the sweep leaves its checkpoint `running`.
    const checkpointFile = join(dir, 'sweeps', 'default-rotate', 'checkpoint.json');
    writeFileSync(checkpointFile, JSON.stringify({ ...JSON.parse(readFileSync(checkpointFile, 'utf8')), status: 'running' }));
    const again = io(env, dir);
    expect(await main(['--json', 'encryption', 'rotate'], again)).toBe(0);
    const resumed = JSON.parse(again.out) as { sweep: { counts: { keyIdsAfter: Record<string, number> } } };
    expect(resumed).toMatchObject({ previous: 'k1', current: 'k2', resumed: true, sweep: { resumed: true } });
    expect(Object.entries(resumed.sweep.counts.keyIdsAfter)).toEqual([[expect.stringMatching(/^k2:[0-9a-f]{16}$/), 1]]);
    // Once complete, the next rotate is a new one.
    const third = io(env, dir);
    expect(await main(['--json', 'encryption', 'rotate'], third)).toBe(0);
    expect(JSON.parse(third.out)).toMatchObject({ previous: 'k2', current: 'k3', resumed: false });
  });

  it('config set writes the file atomically and keeps other keys', async () => {
    const file = join(dir, 'cachevault.config.json');
    expect(await main(['config', 'set', 'namespace', 'orders'], io({}, dir))).toBe(0);
    expect(await main(['config', 'set', 'hybrid.tiers', '["memory","file"]'], io({}, dir))).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ namespace: 'orders', hybrid: { tiers: ['memory', 'file'] } });
  });
});

describe('value parsing', () => {
  it('set stores JSON when VALUE parses as JSON, else text', () => {
    expect(parseValue('{"a":1}', false)).toEqual({ a: 1 });
    expect(parseValue('42', false)).toBe(42);
    expect(parseValue('hello', false)).toBe('hello');
    expect(parseValue('42', true)).toBe('42');
  });

  it('config set parses values as the type of the option', () => {
    expect(parseConfigValue('file.maxBytes', '1024')).toBe(1024);
    expect(parseConfigValue('defaultTtlMs', 'null')).toBeNull();
    expect(parseConfigValue('hybrid.strict', 'true')).toBe(true);
    expect(parseConfigValue('keys.providers', 'kms, keyring')).toEqual(['kms', 'keyring']);
    expect(parseConfigValue('namespace', 'x y')).toBe('x y');
    expect(() => parseConfigValue('file.maxBytes', 'big')).toThrow('file.maxBytes takes a number');
    expect(() => parseConfigValue('memory.maxEntries', 'null')).toThrow('takes a number');
    expect(() => parseConfigValue('file.maxbytes', '1')).toThrow('Unknown config key');
  });
});

describe('text output', () => {
  it('aligns table columns under upper-case headers and shows missing cells as -', () => {
    expect(table([{ tier: 'memory', entries: 1200 }, { tier: 'dynamodb', entries: undefined }])).toBe(
      ['TIER      ENTRIES', 'memory    1,200', 'dynamodb  -'].join('\n'),
    );
    expect(table([])).toBe('(none)');
  });

  it('aligns key: value pairs', () => {
    expect(keyValues({ a: 1, longer: 'x' })).toBe('a:      1\nlonger: x');
  });
});

describe('cachevault plan', () => {
  it('prints the three scenarios and names the hot key of DynamoDB alone, touching no file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachevault-plan-'));
    try {
      const run = io({}, dir);
      expect(await main(['plan'], run)).toBe(0);
      expect(run.out).toContain('cachevault (memory + file + DynamoDB)');
      expect(run.out).toContain('DynamoDB alone');
      expect(run.out).toMatch(/DynamoDB alone: the most popular key takes \d+ RCU\/s/);
      expect(existsSync(join(dir, '.cachevault'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers --json with the workload it was given and shares of gets that sum to one', async () => {
    const run = io({}, tmpdir());
    expect(await main(['--json', 'plan', '--instances', '8', '--value-bytes', '100:1,200000:1', '--file-entries', '0'], run)).toBe(0);
    const plan = JSON.parse(run.out) as { workload: { instances: number; fileEntries: number; valueSizes: unknown[] }; scenarios: { ratios: Record<string, number> }[] };
    expect(plan.workload).toMatchObject({ instances: 8, fileEntries: 0, valueSizes: [{ bytes: 100, weight: 1 }, { bytes: 200_000, weight: 1 }] });
    for (const s of plan.scenarios) expect(Object.values(s.ratios).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  });

  it('refuses a malformed value mix as a usage error (exit 2)', async () => {
    const run = io({}, tmpdir());
    expect(await main(['plan', '--value-bytes', '100:x'], run)).toBe(2);
    expect(run.err).toContain('--value-bytes');
  });
});

describe('cachevault health where nothing is cached yet', () => {
  it('checks the key providers and creates no file or directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachevault-health-fresh-'));
    try {
      const key = randomBytes(32).toString('base64');
      const run = io({ CACHEVAULT_KEY: key, CACHEVAULT_KEYS_PROVIDERS: 'env', CACHEVAULT_FILE_DIR: join(dir, 'cache') }, dir);
      expect(await main(['--json', 'health'], run)).toBe(0);
      const report = JSON.parse(run.out) as { healthy: boolean; checks: { name: string; ok: boolean }[] };
      expect(report.healthy).toBe(true);
      expect(report.checks.map((c) => c.name)).toEqual(['cache', 'keys.provider.env']);
      expect(existsSync(join(dir, 'cache'))).toBe(false);
      expect(existsSync(join(dir, '.cachevault'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
