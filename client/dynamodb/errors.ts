import { BackendError, CacheVaultError, type CacheVaultErrorOptions } from '../errors';

/** The local DynamoDB engine (DynamoDB Local on Java) could not be started or stopped. */
export class DynamoDbLocalError extends CacheVaultError {
  override name = 'DynamoDbLocalError';
  override readonly code = 'DYNAMODB_LOCAL_FAILED';
}

/** Base of every DynamoDB failure cachevault reports; `tableName` says which table. */
export class DynamoDBError extends BackendError {
  override name = 'DynamoDBError';
  override readonly code: string = 'DYNAMODB_ERROR';
  readonly tableName: string;
  constructor(tableName: string, message: string, options: CacheVaultErrorOptions = {}) {
    super('dynamodb', message, { ...options, context: { ...options.context, tableName } });
    this.tableName = tableName;
  }
}

/** The table does not exist (ResourceNotFoundException). */
export class TableNotFoundError extends DynamoDBError {
  override name = 'TableNotFoundError';
  override readonly code = 'DYNAMODB_TABLE_NOT_FOUND';
  constructor(tableName: string, options: CacheVaultErrorOptions = {}) {
    super(tableName, `DynamoDB table "${tableName}" does not exist (or is not in this region/account).`, {
      hint:
        `Create it with \`cachevault table create --table ${tableName}\` (or TableManager.create() in code, ` +
        'or deploy the CDK stack), or set dynamodb.createTable: true for local use; check dynamodb.region.',
      ...options,
    });
  }
}

/** The caller's IAM identity may not perform `action` on the table. */
export class DynamoDBAccessDeniedError extends DynamoDBError {
  override name = 'DynamoDBAccessDeniedError';
  override readonly code = 'DYNAMODB_ACCESS_DENIED';
  readonly action: string;
  constructor(tableName: string, action: string, options: CacheVaultErrorOptions = {}) {
    super(tableName, `Access denied: this identity may not call dynamodb:${action} on table "${tableName}".`, {
      hint:
        `Grant dynamodb:${action} on arn:aws:dynamodb:<region>:<account>:table/${tableName} ` +
        '(the CDK stack grants it with table.grantReadWriteData), or use credentials that have it.',
      ...options,
      context: { ...options.context, action },
    });
    this.action = action;
  }
}

/** Requests were still throttled after the SDK's retries. */
export class DynamoDBThrottledError extends DynamoDBError {
  override name = 'DynamoDBThrottledError';
  override readonly code = 'DYNAMODB_THROTTLED';
  /** Capacity units this client consumed on the table before giving up (from ReturnConsumedCapacity). */
  readonly consumedCapacity: number;
  constructor(tableName: string, action: string, consumedCapacity: number, options: CacheVaultErrorOptions = {}) {
    super(
      tableName,
      `DynamoDB throttled dynamodb:${action} on table "${tableName}" after retries; ` +
        `this client had consumed ${consumedCapacity.toFixed(1)} capacity units on it.`,
      {
        hint:
          'Switch the table to on-demand (PAY_PER_REQUEST) or raise its provisioned capacity, ' +
          'spread load across keys, or raise dynamodb.maxAttempts.',
        ...options,
        context: { ...options.context, action, consumedCapacity },
      },
    );
    this.consumedCapacity = consumedCapacity;
  }
}

/** A batch left items unprocessed past `batchRetryDeadlineMs`; none were silently dropped. */
export class UnprocessedBatchError extends DynamoDBError {
  override name = 'UnprocessedBatchError';
  override readonly code = 'DYNAMODB_UNPROCESSED_ITEMS';
  /** How many items (reads or writes) were still unprocessed when the deadline passed. */
  readonly remaining: number;
  constructor(tableName: string, action: string, remaining: number, deadlineMs: number, options: CacheVaultErrorOptions = {}) {
    super(
      tableName,
      `dynamodb:${action} on table "${tableName}" left ${remaining} item(s) unprocessed after retrying for ${deadlineMs} ms.`,
      {
        hint: 'The table is throttling: raise its capacity (or use on-demand), or raise dynamodb.batchRetryDeadlineMs. The remaining items were not written/read.',
        ...options,
        context: { ...options.context, action, remaining },
      },
    );
    this.remaining = remaining;
  }
}

/** An existing table does not have the layout cachevault needs. */
export class TableSchemaMismatchError extends DynamoDBError {
  override name = 'TableSchemaMismatchError';
  override readonly code = 'DYNAMODB_TABLE_MISMATCH';
  readonly problems: readonly string[];
  constructor(tableName: string, problems: readonly string[], options: CacheVaultErrorOptions = {}) {
    super(tableName, `DynamoDB table "${tableName}" does not match cachevault's schema: ${problems.join('; ')}.`, {
      hint: 'Point dynamodb.tableName at a table created by `cachevault table create` or the CDK stack, or delete and recreate this one.',
      ...options,
    });
    this.problems = problems;
  }
}

/** Nothing answered at the endpoint: connection refused, DNS failure, network unreachable. */
export class EndpointUnreachableError extends DynamoDBError {
  override name = 'EndpointUnreachableError';
  override readonly code = 'ENDPOINT_UNREACHABLE';
  readonly endpoint: string | undefined;
  constructor(tableName: string, endpoint: string | undefined, reason: string, options: CacheVaultErrorOptions = {}) {
    super(tableName, `Could not reach the endpoint ${endpoint ?? 'of DynamoDB'} (${reason}).`, {
      hint:
        reason === 'ENOTFOUND' || reason === 'EAI_AGAIN'
          ? 'The host name does not resolve: check dynamodb.endpoint, or dynamodb.region (AWS_REGION) for a region that exists.'
          : 'Start the service at dynamodb.endpoint (`npx cachevault local` runs DynamoDB Local) or fix the endpoint. A hybrid cache keeps working on its local tiers meanwhile.',
      ...options,
      context: { endpoint, reason, ...options.context },
    });
    this.endpoint = endpoint;
  }
}

/** The endpoint accepted the connection (or the connection attempt hung) but did not answer in time. */
export class EndpointTimeoutError extends DynamoDBError {
  override name = 'EndpointTimeoutError';
  override readonly code = 'ENDPOINT_TIMEOUT';
  constructor(tableName: string, action: string, options: CacheVaultErrorOptions = {}) {
    super(tableName, `A request timed out: dynamodb:${action} on table "${tableName}".`, {
      hint: 'Check the network path to DynamoDB; raise dynamodb.requestTimeoutMs if the service is slow but healthy.',
      ...options,
    });
  }
}

/** The AWS SDK found no credentials, or the ones it found are expired or not valid. */
export class AwsCredentialsMissingError extends DynamoDBError {
  override name = 'AwsCredentialsMissingError';
  override readonly code = 'AWS_CREDENTIALS_MISSING';
  constructor(tableName: string, problem: 'missing' | 'expired' | 'invalid', options: CacheVaultErrorOptions = {}) {
    const what = { missing: 'No AWS credentials were found.', expired: 'The AWS credentials have expired.', invalid: 'AWS rejected the credentials (unknown access key or bad signature).' }[problem];
    super(tableName, what, {
      hint:
        problem === 'expired'
          ? 'Refresh them (`aws sso login`, a new session token), or use an instance/task role.'
          : 'Set AWS_PROFILE or access keys, use an instance/task role, or for local use set dynamodb.endpoint to DynamoDB Local (`npx cachevault local`).',
      ...options,
      context: { problem, ...options.context },
    });
  }
}

/** The SDK could not determine a region (no dynamodb.region, AWS_REGION or profile region). */
export class AwsRegionMissingError extends DynamoDBError {
  override name = 'AwsRegionMissingError';
  override readonly code = 'AWS_REGION_MISSING';
  constructor(tableName: string, options: CacheVaultErrorOptions = {}) {
    super(tableName, `No AWS region is set for DynamoDB table "${tableName}".`, {
      hint: 'Set dynamodb.region (CACHEVAULT_DYNAMODB_REGION) or AWS_REGION, or a region in the AWS profile.',
      ...options,
    });
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const EXPIRED = new Set(['ExpiredTokenException', 'ExpiredToken', 'TokenRefreshRequired']);
const INVALID_CREDENTIALS = new Set(['UnrecognizedClientException', 'InvalidSignatureException', 'InvalidClientTokenId', 'IncompleteSignatureException']);

/** Every error in a cause chain, including those of an AggregateError (Node's happy-eyeballs connect). */
function* causeChain(err: unknown, depth = 0): Generator<Error & { code?: unknown }> {
  if (!(err instanceof Error) || depth > 8) return;
  yield err;
  if (err instanceof AggregateError) for (const e of err.errors) yield* causeChain(e, depth + 1);
  yield* causeChain(err.cause, depth + 1);
}

/**
 * Network, credential and region failures, which say nothing about the table: mapped to the
 * codes docs/troubleshooting.md documents, with the original kept as `cause`. Shared by the
 * DynamoDB code and the health checks (KMS, Secrets Manager fail the same way).
 */
export function translateConnectionError(
  err: unknown,
  context: { readonly tableName: string; readonly action: string; readonly endpoint?: string },
): DynamoDBError | undefined {
  for (const e of causeChain(err)) {
    // The SDK sometimes wraps a socket error as "AWS SDK error wrapper for Error: connect
    // ECONNREFUSED 127.0.0.1:8000", with neither `code` nor `cause`: the message is all there is.
    const wrapped = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EPIPE|ETIMEDOUT)\b(?:\s+(\S+))?/.exec(e.message);
    const code = typeof e.code === 'string' ? e.code : wrapped?.[1];
    if (code && UNREACHABLE.has(code) && e.code === undefined && wrapped) {
      return new EndpointUnreachableError(context.tableName, context.endpoint ?? wrapped[2], code, { cause: err });
    }
    if (code && UNREACHABLE.has(code)) return new EndpointUnreachableError(context.tableName, context.endpoint ?? endpointOf(e), code, { cause: err });
    if (code === 'ETIMEDOUT' || TIMEOUT_NAMES.has(e.name)) return new EndpointTimeoutError(context.tableName, context.action, { cause: err });
    if (e.name === 'CredentialsProviderError' || /Could not load credentials from any providers/.test(e.message)) {
      return new AwsCredentialsMissingError(context.tableName, 'missing', { cause: err });
    }
    if (EXPIRED.has(e.name) || /security token included in the request is expired/i.test(e.message)) {
      return new AwsCredentialsMissingError(context.tableName, 'expired', { cause: err });
    }
    if (INVALID_CREDENTIALS.has(e.name)) return new AwsCredentialsMissingError(context.tableName, 'invalid', { cause: err });
    if (/^Region is missing/.test(e.message)) return new AwsRegionMissingError(context.tableName, { cause: err });
  }
  return undefined;
}

function endpointOf(e: Error & { address?: unknown; port?: unknown; hostname?: unknown }): string | undefined {
  if (typeof e.address === 'string') return typeof e.port === 'number' ? `${e.address}:${e.port}` : e.address;
  return typeof e.hostname === 'string' ? e.hostname : undefined;
}

/** Name/shape of the AWS SDK v3 service exceptions we inspect, without importing their classes. */
interface AwsServiceError {
  readonly name: string;
  readonly message: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

function isAwsError(err: unknown): err is AwsServiceError {
  return err instanceof Error && typeof (err as { name?: unknown }).name === 'string';
}

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
]);

export function isThrottlingError(err: unknown): boolean {
  return isAwsError(err) && THROTTLING.has(err.name);
}

export function isConditionalCheckFailure(err: unknown): boolean {
  return isAwsError(err) && (err.name === 'ConditionalCheckFailedException' || err.name === 'TransactionCanceledException');
}

/**
 * Turns a known AWS error into ours with an actionable message; unknown errors become a
 * DynamoDBError carrying the original as `cause`. Our own errors pass through unchanged.
 */
export function translateDynamoError(
  err: unknown,
  context: { readonly tableName: string; readonly action: string; readonly consumedCapacity?: number; readonly endpoint?: string },
): Error {
  if (err instanceof CacheVaultError) return err;
  const connection = translateConnectionError(err, context);
  if (connection) return connection;
  if (!isAwsError(err)) {
    return new DynamoDBError(context.tableName, `dynamodb:${context.action} failed: ${String(err)}`, { cause: err });
  }
  if (err.name === 'ResourceNotFoundException') return new TableNotFoundError(context.tableName, { cause: err });
  // A table of the same name with other key attributes: every keyed call fails this way.
  if (err.name === 'ValidationException' && /key element does not match the schema|Missing the key/i.test(err.message)) {
    return new TableSchemaMismatchError(context.tableName, [`its key schema is not cachevault's (${err.message})`], { cause: err });
  }
  if (err.name === 'AccessDeniedException') {
    return new DynamoDBAccessDeniedError(context.tableName, actionFromMessage(err.message) ?? context.action, { cause: err });
  }
  if (err.name === 'ResourceInUseException') {
    return new DynamoDBError(context.tableName, `dynamodb:${context.action} failed: table "${context.tableName}" already exists or is being created, updated or deleted.`, {
      hint: 'Use TableManager.ensure() (or `cachevault table create`, which checks first) to reuse an existing table; wait for a pending change to finish.',
      cause: err,
    });
  }
  if (THROTTLING.has(err.name)) {
    return new DynamoDBThrottledError(context.tableName, context.action, context.consumedCapacity ?? 0, { cause: err });
  }
  return new DynamoDBError(context.tableName, `dynamodb:${context.action} on table "${context.tableName}" failed: ${err.name}: ${err.message}`, {
    cause: err,
  });
}

/** AWS names the denied action in the message ("...is not authorized to perform: dynamodb:GetItem on..."). */
function actionFromMessage(message: string): string | undefined {
  return /perform:\s*dynamodb:([A-Za-z]+)/.exec(message)?.[1];
}
