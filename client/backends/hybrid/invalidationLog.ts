import { createHash } from 'node:crypto';

/**
 * What the coherence layer (coherence.ts) needs from an invalidation log, and the record one
 * instance publishes per window. The DynamoDB implementation is client/dynamodb/invalidationLogTable.ts;
 * the hybrid backend knows only this interface, so it loads no AWS SDK for local-only caches.
 */

/** One published batch: what one instance invalidated during one window. */
export interface InvalidationRecord {
  /** Unique id of the record within its shard (the sort key); ordered by `at`. */
  readonly id: string;
  /** The writer's clock when it published the record, epoch ms. */
  readonly at: number;
  /** The writer's random per-process id; an instance skips its own records. */
  readonly instanceId: string;
  /** {@link keyHash}es of keys set, overwritten or deleted. */
  readonly hashes: readonly string[];
  /** Namespaces cleared. */
  readonly clearedNamespaces: readonly string[];
  /** `clear()` of every namespace. */
  readonly clearedAll: boolean;
  /**
   * Set when the record could not be read (a newer format, damage): what it invalidated is
   * unknown, so every local copy is re-checked.
   */
  readonly unreadable?: string;
}

/** What a record carries before the log gives it an id. */
export type InvalidationBatch = Omit<InvalidationRecord, 'id' | 'unreadable'>;

/** Capacity a log request consumed, as DynamoDB reports it (or estimated from item sizes). */
export interface LogUnits {
  readonly readUnits: number;
  readonly writeUnits: number;
}

export interface InvalidationLogStore {
  /** Number of shards (partitions) the log is spread over. */
  readonly shards: number;
  /** Publishes one batch to `shard`; resolves with the units it consumed. */
  append(shard: number, batch: InvalidationBatch): Promise<LogUnits>;
  /** Every record of `shard` published at `afterMs` or later (writer clock), oldest first. */
  readSince(shard: number, afterMs: number): Promise<{ readonly records: InvalidationRecord[] } & LogUnits>;
  /** Releases what the store owns (its client). */
  close(): void;
}

/** Bytes of a key hash in the log: 64 bits, ample for a set where a collision only costs a re-read. */
export const KEY_HASH_BYTES = 8;
/** Keys per record at most; more are split over several records (keeps an item far below 400 KB). */
export const MAX_HASHES_PER_RECORD = 20_000;

/**
 * The key's identity in the log: the first 64 bits of SHA-256 over `namespace NUL key`, as hex.
 * Fixed-size whatever the key's length, so a record's size (and cost) depends only on how many
 * keys it carries, and the keys themselves never travel through the log.
 */
export function keyHash(namespace: string, key: string): string {
  return createHash('sha256').update(namespace).update('\u0000').update(key).digest().subarray(0, KEY_HASH_BYTES).toString('hex');
}
