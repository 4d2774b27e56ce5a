import { randomBytes } from 'node:crypto';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { TableSchema } from '../schema/tableSchema';
import type { Clock, Logger, StoredEntry } from '../types';
import { chunkItem, entryItem, type ChunkRef, type Item } from './itemCodec';
import { chunkSortKeyPrefix } from './itemKeys';
import type { TableRequests } from './tableRequests';

/**
 * Entries too large for one DynamoDB item (400 KB) are split into chunk items in the entry's
 * partition. Values arrive already compressed and encrypted by the CacheManager, so they are
 * not compressed here: ciphertext does not compress, and doing it twice would cost CPU for nothing.
 *
 * Write protocol:
 * 1. write every chunk under a fresh chunk generation id (part of the chunk sort key);
 * 2. publish the manifest (the entry item naming that generation and chunk count) with one
 *    PutItem, which atomically replaces the previous entry item and returns it (ALL_OLD);
 * 3. delete the chunks of the generation it replaced.
 * A reader takes the generation from the manifest and reads only that generation's chunks, so
 * it can never assemble a mix of two writes; if a concurrent overwrite deleted them under it,
 * it sees an incomplete set and reads the manifest again. A crash between 1 and 2 leaves
 * chunks no manifest names: invisible to readers, reclaimed by TTL (chunks carry the entry's
 * expiry) and by the backend's gc().
 */
export class ChunkedEntries {
  constructor(
    private readonly io: TableRequests,
    private readonly chunkBytes: number,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  async write(pk: string, entry: StoredEntry): Promise<void> {
    const generation = randomBytes(8).toString('hex');
    const parts: Uint8Array[] = [];
    for (let offset = 0; offset < entry.value.byteLength; offset += this.chunkBytes) {
      parts.push(entry.value.subarray(offset, offset + this.chunkBytes));
    }
    const chunks: ChunkRef = { generation, count: parts.length };
    let previous: Item | undefined;
    const writtenAt = this.clock();
    try {
      await this.io.batchWrite(parts.map((bytes, index) => ({ PutRequest: { Item: chunkItem(pk, entry, generation, index, bytes, writtenAt) } })));
      const out = await this.io.send('PutItem', () =>
        this.io.client.send(
          new PutItemCommand({
            TableName: this.io.tableName,
            Item: entryItem(pk, entry, chunks),
            ReturnValues: 'ALL_OLD',
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      previous = out.Attributes;
    } catch (err) {
      // Nothing names these chunks; remove them now if we can (gc() and TTL otherwise).
      await this.removeGeneration(pk, generation).catch(() => undefined);
      throw err;
    }
    await this.removeReplaced(pk, previous, generation);
  }

  /**
   * The value bytes of a chunked entry, or undefined when the generation's chunks are not all
   * there (deleted by a concurrent overwrite, or not yet visible to an eventually consistent read).
   */
  async read(pk: string, chunks: ChunkRef, size: number, consistentRead: boolean): Promise<Uint8Array | undefined> {
    const items = await this.io.queryPrefix(pk, chunkSortKeyPrefix(chunks.generation), consistentRead);
    if (items.length !== chunks.count) return undefined;
    // The zero-padded index in the sort key gives the order; Query already returns sort-key order.
    const parts: Uint8Array[] = [];
    for (const item of items) {
      const bytes = item[TableSchema.attributes.value]?.B;
      if (bytes === undefined) return undefined;
      parts.push(bytes);
    }
    const value = Buffer.concat(parts);
    return value.byteLength === size ? value : undefined;
  }

  /** After an overwrite or delete: removes the chunks the replaced item pointed at, if any. */
  async removeReplaced(pk: string, previous: Item | undefined, keepGeneration?: string): Promise<void> {
    const old = previous?.[TableSchema.attributes.generation]?.S;
    if (old === undefined || old === keepGeneration) return;
    try {
      await this.removeGeneration(pk, old);
    } catch (err) {
      // The new entry is in place; leftover chunks are invisible and gc()/TTL reclaims them.
      this.logger.warn({ backend: 'dynamodb', err: err instanceof Error ? err.message : String(err) }, 'could not remove replaced chunks');
    }
  }

  async removeGeneration(pk: string, generation: string): Promise<void> {
    const keys = await this.io.queryPrefix(pk, chunkSortKeyPrefix(generation), true, true);
    if (keys.length > 0) await this.io.deleteKeys(keys);
  }
}
