import { randomBytes } from 'node:crypto';
import { DeleteItemCommand, PutItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import type { CacheVault } from '../../client/createCache';
import { entryPartitionKey } from '../../client/dynamodb/itemKeys';
import { TableSchema } from '../../client/schema/tableSchema';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { makeTempCache, type TempCache } from './support/tempCache';

/**
 * The promise of docs/security.md for a writer of the DynamoDB table, on arbitrary edits: any
 * attribute of any entry or chunk item set to any type and value, copied from another item,
 * removed, its bytes flipped; items deleted, or moved under another key's partition. A cache
 * reading afterwards returns for each key exactly the value written under it, or a miss counted
 * in stats(); it never throws, and writes after the damage still work (read back exactly, or
 * missed).
 */

type Item = Record<string, AttributeValue>;
const A = TableSchema.attributes;
const PK = TableSchema.partitionKey;
const SK = TableSchema.sortKey;

const table = useDynamoTestTable('cv-sec-prop');

const VALUES: Readonly<Record<string, unknown>> = {
  small: 'a short string',
  object: { id: 7, tags: ['x', 'y'] },
  big: randomBytes(3_000).toString('base64'), // ~4 KB incompressible: 4+ chunks of 1 KiB
  other: randomBytes(2_500).toString('base64'),
};
const KEYS = Object.keys(VALUES);
/** Attribute names an edit may touch: every one the codec writes, and one it does not know. */
const ATTRIBUTES = [...Object.values(A), TableSchema.ttlAttribute, 'extra'];

type AttributeSpec =
  | { readonly kind: 'S'; readonly value: string }
  | { readonly kind: 'N'; readonly value: string }
  | { readonly kind: 'B'; readonly value: Uint8Array }
  | { readonly kind: 'BOOL'; readonly value: boolean }
  | { readonly kind: 'NULL' }
  | { readonly kind: 'copy'; readonly from: number }
  | { readonly kind: 'remove' }
  | { readonly kind: 'flip'; readonly at: number };

type Edit =
  | { readonly kind: 'attribute'; readonly item: number; readonly name: string; readonly spec: AttributeSpec }
  | { readonly kind: 'delete'; readonly item: number }
  | { readonly kind: 'move'; readonly item: number; readonly toKey: string };

const numeric = fc.oneof(
  fc.integer().map(String),
  fc.constantFrom('0', '-1', '1e100', '-1e100', '9007199254740993', '0.5', '1e-100'),
);
const spec: fc.Arbitrary<AttributeSpec> = fc.oneof(
  fc.record({ kind: fc.constant('S' as const), value: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('e', 'c', 'n', 'k1', 'k2', 'none', 'default')) }),
  fc.record({ kind: fc.constant('N' as const), value: numeric }),
  fc.record({ kind: fc.constant('B' as const), value: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('BOOL' as const), value: fc.boolean() }),
  fc.constant({ kind: 'NULL' as const }),
  fc.record({ kind: fc.constant('copy' as const), from: fc.nat() }),
  fc.constant({ kind: 'remove' as const }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat() }),
);
const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('attribute' as const), item: fc.nat(), name: fc.constantFrom(...ATTRIBUTES), spec }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), item: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('move' as const), item: fc.nat(), toKey: fc.constantFrom(...KEYS, 'ghost') }) },
);

describe('DynamoDB item tampering (property)', () => {
  let cache: TempCache;
  let run = 0;

  beforeAll(() => {
    cache = makeTempCache();
  });
  afterAll(() => cache?.remove());

  const open = (): Promise<CacheVault> =>
    cache.open({ backend: 'dynamodb', dynamodb: { tableName: table.tableName, endpoint: table.endpoint, chunkBytes: 1024, consistentRead: true } });

  async function itemsOf(namespace: string): Promise<Item[]> {
    const items: Item[] = [];
    for (const key of KEYS) {
      const out = await table.client.send(
        new QueryCommand({
          TableName: table.tableName,
          ConsistentRead: true,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': { S: entryPartitionKey(namespace, 0, key) } },
        }),
      );
      items.push(...(out.Items ?? []));
    }
    return items;
  }

  /** Puts an item; false when DynamoDB refuses it (a limit an attacker meets too). */
  async function put(item: Item): Promise<boolean> {
    try {
      await table.client.send(new PutItemCommand({ TableName: table.tableName, Item: item }));
      return true;
    } catch (err) {
      if ((err as { name?: string }).name === 'ValidationException') return false;
      throw err;
    }
  }

  async function apply(namespace: string, edits: readonly Edit[]): Promise<void> {
    for (const e of edits) {
      const items = await itemsOf(namespace);
      if (items.length === 0) return;
      const item = items[e.item % items.length]!;
      const key = { [PK]: item[PK]!, [SK]: item[SK]! };
      if (e.kind === 'delete') {
        await table.client.send(new DeleteItemCommand({ TableName: table.tableName, Key: key }));
      } else if (e.kind === 'move') {
        if (await put({ ...item, [PK]: { S: entryPartitionKey(namespace, 0, e.toKey) } })) {
          await table.client.send(new DeleteItemCommand({ TableName: table.tableName, Key: key }));
        }
      } else {
        const next: Item = { ...item };
        const s = e.spec;
        if (s.kind === 'remove') delete next[e.name];
        else if (s.kind === 'copy') {
          const from = items[s.from % items.length]![e.name];
          if (from) next[e.name] = from;
          else delete next[e.name];
        } else if (s.kind === 'flip') {
          const bytes = item[e.name]?.B;
          if (!bytes || bytes.length === 0) continue;
          const copy = Buffer.from(bytes);
          copy[s.at % copy.length]! ^= 1 << s.at % 8;
          next[e.name] = { B: copy };
        } else if (s.kind === 'S') next[e.name] = { S: s.value };
        else if (s.kind === 'N') next[e.name] = { N: s.value };
        else if (s.kind === 'B') next[e.name] = { B: s.value };
        else if (s.kind === 'BOOL') next[e.name] = { BOOL: s.value };
        else next[e.name] = { NULL: true };
        await put(next);
      }
    }
  }

  it('arbitrary edits of entry and chunk items yield exact values or counted misses, never a throw', async () => {
    // Each case costs a dozen requests to DynamoDB Local: fewer cases than the file tier's property.
    const numRuns = Math.max(5, Math.round(Number(process.env.CV_SECURITY_RUNS ?? 50) * 0.4));
    const seen = { hits: 0, misses: 0 };
    const writer = await open();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 5 }), async (edits) => {
          const namespace = `run${(run += 1)}`;
          for (const key of KEYS) await writer.cache.namespace(namespace).set(key, VALUES[key]);
          await apply(namespace, edits);
          const reader = await open();
          try {
            const ns = reader.cache.namespace(namespace);
            let missed = 0;
            for (const key of [...KEYS, 'ghost']) {
              const found = await ns.lookup(key);
              if (found.found) expect(found.value).toStrictEqual(VALUES[key]);
              else missed += 1;
            }
            expect(reader.cache.stats().misses).toBe(missed);
            seen.hits += KEYS.length + 1 - missed;
            seen.misses += missed - 1;
            for (const key of KEYS) {
              const value = `rewritten ${key} ${randomBytes(key === 'big' ? 2_000 : 8).toString('hex')}`;
              await ns.set(key, value);
              expect([value, undefined]).toContain(await ns.get(key));
            }
            await ns.delete('small');
          } finally {
            await reader.close();
          }
        }),
        { numRuns },
      );
    } finally {
      await writer.close();
    }
    expect(seen.hits).toBeGreaterThan(0);
    expect(seen.misses).toBeGreaterThan(0);
    // Seconds alone here; minutes when `npm test` runs every project at once on two cores.
  }, 300_000);
});
