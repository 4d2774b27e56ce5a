import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliWorkspace, expectCleanError, uniqueTableName, type CliWorkspace } from './cliRunner';

interface MigrateOut {
  mode: string;
  stateDir: string;
  counts: { entries: number; skippedExpired: number; failed: number };
  resumed: boolean;
  validation: { ok: boolean; matched: number; missing: number } | null;
}

describe('cachevault migrate (built CLI, file cache <-> DynamoDB Local)', () => {
  let ws: CliWorkspace;
  const tableName = uniqueTableName('cli-migrate');
  let fileSpec: string;
  let dynamoSpec: string;
  const fileOnly = () => ({ CACHEVAULT_BACKEND: 'file' });

  beforeAll(async () => {
    ws = cliWorkspace({ tableName });
    expect((await ws.run(['table', 'create'])).code).toBe(0);
    fileSpec = `file:${ws.env.CACHEVAULT_FILE_DIR}`;
    dynamoSpec = `dynamodb:${tableName}?endpoint=${encodeURIComponent(ws.env.CACHEVAULT_DYNAMODB_ENDPOINT!)}`;
    for (let i = 0; i < 12; i++) await ws.run(['set', `k${i}`, `{"i":${i}}`], { env: fileOnly() });
    await ws.run(['set', 'expiring', '1', '--ttl', '1'], { env: fileOnly() });
  }, 120_000);
  afterAll(async () => {
    await ws.run(['table', 'delete', '--yes']);
    ws.remove();
  });

  it('--dry-run plans the copy (entries, write units) and writes nothing', async () => {
    const { code, body } = await ws.json<{ mode: string; entries: number; skippedExpired: number; estimatedWriteUnits: number; unmigratable: number }>(['migrate', '--from', fileSpec, '--to', dynamoSpec, '--dry-run']);
    expect(code).toBe(0);
    expect(body).toMatchObject({ mode: 'dry-run', entries: 12, skippedExpired: 1, unmigratable: 0 });
    expect(body.estimatedWriteUnits).toBeGreaterThanOrEqual(12);
    expect((await ws.run(['get', 'k1'], { env: { CACHEVAULT_BACKEND: 'dynamodb' } })).code).toBe(1);
  });

  it('copies file -> DynamoDB, skipping expired entries, and validates the copy', async () => {
    const { code, body } = await ws.json<MigrateOut>(['migrate', '--from', fileSpec, '--to', dynamoSpec, '--validate']);
    expect(code).toBe(0);
    expect(body.counts).toMatchObject({ entries: 12, skippedExpired: 1, failed: 0 });
    expect(body.validation).toMatchObject({ ok: true, matched: 12, missing: 0 });
    const read = await ws.json<{ value: unknown }>(['get', 'k7'], { env: { CACHEVAULT_BACKEND: 'dynamodb' } });
    expect(read).toMatchObject({ code: 0, body: { value: { i: 7 } } });
  });

  it('--resume after a finished run copies nothing twice', async () => {
    const { code, body } = await ws.json<MigrateOut>(['migrate', '--from', fileSpec, '--to', dynamoSpec, '--resume']);
    expect(code).toBe(0);
    expect(body.counts.entries).toBe(12);
  });

  it('--rollback removes what the migration created', async () => {
    const { code, body } = await ws.json<{ mode: string; removed: number; restored: number }>(['migrate', '--from', fileSpec, '--to', dynamoSpec, '--rollback']);
    expect(code).toBe(0);
    expect(body).toMatchObject({ mode: 'rollback', removed: 12, restored: 0 });
    expect((await ws.run(['get', 'k7'], { env: { CACHEVAULT_BACKEND: 'dynamodb' } })).code).toBe(1);
  });

  it('copies DynamoDB -> a new file cache', async () => {
    await ws.run(['migrate', '--from', fileSpec, '--to', dynamoSpec]);
    const target = join(ws.dir, 'copy');
    const { code, body } = await ws.json<MigrateOut>(['migrate', '--from', dynamoSpec, '--to', `file:${target}`, '--validate']);
    expect(code).toBe(0);
    expect(body.counts.entries).toBe(12);
    expect(body.validation?.ok).toBe(true);
    const read = await ws.json<{ value: unknown }>(['get', 'k3'], { env: { CACHEVAULT_BACKEND: 'file', CACHEVAULT_FILE_DIR: target } });
    expect(read.body.value).toEqual({ i: 3 });
  });

  it('a malformed spec is a usage error (exit 2) saying what is wrong', async () => {
    const { code, stderr } = await ws.run(['migrate', '--from', 'ftp:somewhere', '--to', dynamoSpec]);
    expect(code).toBe(2);
    expectCleanError(stderr);
    expect(stderr).toContain('unknown backend type');
  });

  it('--rollback with --dry-run is refused as a usage error', async () => {
    const { code, stderr } = await ws.run(['migrate', '--from', fileSpec, '--to', dynamoSpec, '--rollback', '--dry-run']);
    expect(code).toBe(2);
    expect(stderr).toContain('--rollback cannot be combined');
  });

  it('an unreachable destination fails with exit 1 and a hint, no stack', async () => {
    const { code, stderr } = await ws.run(['migrate', '--from', fileSpec, '--to', `dynamodb:${tableName}?endpoint=${encodeURIComponent('http://127.0.0.1:9')}&maxAttempts=1&requestTimeoutMs=500`]);
    expect(code).toBe(1);
    expectCleanError(stderr);
  });

  it('re-encrypts on the way when the destination config has another key, and the old key cannot read the copy', async () => {
    const otherTable = uniqueTableName('cli-migrate-rekey');
    const toConfig = join(ws.dir, 'to.json');
    writeFileSync(toConfig, JSON.stringify({ keys: { providers: ['env'], envKey: { variable: 'OTHER_KEY' }, manifest: { path: join(ws.dir, 'other.manifest.json') } } }));
    // Each side's manifest comes from its config here, not from the shared environment.
    const env = { CACHEVAULT_KEYS_MANIFEST_PATH: undefined, OTHER_KEY: randomBytes(32).toString('base64') };
    const to = `dynamodb:${otherTable}?endpoint=${encodeURIComponent(ws.env.CACHEVAULT_DYNAMODB_ENDPOINT!)}&createTable=true`;
    const migrated = await ws.json<MigrateOut>(['migrate', '--from', fileSpec, '--to', to, '--to-config', toConfig, '--validate'], { env });
    expect(migrated.code).toBe(0);
    expect(migrated.body.counts).toMatchObject({ entries: 12, failed: 0 });
    expect(migrated.body.validation?.ok).toBe(true);

    const asDestination = { ...env, CACHEVAULT_BACKEND: 'dynamodb', CACHEVAULT_DYNAMODB_TABLE_NAME: otherTable };
    const read = await ws.json<{ value: unknown }>(['--config', toConfig, 'get', 'k5'], { env: asDestination });
    expect(read).toMatchObject({ code: 0, body: { value: { i: 5 } } });
    const status = await ws.json<{ entriesByKeyId: Record<string, number>; entriesByVersion: Record<string, number> }>(['--config', toConfig, 'encryption', 'status'], { env: asDestination });
    expect(Object.keys(status.body.entriesByVersion)).toEqual(['k1']);
    expect(Object.keys(status.body.entriesByKeyId)).toEqual([expect.stringMatching(/^k1:[0-9a-f]{16}$/)]);
    // The source's key and manifest do not open the re-encrypted copy.
    expect((await ws.run(['get', 'k5'], { env: { CACHEVAULT_BACKEND: 'dynamodb', CACHEVAULT_DYNAMODB_TABLE_NAME: otherTable } })).code).toBe(1);
    await ws.run(['table', 'delete', '--yes', '--table', otherTable]);
  });
});
