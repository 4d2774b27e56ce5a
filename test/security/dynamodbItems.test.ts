import { createHash, randomBytes } from 'node:crypto';
import { DeleteItemCommand, PutItemCommand, QueryCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { CacheVault } from '../../client/createCache';
import { namespaceGenerationPartitionKey, SortKeys } from '../../client/dynamodb/itemKeys';
import { TableSchema } from '../../client/schema/tableSchema';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { makeTempCache, type TempCache } from './support/tempCache';

/**
 * A writer of the DynamoDB table (anyone with dynamodb:PutItem on it) edits items the way it
 * likes: entry items (value bytes, expiry, sizes, names, key version, attribute types) and the
 * chunk items of large entries (bytes, order, count, generation). Each edit must end as a miss,
 * counted in stats(), never a wrong value, never an exception to the app.
 */

type Item = Record<string, AttributeValue>;
const A = TableSchema.attributes;
const PK = TableSchema.partitionKey;
const SK = TableSchema.sortKey;

const table = useDynamoTestTable('cv-sec-items');

describe('DynamoDB item tampering', () => {
  let cache: TempCache;
  const big = randomBytes(5_000).toString('base64'); // ~7 KB, incompressible: 7+ chunks of 1 KiB

  // Expiry is absolute and sealed: the clock is ours, so two writes never share a millisecond by chance.
  let now = Date.now();
  const clock = () => now;

  beforeEach(() => {
    cache = makeTempCache();
    now = Date.now();
  });
  afterEach(() => cache.remove());

  /** The cache on the shared table only, with tiny chunks so chunking is reached by small values. */
  function open(): Promise<CacheVault> {
    return cache.open({
      backend: 'dynamodb',
      dynamodb: { tableName: table.tableName, endpoint: table.endpoint, chunkBytes: 1024, consistentRead: true },
    }, { clock });
  }

  async function write(entries: Record<string, unknown>, namespace = 'default'): Promise<void> {
    const vault = await open();
    try {
      for (const [key, value] of Object.entries(entries)) await vault.cache.namespace(namespace).set(key, value);
      for (const [key, value] of Object.entries(entries)) expect(await vault.cache.namespace(namespace).get(key)).toStrictEqual(value);
    } finally {
      await vault.close();
    }
  }

  /** Reads `keys` through a freshly opened cache; returns the values and the counters. */
  async function read(keys: readonly string[], namespace = 'default') {
    const vault = await open();
    try {
      const values: unknown[] = [];
      for (const key of keys) values.push(await vault.cache.namespace(namespace).get(key));
      return { values, stats: vault.cache.stats() };
    } finally {
      await vault.close();
    }
  }

  async function entryItem(key: string, namespace = 'default'): Promise<Item> {
    const out = await table.client.send(
      new ScanCommand({
        TableName: table.tableName,
        ConsistentRead: true,
        FilterExpression: '#k = :k AND #ns = :ns AND #sk = :v',
        ExpressionAttributeNames: { '#k': A.key, '#ns': A.namespace, '#sk': SK },
        ExpressionAttributeValues: { ':k': { S: key }, ':ns': { S: namespace }, ':v': { S: 'v' } },
      }),
    );
    const items = out.Items ?? [];
    if (items.length !== 1) throw new Error(`expected one entry item for ${namespace}/${key}, found ${items.length}`);
    return items[0]!;
  }

  async function chunkItems(entry: Item): Promise<Item[]> {
    const out = await table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        ConsistentRead: true,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :c)',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': entry[PK]!, ':c': { S: `c#${entry[A.generation]!.S}#` } },
      }),
    );
    return out.Items ?? [];
  }

  const put = (item: Item) => table.client.send(new PutItemCommand({ TableName: table.tableName, Item: item }));

  // Past the envelope header (5 bytes and a 19-byte `k1:<manifest id>`): a flipped key id is a
  // miss too, but counted as another manifest's entry (foreignManifest), not as tampering.
  function flip(bytes: Uint8Array | undefined, at = 30): Uint8Array {
    const copy = Buffer.from(bytes!);
    copy[at % copy.length]! ^= 0x01;
    return copy;
  }

  it('a flipped bit in an entry item value is a counted miss', async () => {
    await write({ k: 'the value' });
    const item = await entryItem('k');
    await put({ ...item, [A.value]: { B: flip(item[A.value]!.B) } });
    const { values, stats } = await read(['k']);
    expect(values).toEqual([undefined]);
    expect(stats.decryptFailures).toBe(1);
  });

  it("another key's value bytes copied into an entry item are a counted miss", async () => {
    await write({ alice: 'alice-secret', bob: 'bob-value-of-similar-size' });
    const alice = await entryItem('alice');
    const bob = await entryItem('bob');
    await put({ ...bob, [A.value]: alice[A.value]!, [A.size]: alice[A.size]!, [A.keyId]: alice[A.keyId]! });
    const { values, stats } = await read(['bob', 'alice']);
    expect(values).toEqual([undefined, 'alice-secret']);
    expect(stats.decryptFailures).toBe(1);
  });

  it('a whole entry item copied to another key (its partition key, with or without its names) is a miss there', async () => {
    await write({ alice: 'alice-secret', bob: 'bob-value', carol: 'carol-value' });
    const alice = await entryItem('alice');
    const bob = await entryItem('bob');
    const carol = await entryItem('carol');
    await put({ ...alice, [PK]: bob[PK]! }); // names still say alice: a different key at bob's address
    await put({ ...alice, [PK]: carol[PK]!, [A.key]: { S: 'carol' } }); // names rewritten too
    const { values, stats } = await read(['bob', 'carol', 'alice']);
    expect(values).toEqual([undefined, undefined, 'alice-secret']);
    expect(stats.misses).toBe(2);
  });

  it('an entry item moved to another namespace is a miss there', async () => {
    await write({ profile: { admin: true } }, 'tenant-a');
    await write({ profile: { admin: false } }, 'tenant-b');
    const a = await entryItem('profile', 'tenant-a');
    const b = await entryItem('profile', 'tenant-b');
    await put({ ...a, [PK]: b[PK]!, [A.namespace]: { S: 'tenant-b' } });
    const { values, stats } = await read(['profile'], 'tenant-b');
    expect(values).toEqual([undefined]);
    expect(stats.decryptFailures).toBe(1);
  });

  it('an expiry extended in the item (exact expiry and TTL attribute), or removed, is a counted miss', async () => {
    await write({ later: 'short-lived', never: 'short-lived too' });
    const later = await entryItem('later');
    const never = await entryItem('never');
    const ms = Number(later[A.expiresAtMs]!.N) + 365 * 86_400_000;
    await put({ ...later, [A.expiresAtMs]: { N: String(ms) }, [TableSchema.ttlAttribute]: { N: String(Math.ceil(ms / 1000)) } });
    const { [A.expiresAtMs]: _exp, [TableSchema.ttlAttribute]: _ttl, ...forever } = never;
    await put(forever);
    const { values, stats } = await read(['later', 'never']);
    expect(values).toEqual([undefined, undefined]);
    expect(stats.decryptFailures).toBe(2);
  });

  it('a whole older entry item of the same key put back is served only until the expiry sealed in it', async () => {
    const vault = await open();
    try {
      await vault.cache.set('k', 'v1 (old)', { ttlMs: 60_000 });
    } finally {
      await vault.close();
    }
    const old = await entryItem('k');
    now += 10_000;
    const second = await open();
    try {
      await second.cache.set('k', 'v2 (current)', { ttlMs: 60_000 });
    } finally {
      await second.close();
    }
    await put(old);
    // Within v1's own expiry the replay is a valid older write (documented in docs/security.md).
    expect((await read(['k'])).values).toEqual(['v1 (old)']);
    // Past it, a miss, although v2 would still have lived ten more seconds.
    now = Number(old[A.expiresAtMs]!.N) + 1;
    expect((await read(['k'])).values).toEqual([undefined]);
  });

  it('attributes of the wrong type or absurd values in an entry item are misses, never exceptions', async () => {
    const keys = ['s-value', 'bad-size', 'huge-size', 'nan-exp', 'no-kid', 'kind', 'neg-created'];
    await write(Object.fromEntries(keys.map((k) => [k, `value of ${k}`])));
    const edits: Record<string, (item: Item) => Item> = {
      's-value': (item) => ({ ...item, [A.value]: { S: 'not bytes' } }),
      'bad-size': (item) => ({ ...item, [A.size]: { N: '-1' } }),
      'huge-size': (item) => ({ ...item, [A.size]: { N: '1e100' } }),
      'nan-exp': (item) => ({ ...item, [A.expiresAtMs]: { S: 'NaN' } }),
      'no-kid': (item) => {
        const { [A.keyId]: _kid, ...rest } = item;
        return rest;
      },
      kind: (item) => ({ ...item, [A.kind]: { S: 'c' } }),
      'neg-created': (item) => ({ ...item, [A.createdAt]: { N: '-99999999999999' }, [A.value]: { B: flip(item[A.value]!.B, 3) } }),
    };
    for (const key of keys) await put(edits[key]!(await entryItem(key)));
    const { values, stats } = await read(keys);
    expect(values).toEqual(keys.map(() => undefined));
    expect(stats.misses).toBe(keys.length);
  });

  it('a key version relabelled in an entry item gives the exact value or a miss', async () => {
    await write({ k: 'sealed under k1' });
    const item = await entryItem('k');
    await put({ ...item, [A.keyId]: { S: 'k7' } });
    const { values, stats } = await read(['k']);
    expect(['sealed under k1', undefined]).toContain(values[0]);
    expect(stats.misses).toBe(values[0] === undefined ? 1 : 0);
  });

  it('a flipped bit in one chunk is a counted miss', async () => {
    await write({ big });
    const entry = await entryItem('big');
    const chunks = await chunkItems(entry);
    expect(chunks.length).toBeGreaterThan(2);
    await put({ ...chunks[1]!, [A.value]: { B: flip(chunks[1]![A.value]!.B) } });
    const { values, stats } = await read(['big']);
    expect(values).toEqual([undefined]);
    expect(stats.decryptFailures).toBe(1);
  });

  it('two chunks swapped, a chunk deleted, or a chunk count changed are misses', async () => {
    await write({ swapped: `${big}1`, deleted: `${big}2`, fewer: `${big}3`, more: `${big}4`, absurd: `${big}5` });
    const swapped = await chunkItems(await entryItem('swapped'));
    await put({ ...swapped[0]!, [A.value]: swapped[1]![A.value]! });
    await put({ ...swapped[1]!, [A.value]: swapped[0]![A.value]! });
    const deleted = await chunkItems(await entryItem('deleted'));
    await table.client.send(new DeleteItemCommand({ TableName: table.tableName, Key: { [PK]: deleted[2]![PK]!, [SK]: deleted[2]![SK]! } }));
    const fewer = await entryItem('fewer');
    await put({ ...fewer, [A.chunks]: { N: String(Number(fewer[A.chunks]!.N) - 1) } });
    const more = await entryItem('more');
    await put({ ...more, [A.chunks]: { N: String(Number(more[A.chunks]!.N) + 1) } });
    const absurd = await entryItem('absurd');
    await put({ ...absurd, [A.chunks]: { N: '1000000000000' }, [A.size]: { N: '9007199254740991' } });
    const keys = ['swapped', 'deleted', 'fewer', 'more', 'absurd'];
    const { values, stats } = await read(keys);
    expect(values).toEqual(keys.map(() => undefined));
    expect(stats.misses).toBe(keys.length);
  });

  it("an entry pointed at another entry's chunks (generation and chunks copied under its partition key) is a counted miss", async () => {
    await write({ victim: `${big}victim`, donor: `${big}donor` });
    const victim = await entryItem('victim');
    const donor = await entryItem('donor');
    for (const chunk of await chunkItems(donor)) await put({ ...chunk, [PK]: victim[PK]! });
    await put({ ...victim, [A.generation]: donor[A.generation]!, [A.chunks]: donor[A.chunks]!, [A.size]: donor[A.size]! });
    const { values, stats } = await read(['victim', 'donor']);
    expect(values).toEqual([undefined, `${big}donor`]);
    expect(stats.decryptFailures).toBe(1);
  });

  it('the chunks of an older write of the same key, put back with its manifest attributes, are a counted miss under the current expiry', async () => {
    await write({ k: `${big}old` });
    const old = await entryItem('k');
    const oldChunks = await chunkItems(old);
    now += 1_000; // the second write expires a second later
    await write({ k: `${big}new` });
    const current = await entryItem('k');
    for (const chunk of oldChunks) await put(chunk); // the overwrite removed them; the attacker kept copies
    await put({ ...current, [A.generation]: old[A.generation]!, [A.chunks]: old[A.chunks]!, [A.size]: old[A.size]!, [A.keyId]: old[A.keyId]! });
    const { values, stats } = await read(['k']);
    expect(values).toEqual([undefined]);
    expect(stats.decryptFailures).toBe(1);
  });

  it('a namespace generation counter set to garbage gives exact values or misses, never an exception', async () => {
    const counter = { [PK]: { S: namespaceGenerationPartitionKey('tenant') }, [SK]: { S: SortKeys.namespaceGeneration } };
    const garbage: Item[] = [
      { [A.generation]: { N: '-7' } },
      { [A.generation]: { N: '1e100' } },
      { [A.generation]: { S: 'NaN' } },
      { [A.generation]: { B: Buffer.from('../x') } },
      {},
    ];
    await write(Object.fromEntries(garbage.map((_, i) => [`k${i}`, `value ${i}`])), 'tenant');
    for (const [i, attributes] of garbage.entries()) {
      await put({ ...counter, [A.kind]: { S: 'n' }, [A.namespace]: { S: 'tenant' }, ...attributes });
      const vault = await open();
      try {
        const ns = vault.cache.namespace('tenant');
        expect(['value ' + i, undefined]).toContain(await ns.get(`k${i}`));
        // Writes under a garbage generation may land where no read finds them: misses, which a
        // table writer can cause anyway. They must not fail, and must not read back wrong.
        await ns.set(`after${i}`, `after ${i}`);
        expect([`after ${i}`, undefined]).toContain(await ns.get(`after${i}`));
      } finally {
        await vault.close();
      }
    }
  });

  it('a lease forged to be held for a year delays wrap() by at most two lease periods, then the value is computed', async () => {
    const leaseMs = 300;
    const vault = await cache.open(
      {
        backend: 'dynamodb',
        dynamodb: { tableName: table.tableName, endpoint: table.endpoint, consistentRead: true },
        hybrid: { lease: true, leaseMs },
      },
      // The real clock: the lease's give-up time is measured on it.
    );
    try {
      const pk = `#lease#default#${createHash('sha256').update('contended', 'utf8').digest('hex')}`;
      const until = Date.now() + 365 * 86_400_000;
      await put({
        [PK]: { S: pk },
        [SK]: { S: 'lease' },
        [A.kind]: { S: 'l' },
        own: { S: 'attacker' },
        [A.expiresAtMs]: { N: String(until) },
        [TableSchema.ttlAttribute]: { N: String(Math.ceil(until / 1000)) },
        [A.createdAt]: { N: String(Date.now()) },
      });
      const started = Date.now();
      const value = await vault.cache.wrap('contended', () => 'computed');
      const waited = Date.now() - started;
      expect(value).toBe('computed');
      expect(waited).toBeLessThan(2 * leaseMs + 5_000); // two lease periods, plus slack for a loaded machine
    } finally {
      await vault.close();
    }
  });

  it('a tampered item read through the hybrid tiers is a miss on every read, from whichever tier holds a copy', async () => {
    const hybrid = () =>
      cache.open(
        {
          backend: 'hybrid',
          hybrid: { tiers: ['memory', 'file', 'dynamodb'] },
          dynamodb: { tableName: table.tableName, endpoint: table.endpoint, consistentRead: true },
        },
        { clock },
      );
    let vault = await hybrid();
    try {
      await vault.cache.set('shared', 'the real value');
    } finally {
      await vault.close();
    }
    const item = await entryItem('shared');
    await put({ ...item, [A.value]: { B: flip(item[A.value]!.B) } });
    // The local copy goes, as on another machine: the read falls through to the table.
    const { rmSync } = await import('node:fs');
    rmSync(cache.cacheDir, { recursive: true, force: true });
    vault = await hybrid();
    try {
      expect(await vault.cache.get('shared')).toBeUndefined();
      expect(await vault.cache.get('shared')).toBeUndefined(); // from the memory tier, if promoted
    } finally {
      await vault.close();
    }
    vault = await hybrid();
    try {
      expect(await vault.cache.get('shared')).toBeUndefined(); // from the file tier, if promoted
      expect(vault.cache.stats().decryptFailures).toBe(1);
    } finally {
      await vault.close();
    }
  });
});

