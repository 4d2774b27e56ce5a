import type { AdvancedCacheConfig, BackendType } from '../config/schema';
import type { DynamoDBLease } from '../dynamodb/dynamodbLease';
import { CacheVaultError } from '../errors';
import { silentLogger } from '../logger';
import { describeError } from '../describeError';
import type { CacheBackend } from './cacheBackend';
import { BackendStartError } from './hybrid/errors';
import { backendRegistry, type BackendFactoryDeps, type BackendRegistry } from './registry';
import { sectionOf } from './registry/configSection';

/** The DynamoDBBackend options the config's `dynamodb` section asks for (also used by the CLI's maintenance commands). */
export { dynamoBackendOptions } from './registry/dynamodb';

export type { BackendFactoryDeps };

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
 * Builds the configured backend through its registered definition (client/backends/registry).
 * AWS SDK modules, SQLite and the hybrid machinery are loaded only when the configuration needs
 * them, so an app on the memory backend never pays their start-up cost.
 *
 * A backend "cannot start" when its storage cannot be opened (cache directory not writable,
 * DynamoDB table missing or access denied). An unreachable DynamoDB inside a hybrid backend is
 * not such a failure: the hybrid starts, serves from its local tiers and probes DynamoDB again
 * through its circuit breaker. When the preferred backend cannot start and `config.fallback`
 * names another, that one starts, with a warning and `fallbackReason`; otherwise the error says
 * what failed and what to do.
 *
 * `registry` is the built-in one; a test passes its own to start a type it registered.
 */
export async function createBackend(config: AdvancedCacheConfig, deps: BackendFactoryDeps = {}, registry: BackendRegistry = backendRegistry): Promise<CreatedBackend> {
  const logger = deps.logger ?? silentLogger;
  const build = async (type: BackendType): Promise<CreatedBackend> => {
    const started = await registry.definition(type).create({ section: sectionOf(config, type), config, deps, role: 'backend' });
    return { ...started, name: type };
  };
  try {
    return await build(config.backend);
  } catch (err) {
    const fallback = config.fallback;
    if (fallback === undefined || fallback === config.backend) throw startError(config.backend, err, fallback === undefined && !deps.exactBackend);
    const reason = `the ${config.backend} backend could not start: ${describeError(err)}`;
    logger.warn({ backend: config.backend, fallback, error: describeError(err) }, 'preferred cache backend could not start; using the fallback');
    try {
      const started = await build(fallback);
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
