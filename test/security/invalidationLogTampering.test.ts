import { PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { CacheVault } from '../../client/createCache';
import { keyHash } from '../../client/backends/hybrid/invalidationLog';
import { invalidationLogPartitionKey } from '../../client/dynamodb/itemKeys';
import { TableSchema } from '../../client/schema/tableSchema';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { makeTempCache, type TempCache } from './support/tempCache';

/**
 * A writer of the DynamoDB table can also write the invalidation log of coherent hybrids
 * (docs/coherence.md): records in `#inv#<shard>`. The worst it may achieve is what any table
 * writer can: misses and re-reads. No forged record may make an instance serve a value that is
 * not the shared tier's, crash it, stop its coherence for good, or touch a namespace by a name
 * it chose.
 */

type Item = Record<string, AttributeValue>;
const A = TableSchema.attributes;
const WINDOW_MS = 50;

const table = useDynamoTestTable('cv-sec-invlog');

describe('DynamoDB invalidation log tampering', () => {
  let cache: TempCache;
  let vault: CacheVault;

  beforeEach(async () => {
    cache = makeTempCache();
    vault = await cache.open({
      backend: 'hybrid',
      hybrid: { tiers: ['memory', 'file', 'dynamodb'], coherence: { windowMs: WINDOW_MS, shards: 2 } },
      dynamodb: { tableName: table.tableName, endpoint: table.endpoint },
    });
  });
  afterEach(async () => {
    await vault.close();
    cache.remove();
  });

  async function forge(item: Item, shard = 0): Promise<void> {
    await table.client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: { [TableSchema.partitionKey]: { S: invalidationLogPartitionKey(shard) }, [TableSchema.ttlAttribute]: { N: String(Math.ceil(Date.now() / 1000) + 600) }, ...item },
      }),
    );
  }

  const sk = (suffix: string) => ({ S: `${String(Date.now()).padStart(13, '0')}#forger#${suffix}` });
  const stats = () => vault.backend.stats().extra!;
  const settle = () => new Promise((r) => setTimeout(r, 6 * WINDOW_MS));

  it('a forged record naming a key only makes the instance re-read it: the value served is still the shared one', async () => {
    await vault.cache.set('balance', 100);
    await settle();
    await forge({ [TableSchema.sortKey]: sk('a'), [A.kind]: { S: 'i' }, [A.formatVersion]: { N: '1' }, h: { B: Buffer.from(keyHash('default', 'balance'), 'hex') } });
    await settle();
    expect(stats().coherenceAppliedKeys).toBeGreaterThanOrEqual(1);
    expect(await vault.cache.get('balance')).toBe(100);
    expect(stats().coherence).toBe('ok');
  });

  it('records with wrong types, a truncated hash list, a bad sort key or a newer format are counted and cost re-reads, never an error', async () => {
    await vault.cache.set('kept', 'value');
    await settle();
    await forge({ [TableSchema.sortKey]: sk('b'), [A.kind]: { S: 'i' }, [A.formatVersion]: { N: '1' }, h: { B: Buffer.alloc(13) } });
    await forge({ [TableSchema.sortKey]: sk('c'), [A.kind]: { S: 'i' }, [A.formatVersion]: { N: '99' } });
    await forge({ [TableSchema.sortKey]: sk('d'), [A.kind]: { N: '1' }, h: { S: 'not binary' } }, 1);
    await forge({ [TableSchema.sortKey]: { S: 'zzzz-no-time' }, [A.kind]: { S: 'i' } }, 1);
    await settle();
    expect(Number(stats().coherenceUnreadable)).toBeGreaterThanOrEqual(3);
    expect(Number(stats().coherenceIgnored)).toBeGreaterThanOrEqual(1); // the one with no time
    expect(stats().coherence).toBe('ok');
    expect(await vault.cache.get('kept')).toBe('value');
  });

  it('a record whose sort key sorts after every time (no time, or far in the future) cannot keep every local copy unverified', async () => {
    await forge({ [TableSchema.sortKey]: { S: 'zzzz#forger#f' }, [A.kind]: { S: 'i' }, [A.formatVersion]: { N: '99' } });
    await forge({ [TableSchema.sortKey]: { S: `${String(Date.now() + 3_600_000).padStart(13, '0')}#forger#g` }, [A.kind]: { S: 'i' }, [A.formatVersion]: { N: '99' } }, 1);
    await settle();
    await vault.cache.set('hot', 'value');
    await settle();
    const revalidations = () => Number(stats().revalidations);
    const before = revalidations();
    for (let i = 0; i < 5; i++) {
      expect(await vault.cache.get('hot')).toBe('value');
      await new Promise((r) => setTimeout(r, WINDOW_MS));
    }
    // Served from the local tiers without a re-check: the records were not applied on every poll.
    expect(revalidations()).toBe(before);
    expect(Number(stats().coherenceIgnored)).toBeGreaterThanOrEqual(2);
  });

  it('a forged clear naming a namespace the library could not produce is ignored', async () => {
    await vault.cache.set('safe', 'here');
    await settle();
    await forge({ [TableSchema.sortKey]: sk('e'), [A.kind]: { S: 'i' }, [A.formatVersion]: { N: '1' }, cn: { SS: ['../../outside', 'a#b', 'x'.repeat(500)] } });
    await settle();
    expect(stats().coherenceAppliedClears).toBe(0);
    expect(await vault.cache.get('safe')).toBe('here');
  });

  it('a forged record shaped like an entry is never served or listed as one', async () => {
    await forge({
      [TableSchema.sortKey]: { S: 'v' },
      [A.kind]: { S: 'e' },
      [A.namespace]: { S: 'default' },
      [A.key]: { S: 'planted' },
      [A.value]: { B: Buffer.from('forged') },
      [A.keyId]: { S: 'k1' },
      [A.size]: { N: '6' },
      [A.createdAt]: { N: String(Date.now()) },
    });
    await settle();
    expect(await vault.cache.get('planted')).toBeUndefined();
    const listed: string[] = [];
    for await (const e of vault.backend.entries()) listed.push(e.key);
    expect(listed).not.toContain('planted');
    expect(stats().coherence).toBe('ok');
  });
});
