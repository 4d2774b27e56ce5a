import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { z } from 'zod';
import { describeError } from '../../describeError';
import type { DynamoDBLease } from '../../dynamodb/dynamodbLease';
import { CacheVaultError } from '../../errors';
import { loadOptional } from '../../optionalDependency';
import type { DynamoDBBackendOptions } from '../dynamodbBackend';
import type { BackendCreateContext, BackendDefinition, StartedBackend, ZodApi } from './types';

/** The `dynamodb` section: the shared tier's table and how to reach it. */
function dynamodbConfig(z: ZodApi) {
  const positiveInt = z.number().int().positive();
  return z.strictObject({
    tableName: z.string().min(3).max(255).regex(/^[A-Za-z0-9_.-]+$/).default('cachevault'),
    /** Unset: AWS_REGION / AWS_DEFAULT_REGION, else the AWS SDK's own resolution (profile, instance metadata). */
    region: z.string().min(1).optional(),
    /** Endpoint override (DynamoDB Local); omit on AWS. */
    endpoint: z.url().optional(),
    /** Strongly consistent reads (twice the read cost). */
    consistentRead: z.boolean().default(false),
    /** Per-request timeout. */
    requestTimeoutMs: positiveInt.default(3_000),
    /** SDK retry attempts for throttling and transient errors. */
    maxAttempts: positiveInt.default(5),
    /** Largest item body before an entry is split into chunks. */
    chunkBytes: positiveInt.max(390 * 1024).default(350 * 1024),
    /** Deadline for retrying unprocessed batch items. */
    batchRetryDeadlineMs: positiveInt.default(10_000),
    /** Create the table (with TTL) at start-up if it does not exist; for local use. */
    createTable: z.boolean().default(false),
  });
}

type DynamoDBSection = z.output<ReturnType<typeof dynamodbConfig>>;

/** The shared tier (dynamodbBackend.ts); loads the AWS SDK only when started. */
export const dynamodbBackendDefinition: BackendDefinition<'dynamodb', ReturnType<typeof dynamodbConfig>> = {
  type: 'dynamodb',
  configSection: dynamodbConfig,
  capabilities: { shared: true, persistent: true, hybridTier: true },
  // DynamoDB Local takes ~3,300 items/s through BatchWriteItem; AWS is faster but throttles by
  // provisioned capacity.
  estimatedEntriesPerSecond: 2_000,
  /**
   * The invalidation log lives in the same table, on its own client: a poll that meets an outage
   * must fail within a few windows (two attempts, a short timeout), not wait out the entries'
   * retries, and it must not queue behind them.
   */
  invalidationLog(d, coherence) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DynamoInvalidationLog } = require('../../dynamodb/invalidationLogTable') as typeof import('../../dynamodb/invalidationLogTable');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createDynamoDBClient } = require('../../dynamodb/dynamodbClient') as typeof import('../../dynamodb/dynamodbClient');
    const client = createDynamoDBClient({
      region: d.region,
      endpoint: d.endpoint,
      requestTimeoutMs: Math.min(d.requestTimeoutMs, Math.max(1_000, 4 * coherence.windowMs)),
      maxAttempts: 2,
    });
    return new DynamoInvalidationLog({ client, closeClient: true, tableName: d.tableName, shards: coherence.shards, retentionMs: coherence.retentionMs });
  },
  spec: {
    examples: ['dynamodb:my-cache-table', 'dynamodb:TABLE?region=us-east-1&endpoint=http://127.0.0.1:8000'],
    parameters: {
      region: 'string',
      endpoint: 'string',
      consistentRead: 'boolean',
      requestTimeoutMs: 'int',
      maxAttempts: 'int',
      chunkBytes: 'int',
      batchRetryDeadlineMs: 'int',
      createTable: 'boolean',
    },
    fromLocation: (location) => (location === '' ? { problem: 'dynamodb: needs a table name, e.g. dynamodb:my-cache-table' } : { tableName: location }),
    identity(section) {
      const parameters: [string, string][] = [];
      if (section.region) parameters.push(['region', section.region]);
      if (section.endpoint !== undefined) parameters.push(['endpoint', section.endpoint]);
      return { location: section.tableName, parameters };
    },
    urlParameters: ['endpoint'],
    refuse: (section) =>
      section.endpoint !== undefined && new URL(section.endpoint).username !== '' ? 'the endpoint must not carry credentials; use the AWS credential chain' : undefined,
  },
  create: (context) => startDynamo(context),
};

/** The DynamoDBBackend options a `dynamodb` section asks for (also used by the CLI's maintenance commands). */
export function dynamoBackendOptions(config: { readonly dynamodb: DynamoDBSection }): DynamoDBBackendOptions {
  const d = config.dynamodb;
  return {
    tableName: d.tableName,
    region: d.region,
    endpoint: d.endpoint,
    consistentRead: d.consistentRead,
    chunkBytes: d.chunkBytes,
    batchRetryDeadlineMs: d.batchRetryDeadlineMs,
    requestTimeoutMs: d.requestTimeoutMs,
    maxAttempts: d.maxAttempts,
  };
}

/**
 * Builds the DynamoDB backend and checks, with one read of a key that does not exist, that the
 * table is there and readable. Missing tables and denied access fail the start; a network
 * failure fails it only when DynamoDB is the whole backend, not a tier behind local ones.
 */
async function startDynamo({ section: d, config, deps, role }: BackendCreateContext<DynamoDBSection>): Promise<StartedBackend> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DynamoDBBackend } = loadOptional('@aws-sdk/client-dynamodb', () => require('../dynamodbBackend') as typeof import('../dynamodbBackend'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createDynamoDBClient } = require('../../dynamodb/dynamodbClient') as typeof import('../../dynamodb/dynamodbClient');
  const clientOptions = { region: d.region, endpoint: d.endpoint, requestTimeoutMs: d.requestTimeoutMs, maxAttempts: d.maxAttempts };
  const warnings: string[] = [];
  if (d.createTable) {
    const client = createDynamoDBClient(clientOptions);
    try {
      await ensureTable(client, d.tableName);
    } finally {
      client.destroy();
    }
  }
  const backend = new DynamoDBBackend({ ...dynamoBackendOptions({ dynamodb: d }), clock: deps.clock, logger: deps.logger });
  try {
    await backend.get('__health__', 'startup-probe');
  } catch (err) {
    if (role === 'backend' || isConfigurationProblem(err)) {
      await backend.close().catch(() => undefined);
      throw err;
    }
    warnings.push(`DynamoDB table "${d.tableName}" is unreachable (${describeError(err)}); serving from the local tiers until it answers.`);
    deps.logger?.warn({ table: d.tableName, error: describeError(err) }, 'shared tier unreachable at start-up; starting degraded');
  }
  let lease: DynamoDBLease | undefined;
  if (config.hybrid.lease) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DynamoDBLease } = require('../../dynamodb/dynamodbLease') as typeof import('../../dynamodb/dynamodbLease');
    lease = new DynamoDBLease({
      tableName: d.tableName,
      client: createDynamoDBClient(clientOptions),
      closeClient: true,
      leaseMs: config.hybrid.leaseMs,
      clock: deps.clock,
      logger: deps.logger,
    });
  }
  return { backend, lease, warnings };
}

async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { TableManager } = require('../../dynamodb/tableManager') as typeof import('../../dynamodb/tableManager');
  await new TableManager({ client, tableName, waitTimeoutMs: 60_000 }).ensure();
}

/** Errors a retry will not fix: the configuration or the account must change. */
function isConfigurationProblem(err: unknown): boolean {
  const code = err instanceof CacheVaultError ? err.code : undefined;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const name = e.name;
    if (name === 'TableNotFoundError' || name === 'DynamoDBAccessDeniedError' || name === 'TableSchemaMismatchError') return true;
    if (name === 'ResourceNotFoundException' || name === 'AccessDeniedException' || name === 'UnrecognizedClientException') return true;
  }
  return code === 'CONFIG_INVALID';
}
