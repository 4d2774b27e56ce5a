import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../../client/cli/index';
import { loadConfig } from '../../client/config/loadConfig';

function io(env: NodeJS.ProcessEnv, cwd: string): CliIo & { out: string; err: string } {
  const captured = { out: '', err: '' };
  return Object.assign(captured, { stdout: (s: string) => void (captured.out += s), stderr: (s: string) => void (captured.err += s), isTTY: false, env, cwd });
}

describe('cachevault init', () => {
  let dir: string;
  // No D-Bus session here: the keyring is unreachable, as on a server or in CI.
  const env = { HOME: '', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-init-'));
    env.HOME = dir;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('file-only writes a valid config and, with no keyring, an owner-only key file it names but never prints', async () => {
    const run = io(env, dir);
    expect(await main(['--json', 'init', '--profile', 'file-only'], run)).toBe(0);
    const report = JSON.parse(run.out) as { config: string; key: { provider: string; file?: string }; next: string[] };
    expect(report.config).toBe(join(dir, 'cachevault.config.json'));
    expect(loadConfig({ cwd: dir, env: {} }).config.hybrid.tiers).toEqual(['memory', 'file']);
    if (report.key.provider === 'env') {
      const keyFile = join(dir, '.cachevault', 'env-key');
      expect(statSync(keyFile).mode & 0o077).toBe(0);
      const key = readFileSync(keyFile, 'utf8').trim();
      expect(Buffer.from(key, 'base64')).toHaveLength(32);
      expect(run.out + run.err).not.toContain(key);
      expect(report.next).toContain('export CACHEVAULT_KEY=$(cat .cachevault/env-key)');
    }
  });

  it('then the commands it prints work: set and get through the new config', async () => {
    expect(await main(['--json', 'init', '--profile', 'file-only'], io(env, dir))).toBe(0);
    const keyFile = join(dir, '.cachevault', 'env-key');
    const withKey = existsSync(keyFile) ? { ...env, CACHEVAULT_KEY: readFileSync(keyFile, 'utf8').trim() } : env;
    const set = io(withKey, dir);
    expect({ code: await main(['set', 'greeting', '"hello"'], set), err: set.err }).toEqual({ code: 0, err: expect.any(String) });
    expect(set.err).not.toMatch(/^error:/m);
    const get = io(withKey, dir);
    expect(await main(['get', 'greeting'], get)).toBe(0);
    expect(get.out).toContain('hello');
  });

  it('aws needs a KMS key and names the AWS packages to install; local points at DynamoDB Local', async () => {
    expect(await main(['init', '--profile', 'aws'], io(env, dir))).toBe(2);
    const aws = io(env, dir);
    expect(await main(['--json', 'init', '--profile', 'aws', '--kms-key-id', 'alias/app', '--app', 'shop'], aws)).toBe(0);
    const config = loadConfig({ cwd: dir, env: {} }).config;
    expect(config.keys).toMatchObject({ providers: ['kms'], kms: { keyId: 'alias/app' }, manifest: { store: 'secretsmanager' } });
    expect(config.dynamodb.tableName).toBe('shop-prod-cache');
    expect((JSON.parse(aws.out) as { next: string[] }).next[0]).toContain('@aws-sdk/client-kms');
    expect(await main(['init', '--profile', 'local'], io(env, dir))).toBe(2);
    expect(await main(['init', '--profile', 'local', '--force'], io(env, dir))).toBe(0);
    expect(loadConfig({ cwd: dir, env: {} }).config.dynamodb).toMatchObject({ endpoint: 'http://127.0.0.1:8000', createTable: true });
  });
});
