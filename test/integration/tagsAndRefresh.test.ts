import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { TAG_NAMESPACE } from '../../client/core/tagVersions';
import { DynamoDBLease } from '../../client/dynamodb/dynamodbLease';
import { ManualClock } from '../contract/backendContract';
import { useDynamoTestTable } from '../support/dynamoTestTable';

const table = useDynamoTestTable('cv-tags');
const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** One "machine": memory and file tiers of its own, the shared table behind, its own lease client. */
function machine(clock: ManualClock, namespace: string, options: { tagVersionCacheMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cv-tags-'));
  dirs.push(dir);
  const dynamodb = new DynamoDBBackend({ tableName: table.tableName, client: table.client, clock: clock.read, consistentRead: true });
  const backend = new HybridBackend({
    clock: clock.read,
    tierTimeoutMs: 10_000,
    tiers: [
      { name: 'memory', backend: new MemoryBackend({ clock: clock.read }) },
      { name: 'file', backend: new FileBackend({ dir, clock: clock.read }) },
      { name: 'dynamodb', backend: dynamodb },
    ],
  });
  const lease = new DynamoDBLease({ tableName: table.tableName, client: table.client, leaseMs: 5_000, pollMinMs: 10, pollMaxMs: 100 });
  const cache = new CacheManager({ backend, lease, clock: clock.read, namespace, ...options });
  closers.push(() => cache.close());
  return { cache, lease, dynamodb };
}

/** Waits (polling, bounded) for a condition another client's background work makes true. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('tags across instances on memory + file + DynamoDB Local', () => {
  test('an invalidation on one machine turns the other machine’s local copies into misses within tagVersionCacheMs', async () => {
    const clock = new ManualClock();
    const a = machine(clock, 'tags-local-copies', { tagVersionCacheMs: 1_000 });
    const b = machine(clock, 'tags-local-copies', { tagVersionCacheMs: 1_000 });
    await a.cache.set('user:1', 'alice', { tags: ['users'] });
    await a.cache.set('user:2', 'bob', { tags: ['users', 'admins'] });
    await a.cache.set('report', 'r', { tags: ['reports'] });
    await a.cache.set('plain', 'p');
    // b reads them all: copies now sit in b's memory and file tiers.
    expect(await b.cache.getMany(['user:1', 'user:2', 'report', 'plain'])).toEqual(['alice', 'bob', 'r', 'p']);
    await a.cache.invalidateTags(['admins']);
    clock.advance(1_000);
    expect(await b.cache.getMany(['user:1', 'user:2', 'report', 'plain'])).toEqual(['alice', undefined, 'r', 'p']);
    expect(await a.cache.getMany(['user:1', 'report'])).toEqual(['alice', 'r']); // a reads the versions again now
    await b.cache.invalidateTags(['users']);
    expect(await a.cache.getMany(['user:1', 'report', 'plain'])).toEqual(['alice', 'r', 'p']); // a trusts them for 1 s
    clock.advance(1_000);
    expect(await a.cache.getMany(['user:1', 'report', 'plain'])).toEqual([undefined, 'r', 'p']);
    // The versions are items of the shared table, not of one machine's local tiers.
    expect(await a.dynamodb.get(TAG_NAMESPACE, 'tags-local-copies\nusers')).toBeDefined();
  });

  test('after an invalidation, a machine whose local copy is stale serves the newer value another machine stored', async () => {
    const clock = new ManualClock();
    const a = machine(clock, 'tags-wrap', { tagVersionCacheMs: 0 });
    const b = machine(clock, 'tags-wrap', { tagVersionCacheMs: 0 });
    let calls = 0;
    const load = async () => `v${++calls}`;
    expect(await a.cache.wrap('k', load, { tags: ['t'] })).toBe('v1');
    expect(await b.cache.wrap('k', load, { tags: ['t'] })).toBe('v1');
    await a.cache.invalidateTags(['t']);
    expect(await b.cache.wrap('k', load, { tags: ['t'] })).toBe('v2');
    // a's memory and file tiers still hold v1 (within the hybrid's local cap): its tags send a to the table.
    expect(await a.cache.wrap('k', load, { tags: ['t'] })).toBe('v2');
    expect(await a.cache.get('k')).toBe('v2');
    expect(calls).toBe(2);
  });
});

describe('refresh-ahead across instances with the DynamoDB lease', () => {
  test('hits near expiry on two machines refresh once: the lease holder loads, the other serves and leaves it', async () => {
    const clock = new ManualClock();
    const a = machine(clock, 'refresh-lease');
    const b = machine(clock, 'refresh-lease');
    let calls = 0;
    let release!: () => void;
    let gate: Promise<void> = Promise.resolve();
    const load = async () => {
      calls += 1;
      await gate;
      return `v${calls}`;
    };
    const options = { ttlMs: 10_000, refreshAheadMs: 2_000 };
    expect(await a.cache.wrap('k', load, options)).toBe('v1');
    expect(await b.cache.wrap('k', load, options)).toBe('v1');
    clock.advance(9_000);
    gate = new Promise<void>((resolve) => (release = resolve));
    const acquiredBefore = a.lease.stats().acquired + b.lease.stats().acquired;
    expect(await a.cache.wrap('k', load, options)).toBe('v1');
    await until(() => calls === 2, "a's refresh started its loader");
    expect(await b.cache.wrap('k', load, options)).toBe('v1');
    await until(() => b.lease.stats().contended === 1, "b's refresh found the lease held");
    release();
    await Promise.all([a.cache.whenIdle(), b.cache.whenIdle()]);
    // b hits its stale local copy again: it left this copy's refresh to a, so it does not ask again.
    expect(await b.cache.wrap('k', load, options)).toBe('v1');
    await b.cache.whenIdle();
    expect(calls).toBe(2);
    expect(a.lease.stats().acquired + b.lease.stats().acquired - acquiredBefore).toBe(1);
    expect(await a.dynamodb.get('refresh-lease', 'k').then((e) => e?.expiresAt)).toBe(clock.now + 10_000);
  });
});
