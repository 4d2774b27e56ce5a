import { PutItemCommand, QueryCommand, type ConsumedCapacity, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  KEY_HASH_BYTES,
  MAX_HASHES_PER_RECORD,
  type InvalidationBatch,
  type InvalidationLogStore,
  type InvalidationRecord,
  type LogUnits,
} from '../backends/hybrid/invalidationLog';
import { InvalidArgumentError } from '../errors';
import { TableSchema } from '../schema/tableSchema';
import { translateDynamoError } from './errors';
import { estimateItemBytes, ttlSeconds, type Item } from './itemCodec';
import { ItemKinds, invalidationLogPartitionKey } from './itemKeys';

export interface DynamoInvalidationLogOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Partitions the log is spread over. @default 2 */
  readonly shards?: number;
  /** How long DynamoDB keeps a record (its TTL). */
  readonly retentionMs: number;
  /** Whether close() destroys the client (set when it was built for the log alone). @default false */
  readonly closeClient?: boolean;
}

const A = TableSchema.attributes;
/** Log record format, in `fv`; a reader meeting a newer one stops trusting its local copies (see readSince). */
export const INVALIDATION_FORMAT_VERSION = 1;
/** Packed key hashes (binary), cleared namespaces (string set), clear-everything flag. */
const HASHES = 'h';
const CLEARED = 'cn';
const CLEARED_ALL = 'ca';
/** Epoch ms fit 13 digits until the year 2286: padded so sort keys order as times. */
const TIME_DIGITS = 13;
const NAMESPACE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The invalidation log of coherent local tiers (client/backends/hybrid/coherence.ts), kept in the
 * cache table itself: records in partitions `#inv#<shard>` with sort key
 * `<epoch ms>#<instance id>#<seq>`, kind `i`, and DynamoDB TTL after the retention. Entries,
 * chunks, counters and leases are untouched: scans and gc() select entries and chunks by kind.
 * Reads are strongly consistent: a record the reader's replica had not seen yet would be passed
 * over for good once the reader's cursor moved past it.
 */
export class DynamoInvalidationLog implements InvalidationLogStore {
  readonly shards: number;
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly retentionMs: number;
  private readonly closeClient: boolean;
  private seq = 0;

  constructor(options: DynamoInvalidationLogOptions) {
    const shards = options.shards ?? 2;
    if (!Number.isInteger(shards) || shards < 1 || shards > 64) throw new InvalidArgumentError(`The invalidation log needs 1 to 64 shards, got ${shards}.`);
    this.shards = shards;
    this.client = options.client;
    this.tableName = options.tableName;
    this.retentionMs = options.retentionMs;
    this.closeClient = options.closeClient ?? false;
  }

  async append(shard: number, batch: InvalidationBatch): Promise<LogUnits> {
    if (batch.hashes.length > MAX_HASHES_PER_RECORD) throw new InvalidArgumentError(`An invalidation record holds at most ${MAX_HASHES_PER_RECORD} keys.`);
    const item: Item = {
      [TableSchema.partitionKey]: { S: invalidationLogPartitionKey(shard) },
      [TableSchema.sortKey]: { S: `${String(batch.at).padStart(TIME_DIGITS, '0')}#${batch.instanceId}#${(this.seq++).toString(36)}` },
      [A.kind]: { S: ItemKinds.invalidation },
      [A.formatVersion]: { N: String(INVALIDATION_FORMAT_VERSION) },
      [TableSchema.ttlAttribute]: { N: String(ttlSeconds(batch.at + this.retentionMs)) },
    };
    if (batch.hashes.length > 0) item[HASHES] = { B: Buffer.concat(batch.hashes.map((h) => Buffer.from(h, 'hex'))) };
    if (batch.clearedNamespaces.length > 0) item[CLEARED] = { SS: [...new Set(batch.clearedNamespaces)] };
    if (batch.clearedAll) item[CLEARED_ALL] = { BOOL: true };
    const out = await this.send('PutItem', () =>
      this.client.send(new PutItemCommand({ TableName: this.tableName, Item: item, ReturnConsumedCapacity: 'TOTAL' })),
    );
    return { readUnits: 0, writeUnits: units(out.ConsumedCapacity) ?? Math.ceil(estimateItemBytes(item) / 1024) };
  }

  async readSince(shard: number, afterMs: number): Promise<{ records: InvalidationRecord[] } & LogUnits> {
    const records: InvalidationRecord[] = [];
    let readUnits = 0;
    let startKey: Item | undefined;
    do {
      const out = await this.send('Query', () =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk AND #sk >= :from',
            ExpressionAttributeNames: { '#pk': TableSchema.partitionKey, '#sk': TableSchema.sortKey },
            ExpressionAttributeValues: {
              ':pk': { S: invalidationLogPartitionKey(shard) },
              ':from': { S: String(Math.max(0, Math.floor(afterMs))).padStart(TIME_DIGITS, '0') },
            },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      const items = out.Items ?? [];
      // Strongly consistent reads cost one unit per 4 KB, rounded up over the page; a read is
      // billed one unit at least even when it finds nothing (DynamoDB Local reports 0 for that).
      readUnits += Math.max(1, units(out.ConsumedCapacity) ?? Math.ceil(items.reduce((n, i) => n + estimateItemBytes(i), 0) / 4096));
      for (const item of items) records.push(decodeRecord(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return { records, readUnits, writeUnits: 0 };
  }

  close(): void {
    if (this.closeClient) this.client.destroy();
  }

  private async send<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translateDynamoError(err, { tableName: this.tableName, action });
    }
  }
}

function units(consumed: ConsumedCapacity | undefined): number | undefined {
  return consumed?.CapacityUnits;
}

/**
 * Reads one record. Anyone who can write the table can write a record, and the worst a forged
 * one can do is invalidate copies (more re-reads): nothing in it is trusted beyond that. A record
 * this version cannot read (a newer format, damage) comes back `unreadable`: what it invalidated
 * is unknown, so the reader re-checks every local copy rather than guess.
 */
export function decodeRecord(item: Item): InvalidationRecord {
  const sk = item[TableSchema.sortKey]?.S ?? '';
  const [time, instanceId] = sk.split('#');
  const at = Number(time);
  const version = Number(item[A.formatVersion]?.N);
  const unreadable = (reason: string): InvalidationRecord => ({
    id: sk,
    at: Number.isSafeInteger(at) ? at : 0,
    instanceId: instanceId ?? '',
    hashes: [],
    clearedNamespaces: [],
    clearedAll: false,
    unreadable: reason,
  });
  if (item[A.kind]?.S !== ItemKinds.invalidation || !Number.isSafeInteger(at) || !instanceId) return unreadable(`item "${sk}" is not an invalidation record`);
  if (version !== INVALIDATION_FORMAT_VERSION) {
    return unreadable(`record format ${String(item[A.formatVersion]?.N)} is not ${INVALIDATION_FORMAT_VERSION}; upgrade cachevault in every process sharing the table`);
  }
  const packed = item[HASHES]?.B;
  if (packed !== undefined && packed.byteLength % KEY_HASH_BYTES !== 0) return unreadable(`record "${sk}" has a truncated key hash`);
  const hashes: string[] = [];
  if (packed !== undefined) {
    const bytes = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
    for (let i = 0; i < bytes.byteLength; i += KEY_HASH_BYTES) hashes.push(bytes.toString('hex', i, i + KEY_HASH_BYTES));
  }
  const clearedNamespaces = (item[CLEARED]?.SS ?? []).filter((ns) => NAMESPACE.test(ns));
  return { id: sk, at, instanceId, hashes, clearedNamespaces, clearedAll: item[CLEARED_ALL]?.BOOL === true };
}
