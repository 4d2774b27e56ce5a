import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { InvalidArgumentError } from '../errors';
import { ChunkedEntries } from '../dynamodb/chunkedEntries';
import { createDynamoDBClient, type StaticCredentials } from '../dynamodb/dynamodbClient';
import { decodeEntryItem, entryItem, estimateItemBytes, type DecodedEntry, type Item } from '../dynamodb/itemCodec';
import { ItemKinds, SortKeys, entryPartitionKey, parsePartitionKey } from '../dynamodb/itemKeys';
import { NamespaceGenerations } from '../dynamodb/namespaceGenerations';
import { cursorStartKey, decodeScanCursor, encodeScanCursor } from '../dynamodb/scanCursor';
import { TableManager } from '../dynamodb/tableManager';
import { TableRequests, runConcurrently } from '../dynamodb/tableRequests';
import { TableSchema } from '../schema/tableSchema';
import type { BackendCapabilities, BackendStats, EntryPage, HealthCheckStep, ScanOptions, StoredEntry, WriteResult } from '../types';
import { BaseBackend, type BaseBackendOptions } from './baseBackend';

export interface DynamoDBBackendOptions extends BaseBackendOptions {
  /** Table created by `cachevault table create`, TableManager or the CDK stack. */
  readonly tableName: string;
  /** A client to use; when given, region/endpoint/timeouts below are ignored and close() leaves it open. */
  readonly client?: DynamoDBClient;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Endpoint override (DynamoDB Local); omit on AWS. */
  readonly endpoint?: string;
  /** Explicit credentials; the SDK's provider chain when omitted. */
  readonly credentials?: StaticCredentials;
  /** Strongly consistent reads (twice the read cost). @default false */
  readonly consistentRead?: boolean;
  /** Largest value stored in one item; bigger ones are split into chunks of this size. @default 358400 (350 KiB) */
  readonly chunkBytes?: number;
  /** How long unprocessed batch items are retried before the call fails. @default 10000 */
  readonly batchRetryDeadlineMs?: number;
  /** @default 3000 */
  readonly requestTimeoutMs?: number;
  /** SDK attempts per request (throttling, transient errors). @default 5 */
  readonly maxAttempts?: number;
  /**
   * How long a namespace's generation is cached. After `clear(namespace)` in another process,
   * this process may keep seeing the cleared entries for up to this long. @default 1000
   */
  readonly namespaceCacheMs?: number;
  /** gc() leaves unreferenced chunks younger than this alone: they may belong to a write in progress. @default 600000 */
  readonly gcGraceMs?: number;
  /** Single-item requests in flight at once for deleteMany and chunked reads. @default 16 */
  readonly concurrency?: number;
}

/** What gc() reclaimed. */
export interface DynamoGcReport {
  readonly scanned: number;
  /** Entries and chunks of namespace generations retired by clear(namespace). */
  readonly staleGeneration: number;
  /** Chunks no manifest names (a crash between chunk writes and the manifest, or a replaced entry). */
  readonly orphanedChunks: number;
  /** Entries and chunks past their expiry that TTL had not removed yet. */
  readonly expired: number;
}

const A = TableSchema.attributes;
/** Room left in an item for keys and attributes when deciding whether a value fits inline. */
const ITEM_HEADROOM_BYTES = 1_024;
const SCAN_SEGMENTS = 8;

/**
 * The shared tier: entries in one DynamoDB table (layout in client/schema/tableSchema.ts).
 * Stores the opaque, already sealed bytes the CacheManager hands it; expiry is checked on every
 * read because TTL deletion is lazy. See docs/backends.md for costs per operation.
 */
export class DynamoDBBackend extends BaseBackend {
  readonly name = 'dynamodb';
  readonly capabilities: BackendCapabilities = { scanSegments: SCAN_SEGMENTS, maxBatchWrite: 25, persistent: true, shared: true };

  readonly tableName: string;
  private readonly client: DynamoDBClient;
  private readonly ownsClient: boolean;
  private readonly io: TableRequests;
  private readonly chunked: ChunkedEntries;
  private readonly generations: NamespaceGenerations;
  private readonly consistentRead: boolean;
  private readonly chunkBytes: number;
  private readonly gcGraceMs: number;
  private readonly concurrency: number;
  private chunkedWrites = 0;

  constructor(options: DynamoDBBackendOptions) {
    super(options);
    if (!options.tableName) throw new InvalidArgumentError('DynamoDBBackend needs a tableName.');
    const chunkBytes = options.chunkBytes ?? TableSchema.defaultChunkBytes;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1_024 || chunkBytes > TableSchema.maxItemBytes - 10 * 1_024) {
      throw new InvalidArgumentError(`chunkBytes must be an integer between 1024 and ${TableSchema.maxItemBytes - 10 * 1_024}, got ${chunkBytes}.`, {
        hint: 'Chunks are single DynamoDB items, limited to 400 KB including attributes.',
      });
    }
    this.tableName = options.tableName;
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      createDynamoDBClient({
        region: options.region ?? 'us-east-1',
        endpoint: options.endpoint,
        credentials: options.credentials,
        requestTimeoutMs: options.requestTimeoutMs,
        maxAttempts: options.maxAttempts,
      });
    this.consistentRead = options.consistentRead ?? false;
    this.chunkBytes = chunkBytes;
    this.gcGraceMs = options.gcGraceMs ?? 600_000;
    this.concurrency = options.concurrency ?? 16;
    this.io = new TableRequests({
      client: this.client,
      tableName: this.tableName,
      consistentRead: this.consistentRead,
      batchRetryDeadlineMs: options.batchRetryDeadlineMs ?? 10_000,
    });
    this.chunked = new ChunkedEntries(this.io, chunkBytes, this.logger, this.clock);
    this.generations = new NamespaceGenerations({
      io: this.io,
      clock: this.clock,
      cacheMs: options.namespaceCacheMs ?? 1_000,
    });
  }

  /**
   * Another process cleared `namespace` (every namespace when `undefined`), as a coherent hybrid
   * learns from its invalidation log: drop the cached generation so the next read sees the clear
   * now rather than after `namespaceCacheMs`.
   */
  forgetCachedNamespace(namespace: string | undefined): void {
    this.generations.forget(namespace);
  }

  // ---- reads ---------------------------------------------------------------------------

  protected async _get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    const pk = entryPartitionKey(namespace, await this.generations.current(namespace), key);
    const item = await this.getEntryItem(pk, this.consistentRead);
    return item === undefined ? undefined : this.materialize(pk, item, namespace, key);
  }

  protected override async _getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    const generation = await this.generations.current(namespace);
    const pks = keys.map((key) => entryPartitionKey(namespace, generation, key));
    const unique = [...new Set(pks)];
    const items = await this.io.batchGet(unique.map((pk) => this.entryKey(pk)));
    const byPk = new Map(items.map((item) => [item[TableSchema.partitionKey]?.S, item]));
    return runConcurrently(keys, this.concurrency, async (key, i) => {
      const pk = pks[i] as string;
      const item = byPk.get(pk);
      return item === undefined ? undefined : this.materialize(pk, item, namespace, key);
    });
  }

  /** Decodes an entry item, reading its chunks if it has them; unusable items count as corrupt misses. */
  private async materialize(pk: string, item: Item, namespace: string, key: string, skipExpiredChunks = true): Promise<StoredEntry | undefined> {
    const decoded = decodeEntryItem(item);
    if (decoded.kind === 'invalid') {
      this.reportCorrupt(namespace, key, decoded.reason);
      return undefined;
    }
    // A different key whose hash matched (long keys are hashed into the partition key).
    if (decoded.kind === 'inline' ? decoded.entry.key !== key : decoded.meta.key !== key) return undefined;
    if (decoded.kind === 'inline') return decoded.entry;
    // An expired entry is a miss above us: don't pay for reading megabytes of chunks for it.
    if (skipExpiredChunks && decoded.meta.expiresAt !== null && decoded.meta.expiresAt <= this.clock()) {
      return { ...decoded.meta, value: new Uint8Array(0) };
    }
    return this.readChunked(pk, decoded, namespace, key);
  }

  private async readChunked(
    pk: string,
    decoded: Extract<DecodedEntry, { kind: 'chunked' }>,
    namespace: string,
    key: string,
  ): Promise<StoredEntry | undefined> {
    const value = await this.chunked.read(pk, decoded.chunks, decoded.size, this.consistentRead);
    if (value !== undefined) return { ...decoded.meta, value };
    // Incomplete: an eventually consistent read that lags the writer, or an overwrite that
    // replaced the generation under us. Re-read the manifest consistently and try once more.
    const fresh = await this.getEntryItem(pk, true);
    if (fresh === undefined) return undefined;
    const again = decodeEntryItem(fresh);
    if (again.kind === 'inline') return again.entry.key === key ? again.entry : undefined;
    if (again.kind === 'invalid' || again.meta.key !== key) {
      if (again.kind === 'invalid') this.reportCorrupt(namespace, key, again.reason);
      return undefined;
    }
    const retried = await this.chunked.read(pk, again.chunks, again.size, true);
    if (retried !== undefined) return { ...again.meta, value: retried };
    this.reportCorrupt(namespace, key, 'chunked entry is missing chunks');
    return undefined;
  }

  private async getEntryItem(pk: string, consistentRead: boolean): Promise<Item | undefined> {
    const out = await this.io.send('GetItem', () =>
      this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: this.entryKey(pk), ConsistentRead: consistentRead, ReturnConsumedCapacity: 'TOTAL' }),
      ),
    );
    return out.Item;
  }

  // ---- writes --------------------------------------------------------------------------

  protected async _setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    const generations = new Map<string, number>();
    for (const namespace of new Set(entries.map((e) => e.namespace))) {
      generations.set(namespace, await this.generations.current(namespace));
    }
    // The last write of a key wins, as with sequential sets (BatchWriteItem rejects duplicate keys).
    const inline = new Map<string, Item>();
    const large: { pk: string; entry: StoredEntry }[] = [];
    for (const entry of entries) {
      const pk = entryPartitionKey(entry.namespace, generations.get(entry.namespace) as number, entry.key);
      const item = entryItem(pk, entry);
      if (entry.value.byteLength <= this.chunkBytes && estimateItemBytes(item) + ITEM_HEADROOM_BYTES <= TableSchema.maxItemBytes) {
        inline.set(pk, item);
        const at = large.findIndex((l) => l.pk === pk);
        if (at >= 0) large.splice(at, 1);
      } else {
        inline.delete(pk);
        const at = large.findIndex((l) => l.pk === pk);
        if (at >= 0) large.splice(at, 1);
        large.push({ pk, entry });
      }
    }
    if (inline.size === 1 && large.length === 0) {
      // A single set: PutItem returns the replaced item, so a chunked predecessor's chunks go now.
      const [[pk, item]] = [...inline];
      const out = await this.io.send('PutItem', () =>
        this.client.send(new PutItemCommand({ TableName: this.tableName, Item: item, ReturnValues: 'ALL_OLD', ReturnConsumedCapacity: 'TOTAL' })),
      );
      await this.chunked.removeReplaced(pk, out.Attributes);
    } else if (inline.size > 0) {
      // Batched puts cannot return the items they replace; chunks of a replaced chunked entry
      // are left for TTL and gc(), which finds chunks no manifest names.
      await this.io.batchWrite([...inline.values()].map((Item): WriteRequest => ({ PutRequest: { Item } })));
    }
    for (const { pk, entry } of large) {
      await this.chunked.write(pk, entry);
      this.chunkedWrites += 1;
    }
    return { written: entries.length };
  }

  /** DeleteItem per key (BatchWriteItem cannot say whether an item existed), in parallel. */
  protected async _deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    const generation = await this.generations.current(namespace);
    const unique = [...new Set(keys)];
    const removed = await runConcurrently(unique, this.concurrency, async (key) => {
      const pk = entryPartitionKey(namespace, generation, key);
      const out = await this.io.send('DeleteItem', () =>
        this.client.send(
          new DeleteItemCommand({ TableName: this.tableName, Key: this.entryKey(pk), ReturnValues: 'ALL_OLD', ReturnConsumedCapacity: 'TOTAL' }),
        ),
      );
      if (out.Attributes === undefined) return 0;
      await this.chunked.removeReplaced(pk, out.Attributes);
      return 1;
    });
    return removed.reduce((a: number, b) => a + b, 0);
  }

  /**
   * `clear(namespace)`: one atomic counter bump; the old generation's items are never read
   * again and are reclaimed by TTL or gc(). Other processes notice within `namespaceCacheMs`.
   *
   * `clear()` of everything: scans the whole table (parallel segments) and deletes every entry
   * and chunk item. Namespace generation counters stay (resetting one while another process
   * still writes under the old generation could resurrect its items), and so do stampede
   * leases, which lapse on their own. Cost grows with the table;
   * meant for tests and administration, not hot paths.
   */
  protected async _clear(namespace: string | undefined): Promise<void> {
    if (namespace !== undefined) {
      await this.generations.bump(namespace);
      return;
    }
    await this.scanAll(async (items) => {
      const doomed = items.filter((item) => item[A.kind]?.S === ItemKinds.entry || item[A.kind]?.S === ItemKinds.chunk);
      if (doomed.length > 0) await this.io.deleteKeys(doomed.map((item) => this.keyOf(item)));
      return doomed.length;
    });
  }

  // ---- scans ---------------------------------------------------------------------------

  /**
   * One page of a Scan over entry items (chunks and counters are filtered out server-side), in
   * one segment when `segment`/`totalSegments` are given. Entries of retired namespace
   * generations are skipped. `pageSize` caps the items DynamoDB evaluates, so a page may hold
   * fewer entries (even none) and still have a cursor. The namespace filter runs server-side
   * after the read: scanning one namespace costs read capacity for the whole table.
   */
  protected async _scan(options: ScanOptions): Promise<EntryPage> {
    const position = options.cursor === undefined ? undefined : decodeScanCursor(options.cursor);
    const segment = options.segment ?? position?.segment;
    const totalSegments = options.totalSegments ?? position?.totalSegments;
    if ((segment === undefined) !== (totalSegments === undefined) || (totalSegments !== undefined && (segment as number) >= totalSegments)) {
      throw new InvalidArgumentError('scan() needs both segment and totalSegments, with 0 <= segment < totalSegments.');
    }
    const values: Record<string, { S: string }> = { ':entry': { S: ItemKinds.entry } };
    let filter = '#kd = :entry';
    if (options.namespace !== undefined) {
      filter += ' AND #ns = :ns';
      values[':ns'] = { S: options.namespace };
    }
    const out = await this.io.send('Scan', () =>
      this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: filter,
          ExpressionAttributeNames: { '#kd': A.kind, ...(options.namespace !== undefined ? { '#ns': A.namespace } : {}) },
          ExpressionAttributeValues: values,
          Limit: options.pageSize ?? 500,
          Segment: segment,
          TotalSegments: totalSegments,
          ConsistentRead: this.consistentRead,
          ExclusiveStartKey: position ? cursorStartKey(position) : undefined,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    const live: { pk: string; item: Item; namespace: string; key: string }[] = [];
    for (const item of out.Items ?? []) {
      const pk = item[TableSchema.partitionKey]?.S ?? '';
      const parsed = parsePartitionKey(pk);
      const key = item[A.key]?.S;
      if (parsed === undefined || key === undefined) continue;
      if (parsed.generation !== (await this.generations.current(parsed.namespace))) continue;
      live.push({ pk, item, namespace: parsed.namespace, key });
    }
    const entries = await runConcurrently(live, this.concurrency, (l) =>
      this.materialize(l.pk, l.item, l.namespace, l.key, options.includeExpired !== true),
    );
    return {
      entries: entries.filter((e): e is StoredEntry => e !== undefined),
      cursor: out.LastEvaluatedKey ? encodeScanCursor(out.LastEvaluatedKey, segment, totalSegments) : undefined,
    };
  }

  // ---- maintenance ---------------------------------------------------------------------

  /**
   * Reclaims what TTL has not (yet): items of namespace generations retired by clear(),
   * expired entries and chunks, and chunks no manifest names (a crash between writing chunks
   * and publishing the manifest, or a chunked entry replaced by a batched write). Chunks younger
   * than `gcGraceMs` are kept: their manifest may be about to be published.
   */
  async gc(): Promise<DynamoGcReport> {
    const now = this.clock();
    let scanned = 0;
    let staleGeneration = 0;
    let orphanedChunks = 0;
    let expired = 0;
    await this.scanAll(async (items) => {
      scanned += items.length;
      const doomed: Item[] = [];
      for (const item of items) {
        const kind = item[A.kind]?.S;
        if (kind !== ItemKinds.entry && kind !== ItemKinds.chunk) continue;
        const pk = item[TableSchema.partitionKey]?.S ?? '';
        const parsed = parsePartitionKey(pk);
        if (parsed === undefined) continue;
        if (parsed.generation < (await this.generations.current(parsed.namespace))) {
          doomed.push(item);
          staleGeneration += 1;
          continue;
        }
        const exp = item[A.expiresAtMs]?.N;
        if (exp !== undefined && Number(exp) <= now) {
          doomed.push(item);
          expired += 1;
          continue;
        }
        if (kind === ItemKinds.chunk && now - Number(item[A.createdAt]?.N ?? now) >= this.gcGraceMs) {
          const manifest = await this.getEntryItem(pk, true);
          if (manifest?.[A.generation]?.S !== item[A.generation]?.S) {
            doomed.push(item);
            orphanedChunks += 1;
          }
        }
      }
      if (doomed.length > 0) await this.io.deleteKeys(doomed.map((item) => this.keyOf(item)));
      return doomed.length;
    });
    this.logger.info({ backend: this.name, table: this.tableName, scanned, staleGeneration, orphanedChunks, expired }, 'dynamodb gc finished');
    return { scanned, staleGeneration, orphanedChunks, expired };
  }

  /** Walks every item of the table in parallel segments, keys and small attributes only. */
  private async scanAll(visit: (items: Item[]) => Promise<number>): Promise<void> {
    const segments = Array.from({ length: SCAN_SEGMENTS }, (_, i) => i);
    await runConcurrently(segments, SCAN_SEGMENTS, async (segment) => {
      let startKey: Item | undefined;
      do {
        const out = await this.io.send('Scan', () =>
          this.client.send(
            new ScanCommand({
              TableName: this.tableName,
              Segment: segment,
              TotalSegments: SCAN_SEGMENTS,
              // Values are not needed to decide what to delete; projecting them away keeps gc cheap on bandwidth.
              ProjectionExpression: '#pk, #sk, #kd, #gen, #ct, #exp',
              ExpressionAttributeNames: {
                '#pk': TableSchema.partitionKey,
                '#sk': TableSchema.sortKey,
                '#kd': A.kind,
                '#gen': A.generation,
                '#ct': A.createdAt,
                '#exp': A.expiresAtMs,
              },
              ExclusiveStartKey: startKey,
              ConsistentRead: true,
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        );
        await visit(out.Items ?? []);
        startKey = out.LastEvaluatedKey;
      } while (startKey !== undefined);
    });
  }

  // ---- health, stats, close ------------------------------------------------------------

  protected override async _healthSteps(): Promise<HealthCheckStep[]> {
    const manager = new TableManager({ client: this.client, tableName: this.tableName });
    const steps: HealthCheckStep[] = [];
    const t0 = performance.now();
    try {
      const summary = await manager.describe();
      steps.push({ name: 'table', ok: summary.status === 'ACTIVE', latencyMs: performance.now() - t0, detail: `status ${summary.status}` });
      // ENABLING is fine: TTL was just turned on and DynamoDB takes up to an hour to report ENABLED.
      const ttlOk = (summary.ttl.status === 'ENABLED' || summary.ttl.status === 'ENABLING') && summary.ttl.attribute === TableSchema.ttlAttribute;
      steps.push({
        name: 'ttl',
        ok: ttlOk,
        detail: ttlOk
          ? `${summary.ttl.status.toLowerCase()} on ${TableSchema.ttlAttribute}`
          : `TTL is ${summary.ttl.status}${summary.ttl.attribute ? ` on ${summary.ttl.attribute}` : ''}; run \`cachevault table create\` or TableManager.enableTtl()`,
      });
    } catch (err) {
      steps.push({ name: 'table', ok: false, latencyMs: performance.now() - t0, detail: err instanceof Error ? err.message : String(err) });
    }
    return steps;
  }

  protected override _statsExtra(): Pick<BackendStats, 'extra'> {
    return {
      extra: {
        table: this.tableName,
        consumedReadCapacity: this.io.capacity.read,
        consumedWriteCapacity: this.io.capacity.write,
        batchRetries: this.io.batchRetries,
        chunkedWrites: this.chunkedWrites,
        namespaceGenerationLookups: this.generations.lookups,
      },
    };
  }

  protected async _close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  private entryKey(pk: string): Item {
    return { [TableSchema.partitionKey]: { S: pk }, [TableSchema.sortKey]: { S: SortKeys.entry } };
  }

  private keyOf(item: Item): Item {
    return { [TableSchema.partitionKey]: item[TableSchema.partitionKey] as Item[string], [TableSchema.sortKey]: item[TableSchema.sortKey] as Item[string] };
  }
}
