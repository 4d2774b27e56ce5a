/**
 * A real KMS and Secrets Manager outage: clients talk to moto through a loopback proxy that is
 * cut in the middle of a run of reads and writes (connections reset, then refused), and
 * restored later. The cache table stays up on DynamoDB Local. The clock is the test's, so key
 * cache limits and the provider retry delay pass without sleeping.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { createCache, type CacheVault } from '../../client/createCache';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { FaultProxy } from '../support/faultProxy';
import { createManifestSecret, createMotoKey, motoKms, motoSdkEnv, motoSecrets, testMotoEndpoint } from '../support/motoClients';

const table = useDynamoTestTable('cv-kms-outage');
const proxy = new FaultProxy(testMotoEndpoint);
const saved = { ...process.env };
let now = Date.parse('2026-12-06T12:00:00Z');
const clock = () => now;
const MINUTE = 60_000;
let dir: string;
let env: Record<string, string>;
const open: CacheVault[] = [];

async function client(overrides: Record<string, string> = {}): Promise<CacheVault> {
  const merged = { ...env, ...overrides };
  // The env key provider reads its variable from keyProviderDeps.env (else process.env).
  const vault = await createCache({ env: merged, clock, keyProviderDeps: { env: merged } });
  open.push(vault);
  return vault;
}
const auditEvents = (vault: CacheVault) => (vault.audit?.records() ?? []).map((r) => r.event);
const KMS_TARGETS = ['TrentService.GenerateDataKey', 'TrentService.Decrypt', 'TrentService.Encrypt'];

beforeAll(async () => {
  await proxy.start();
  const kms = motoKms();
  const sm = motoSecrets();
  const keyArn = await createMotoKey(kms);
  const secretArn = await createManifestSecret(sm);
  kms.destroy();
  sm.destroy();
  dir = mkdtempSync(join(tmpdir(), 'cv-kms-outage-'));
  env = {
    ...motoSdkEnv(proxy.endpoint),
    CACHEVAULT_BACKEND: 'dynamodb',
    CACHEVAULT_DYNAMODB_TABLE_NAME: table.tableName,
    CACHEVAULT_DYNAMODB_ENDPOINT: table.endpoint,
    CACHEVAULT_DYNAMODB_REGION: 'us-east-1',
    CACHEVAULT_KEYS_PROVIDERS: 'kms,env',
    CACHEVAULT_KEYS_APP: 'cachevault',
    CACHEVAULT_KEYS_ENVIRONMENT: 'dev',
    CACHEVAULT_KEYS_KMS_KEY_ID: keyArn,
    CACHEVAULT_KEYS_KMS_REGION: 'us-east-1',
    CACHEVAULT_KEYS_KMS_ENDPOINT: proxy.endpoint,
    CACHEVAULT_KEYS_MANIFEST_STORE: 'secretsmanager',
    CACHEVAULT_KEYS_MANIFEST_SECRET_ID: secretArn,
    CACHEVAULT_KEYS_WRAP_LOCALLY: 'true',
    CACHEVAULT_KEY: randomBytes(32).toString('base64'),
    CACHEVAULT_AUDIT_ENABLED: 'true',
    CACHEVAULT_FILE_DIR: join(dir, 'cache'),
    CACHEVAULT_DEFAULT_TTL_MS: String(24 * 60 * MINUTE),
    CACHEVAULT_LOGGING_LEVEL: 'silent',
  };
  // Credentials and region for the Secrets Manager client, which has no endpoint setting of its own.
  Object.assign(process.env, motoSdkEnv(proxy.endpoint));
});
afterEach(async () => {
  proxy.heal();
  await proxy.restore();
});
afterAll(async () => {
  for (const vault of open) await vault.close().catch(() => undefined);
  await proxy.stop();
  process.env = saved;
  rmSync(dir, { recursive: true, force: true });
});

describe('KMS and Secrets Manager going away under a running cache (moto behind a cut proxy)', () => {
  it('a running client keeps reading and writing under the shared key through its local wrap, counts the outage once, and uses KMS again when it returns, without a restart', async () => {
    const vault = await client({ CACHEVAULT_AUDIT_PATH: join(dir, 'audit-running.jsonl') });
    for (let i = 0; i < 20; i++) await vault.cache.set(`before-${i}`, { i });
    const activeBefore = vault.keys?.status().activeKeyId;
    const callsBefore = vault.keys!.stats().providerCalls;

    await proxy.cut();
    now += 6 * MINUTE; // past keys.kms.cacheMaxAgeMs (5 min) and manifestMaxAgeMs: keys must be fetched again
    for (let i = 0; i < 20; i++) await expect(vault.cache.get(`before-${i}`)).resolves.toEqual({ i });
    for (let i = 0; i < 20; i++) await vault.cache.set(`during-${i}`, { i });
    for (let i = 0; i < 20; i++) await expect(vault.cache.get(`during-${i}`)).resolves.toEqual({ i });
    // Sealed under the shared version (unwrapped locally), not a process-local key: other machines can read them.
    expect(vault.keys?.status().activeKeyId).toBe(activeBefore);
    expect(vault.keys?.isLocalOnly(activeBefore!)).toBe(false);
    expect(vault.keys!.stats().fallbacks).toBe(1);
    expect(auditEvents(vault).filter((e) => e === 'key-provider.fallback')).toHaveLength(1);

    expect(vault.keys?.status().providers.find((p) => p.provider === 'kms')).toMatchObject({ down: true });

    await proxy.restore();
    const seenBefore = proxy.seen.length;
    now += 6 * MINUTE; // past providerRetryAfterMs (60 s) and the key cache again
    await expect(vault.cache.get('during-0')).resolves.toEqual({ i: 0 });
    expect(vault.keys!.stats().providerCalls).toBeGreaterThan(callsBefore);
    expect(proxy.seen.slice(seenBefore)).toContain('TrentService.Decrypt');
    expect(vault.keys?.status().providers.find((p) => p.provider === 'kms')).toMatchObject({ down: false });
    expect(vault.keys!.stats().fallbacks).toBe(1);

    // Nothing lost: a fresh client with KMS back reads every entry written before and during.
    // Another machine: its own root key and its own local state (the revision pin beside its cache dir).
    const fresh = await client({
      CACHEVAULT_AUDIT_PATH: join(dir, 'audit-fresh.jsonl'),
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      CACHEVAULT_FILE_DIR: join(dir, 'machine-b', 'cache'),
    });
    for (let i = 0; i < 20; i++) {
      await expect(fresh.cache.get(`before-${i}`)).resolves.toEqual({ i });
      await expect(fresh.cache.get(`during-${i}`)).resolves.toEqual({ i });
    }
  });

  it('a client that starts while KMS is down (Secrets Manager up) reads the existing entries through the local wrap', async () => {
    const writer = await client({ CACHEVAULT_AUDIT_PATH: join(dir, 'audit-writer.jsonl') });
    for (let i = 0; i < 10; i++) await writer.cache.set(`cold-${i}`, i);
    for (const target of KMS_TARGETS) proxy.fail(target, 'refuse');

    const cold = await client({ CACHEVAULT_AUDIT_PATH: join(dir, 'audit-cold.jsonl') });
    for (let i = 0; i < 10; i++) await expect(cold.cache.get(`cold-${i}`)).resolves.toBe(i);
    expect(cold.keys!.stats().fallbacks).toBe(1);
    expect(auditEvents(cold)).toContain('key-provider.fallback');
    expect(proxy.faulted.some((t) => t.startsWith('TrentService.'))).toBe(true);
  });

  it('a client with no local wrap refuses writes while KMS is down (NO_KEY_PROVIDER), serves counted misses, puts nothing in the shared table, and reads again once KMS returns', async () => {
    const kmsOnly = { CACHEVAULT_KEYS_PROVIDERS: 'kms', CACHEVAULT_KEYS_WRAP_LOCALLY: 'false' };
    const vault = await client({ ...kmsOnly, CACHEVAULT_AUDIT_PATH: join(dir, 'audit-kms-only.jsonl') });
    await vault.cache.set('shared-before', 'ok');
    await proxy.cut();
    now += 6 * MINUTE;
    // The documented rule (docs/key-management.md): no provider can unwrap the shared key and
    // none can make a key, so the write fails with the providers tried; nothing is stored.
    await expect(vault.cache.set('during-kms-only', 'v')).rejects.toMatchObject({ code: 'NO_KEY_PROVIDER' });
    await expect(vault.cache.get('shared-before')).resolves.toBeUndefined();
    expect(vault.cache.stats().keyUnavailable).toBeGreaterThanOrEqual(1);
    const scan = await table.client.send(new ScanCommand({ TableName: table.tableName, ProjectionExpression: 'pk, sk' }));
    expect(JSON.stringify(scan.Items)).not.toContain('during-kms-only');

    await proxy.restore();
    now += 6 * MINUTE;
    await expect(vault.cache.get('shared-before')).resolves.toBe('ok');
    await vault.cache.set('after-kms-only', 'v');
    await expect(vault.cache.get('after-kms-only')).resolves.toBe('v');
  });
});
