import { backOff } from 'exponential-backoff';
import { isThrottlingError } from './errors';

export interface BatchRetryOptions {
  /** Stop retrying once this long has passed since the first attempt. */
  readonly deadlineMs: number;
  /** First backoff delay; doubled each retry, with full jitter. @default 25 */
  readonly startingDelayMs?: number;
  /** Longest single backoff delay. @default 1000 */
  readonly maxDelayMs?: number;
  /** Called before each retry, for stats. */
  readonly onRetry?: (pending: number, attempt: number) => void;
}

/** Why a batch gave up: items still pending, and whether the last failure was throttling. */
export class BatchIncomplete<T> {
  constructor(
    readonly pending: readonly T[],
    readonly lastError: unknown,
  ) {}
}

/** Thrown inside the backoff loop to ask for another round with the unprocessed items. */
class UnprocessedSignal {
  constructor(readonly count: number) {}
}

/**
 * Sends `items` with `send`, which returns the items the service left unprocessed
 * (BatchWriteItem's UnprocessedItems, BatchGetItem's UnprocessedKeys), and resends those with
 * exponential backoff and full jitter until none are left or the deadline passes. A throttling
 * error for the whole request is retried the same way. Returns the items still pending when it
 * gave up (empty on success) so the caller can report them; nothing is dropped silently.
 */
export async function sendUntilProcessed<T>(
  items: readonly T[],
  send: (pending: readonly T[]) => Promise<readonly T[]>,
  options: BatchRetryOptions,
): Promise<BatchIncomplete<T> | undefined> {
  let pending: readonly T[] = items;
  let lastError: unknown;
  const startedAt = performance.now();
  try {
    await backOff(
      async () => {
        pending = await send(pending);
        if (pending.length > 0) throw new UnprocessedSignal(pending.length);
      },
      {
        startingDelay: options.startingDelayMs ?? 25,
        maxDelay: options.maxDelayMs ?? 1_000,
        jitter: 'full',
        numOfAttempts: Number.MAX_SAFE_INTEGER,
        retry: (err: unknown, attempt: number) => {
          lastError = err;
          const retryable = err instanceof UnprocessedSignal || isThrottlingError(err);
          if (!retryable || performance.now() - startedAt >= options.deadlineMs) return false;
          options.onRetry?.(pending.length, attempt);
          return true;
        },
      },
    );
    return undefined;
  } catch (err) {
    if (err instanceof UnprocessedSignal || isThrottlingError(err)) return new BatchIncomplete(pending, lastError);
    throw err;
  }
}
