import { cliWorkspace, expectCleanError, uniqueTableName, type CliWorkspace } from './cliRunner';

describe('cachevault get/set/delete, status and health (built CLI, DynamoDB Local + file cache)', () => {
  let ws: CliWorkspace;
  beforeAll(async () => {
    ws = cliWorkspace({ tableName: uniqueTableName('cli-entries') });
    const created = await ws.run(['table', 'create']);
    expect(created.code).toBe(0);
  });
  afterAll(async () => {
    await ws.run(['table', 'delete', '--yes']);
    ws.remove();
  });

  it('set then get returns the JSON value, across processes, with its expiry', async () => {
    const set = await ws.json<{ key: string; namespace: string; written: number; expiresAt: string; degraded: unknown[] }>(['set', 'user:1', '{"name":"Ada","roles":["admin"]}', '--ttl', '60000']);
    expect(set.code).toBe(0);
    expect(set.body).toMatchObject({ key: 'user:1', namespace: 'default', degraded: [] });
    const expiresIn = Date.parse(set.body.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(30_000);
    expect(expiresIn).toBeLessThanOrEqual(60_000);
    const got = await ws.json<{ found: boolean; value: unknown; expiresAt: string }>(['get', 'user:1']);
    expect(got.code).toBe(0);
    expect(got.body).toMatchObject({ found: true, value: { name: 'Ada', roles: ['admin'] }, expiresAt: set.body.expiresAt });
  });

  it('get prints a text value as it is and a missing key exits 1', async () => {
    await ws.run(['set', 'greeting', 'hello world']);
    const text = await ws.run(['get', 'greeting']);
    expect(text).toMatchObject({ code: 0, stdout: 'hello world\n' });
    const missing = await ws.json<{ found: boolean }>(['get', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.body.found).toBe(false);
  });

  it('--string keeps a JSON-looking value as text, and namespaces are separate', async () => {
    await ws.run(['set', '--string', '--namespace', 'other', 'n', '42']);
    expect((await ws.json<{ value: unknown }>(['get', '-n', 'other', 'n'])).body.value).toBe('42');
    expect((await ws.run(['get', 'n'])).code).toBe(1);
  });

  it('entries reach DynamoDB, so a cache without the file tier reads them', async () => {
    await ws.run(['set', 'shared', '"from-hybrid"']);
    const fromDynamo = await ws.json<{ value: unknown }>(['get', 'shared'], { env: { CACHEVAULT_BACKEND: 'dynamodb' } });
    expect(fromDynamo).toMatchObject({ code: 0, body: { value: 'from-hybrid' } });
  });

  it('delete removes the entry and reports whether it was there', async () => {
    await ws.run(['set', 'gone', '1']);
    expect((await ws.json<{ deleted: boolean }>(['delete', 'gone'])).body.deleted).toBe(true);
    expect((await ws.json<{ deleted: boolean }>(['delete', 'gone'])).body.deleted).toBe(false);
    expect((await ws.run(['get', 'gone'])).code).toBe(1);
  });

  it('a bad --ttl is a usage error (exit 2) naming the option', async () => {
    const { code, stderr } = await ws.run(['set', 'k', 'v', '--ttl', 'soon']);
    expect(code).toBe(2);
    expectCleanError(stderr);
    expect(stderr).toContain('--ttl');
  });

  it('status shows the tiers, the active key version, the table and health', async () => {
    const { code, body } = await ws.json<{
      backend: { type: string; tiers: string[] };
      encryption: { enabled: boolean; algorithm: string; activeKeyId: string; versions: { id: string; state: string }[] };
      dynamodb: { tableName: string; table: { status: string; ttl: { status: string } } };
      health: { healthy: boolean };
      tiers: { tier: string }[];
    }>(['status', '--count']);
    expect(code).toBe(0);
    expect(body.backend).toMatchObject({ type: 'hybrid', tiers: ['memory', 'file', 'dynamodb'] });
    expect(body.encryption).toMatchObject({ enabled: true, algorithm: 'aes-256-gcm', activeKeyId: 'k1' });
    expect(body.encryption.versions).toEqual([expect.objectContaining({ id: 'k1', state: 'active' })]);
    expect(body.dynamodb.table).toMatchObject({ status: 'ACTIVE', ttl: { status: 'ENABLED' } });
    expect(body.health.healthy).toBe(true);
    expect(body.tiers.map((t) => t.tier)).toEqual(['memory', 'file', 'dynamodb']);
  });

  it('status never prints key material', async () => {
    const { stdout, stderr } = await ws.run(['status', '--verbose']);
    expect(stdout + stderr).not.toContain(ws.env.CACHEVAULT_KEY);
  });

  it('health --backend dynamodb checks the table and TTL and exits 0', async () => {
    const { code, body } = await ws.json<{ backend: string; healthy: boolean; checks: { name: string; ok: boolean; detail?: string }[] }>(['health', '--backend', 'dynamodb']);
    expect(code).toBe(0);
    expect(body).toMatchObject({ backend: 'dynamodb', healthy: true });
    // Read-only: a read of an absent canary, never a write into the table (docs/security.md: `health` changes nothing).
    expect(body.checks.map((c) => c.name)).toContain('read');
    expect(body.checks.map((c) => c.name)).not.toContain('write');
    // The key checks follow the backend's: the env key is active and a canary seals and opens.
    expect(body.checks.filter((c) => c.name.startsWith('keys.'))).toEqual([
      expect.objectContaining({ name: 'keys.active', ok: true, detail: 'active key k1 via env' }),
      expect.objectContaining({ name: 'keys.providers', ok: true }),
      expect.objectContaining({ name: 'keys.roundTrip', ok: true }),
      expect.objectContaining({ name: 'keys.age', ok: true }),
    ]);
  });

  it('an unreachable DynamoDB endpoint fails with exit 1, one line and a hint, no stack', async () => {
    const { code, stderr, stdout } = await ws.run(['get', 'user:1'], {
      env: { CACHEVAULT_BACKEND: 'dynamodb', CACHEVAULT_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9', CACHEVAULT_DYNAMODB_MAX_ATTEMPTS: '1', CACHEVAULT_DYNAMODB_REQUEST_TIMEOUT_MS: '500' },
    });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expectCleanError(stderr);
    expect(stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(stderr).toMatch(/ECONNREFUSED|could not be reached|reach/i);
  });

  it('--verbose adds the stack trace to the same error', async () => {
    const { code, stderr } = await ws.run(['--verbose', 'get', 'user:1'], {
      env: { CACHEVAULT_BACKEND: 'dynamodb', CACHEVAULT_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9', CACHEVAULT_DYNAMODB_MAX_ATTEMPTS: '1', CACHEVAULT_DYNAMODB_REQUEST_TIMEOUT_MS: '500' },
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: /m);
    expect(stderr).toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });

  it('the hybrid cache degrades to its local tiers when DynamoDB is down, and says so', async () => {
    const { code, body, stderr } = await ws.json<{ degraded: { tier: string }[] }>(['set', 'offline', '1'], {
      env: { CACHEVAULT_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9', CACHEVAULT_DYNAMODB_MAX_ATTEMPTS: '1', CACHEVAULT_DYNAMODB_REQUEST_TIMEOUT_MS: '500', CACHEVAULT_HYBRID_TIER_TIMEOUT_MS: '800' },
    });
    expect(code).toBe(3);
    expect(body.degraded.map((d) => d.tier)).toEqual(['dynamodb']);
    expect(stderr).toContain('warning: The write reached only some tiers');
  });
});
