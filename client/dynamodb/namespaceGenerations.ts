import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { TableSchema } from '../schema/tableSchema';
import type { Clock } from '../types';
import { ItemKinds, SortKeys, namespaceGenerationPartitionKey } from './itemKeys';
import type { TableRequests } from './tableRequests';

export interface NamespaceGenerationsOptions {
  /** The table's request layer (error translation, consumed capacity accounting). */
  readonly io: TableRequests;
  readonly clock: Clock;
  /** How long a fetched generation is trusted. */
  readonly cacheMs: number;
}

interface Cached {
  readonly generation: number;
  readonly fetchedAt: number;
}

/**
 * The per-namespace generation counter that is part of every entry's partition key.
 * `clear(namespace)` bumps it with an atomic ADD, so clearing costs one write whatever the
 * namespace holds; entries of older generations are never addressed again.
 *
 * Staleness: another process caches the generation for `cacheMs`, so for up to that long
 * after a clear elsewhere it may still read (and write) the previous generation. The process
 * that clears sees the new generation at once.
 */
export class NamespaceGenerations {
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<number>>();
  /** Bounded so a flood of namespaces cannot grow the cache without limit. */
  private static readonly MAX_CACHED = 10_000;
  lookups = 0;

  constructor(private readonly options: NamespaceGenerationsOptions) {}

  async current(namespace: string): Promise<number> {
    const cached = this.cache.get(namespace);
    if (cached && this.options.clock() - cached.fetchedAt < this.options.cacheMs) return cached.generation;
    const pending = this.inflight.get(namespace);
    if (pending) return pending;
    const lookup = this.fetch(namespace).finally(() => this.inflight.delete(namespace));
    this.inflight.set(namespace, lookup);
    return lookup;
  }

  /** Atomically moves the namespace to a new generation; returns it. */
  async bump(namespace: string): Promise<number> {
    const { client, tableName } = this.options.io;
    const out = await this.options.io.send('UpdateItem', () =>
      client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: this.key(namespace),
          UpdateExpression: 'ADD #gen :one SET #kd = :kind, #ns = :ns',
          ExpressionAttributeNames: {
            '#gen': TableSchema.attributes.generation,
            '#kd': TableSchema.attributes.kind,
            '#ns': TableSchema.attributes.namespace,
          },
          ExpressionAttributeValues: { ':one': { N: '1' }, ':kind': { S: ItemKinds.namespaceGeneration }, ':ns': { S: namespace } },
          ReturnValues: 'UPDATED_NEW',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    const generation = Number(out.Attributes?.[TableSchema.attributes.generation]?.N ?? '0');
    this.remember(namespace, generation);
    return generation;
  }

  /** Forgets cached generations (after a clear of everything). */
  reset(): void {
    this.cache.clear();
  }

  /**
   * Forgets one namespace's cached generation (every one when `undefined`): another process
   * cleared it, and the next read must not address the old generation for up to `cacheMs`.
   */
  forget(namespace: string | undefined): void {
    if (namespace === undefined) this.reset();
    else this.cache.delete(namespace);
  }

  private async fetch(namespace: string): Promise<number> {
    const { client, tableName } = this.options.io;
    this.lookups += 1;
    const out = await this.options.io.send('GetItem', () =>
      client.send(
        // Consistent: right after a clear elsewhere, an eventually consistent read could hand back the old generation.
        new GetItemCommand({ TableName: tableName, Key: this.key(namespace), ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
      ),
    );
    const generation = Number(out.Item?.[TableSchema.attributes.generation]?.N ?? '0');
    this.remember(namespace, generation);
    return generation;
  }

  private remember(namespace: string, fetched: number): void {
    // Generations only grow; a lookup that raced a bump must not bring back the older one.
    const generation = Math.max(fetched, this.cache.get(namespace)?.generation ?? 0);
    if (this.cache.size >= NamespaceGenerations.MAX_CACHED && !this.cache.has(namespace)) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(namespace, { generation, fetchedAt: this.options.clock() });
  }

  private key(namespace: string) {
    return {
      [TableSchema.partitionKey]: { S: namespaceGenerationPartitionKey(namespace) },
      [TableSchema.sortKey]: { S: SortKeys.namespaceGeneration },
    };
  }
}
