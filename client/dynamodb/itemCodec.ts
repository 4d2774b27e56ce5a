import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { TableSchema } from '../schema/tableSchema';
import type { StoredEntry } from '../types';
import { ItemKinds, SortKeys, chunkSortKey } from './itemKeys';

export type Item = Record<string, AttributeValue>;

const A = TableSchema.attributes;

/**
 * The entry item format this code writes, in `fv`. Every released format stays readable (format
 * 1 items written before `fv` existed carry none); a newer one is a counted miss whose reason says
 * to upgrade, never a misread. A fixture of each format lives in test/fixtures/dynamodb/.
 */
export const ITEM_FORMAT_VERSION = 1;

/** Where a chunked entry's bytes are: `count` chunk items under generation `generation`. */
export interface ChunkRef {
  readonly generation: string;
  readonly count: number;
}

/** A decoded entry item: either the whole entry, or its manifest pointing at chunks. */
export type DecodedEntry =
  | { readonly kind: 'inline'; readonly entry: StoredEntry }
  | { readonly kind: 'chunked'; readonly meta: Omit<StoredEntry, 'value'>; readonly size: number; readonly chunks: ChunkRef };

/** TTL attribute value: epoch seconds, rounded up so DynamoDB never deletes an entry early. */
export function ttlSeconds(expiresAtMs: number): number {
  return Math.ceil(expiresAtMs / 1000);
}

function expiryAttributes(expiresAt: number | null): Item {
  if (expiresAt === null) return {};
  return { [TableSchema.ttlAttribute]: { N: String(ttlSeconds(expiresAt)) }, [A.expiresAtMs]: { N: String(expiresAt) } };
}

/** The entry item; `chunks` set means `value` lives in chunk items and is left out here. */
export function entryItem(pk: string, entry: StoredEntry, chunks?: ChunkRef): Item {
  const item: Item = {
    [TableSchema.partitionKey]: { S: pk },
    [TableSchema.sortKey]: { S: SortKeys.entry },
    [A.kind]: { S: ItemKinds.entry },
    [A.formatVersion]: { N: String(ITEM_FORMAT_VERSION) },
    [A.namespace]: { S: entry.namespace },
    [A.key]: { S: entry.key },
    [A.keyId]: { S: entry.keyId },
    [A.size]: { N: String(entry.value.byteLength) },
    [A.createdAt]: { N: String(entry.createdAt) },
    ...expiryAttributes(entry.expiresAt),
  };
  if (chunks) {
    item[A.chunks] = { N: String(chunks.count) };
    item[A.generation] = { S: chunks.generation };
  } else {
    item[A.value] = { B: entry.value };
  }
  return item;
}

/**
 * One chunk item. It carries the entry's expiry so TTL reclaims chunks with their manifest, and
 * the time it was written (not the entry's createdAt, which may be long past for a replayed or
 * re-encrypted entry): gc() spares chunks younger than its grace period as a write in flight.
 */
export function chunkItem(pk: string, entry: StoredEntry, generation: string, index: number, bytes: Uint8Array, writtenAt: number): Item {
  return {
    [TableSchema.partitionKey]: { S: pk },
    [TableSchema.sortKey]: { S: chunkSortKey(generation, index) },
    [A.kind]: { S: ItemKinds.chunk },
    [A.namespace]: { S: entry.namespace },
    [A.generation]: { S: generation },
    [A.createdAt]: { N: String(writtenAt) },
    [A.value]: { B: bytes },
    ...expiryAttributes(entry.expiresAt),
  };
}

/**
 * Decodes an entry item, or returns a reason it is unusable (missing fields, or a different
 * key that hashed to the same partition key) for the caller to count as corrupt.
 */
export function decodeEntryItem(item: Item): DecodedEntry | { readonly kind: 'invalid'; readonly reason: string } {
  if (item[A.kind]?.S !== ItemKinds.entry) return { kind: 'invalid', reason: 'item is not an entry' };
  const fv = item[A.formatVersion]?.N;
  const version = fv === undefined ? 1 : Number(fv);
  if (!Number.isSafeInteger(version) || version < 1) return { kind: 'invalid', reason: 'entry item has a bad format version' };
  if (version > ITEM_FORMAT_VERSION) {
    return { kind: 'invalid', reason: `entry item format ${version} is newer than this cachevault reads (${ITEM_FORMAT_VERSION}); upgrade cachevault in every process sharing the table` };
  }
  const namespace = item[A.namespace]?.S;
  const key = item[A.key]?.S;
  const keyId = item[A.keyId]?.S;
  const createdAt = Number(item[A.createdAt]?.N);
  const size = Number(item[A.size]?.N);
  const expRaw = item[A.expiresAtMs]?.N;
  const expiresAt = expRaw === undefined ? null : Number(expRaw);
  if (namespace === undefined || key === undefined || keyId === undefined || !Number.isFinite(createdAt) || !Number.isSafeInteger(size)) {
    return { kind: 'invalid', reason: 'entry item is missing required attributes' };
  }
  if (expiresAt !== null && !Number.isFinite(expiresAt)) return { kind: 'invalid', reason: 'entry item has a bad expiry' };
  const meta = { namespace, key, keyId, createdAt, expiresAt };
  const generation = item[A.generation]?.S;
  const count = Number(item[A.chunks]?.N);
  if (generation !== undefined && Number.isSafeInteger(count) && count > 0) {
    return { kind: 'chunked', meta, size, chunks: { generation, count } };
  }
  const value = item[A.value]?.B;
  if (value === undefined) return { kind: 'invalid', reason: 'entry item has no value' };
  if (value.byteLength !== size) return { kind: 'invalid', reason: 'entry value size does not match its recorded size' };
  return { kind: 'inline', entry: { ...meta, value } };
}

/** Rough item size as DynamoDB counts it (names + values), to decide when to chunk. */
export function estimateItemBytes(item: Item): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    total += Buffer.byteLength(name);
    if (value.S !== undefined) total += Buffer.byteLength(value.S);
    else if (value.B !== undefined) total += value.B.byteLength;
    else if (value.N !== undefined) total += value.N.length;
    else total += 1;
  }
  return total;
}
