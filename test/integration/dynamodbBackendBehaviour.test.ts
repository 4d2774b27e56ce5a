import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, GetItemCommand, PutItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBBackend, type DynamoDBBackendOptions } from '../../client/backends/dynamodbBackend';
import {
  DynamoDBAccessDeniedError,
  DynamoDBError,
  DynamoDBThrottledError,
  TableNotFoundError,
  UnprocessedBatchError,
} from '../../client/dynamodb/errors';
import { entryPartitionKey } from '../../client/dynamodb/itemKeys';
import { TableSchema } from '../../client/schema/tableSchema';
import type { StoredEntry } from '../../client/types';
import { ManualClock } from '../contract/backendContract';
import { injectFaults, throttleBelowRetries } from '../support/dynamoFaults';
import { createTableWithoutTtl, testDynamoClient, useDynamoTestTable } from '../support/dynamoTestTable';

const table = useDynamoTestTable('cv-behaviour');

let clock: ManualClock;
let client: DynamoDBClient;
let ns: string;
const open: DynamoDBBackend[] = [];

function backend(over: Partial<DynamoDBBackendOptions> = {}): DynamoDBBackend {
  const b = new DynamoDBBackend({ tableName: table.tableName, client, clock: clock.read, ...over });
  open.push(b);
  return b;
}

function entry(key: string, value: Uint8Array | string, over: Partial<StoredEntry> = {}): StoredEntry {
  return {
    namespace: ns,
    key,
    value: typeof value === 'string' ? Buffer.from(value) : value,
    expiresAt: clock.now + 3_600_000,
    keyId: 'k1',
    createdAt: clock.now,
    ...over,
  };
}

/** Every raw item in one partition, read straight from the table (Query pages stop at 1 MB read). */
async function partitionItems(pk: string) {
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':pk': { S: pk } },
        ConsistentRead: true,
        ProjectionExpression: 'pk, sk, kd, gen',
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

const chunkCount = async (key: string, generation = 0) =>
  (await partitionItems(entryPartitionKey(ns, generation, key))).filter((i) => i.kd?.S === 'c').length;

beforeEach(() => {
  clock = new ManualClock();
  // A fresh client per test, so fault-injection middleware never leaks between tests.
  client = testDynamoClient({ maxAttempts: 2 });
  ns = `b${randomBytes(5).toString('hex')}`;
});

afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
  client.destroy();
});

describe('large entries are split into chunks', () => {
  test('a 5 MB value round-trips through chunks well under the item limit', async () => {
    const b = backend();
    const big = randomBytes(5 * 1024 * 1024);
    await b.set(entry('big', big));
    expect(await chunkCount('big')).toBe(Math.ceil(big.byteLength / TableSchema.defaultChunkBytes));
    const got = await b.get(ns, 'big');
    expect(got && Buffer.from(got.value).equals(big)).toBe(true);
    expect(b.stats().extra?.chunkedWrites).toBe(1);
  });

  test('overwriting a chunked entry removes the replaced generation of chunks', async () => {
    const b = backend({ chunkBytes: 64 * 1024 });
    await b.set(entry('doc', randomBytes(300 * 1024)));
    const second = randomBytes(200 * 1024);
    await b.set(entry('doc', second));
    expect(await chunkCount('doc')).toBe(4);
    expect(Buffer.from((await b.get(ns, 'doc'))!.value).equals(second)).toBe(true);
    await b.set(entry('doc', 'small now'));
    expect(await chunkCount('doc')).toBe(0);
    expect(Buffer.from((await b.get(ns, 'doc'))!.value).toString()).toBe('small now');
  });

  test('deleting a chunked entry removes its chunks too', async () => {
    const b = backend({ chunkBytes: 64 * 1024 });
    await b.set(entry('doc', randomBytes(150 * 1024)));
    expect(await b.delete(ns, 'doc')).toBe(true);
    expect(await partitionItems(entryPartitionKey(ns, 0, 'doc'))).toEqual([]);
  });

  test('a reader racing an overwrite gets one whole version, never a mix of two', async () => {
    const first = randomBytes(150 * 1024);
    const second = randomBytes(150 * 1024);
    const writer = new DynamoDBBackend({ tableName: table.tableName, client: table.client, clock: clock.read, chunkBytes: 64 * 1024 });
    open.push(writer);
    await writer.set(entry('doc', first));
    const reader = backend({ chunkBytes: 64 * 1024 });
    let raced = false;
    injectFaults(client, async ({ commandName }) => {
      // The reader has the first manifest; before it reads the chunks, the writer replaces them.
      if (commandName === 'QueryCommand' && !raced) {
        raced = true;
        await writer.set(entry('doc', second));
      }
    });
    const got = await reader.get(ns, 'doc');
    expect(raced).toBe(true);
    expect(Buffer.from(got!.value).equals(second)).toBe(true);
    expect(reader.stats().corrupt).toBe(0);
  });

  test('getMany assembles chunked and inline entries alike', async () => {
    const b = backend({ chunkBytes: 32 * 1024 });
    const big = randomBytes(100 * 1024);
    await b.setMany([entry('big', big), entry('small', 's')]);
    const [gotBig, gotSmall, missing] = await b.getMany(ns, ['big', 'small', 'none']);
    expect(Buffer.from(gotBig!.value).equals(big)).toBe(true);
    expect(Buffer.from(gotSmall!.value).toString()).toBe('s');
    expect(missing).toBeUndefined();
  });

  test('gc() leaves the chunks of a write in flight alone, even for an entry created long before (a replay, a re-encryption)', async () => {
    const b = backend({ chunkBytes: 32 * 1024, gcGraceMs: 60_000 });
    const value = randomBytes(100 * 1024);
    let reachedManifest!: () => void;
    const atManifest = new Promise<void>((resolve) => (reachedManifest = resolve));
    let proceed!: () => void;
    const go = new Promise<void>((resolve) => (proceed = resolve));
    const heal = injectFaults(client, async ({ commandName, input }) => {
      const item = input.Item as Record<string, { S?: string }> | undefined;
      if (commandName === 'PutItemCommand' && item?.sk?.S === 'v') {
        reachedManifest();
        await go;
      }
    });
    try {
      const writing = b.set(entry('written-late', value, { createdAt: clock.now - 3_600_000 }));
      await atManifest;
      const report = await b.gc();
      proceed();
      await writing;
      expect(report.orphanedChunks).toBe(0);
      expect(Buffer.from((await b.get(ns, 'written-late'))!.value).equals(value)).toBe(true);
    } finally {
      proceed();
      heal();
    }
  });

  test('a crash between chunk writes and the manifest leaves a miss (or the old value), and gc() removes the orphans', async () => {
    const b = backend({ chunkBytes: 32 * 1024, gcGraceMs: 60_000 });
    const old = randomBytes(40 * 1024);
    await b.set(entry('kept', old));
    // From the manifest PutItem on, the "process" is dead: every request fails, cleanup included.
    let dead = false;
    const heal = injectFaults(client, ({ commandName, input }) => {
      const item = input.Item as Record<string, { S?: string }> | undefined;
      if (commandName === 'PutItemCommand' && item?.sk?.S === 'v') dead = true;
      if (dead) throw new Error('simulated crash');
    });
    await expect(b.set(entry('fresh', randomBytes(100 * 1024)))).rejects.toThrow();
    dead = false;
    await expect(b.set(entry('kept', randomBytes(100 * 1024)))).rejects.toThrow();
    heal();
    expect(await chunkCount('fresh')).toBe(4);
    expect(await chunkCount('kept')).toBe(2 + 4);
    expect(await b.get(ns, 'fresh')).toBeUndefined();
    expect(Buffer.from((await b.get(ns, 'kept'))!.value).equals(old)).toBe(true);

    expect((await b.gc()).orphanedChunks).toBe(0); // still inside the grace period: may be a write in flight
    clock.advance(60_000);
    const report = await b.gc();
    expect(report.orphanedChunks).toBe(8);
    expect(await chunkCount('fresh')).toBe(0);
    expect(await chunkCount('kept')).toBe(2);
    expect(Buffer.from((await b.get(ns, 'kept'))!.value).equals(old)).toBe(true);
  });
});

describe('batches retry what DynamoDB leaves unprocessed', () => {
  /** Sends only the first half of each batch and reports the rest as unprocessed, `rounds` times. */
  function halveBatches(rounds: number) {
    let left = rounds;
    return injectFaults(client, ({ commandName, input }) => {
      if (left <= 0) return;
      if (commandName === 'BatchWriteItemCommand') {
        left -= 1;
        const requests = input.RequestItems as Record<string, unknown[]>;
        const all = requests[table.tableName]!;
        const held = all.splice(Math.ceil(all.length / 2));
        return { after: (out) => void (out.UnprocessedItems = held.length > 0 ? { [table.tableName]: held } : {}) };
      }
      if (commandName === 'BatchGetItemCommand') {
        left -= 1;
        const requests = input.RequestItems as Record<string, { Keys: unknown[] }>;
        const keys = requests[table.tableName]!.Keys;
        const held = keys.splice(Math.ceil(keys.length / 2));
        return { after: (out) => void (out.UnprocessedKeys = held.length > 0 ? { [table.tableName]: { Keys: held } } : {}) };
      }
      return undefined;
    });
  }

  test('.setMany() writes every entry when batches come back partly unprocessed', async () => {
    const b = backend();
    halveBatches(6);
    const many = Array.from({ length: 120 }, (_, i) => entry(`k${i}`, `v${i}`));
    expect((await b.setMany(many)).written).toBe(120);
    expect(b.stats().extra?.batchRetries).toBeGreaterThan(0);
    const got = await backend().getMany(ns, many.map((e) => e.key));
    expect(got.filter((e) => e !== undefined)).toHaveLength(120);
  });

  test('.getMany() finds every entry when reads come back partly unprocessed', async () => {
    const b = backend();
    const many = Array.from({ length: 150 }, (_, i) => entry(`k${i}`, `v${i}`));
    await b.setMany(many);
    halveBatches(6);
    const got = await b.getMany(ns, many.map((e) => e.key));
    expect(got.map((e) => e && Buffer.from(e.value).toString())).toEqual(many.map((_, i) => `v${i}`));
  });

  test('items still unprocessed at the deadline fail the call with their count, never silently', async () => {
    const b = backend({ batchRetryDeadlineMs: 200 });
    // The service answers every batch with all of its items unprocessed.
    injectFaults(client, ({ commandName, input }) => {
      if (commandName !== 'BatchWriteItemCommand') return undefined;
      const all = [...(input.RequestItems as Record<string, unknown[]>)[table.tableName]!];
      return { after: (out) => void (out.UnprocessedItems = { [table.tableName]: all }) };
    });
    const err = await b.setMany(Array.from({ length: 20 }, (_, i) => entry(`k${i}`, 'v'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnprocessedBatchError);
    expect((err as UnprocessedBatchError).remaining).toBe(20);
    expect((err as UnprocessedBatchError).message).toContain('20 item(s) unprocessed');
  });

  test('a throttled batch is retried until it goes through', async () => {
    const b = backend();
    let throttles = 2;
    injectFaults(client, ({ commandName }) => {
      if (commandName === 'BatchWriteItemCommand' && throttles-- > 0) {
        throw Object.assign(new Error('Throughput exceeds the current capacity (injected).'), { name: 'ProvisionedThroughputExceededException' });
      }
    });
    expect((await b.setMany([entry('a', '1'), entry('b', '2')])).written).toBe(2);
    expect(await b.has(ns, 'b')).toBe(true);
  });

  test('throttling that outlasts the SDK retries is reported with the consumed capacity', async () => {
    const b = backend();
    await b.set(entry('a', 'x'));
    await b.get(ns, 'a');
    const throttle = throttleBelowRetries(client, 'GetItemCommand', 100);
    const err = await b.get(ns, 'a').catch((e: unknown) => e);
    expect(throttle.attempts()).toBe(2); // the SDK retried (maxAttempts: 2) before giving up
    expect(err).toBeInstanceOf(DynamoDBThrottledError);
    expect((err as DynamoDBThrottledError).consumedCapacity).toBeGreaterThan(0);
    expect((err as DynamoDBThrottledError).hint).toMatch(/on-demand|capacity/);
  });
});

describe('expiry, keys and reads', () => {
  test('an item past its expiry that TTL has not deleted yet reads as a miss; TTL holds epoch seconds rounded up', async () => {
    const b = backend();
    await b.set(entry('e', 'x', { expiresAt: clock.now + 1_500 }));
    const raw = await table.client.send(
      new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: entryPartitionKey(ns, 0, 'e') }, sk: { S: 'v' } }, ConsistentRead: true }),
    );
    expect(raw.Item?.expiresAt?.N).toBe(String(Math.ceil((clock.now + 1_500) / 1000)));
    expect(raw.Item?.exp?.N).toBe(String(clock.now + 1_500));
    clock.advance(1_500);
    expect(await b.get(ns, 'e')).toBeUndefined();
    expect(b.stats().expired).toBe(1);
  });

  test('long keys are hashed into the partition key and kept whole in the item', async () => {
    const b = backend();
    const key = 'κ'.repeat(3_000); // 6,000 UTF-8 bytes, over DynamoDB's 2,048-byte key limit
    await b.set(entry(key, 'v'));
    const pk = entryPartitionKey(ns, 0, key);
    expect(Buffer.byteLength(pk)).toBeLessThan(200);
    expect((await b.get(ns, key))?.key).toBe(key);
  });

  test('consistentRead: true asks DynamoDB for strongly consistent reads', async () => {
    const seen: unknown[] = [];
    injectFaults(client, ({ commandName, input }) => {
      if (commandName === 'GetItemCommand' && (input.Key as Record<string, { S?: string }>).sk?.S === 'v') seen.push(input.ConsistentRead);
    });
    await backend({ consistentRead: true }).get(ns, 'a');
    await backend().get(ns, 'a');
    expect(seen).toEqual([true, false]);
  });

  test('an entry item with a value of the wrong size reads as a corrupt miss', async () => {
    const b = backend();
    await b.set(entry('c', 'abc'));
    await table.client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: { pk: { S: entryPartitionKey(ns, 0, 'c') }, sk: { S: 'v' }, kd: { S: 'e' }, ns: { S: ns }, k: { S: 'c' }, kid: { S: 'k1' }, sz: { N: '99' }, ct: { N: '1' }, v: { B: Buffer.from('abc') } },
      }),
    );
    expect(await b.get(ns, 'c')).toBeUndefined();
    expect(b.stats().corrupt).toBe(1);
  });
});

describe('clearing a namespace', () => {
  test('.clear(namespace) is one counter bump, never a scan', async () => {
    const b = backend();
    await b.setMany([entry('a', '1'), entry('b', '2')]);
    const commands: string[] = [];
    injectFaults(client, ({ commandName }) => void commands.push(commandName));
    await b.clear(ns);
    expect(commands).toEqual(['UpdateItemCommand']);
    expect(await b.get(ns, 'a')).toBeUndefined();
  });

  test('another process sees a clear once its cached generation is older than namespaceCacheMs', async () => {
    const writer = backend({ namespaceCacheMs: 5_000 });
    const reader = backend({ namespaceCacheMs: 5_000 });
    await writer.set(entry('a', '1'));
    expect(await reader.get(ns, 'a')).toBeDefined();
    await writer.clear(ns);
    expect(await writer.get(ns, 'a')).toBeUndefined();
    expect(await reader.get(ns, 'a')).toBeDefined(); // documented staleness window
    clock.advance(5_000);
    expect(await reader.get(ns, 'a')).toBeUndefined();
  });

  test('gc() reclaims the items of cleared generations and leaves live ones', async () => {
    const b = backend();
    await b.setMany([entry('a', '1'), entry('b', '2')]);
    await b.clear(ns);
    await b.set(entry('c', '3'));
    const report = await b.gc();
    expect(report.staleGeneration).toBeGreaterThanOrEqual(2);
    expect(await partitionItems(entryPartitionKey(ns, 0, 'a'))).toEqual([]);
    expect(await b.get(ns, 'c')).toBeDefined();
  });

  test('.clear() of everything removes entries of every namespace', async () => {
    const other = `${ns}-x`;
    const b = backend();
    await b.setMany([entry('a', '1'), { ...entry('b', '2'), namespace: other }]);
    await b.clear();
    expect(await b.get(ns, 'a')).toBeUndefined();
    expect(await b.get(other, 'b')).toBeUndefined();
  });
});

describe('scans for migration', () => {
  test('parallel segments together return every entry exactly once', async () => {
    const b = backend();
    const many = Array.from({ length: 80 }, (_, i) => entry(`p${i}`, 'v'));
    await b.setMany(many);
    expect(b.capabilities.scanSegments).toBeGreaterThan(1);
    const total = 4;
    const perSegment = await Promise.all(
      Array.from({ length: total }, async (_, segment) => {
        const keys: string[] = [];
        for await (const e of b.entries({ namespace: ns, segment, totalSegments: total, pageSize: 10 })) keys.push(e.key);
        return keys;
      }),
    );
    const all = perSegment.flat();
    expect(all.sort()).toEqual(many.map((e) => e.key).sort());
  });

  test('a cursor resumes the scan in another backend instance', async () => {
    await backend().setMany(Array.from({ length: 12 }, (_, i) => entry(`r${i}`, 'v')));
    const first = await backend().scan({ namespace: ns, pageSize: 5 });
    const seen = new Set(first.entries.map((e) => e.key));
    let cursor = first.cursor;
    const resumed = backend();
    while (cursor !== undefined) {
      const page = await resumed.scan({ namespace: ns, pageSize: 5, cursor });
      for (const e of page.entries) seen.add(e.key);
      cursor = page.cursor;
    }
    expect(seen.size).toBe(12);
  });

  test('a scan cursor that was not issued by the backend is refused clearly', async () => {
    await expect(backend().scan({ cursor: 'not-a-cursor' })).rejects.toThrow(/scan cursor/);
  });
});

describe('errors say what to do', () => {
  test('a missing table is a TableNotFoundError that says how to create it', async () => {
    const b = new DynamoDBBackend({ tableName: `cv-absent-${randomBytes(4).toString('hex')}`, client, clock: clock.read });
    const err = await b.get('ns', 'k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TableNotFoundError);
    expect((err as TableNotFoundError).hint).toMatch(/cachevault table create .*TableManager\.create\(\)/);
  });

  test('AccessDenied names the IAM action and the table', async () => {
    const b = backend();
    injectFaults(client, ({ commandName }) => {
      if (commandName === 'PutItemCommand') {
        throw Object.assign(
          new Error(`User: arn:aws:iam::123456789012:user/app is not authorized to perform: dynamodb:PutItem on resource: table/${table.tableName}`),
          { name: 'AccessDeniedException' },
        );
      }
    });
    const err = await b.set(entry('a', 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamoDBAccessDeniedError);
    expect((err as DynamoDBAccessDeniedError).action).toBe('PutItem');
    expect((err as Error).message).toContain(`dynamodb:PutItem on table "${table.tableName}"`);
  });

  test('an unknown service error is rethrown with the original as cause', async () => {
    const b = backend();
    const original = Object.assign(new Error('something new'), { name: 'BrandNewException' });
    injectFaults(client, () => {
      throw original;
    });
    const err = await b.get(ns, 'a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamoDBError);
    expect((err as Error).cause).toBe(original);
  });
});

describe('.healthCheck()', () => {
  test('reports table status, TTL status and the canary round trip with latencies', async () => {
    const report = await backend().healthCheck();
    expect(report.healthy).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['write', 'read', 'delete', 'table', 'ttl']);
    expect(report.checks.find((c) => c.name === 'write')?.latencyMs).toEqual(expect.any(Number));
  });

  test('is unhealthy, saying how to fix it, when the table has TTL off', async () => {
    const tableName = `cv-nottl-${randomBytes(4).toString('hex')}`;
    await createTableWithoutTtl(table.client, tableName);
    try {
      const report = await backend({ tableName }).healthCheck();
      expect(report.healthy).toBe(false);
      expect(report.checks.find((c) => c.name === 'write')?.ok).toBe(true);
      expect(report.checks.find((c) => c.name === 'ttl')).toEqual(expect.objectContaining({ ok: false, detail: expect.stringContaining('DISABLED') }));
    } finally {
      await table.client.send(new DeleteTableCommand({ TableName: tableName }));
    }
  });

  test('is unhealthy, naming the table problem, when the table is missing', async () => {
    const b = new DynamoDBBackend({ tableName: `cv-absent-${randomBytes(4).toString('hex')}`, client, clock: clock.read });
    const report = await b.healthCheck();
    expect(report.healthy).toBe(false);
    expect(report.checks.find((c) => c.name === 'table')?.detail).toMatch(/does not exist/);
    await b.close();
  });
});

test('scan commands never reach the table for single-key operations', async () => {
  const b = backend();
  const commands: string[] = [];
  injectFaults(client, ({ commandName }) => void commands.push(commandName));
  await b.set(entry('a', '1'));
  await b.get(ns, 'a');
  await b.delete(ns, 'a');
  expect(commands).not.toContain('ScanCommand');
  expect(commands).toEqual(expect.arrayContaining(['PutItemCommand', 'GetItemCommand', 'DeleteItemCommand']));
});
