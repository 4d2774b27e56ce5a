import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import { TableManager } from '../../client/dynamodb/tableManager';
import { startDynamoDbLocal, type DynamoDbLocalInstance } from '../../client/local/dynamoDbLocal';
import { ManualClock } from '../contract/backendContract';

/**
 * A real outage: this file runs its own DynamoDB Local (persisting to disk), kills it in the
 * middle of the test and starts it again on the same port with the same data.
 */
describe('HybridBackend when DynamoDB Local dies and comes back', () => {
  const CAP = 60_000;
  const RESET = 30_000;
  let dbDir: string;
  let cacheDir: string;
  let engine: DynamoDbLocalInstance | undefined;
  let client: DynamoDBClient;
  const tableName = 'cv-outage';

  beforeAll(async () => {
    dbDir = mkdtempSync(join(tmpdir(), 'cv-ddb-'));
    cacheDir = mkdtempSync(join(tmpdir(), 'cv-cache-'));
    engine = await startDynamoDbLocal({ dbPath: dbDir, startTimeoutMs: 60_000 });
    // One attempt per call, short timeouts: the outage must show up as failures, not as long retries.
    client = createDynamoDBClient({ region: 'us-east-1', endpoint: engine.endpoint, maxAttempts: 1, requestTimeoutMs: 2_000 });
    await new TableManager({ client, tableName, waitTimeoutMs: 30_000 }).create();
  });

  afterAll(async () => {
    client?.destroy();
    await engine?.stop();
    rmSync(dbDir, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  });

  test('reads keep answering from local tiers, writes degrade, and the breaker closes after the restart', async () => {
    const clock = new ManualClock();
    const hybrid = new HybridBackend({
      clock: clock.read,
      localTtlCapMs: CAP,
      staleIfErrorMs: 600_000,
      tierTimeoutMs: 5_000,
      breakerFailureThreshold: 3,
      breakerResetMs: RESET,
      tiers: [
        { name: 'memory', backend: new MemoryBackend({ clock: clock.read }) },
        { name: 'file', backend: new FileBackend({ dir: cacheDir, clock: clock.read }) },
        // The namespace generation is cached only briefly; the manual clock controls that too.
        { name: 'dynamodb', backend: new DynamoDBBackend({ tableName, client, clock: clock.read }) },
      ],
    });
    const cache = new CacheManager({ backend: hybrid, clock: clock.read, namespace: 'orders' });
    const dynamo = () => hybrid.stats().tiers!.dynamodb!;

    for (let i = 0; i < 20; i++) await cache.set(`order:${i}`, { id: i, total: i * 10 });
    expect(dynamo().extra!.breaker).toBe('closed');

    // ---- the shared tier dies ------------------------------------------------------------
    const port = engine!.port;
    await engine!.stop();
    engine = undefined;
    clock.advance(CAP + 1); // every local copy now wants a re-check against DynamoDB

    for (let i = 0; i < 20; i++) expect(await cache.get(`order:${i}`)).toEqual({ id: i, total: i * 10 });
    expect(dynamo().extra!.breaker).toBe('open');
    expect(hybrid.stats().extra!.staleServed).toBe(20);

    const during = await cache.set('order:outage', { id: 'outage' });
    expect(during.degraded).toEqual([expect.objectContaining({ tier: 'dynamodb' })]);
    expect(await cache.get('order:outage')).toEqual({ id: 'outage' });
    expect(await cache.get('never-written')).toBeUndefined();
    expect(cache.stats().degradedWrites).toBe(1);
    expect(cache.stats().errors).toBe(0);

    // ---- it comes back on the same port with the same data ---------------------------------
    engine = await startDynamoDbLocal({ port, dbPath: dbDir, startTimeoutMs: 60_000 });
    clock.advance(RESET);
    expect(dynamo().extra!.breaker).toBe('half-open');
    const probesBefore = dynamo().extra!.calls as number;
    expect(await cache.get('order:3')).toEqual({ id: 3, total: 30 });
    expect(dynamo().extra!.breaker).toBe('closed');
    expect(dynamo().extra!.calls as number).toBeGreaterThan(probesBefore);
    expect(dynamo().hits).toBeGreaterThanOrEqual(1);

    const after = await cache.set('order:after', { id: 'after' });
    expect(after.degraded).toBeUndefined();

    // The write made during the outage reached DynamoDB once it answered again.
    await hybrid.flushPending();
    expect(hybrid.stats().extra).toMatchObject({ pendingReplays: 0, replayed: 1 });
    const otherMachine = new DynamoDBBackend({ tableName, client });
    expect(await otherMachine.get('orders', 'order:outage')).toBeDefined();
    await otherMachine.close();
    await hybrid.close();
  });
});
