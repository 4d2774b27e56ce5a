import { createHash } from 'node:crypto';

/**
 * How cache entries map onto the table's keys (attribute names are in client/schema/tableSchema.ts).
 *
 * Partition key of an entry: `<namespace>#<namespace generation>#<key part>`. The namespace
 * generation makes `clear(namespace)` a single atomic counter bump: items of older generations
 * are simply never addressed again and are reclaimed by TTL or `gc()`. Namespaces cannot
 * contain `#` (the base backend enforces `[A-Za-z0-9._:-]`), so the split is unambiguous.
 *
 * The key part is `k:<key>` for keys up to {@link INLINE_KEY_BYTES} UTF-8 bytes and
 * `h:<sha-256 hex>` for longer ones, so a partition key stays far below DynamoDB's 2048-byte
 * limit; the original key is kept in the `k` attribute and checked on read.
 */

/** Keys longer than this are hashed into the partition key. */
export const INLINE_KEY_BYTES = 1024;

export const SortKeys = {
  /** The entry (or, for chunked values, the manifest) item. */
  entry: 'v',
  /** The namespace generation counter item. */
  namespaceGeneration: 'ns',
} as const;

/** Values of the `kd` (kind) attribute. */
export const ItemKinds = {
  entry: 'e',
  chunk: 'c',
  namespaceGeneration: 'n',
  /** A record of the invalidation log (client/dynamodb/invalidationLogTable.ts). */
  invalidation: 'i',
} as const;

export function entryPartitionKey(namespace: string, generation: number, key: string): string {
  const keyPart =
    Buffer.byteLength(key, 'utf8') > INLINE_KEY_BYTES ? `h:${createHash('sha256').update(key, 'utf8').digest('hex')}` : `k:${key}`;
  return `${namespace}#${generation}#${keyPart}`;
}

/** The namespace generation counter lives in its own partition, outside every entry's. */
export function namespaceGenerationPartitionKey(namespace: string): string {
  return `#ns#${namespace}`;
}

/**
 * The invalidation log's shard partitions. Like the counters they start with `#`, which no
 * namespace can, so parsePartitionKey never reads them as entries.
 */
export function invalidationLogPartitionKey(shard: number): string {
  return `#inv#${shard}`;
}

/** Reads `<namespace>#<generation>#...` back; undefined for items that are not entries/chunks. */
export function parsePartitionKey(pk: string): { namespace: string; generation: number } | undefined {
  const first = pk.indexOf('#');
  if (first <= 0) return undefined;
  const second = pk.indexOf('#', first + 1);
  if (second < 0) return undefined;
  const generation = Number(pk.slice(first + 1, second));
  if (!Number.isSafeInteger(generation)) return undefined;
  return { namespace: pk.slice(0, first), generation };
}

/** Chunk sort keys carry the chunk generation, so two writes' chunks can never be mixed. */
export function chunkSortKey(chunkGeneration: string, index: number): string {
  return `${chunkSortKeyPrefix(chunkGeneration)}${String(index).padStart(6, '0')}`;
}

export function chunkSortKeyPrefix(chunkGeneration: string): string {
  return `c#${chunkGeneration}#`;
}
