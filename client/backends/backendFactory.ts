import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AdvancedCacheConfig, BackendType } from '../config/schema';
import type { DynamoDBLease } from '../dynamodb/dynamodbLease';
import { CacheVaultError } from '../errors';
import { loadOptional } from '../optionalDependency';
import { silentLogger } from '../logger';
import type { Clock, Logger, StoredEntry } from '../types';
import { describeError } from '../describeError';
import type { DynamoDBBackendOptions } from './dynamodbBackend';
import type { CacheBackend } from './cacheBackend';
import { BackendStartError } from './hybrid/errors';
import type { HybridTierSpec } from './hybridBackend';
import { MemoryBackend } from './memoryBackend';

export interface BackendFactoryDeps {
  /** @default Date.now */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * Entries that must stay off shared tiers (sealed under a key other machines cannot have);
   * passed to the hybrid backend.
   */
  readonly isLocalOnly?: (entry: StoredEntry) => boolean;
  /**
   * The caller wants exactly this backend (a migration source or target): a failure must not
   * suggest configuring a fallback, which would silently read or write somewhere else.
   */
  readonly exactBackend?: boolean;
}

export interface CreatedBackend {
  readonly backend: CacheBackend;
  /** The backend type that actually started (the fallback's, when the preferred one failed). */
  readonly name: BackendType;
  /** Why the preferred backend did not start, when the fallback runs instead. */
  readonly fallbackReason?: string;
  /**
   * Cross-instance wrap lease, when `hybrid.lease` is on and a DynamoDB tier runs. Pass it to
   * the CacheManager; call its `close()` after the backend's.
   */
  readonly lease?: DynamoDBLease;
  /** Things worth telling the user (the shared tier was unreachable at start-up, ...). */
  readonly warnings: readonly string[];
}

/**
 * Builds the configured backend. AWS SDK modules, SQLite and the hybrid machinery are loaded
 * only when the configuration needs them, so an app on the memory backend never pays their
 * start-up cost.
 *
 * A backend "cannot start" when its storage cannot be opened (cache directory not writable,
 * DynamoDB table missing or access denied). An unreachable DynamoDB inside a hybrid backend is
 * not such a failure: the hybrid starts, serves from its local tiers and probes DynamoDB again
 * through its circuit breaker. When the preferred backend cannot start and `config.fallback`
 * names another, that one starts, with a warning and `fallbackReason`; otherwise the error says
 * what failed and what to do.
 */
export async function createBackend(config: AdvancedCacheConfig, deps: BackendFactoryDeps = {}): Promise<CreatedBackend> {
  const logger = deps.logger ?? silentLogger;
  try {
    return await build(config.backend, config, deps);
  } catch (err) {
    const fallback = config.fallback;
    if (fallback === undefined || fallback === config.backend) throw startError(config.backend, err, fallback === undefined && !deps.exactBackend);
    const reason = `the ${config.backend} backend could not start: ${describeError(err)}`;
    logger.warn({ backend: config.backend, fallback, error: describeError(err) }, 'preferred cache backend could not start; using the fallback');
    try {
      const started = await build(fallback, config, deps);
      return { ...started, fallbackReason: reason, warnings: [`Using the ${fallback} backend because ${reason}`, ...started.warnings] };
    } catch (fallbackErr) {
      throw new BackendStartError(
        fallback,
        `Neither the ${config.backend} backend nor the ${fallback} fallback could start: ${describeError(err)}; then ${describeError(fallbackErr)}.`,
        { cause: fallbackErr, hint: hintFor(err) ?? hintFor(fallbackErr) },
      );
    }
  }
}

async function build(type: BackendType, config: AdvancedCacheConfig, deps: BackendFactoryDeps): Promise<CreatedBackend> {
  const base = { clock: deps.clock, logger: deps.logger };
  switch (type) {
    case 'memory':
      return { backend: memoryBackend(config, deps), name: 'memory', warnings: [] };
    case 'file':
      return { backend: fileBackend(config, deps), name: 'file', warnings: [] };
    case 'dynamodb': {
      const dynamo = await dynamoTier(config, deps, { tolerateUnreachable: false });
      return { backend: dynamo.backend, name: 'dynamodb', lease: dynamo.lease, warnings: dynamo.warnings };
    }
    case 'hybrid': {
      const built: HybridTierSpec[] = [];
      const warnings: string[] = [];
      let lease: DynamoDBLease | undefined;
      try {
        for (const tier of config.hybrid.tiers) {
          if (tier === 'memory') built.push({ name: tier, backend: memoryBackend(config, deps) });
          else if (tier === 'file') built.push({ name: tier, backend: fileBackend(config, deps) });
          else {
            const dynamo = await dynamoTier(config, deps, { tolerateUnreachable: true });
            built.push({ name: tier, backend: dynamo.backend });
            lease = dynamo.lease;
            warnings.push(...dynamo.warnings);
          }
        }
      } catch (err) {
        await Promise.allSettled(built.map((t) => t.backend.close()));
        lease?.close();
        throw err;
      }
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { HybridBackend } = require('./hybridBackend') as typeof import('./hybridBackend');
      const h = config.hybrid;
      const backend = new HybridBackend({
        ...base,
        tiers: built,
        localTtlCapMs: h.localTtlCapMs,
        staleIfErrorMs: h.staleIfErrorMs,
        tierTimeoutMs: h.tierTimeoutMs,
        breakerFailureThreshold: h.breakerFailureThreshold,
        breakerResetMs: h.breakerResetMs,
        strict: h.strict,
        maxPendingReplays: h.maxPendingReplays,
        durableReplays: h.durableReplays,
        isLocalOnly: deps.isLocalOnly,
      });
      return { backend, name: 'hybrid', lease, warnings };
    }
  }
}

function memoryBackend(config: AdvancedCacheConfig, deps: BackendFactoryDeps): MemoryBackend {
  return new MemoryBackend({ clock: deps.clock, logger: deps.logger, maxEntries: config.memory.maxEntries, maxBytes: config.memory.maxBytes });
}

function fileBackend(config: AdvancedCacheConfig, deps: BackendFactoryDeps): CacheBackend {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { FileBackend } = require('./fileBackend') as typeof import('./fileBackend');
  return new FileBackend({ ...config.file, clock: deps.clock, logger: deps.logger });
}

/** The DynamoDBBackend options the config's `dynamodb` section asks for (also used by the CLI's maintenance commands). */
export function dynamoBackendOptions(config: AdvancedCacheConfig): DynamoDBBackendOptions {
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
async function dynamoTier(
  config: AdvancedCacheConfig,
  deps: BackendFactoryDeps,
  options: { tolerateUnreachable: boolean },
): Promise<{ backend: CacheBackend; lease: DynamoDBLease | undefined; warnings: string[] }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DynamoDBBackend } = loadOptional('@aws-sdk/client-dynamodb', () => require('./dynamodbBackend') as typeof import('./dynamodbBackend'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createDynamoDBClient } = require('../dynamodb/dynamodbClient') as typeof import('../dynamodb/dynamodbClient');
  const d = config.dynamodb;
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
  const backend = new DynamoDBBackend({ ...dynamoBackendOptions(config), clock: deps.clock, logger: deps.logger });
  try {
    await backend.get('__health__', 'startup-probe');
  } catch (err) {
    if (!options.tolerateUnreachable || isConfigurationProblem(err)) {
      await backend.close().catch(() => undefined);
      throw err;
    }
    warnings.push(`DynamoDB table "${d.tableName}" is unreachable (${describeError(err)}); serving from the local tiers until it answers.`);
    deps.logger?.warn({ table: d.tableName, error: describeError(err) }, 'shared tier unreachable at start-up; starting degraded');
  }
  let lease: DynamoDBLease | undefined;
  if (config.hybrid.lease) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DynamoDBLease } = require('../dynamodb/dynamodbLease') as typeof import('../dynamodb/dynamodbLease');
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
  const { TableManager } = require('../dynamodb/tableManager') as typeof import('../dynamodb/tableManager');
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

function hintFor(err: unknown): string | undefined {
  return err instanceof CacheVaultError ? err.hint : undefined;
}

/**
 * Failures with their own documented code (docs/troubleshooting.md: ENDPOINT_UNREACHABLE,
 * AWS_CREDENTIALS_MISSING, DYNAMODB_TABLE_MISMATCH...) keep it; a script switching on `code` must
 * not have to dig through BACKEND_START_FAILED's cause.
 */
const OWN_CODE = new Set([
  'ENDPOINT_UNREACHABLE',
  'ENDPOINT_TIMEOUT',
  'AWS_CREDENTIALS_MISSING',
  'AWS_REGION_MISSING',
  'DYNAMODB_TABLE_MISMATCH',
  'DYNAMODB_TABLE_NOT_FOUND',
  'DYNAMODB_ACCESS_DENIED',
  'DEPENDENCY_MISSING',
]);

function startError(backend: BackendType, err: unknown, suggestFallback: boolean): CacheVaultError {
  const fallbackHint = suggestFallback ? 'Set `fallback` (e.g. "file") in the configuration to start degraded instead of failing.' : undefined;
  if (err instanceof CacheVaultError && OWN_CODE.has(err.code)) {
    if (fallbackHint) Object.defineProperty(err, 'hint', { value: [err.hint, fallbackHint].filter(Boolean).join(' '), configurable: true, enumerable: true });
    return err;
  }
  const hint = [hintFor(err), fallbackHint].filter((h): h is string => h !== undefined).join(' ');
  return new BackendStartError(backend, `The ${backend} cache backend could not start: ${describeError(err)}`, { cause: err, hint: hint || undefined });
}
