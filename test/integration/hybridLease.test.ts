import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import { DynamoDBLease } from '../../client/dynamodb/dynamodbLease';
import { ManualClock } from '../contract/backendContract';
import { useDynamoTestTable } from '../support/dynamoTestTable';

const table = useDynamoTestTable('cv-lease');

/** One "machine": its own memory tier and lease client, the shared table behind. */
function machine(leaseMs = 5_000): { cache: CacheManager; lease: DynamoDBLease } {
  const backend = new HybridBackend({
    tiers: [
      { name: 'memory', backend: new MemoryBackend() },
      { name: 'dynamodb', backend: new DynamoDBBackend({ tableName: table.tableName, client: table.client, consistentRead: true }) },
    ],
  });
  const lease = new DynamoDBLease({ tableName: table.tableName, client: table.client, leaseMs, pollMinMs: 10, pollMaxMs: 100 });
  return { cache: new CacheManager({ backend, lease, namespace: 'reports' }), lease };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('DynamoDBLease', () => {
  test('N concurrent wraps of one key on two machines call fn once', async () => {
    const a = machine();
    const b = machine();
    let calls = 0;
    const compute = async () => {
      calls += 1;
      await delay(300);
      return { total: 42, computedBy: calls };
    };
    const results = await Promise.all([
      ...Array.from({ length: 10 }, () => a.cache.wrap('q1-summary', compute)),
      ...Array.from({ length: 10 }, () => b.cache.wrap('q1-summary', compute)),
    ]);
    expect(calls).toBe(1);
    expect(results.every((r) => r.total === 42 && r.computedBy === 1)).toBe(true);
    const both = [a.lease.stats(), b.lease.stats()];
    expect(both.map((s) => s.acquired).reduce((x, y) => x + y)).toBe(1);
    expect(both.map((s) => s.waitHits).reduce((x, y) => x + y)).toBe(1);
  });

  test('a released lease can be taken again at once', async () => {
    const { lease } = machine();
    const ref = { namespace: 'reports', key: 'again' };
    const first = await lease.acquire(ref);
    expect(first.acquired).toBe(true);
    expect((await lease.acquire(ref)).acquired).toBe(false);
    await first.release();
    const second = await lease.acquire(ref);
    expect(second.acquired).toBe(true);
    await second.release();
  });

  /** A lease on a manual clock whose polling sleeps advance that clock instead of waiting. */
  const leaseOn = (clock: ManualClock, leaseMs: number) =>
    new DynamoDBLease({
      tableName: table.tableName,
      client: table.client,
      leaseMs,
      clock: clock.read,
      sleep: async (ms) => clock.advance(ms),
    });

  test('a holder that never releases delays the others only until its lease lapses', async () => {
    const clock = new ManualClock();
    const lease = leaseOn(clock, 400);
    const ref = { namespace: 'reports', key: 'abandoned' };
    const held = await lease.acquire(ref);
    expect(held.acquired).toBe(true);
    const started = clock.now;
    const waited = await lease.waitFor(ref, async () => ({ found: false, value: undefined }));
    expect(waited).toBeUndefined();
    expect(lease.stats().lapsed).toBe(1);
    // It polled (on the manual clock) until the lease's end, not a moment less.
    expect(clock.now - started).toBeGreaterThanOrEqual(400);
    expect((await lease.acquire(ref)).acquired).toBe(true);
  });

  test('only the owner token releases a lease', async () => {
    const clock = new ManualClock();
    const a = leaseOn(clock, 300);
    const b = leaseOn(clock, 300);
    const ref = { namespace: 'reports', key: 'owned' };
    const stale = await a.acquire(ref);
    clock.advance(301);
    const fresh = await b.acquire(ref);
    expect(fresh.acquired).toBe(true);
    await stale.release();
    expect((await a.acquire(ref)).acquired).toBe(false);
    await fresh.release();
  });

  test('an unreachable lease table never blocks the caller: it computes locally', async () => {
    const dead = createDynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1, requestTimeoutMs: 500 });
    const lease = new DynamoDBLease({ tableName: table.tableName, client: dead });
    try {
      const held = await lease.acquire({ namespace: 'reports', key: 'x' });
      expect(held.acquired).toBe(true);
      expect(lease.stats().errors).toBe(1);
      await held.release();
    } finally {
      dead.destroy();
    }
  });
});
