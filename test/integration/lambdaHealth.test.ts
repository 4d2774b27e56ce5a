/**
 * The health Lambda against DynamoDB Local (the table) with KMS and Secrets Manager fakes: a
 * healthy run publishes success, step latencies and the item count; a KMS outage, a missing
 * table or a bad configuration each make it report (not throw) an unhealthy cache.
 */
import { createCache } from '../../client/createCache';
import { handler, observability, type HealthResult } from '../../lambda/health';
import { awsError, lambdaContext } from '../support/awsFakes';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { TEST_KMS_KEY_ARN, useLambdaEnvironment } from '../support/lambdaEnvironment';

const table = useDynamoTestTable('cv-lambda-health');
const lambdaEnv = useLambdaEnvironment(table, {
  secretId: 'cachevault/cachevault/dev/key-manifest',
  tmpPrefix: 'cv-health-',
  // The first rotation has run: k1 exists; an app has written a few entries.
  seed: async () => {
    const vault = await createCache();
    for (let i = 0; i < 5; i++) await vault.cache.set(`k${i}`, i);
    await vault.close();
  },
});
let addMetric: jest.SpyInstance;
let singleMetric: jest.SpyInstance;

/** What Scheduler sends (the schedule's default input). */
const scheduledEvent = { 'detail-type': 'Scheduled Event', source: 'aws.scheduler', detail: {} };
const invoke = async () => (await handler(scheduledEvent, lambdaContext('cachevault-dev-health'))) as HealthResult;
const metric = (name: string) => addMetric.mock.calls.filter(([n]) => n === name).map(([, , value]) => value as number);

beforeAll(() => {
  observability.logger.setLogLevel('SILENT');
});
beforeEach(() => {
  addMetric = jest.spyOn(observability.metrics, 'addMetric');
  singleMetric = jest.spyOn(observability.metrics, 'singleMetric');
  lambdaEnv.kms.failures.decrypt = undefined;
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
    lambdaEnv.kms.failures.decrypt = awsError('AccessDeniedException', 'not authorized to perform kms:Decrypt');
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
      process.env.CACHEVAULT_KEYS_KMS_KEY_ID = TEST_KMS_KEY_ARN;
    }
  });
});
