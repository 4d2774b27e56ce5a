import { createHash, randomUUID } from 'node:crypto';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describeError } from '../describeError';
import type { HeldLease, StampedeLease } from '../core/stampedeLease';
import { silentLogger } from '../logger';
import { TableSchema } from '../schema/tableSchema';
import type { Clock, EntryRef, Logger } from '../types';
import { createDynamoDBClient } from './dynamodbClient';
import { isConditionalCheckFailure, translateDynamoError } from './errors';

export interface DynamoDBLeaseOptions {
  /** The cache table (leases live beside the entries, in their own partitions). */
  readonly tableName: string;
  /** A client to share; when omitted one is built from region/endpoint and closed by `close()`. */
  readonly client?: DynamoDBClient;
  /**
   * Whether `close()` destroys the client: set it when `client` was built for this lease alone.
   * @default true when the lease built its own client, false for a client passed in
   */
  readonly closeClient?: boolean;
  /** @default 'us-east-1' */
  readonly region?: string;
  readonly endpoint?: string;
  /** How long a lease holds; a holder that dies delays the others at most this long. @default 10000 */
  readonly leaseMs?: number;
  /** First wait between polls for the holder's value. @default 25 */
  readonly pollMinMs?: number;
  /** Longest wait between polls (the wait doubles, with jitter, up to this). @default 500 */
  readonly pollMaxMs?: number;
  /** @default Date.now */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** How polling waits; injected by tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Counters for stats and tests. */
export interface LeaseStats {
  /** Leases this client took (it computed the value). */
  acquired: number;
  /** Leases held by someone else when asked (this client waited). */
  contended: number;
  /** Waits that ended with the holder's value. */
  waitHits: number;
  /** Waits that ended because the lease lapsed or was released without a value. */
  lapsed: number;
  /** Lease reads/writes that failed; the caller then computed locally. */
  errors: number;
}

const A = TableSchema.attributes;
/** The lease owner's random token; only lease items have it. */
const OWNER_ATTRIBUTE = 'own';
/** Sort key of lease items, distinct from entries (`v`), chunks (`c#...`) and generations (`ns`). */
const LEASE_SORT_KEY = 'lease';
/** Value of the kind attribute for leases; scans and gc() only touch entries and chunks. */
const LEASE_KIND = 'l';

/**
 * Cross-instance stampede protection on the cache table: of N machines missing the same key,
 * the one whose conditional put creates the lease item computes; the others poll the cache
 * until the value appears or the lease lapses. A lease that cannot be read or written (table
 * down, throttled) never blocks the caller: it computes locally, as it would with no lease.
 *
 * Lease item: pk `#lease#<namespace>#<sha-256 of key>`, sk `lease`, kind `l`, the owner token,
 * `exp` (ms) for the condition and `expiresAt` (s) so DynamoDB TTL reaps abandoned leases.
 */
export class DynamoDBLease implements StampedeLease {
  readonly tableName: string;
  private readonly client: DynamoDBClient;
  private readonly ownsClient: boolean;
  private readonly leaseMs: number;
  private readonly pollMinMs: number;
  private readonly pollMaxMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly sleep: (ms: number) => Promise<void>;
  readonly counters: LeaseStats = { acquired: 0, contended: 0, waitHits: 0, lapsed: 0, errors: 0 };

  constructor(options: DynamoDBLeaseOptions) {
    this.tableName = options.tableName;
    this.ownsClient = options.closeClient ?? options.client === undefined;
    this.client = options.client ?? createDynamoDBClient({ region: options.region ?? 'us-east-1', endpoint: options.endpoint });
    this.leaseMs = options.leaseMs ?? 10_000;
    this.pollMinMs = options.pollMinMs ?? 25;
    this.pollMaxMs = options.pollMaxMs ?? 500;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async acquire(ref: EntryRef): Promise<HeldLease> {
    const pk = leasePartitionKey(ref);
    const token = randomUUID();
    const now = this.clock();
    const until = now + this.leaseMs;
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            [TableSchema.partitionKey]: { S: pk },
            [TableSchema.sortKey]: { S: LEASE_SORT_KEY },
            [A.kind]: { S: LEASE_KIND },
            [OWNER_ATTRIBUTE]: { S: token },
            [A.expiresAtMs]: { N: String(until) },
            [TableSchema.ttlAttribute]: { N: String(Math.ceil(until / 1000)) },
            [A.createdAt]: { N: String(now) },
          },
          // A lease holds until its `exp`, exclusive: the same boundary waitFor() uses.
          ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now',
          ExpressionAttributeNames: { '#pk': TableSchema.partitionKey, '#exp': A.expiresAtMs },
          ExpressionAttributeValues: { ':now': { N: String(now) } },
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailure(err)) {
        this.counters.contended += 1;
        return { acquired: false, release: async () => undefined };
      }
      this.failed('PutItem', err);
      return { acquired: true, release: async () => undefined };
    }
    this.counters.acquired += 1;
    let released = false;
    return {
      acquired: true,
      release: async () => {
        if (released) return;
        released = true;
        await this.release(pk, token);
      },
    };
  }

  async waitFor<T>(
    ref: EntryRef,
    lookup: () => Promise<{ found: boolean; value: T | undefined }>,
  ): Promise<{ found: boolean; value: T | undefined } | undefined> {
    const pk = leasePartitionKey(ref);
    // Never wait much longer than one lease, even if leases keep being renewed by others.
    const giveUpAt = this.clock() + this.leaseMs * 2;
    let delay = this.pollMinMs;
    for (;;) {
      const result = await lookup();
      if (result.found) {
        this.counters.waitHits += 1;
        return result;
      }
      let heldUntil: number | undefined;
      try {
        heldUntil = await this.heldUntil(pk);
      } catch (err) {
        this.failed('GetItem', err);
        return undefined;
      }
      const now = this.clock();
      if (heldUntil === undefined || heldUntil <= now || now >= giveUpAt) {
        // The holder may have stored its value just before releasing: look once more.
        const last = await lookup();
        if (last.found) {
          this.counters.waitHits += 1;
          return last;
        }
        this.counters.lapsed += 1;
        return undefined;
      }
      await this.sleep(Math.min(delay, heldUntil - now, giveUpAt - now));
      delay = Math.min(this.pollMaxMs, delay * 2) * (0.75 + Math.random() * 0.5);
    }
  }

  stats(): LeaseStats {
    return { ...this.counters };
  }

  /** Closes the client when the lease built it. */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  /** When the current lease lapses, or `undefined` when there is none. */
  private async heldUntil(pk: string): Promise<number | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { [TableSchema.partitionKey]: { S: pk }, [TableSchema.sortKey]: { S: LEASE_SORT_KEY } },
        ConsistentRead: true,
        ProjectionExpression: '#exp',
        ExpressionAttributeNames: { '#exp': A.expiresAtMs },
      }),
    );
    const exp = out.Item?.[A.expiresAtMs]?.N;
    return exp === undefined ? undefined : Number(exp);
  }

  private async release(pk: string, token: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { [TableSchema.partitionKey]: { S: pk }, [TableSchema.sortKey]: { S: LEASE_SORT_KEY } },
          ConditionExpression: '#own = :token',
          ExpressionAttributeNames: { '#own': OWNER_ATTRIBUTE },
          ExpressionAttributeValues: { ':token': { S: token } },
        }),
      );
    } catch (err) {
      // Our lease lapsed and someone else holds it now: theirs to release.
      if (isConditionalCheckFailure(err)) return;
      // Otherwise it simply lapses at its expiry.
      this.failed('DeleteItem', err);
    }
  }

  private failed(action: string, err: unknown): void {
    this.counters.errors += 1;
    const translated = translateDynamoError(err, { tableName: this.tableName, action });
    this.logger.warn({ table: this.tableName, action, error: describeError(translated) }, 'wrap lease unavailable; computing locally');
  }
}

/** Keys can be 64 KB and DynamoDB partition keys 2 KB: the lease is addressed by the key's hash. */
function leasePartitionKey(ref: EntryRef): string {
  return `#lease#${ref.namespace}#${createHash('sha256').update(ref.key, 'utf8').digest('hex')}`;
}
