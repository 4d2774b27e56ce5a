import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { TableSchema } from '../schema/tableSchema';
import { DynamoDBError, TableNotFoundError, TableSchemaMismatchError, translateDynamoError } from './errors';

export interface TableManagerOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Longest wait for a table to become ACTIVE (or to disappear on delete). @default 300000 */
  readonly waitTimeoutMs?: number;
}

export interface CreateTableOptions {
  /** @default 'PAY_PER_REQUEST' */
  readonly billingMode?: 'PAY_PER_REQUEST' | 'PROVISIONED';
  /** Read capacity units for PROVISIONED. @default 5 */
  readonly readCapacity?: number;
  /** Write capacity units for PROVISIONED. @default 5 */
  readonly writeCapacity?: number;
}

/** One way an existing table differs from what cachevault needs. */
export interface TableProblem {
  readonly kind: 'missing' | 'status' | 'key-schema' | 'attribute-type' | 'ttl';
  readonly expected: string;
  readonly actual: string;
  readonly message: string;
}

export type TtlStatus = 'ENABLED' | 'ENABLING' | 'DISABLED' | 'DISABLING' | 'UNKNOWN';

export interface TableSummary {
  readonly tableName: string;
  readonly status: string;
  /** DynamoDB refreshes these about every six hours; approximate. */
  readonly itemCount: number;
  readonly sizeBytes: number;
  readonly billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  readonly readCapacity?: number;
  readonly writeCapacity?: number;
  readonly ttl: { readonly status: TtlStatus; readonly attribute: string | undefined };
  /** Point-in-time recovery; `UNKNOWN` when the endpoint does not report it. */
  readonly pointInTimeRecovery: 'ENABLED' | 'DISABLED' | 'UNKNOWN';
  readonly createdAt: Date | undefined;
}

/**
 * Creates, checks and describes the cache table, from the one schema in client/schema/tableSchema.ts
 * (the CDK stack builds the same table from it). Used by the CLI, by `npm start` and by tests.
 */
export class TableManager {
  readonly tableName: string;
  private readonly client: DynamoDBClient;
  private readonly waitTimeoutMs: number;

  constructor(options: TableManagerOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 300_000;
  }

  /** Creates the table, waits until it is ACTIVE and enables TTL on `expiresAt`. */
  async create(options: CreateTableOptions = {}): Promise<TableSummary> {
    const billingMode = options.billingMode ?? 'PAY_PER_REQUEST';
    await this.call('CreateTable', () =>
      this.client.send(
        new CreateTableCommand({
          TableName: this.tableName,
          AttributeDefinitions: [
            { AttributeName: TableSchema.partitionKey, AttributeType: 'S' },
            { AttributeName: TableSchema.sortKey, AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: TableSchema.partitionKey, KeyType: 'HASH' },
            { AttributeName: TableSchema.sortKey, KeyType: 'RANGE' },
          ],
          BillingMode: billingMode,
          ProvisionedThroughput:
            billingMode === 'PROVISIONED'
              ? { ReadCapacityUnits: options.readCapacity ?? 5, WriteCapacityUnits: options.writeCapacity ?? 5 }
              : undefined,
        }),
      ),
    );
    await this.waitUntilActive();
    await this.enableTtl();
    return this.describe();
  }

  /**
   * Makes sure a usable table exists: creates it when missing, turns TTL on when it is off,
   * and throws TableSchemaMismatchError listing every problem it cannot fix.
   */
  async ensure(options: CreateTableOptions = {}): Promise<{ created: boolean }> {
    const existing = await this.describeRaw();
    if (existing === undefined) {
      await this.create(options);
      return { created: true };
    }
    if (existing.TableStatus !== 'ACTIVE') await this.waitUntilActive();
    const { problems } = await this.validate();
    const fixable = problems.filter((p) => p.kind === 'ttl' && p.actual === 'DISABLED');
    const blocking = problems.filter((p) => !fixable.includes(p));
    if (blocking.length > 0) throw new TableSchemaMismatchError(this.tableName, blocking.map((p) => p.message));
    if (fixable.length > 0) await this.enableTtl();
    return { created: false };
  }

  /** Compares the live table with the schema; every mismatch is reported, not just the first. */
  async validate(): Promise<{ ok: boolean; problems: TableProblem[] }> {
    const table = await this.describeRaw();
    if (table === undefined) {
      return {
        ok: false,
        problems: [{ kind: 'missing', expected: 'an existing table', actual: 'none', message: `table "${this.tableName}" does not exist` }],
      };
    }
    const problems: TableProblem[] = [];
    if (table.TableStatus !== 'ACTIVE') {
      problems.push({ kind: 'status', expected: 'ACTIVE', actual: String(table.TableStatus), message: `table status is ${table.TableStatus}, not ACTIVE` });
    }
    const keyOf = (type: 'HASH' | 'RANGE') => table.KeySchema?.find((k) => k.KeyType === type)?.AttributeName;
    for (const [type, expected] of [
      ['HASH', TableSchema.partitionKey],
      ['RANGE', TableSchema.sortKey],
    ] as const) {
      const actual = keyOf(type);
      const label = type === 'HASH' ? 'partition key' : 'sort key';
      if (actual !== expected) {
        problems.push({ kind: 'key-schema', expected, actual: actual ?? 'none', message: `${label} is ${actual ?? 'missing'}, expected "${expected}"` });
        continue;
      }
      const attrType = table.AttributeDefinitions?.find((a) => a.AttributeName === expected)?.AttributeType;
      if (attrType !== 'S') {
        problems.push({ kind: 'attribute-type', expected: 'S', actual: String(attrType), message: `${label} "${expected}" has type ${attrType}, expected S (string)` });
      }
    }
    const ttl = await this.ttlStatus();
    if (ttl.status !== 'ENABLED' && ttl.status !== 'ENABLING') {
      problems.push({ kind: 'ttl', expected: 'ENABLED', actual: ttl.status, message: `TTL is ${ttl.status}; expired entries would never be reclaimed` });
    } else if (ttl.attribute !== TableSchema.ttlAttribute) {
      problems.push({
        kind: 'ttl',
        expected: TableSchema.ttlAttribute,
        actual: ttl.attribute ?? 'none',
        message: `TTL is on attribute "${ttl.attribute}", expected "${TableSchema.ttlAttribute}"`,
      });
    }
    return { ok: problems.length === 0, problems };
  }

  async describe(): Promise<TableSummary> {
    const table = await this.describeRaw();
    if (table === undefined) throw new TableNotFoundError(this.tableName);
    const [ttl, pitr] = await Promise.all([this.ttlStatus(), this.pitrStatus()]);
    const billingMode = table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST' ? 'PAY_PER_REQUEST' : 'PROVISIONED';
    return {
      tableName: this.tableName,
      status: String(table.TableStatus),
      itemCount: table.ItemCount ?? 0,
      sizeBytes: table.TableSizeBytes ?? 0,
      billingMode,
      readCapacity: billingMode === 'PROVISIONED' ? table.ProvisionedThroughput?.ReadCapacityUnits : undefined,
      writeCapacity: billingMode === 'PROVISIONED' ? table.ProvisionedThroughput?.WriteCapacityUnits : undefined,
      ttl,
      pointInTimeRecovery: pitr,
      createdAt: table.CreationDateTime,
    };
  }

  /** Turns TTL on for `expiresAt`; a no-op when it already is. */
  async enableTtl(): Promise<void> {
    const ttl = await this.ttlStatus();
    if ((ttl.status === 'ENABLED' || ttl.status === 'ENABLING') && ttl.attribute === TableSchema.ttlAttribute) return;
    if (ttl.status === 'ENABLED' || ttl.status === 'ENABLING') {
      throw new TableSchemaMismatchError(this.tableName, [`TTL is already enabled on "${ttl.attribute}"`], {
        hint: `DynamoDB allows one TTL attribute per table; disable TTL on "${ttl.attribute}" first (it takes up to an hour) or use another table.`,
      });
    }
    await this.call('UpdateTimeToLive', () =>
      this.client.send(
        new UpdateTimeToLiveCommand({
          TableName: this.tableName,
          TimeToLiveSpecification: { AttributeName: TableSchema.ttlAttribute, Enabled: true },
        }),
      ),
    );
  }

  async ttlStatus(): Promise<{ status: TtlStatus; attribute: string | undefined }> {
    const out = await this.call('DescribeTimeToLive', () => this.client.send(new DescribeTimeToLiveCommand({ TableName: this.tableName })));
    const d = out.TimeToLiveDescription;
    return { status: (d?.TimeToLiveStatus as TtlStatus | undefined) ?? 'UNKNOWN', attribute: d?.AttributeName };
  }

  async waitUntilActive(): Promise<void> {
    try {
      const result = await waitUntilTableExists(
        { client: this.client, maxWaitTime: Math.ceil(this.waitTimeoutMs / 1000), minDelay: 1, maxDelay: 5 },
        { TableName: this.tableName },
      );
      if (result.state !== 'SUCCESS') throw new Error(`waiter ended in state ${result.state}`);
    } catch (err) {
      throw new DynamoDBError(this.tableName, `Table "${this.tableName}" did not become ACTIVE within ${this.waitTimeoutMs} ms.`, {
        hint: 'Check the table in the DynamoDB console; creation can be slow when the account is at its table limits.',
        cause: err,
      });
    }
  }

  /** Deletes the table and every entry in it, then waits until it is gone. */
  async delete(): Promise<void> {
    await this.call('DeleteTable', () => this.client.send(new DeleteTableCommand({ TableName: this.tableName })));
    await waitUntilTableNotExists(
      { client: this.client, maxWaitTime: Math.ceil(this.waitTimeoutMs / 1000), minDelay: 1, maxDelay: 5 },
      { TableName: this.tableName },
    );
  }

  /** The raw description, or undefined when the table does not exist. */
  private async describeRaw(): Promise<TableDescription | undefined> {
    try {
      const out = await this.client.send(new DescribeTableCommand({ TableName: this.tableName }));
      return out.Table;
    } catch (err) {
      if (err instanceof Error && err.name === 'ResourceNotFoundException') return undefined;
      throw translateDynamoError(err, { tableName: this.tableName, action: 'DescribeTable' });
    }
  }

  private async pitrStatus(): Promise<'ENABLED' | 'DISABLED' | 'UNKNOWN'> {
    try {
      const out = await this.client.send(new DescribeContinuousBackupsCommand({ TableName: this.tableName }));
      const status = out.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus;
      return status === 'ENABLED' || status === 'DISABLED' ? status : 'UNKNOWN';
    } catch {
      // Not every endpoint (or IAM policy) answers this; describe() should still work.
      return 'UNKNOWN';
    }
  }

  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translateDynamoError(err, { tableName: this.tableName, action });
    }
  }
}
