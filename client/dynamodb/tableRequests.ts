import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  QueryCommand,
  type ConsumedCapacity,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { TableSchema } from '../schema/tableSchema';
import { sendUntilProcessed } from './batchRetry';
import { DynamoDBThrottledError, UnprocessedBatchError, isThrottlingError, translateDynamoError } from './errors';
import type { Item } from './itemCodec';

/** DynamoDB's per-request limits. */
export const BatchLimits = { getItems: 100, writeItems: 25 } as const;

export interface TableRequestsOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly consistentRead: boolean;
  readonly batchRetryDeadlineMs: number;
  /** Batch requests in flight at once. @default 4 */
  readonly batchConcurrency?: number;
}

/**
 * The table's request layer: every call goes through {@link send}, which accounts consumed
 * capacity and turns AWS errors into actionable ones; batch calls are split to DynamoDB's
 * limits and their unprocessed items retried until the deadline, never dropped.
 */
export class TableRequests {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  readonly consistentRead: boolean;
  readonly capacity = { read: 0, write: 0 };
  batchRetries = 0;
  private readonly deadlineMs: number;
  private readonly batchConcurrency: number;

  constructor(options: TableRequestsOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.consistentRead = options.consistentRead;
    this.deadlineMs = options.batchRetryDeadlineMs;
    this.batchConcurrency = options.batchConcurrency ?? 4;
  }

  /** Runs one request; accounts its ConsumedCapacity and translates its errors. */
  async send<T extends { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] }>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      const out = await fn();
      this.account(action, out.ConsumedCapacity);
      return out;
    } catch (err) {
      throw translateDynamoError(err, { tableName: this.tableName, action, consumedCapacity: this.capacityFor(action) });
    }
  }

  /** Writes (puts and deletes) through BatchWriteItem, 25 per request. */
  async batchWrite(requests: readonly WriteRequest[]): Promise<void> {
    const groups = split(requests, BatchLimits.writeItems);
    await runConcurrently(groups, this.batchConcurrency, async (group) => {
      const incomplete = await sendUntilProcessed(
        group,
        async (pending) => {
          const out = await this.client.send(
            new BatchWriteItemCommand({ RequestItems: { [this.tableName]: [...pending] }, ReturnConsumedCapacity: 'TOTAL' }),
          );
          this.account('BatchWriteItem', out.ConsumedCapacity);
          return out.UnprocessedItems?.[this.tableName] ?? [];
        },
        { deadlineMs: this.deadlineMs, onRetry: () => void (this.batchRetries += 1) },
      ).catch((err: unknown) => {
        throw translateDynamoError(err, { tableName: this.tableName, action: 'BatchWriteItem', consumedCapacity: this.capacity.write });
      });
      if (incomplete) throw this.incompleteError('BatchWriteItem', incomplete.pending.length, incomplete.lastError);
    });
  }

  /** Reads items by key through BatchGetItem, 100 per request; returns what exists, in no order. */
  async batchGet(keys: readonly Item[]): Promise<Item[]> {
    const found: Item[] = [];
    const groups = split(keys, BatchLimits.getItems);
    await runConcurrently(groups, this.batchConcurrency, async (group) => {
      const incomplete = await sendUntilProcessed(
        group,
        async (pending) => {
          const out = await this.client.send(
            new BatchGetItemCommand({
              RequestItems: { [this.tableName]: { Keys: [...pending], ConsistentRead: this.consistentRead } },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          );
          this.account('BatchGetItem', out.ConsumedCapacity);
          found.push(...(out.Responses?.[this.tableName] ?? []));
          return out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        },
        { deadlineMs: this.deadlineMs, onRetry: () => void (this.batchRetries += 1) },
      ).catch((err: unknown) => {
        throw translateDynamoError(err, { tableName: this.tableName, action: 'BatchGetItem', consumedCapacity: this.capacity.read });
      });
      if (incomplete) throw this.incompleteError('BatchGetItem', incomplete.pending.length, incomplete.lastError);
    });
    return found;
  }

  /** Every item of a partition whose sort key starts with `prefix`, across pages; `keysOnly` skips values. */
  async queryPrefix(pk: string, prefix: string, consistentRead: boolean, keysOnly = false): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.send('Query', () =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
            ExpressionAttributeNames: { '#pk': TableSchema.partitionKey, '#sk': TableSchema.sortKey },
            ExpressionAttributeValues: { ':pk': { S: pk }, ':prefix': { S: prefix } },
            ConsistentRead: consistentRead,
            ProjectionExpression: keysOnly ? '#pk, #sk' : undefined,
            ExclusiveStartKey: startKey,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      items.push(...(out.Items ?? []));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  /** Deletes items by key (their pk/sk only). */
  async deleteKeys(keys: readonly Item[]): Promise<void> {
    await this.batchWrite(keys.map((key) => ({ DeleteRequest: { Key: key } })));
  }

  private incompleteError(action: string, remaining: number, lastError: unknown): Error {
    if (isThrottlingError(lastError)) {
      return new DynamoDBThrottledError(this.tableName, action, this.capacityFor(action), {
        cause: new UnprocessedBatchError(this.tableName, action, remaining, this.deadlineMs, { cause: lastError }),
        context: { remaining },
      });
    }
    return new UnprocessedBatchError(this.tableName, action, remaining, this.deadlineMs, {
      context: { consumedCapacity: this.capacityFor(action) },
    });
  }

  private capacityFor(action: string): number {
    return isWrite(action) ? this.capacity.write : this.capacity.read;
  }

  private account(action: string, consumed: ConsumedCapacity | ConsumedCapacity[] | undefined): void {
    if (consumed === undefined) return;
    const units = (Array.isArray(consumed) ? consumed : [consumed]).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
    if (isWrite(action)) this.capacity.write += units;
    else this.capacity.read += units;
  }
}

function isWrite(action: string): boolean {
  return /Put|Write|Delete|Update|Transact/.test(action);
}

export function split<T>(items: readonly T[], size: number): T[][] {
  const groups: T[][] = [];
  for (let i = 0; i < items.length; i += size) groups.push(items.slice(i, i + size));
  return groups;
}

/**
 * Runs `fn` over `items` with at most `limit` in flight; rejects with the first failure after
 * the in-flight ones settle, so no request is left running unobserved.
 */
export async function runConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
