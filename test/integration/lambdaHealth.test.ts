/**
 * The health Lambda against DynamoDB Local (the table) with KMS and Secrets Manager fakes: a
 * healthy run publishes success, step latencies and the item count; a KMS outage, a missing
 * table or a bad configuration each make it report (not throw) an unhealthy cache.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCache } from '../../client/createCache';
import { handler, observability, type HealthResult } from '../../lambda/health';
import { awsError, FakeKms, FakeSecretsManager, lambdaContext } from '../support/awsFakes';
import { useDynamoTestTable } from '../support/dynamoTestTable';

const SECRET_ID = 'cachevault/cachevault/dev/key-manifest';
const table = useDynamoTestTable('cv-lambda-health');
const saved = { ...process.env };
let kms: FakeKms;
let secrets: FakeSecretsManager;
let fileDir: string;
let addMetric: jest.SpyInstance;
let singleMetric: jest.SpyInstance;

/** What Scheduler sends (the schedule's default input). */
const scheduledEvent = { 'detail-type': 'Scheduled Event', source: 'aws.scheduler', detail: {} };
const invoke = async () => (await handler(scheduledEvent, lambdaContext('cachevault-dev-health'))) as HealthResult;
const metric = (name: string) => addMetric.mock.calls.filter(([n]) => n === name).map(([, , value]) => value as number);

beforeAll(async () => {
  fileDir = mkdtempSync(join(tmpdir(), 'cv-health-'));
  Object.assign(process.env, {
    CACHEVAULT_BACKEND: 'dynamodb',
    CACHEVAULT_DYNAMODB_TABLE_NAME: table.tableName,
    CACHEVAULT_DYNAMODB_ENDPOINT: table.endpoint,
    CACHEVAULT_DYNAMODB_REGION: 'us-east-1',
    CACHEVAULT_KEYS_PROVIDERS: 'kms',
    CACHEVAULT_KEYS_APP: 'cachevault',
    CACHEVAULT_KEYS_ENVIRONMENT: 'dev',
    CACHEVAULT_KEYS_MANIFEST_STORE: 'secretsmanager',
    CACHEVAULT_KEYS_MANIFEST_SECRET_ID: SECRET_ID,
    CACHEVAULT_KEYS_KMS_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    CACHEVAULT_KEYS_WRAP_LOCALLY: 'false',
    CACHEVAULT_AUDIT_ENABLED: 'false',
    CACHEVAULT_FILE_DIR: fileDir,
    CACHEVAULT_LOGGING_LEVEL: 'silent',
  });
  observability.logger.setLogLevel('SILENT');
  kms = new FakeKms();
  secrets = new FakeSecretsManager(SECRET_ID);
  // The first rotation has run: k1 exists; an app has written a few entries.
  const vault = await createCache();
  for (let i = 0; i < 5; i++) await vault.cache.set(`k${i}`, i);
  await vault.close();
});
afterAll(() => {
  kms.restore();
  secrets.restore();
  process.env = saved;
  rmSync(fileDir, { recursive: true, force: true });
});
beforeEach(() => {
  addMetric = jest.spyOn(observability.metrics, 'addMetric');
  singleMetric = jest.spyOn(observability.metrics, 'singleMetric');
  kms.failures.decrypt = undefined;
});
afterEach(() => jest.restoreAllMocks());

describe('health handler (DynamoDB Local)', () => {
  it('reports a healthy cache: canary round trip, table, TTL and a sealed round trip under the active key', async () => {
    const result = await invoke();
    expect(result.healthy).toBe(true);
    expect(result.checks.map((c) => [c.name, c.ok])).toEqual([
      ['open', true],
      ['write', true],
      ['read', true],
      ['delete', true],
      ['table', true],
      ['ttl', true],
      ['keys.active', true],
      ['keys.providers', true],
      ['keys.roundTrip', true],
      ['keys.age', true],
    ]);
    expect(result.checks.find((c) => c.name === 'keys.active')?.detail).toBe('active key k1 via kms');
    expect(result.activeKeyId).toBe('k1');
    expect(typeof result.itemCount).toBe('number');
  });

  it('publishes success, the latency of each step and the item count', async () => {
    const result = await invoke();
    expect(metric('HealthCheckSucceeded')).toEqual([1]);
    expect(metric('HealthCheckLatency')).toHaveLength(1);
    expect(metric('CacheItemCount')).toEqual([result.itemCount]);
    const steps = result.checks.filter((c) => c.latencyMs !== undefined).map((c) => c.name);
    expect(singleMetric).toHaveBeenCalledTimes(steps.length);
    expect(steps).toEqual(expect.arrayContaining(['open', 'write', 'read', 'delete', 'table', 'keys.active', 'keys.roundTrip']));
  });

  it('reports the key steps failing, and success 0, when KMS cannot unwrap the data key', async () => {
    kms.failures.decrypt = awsError('AccessDeniedException', 'not authorized to perform kms:Decrypt');
    const result = await invoke();
    expect(result.healthy).toBe(false);
    const active = result.checks.find((c) => c.name === 'keys.active');
    expect(active?.ok).toBe(false);
    expect(active?.detail).toMatch(/kms|KMS|key/);
    expect(result.checks.find((c) => c.name === 'keys.providers')).toMatchObject({ ok: false, detail: expect.stringContaining('kms is down') });
    expect(result.checks.filter((c) => !c.name.startsWith('keys.')).every((c) => c.ok)).toBe(true);
    expect(metric('HealthCheckSucceeded')).toEqual([0]);
  });

  it('reports opening the cache failing when the configured table does not exist', async () => {
    process.env.CACHEVAULT_DYNAMODB_TABLE_NAME = 'cv-no-such-table';
    try {
      const result = await invoke();
      expect(result.healthy).toBe(false);
      // The backend checks its table when it starts, so the check stops at opening the cache.
      expect(result.checks).toEqual([expect.objectContaining({ name: 'open', ok: false, detail: expect.stringContaining('"cv-no-such-table" does not exist') })]);
      expect(metric('HealthCheckSucceeded')).toEqual([0]);
    } finally {
      process.env.CACHEVAULT_DYNAMODB_TABLE_NAME = table.tableName;
    }
  });

  it('reports, rather than throws, a configuration the client rejects', async () => {
    process.env.CACHEVAULT_KEYS_KMS_KEY_ID = '';
    try {
      const result = await invoke();
      expect(result.healthy).toBe(false);
      expect(result.checks).toEqual([expect.objectContaining({ name: 'open', ok: false, detail: expect.stringMatching(/kms/i) })]);
      expect(metric('HealthCheckSucceeded')).toEqual([0]);
    } finally {
      process.env.CACHEVAULT_KEYS_KMS_KEY_ID = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    }
  });
});
