import { CacheVaultError, type CacheVaultErrorOptions } from '../errors';

/**
 * A value too large to be read back was refused at `set`. Limits are symmetric: rather than store
 * bytes that every later `get` would have to treat as a miss, the write fails and says which
 * limit applies and how to raise it.
 */
export class ValueTooLargeError extends CacheVaultError {
  override name = 'ValueTooLargeError';
  override readonly code = 'VALUE_TOO_LARGE';
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number, limitName: string, options: CacheVaultErrorOptions = {}) {
    super(`A value of ${bytes} bytes (serialized) exceeds ${limitName} (${limit} bytes): it could be stored but never read back.`, {
      ...options,
      hint: options.hint ?? `Cache smaller values (split them), or raise ${limitName} on every client that reads this cache.`,
      context: { ...options.context, bytes, limit, limitName },
    });
    this.bytes = bytes;
    this.limit = limit;
  }
}

/**
 * `wrap`'s loader did not settle within `hardTimeoutMs` and there was no stale value to serve
 * instead. The loader keeps running; if it succeeds later its value is still cached.
 */
export class LoaderTimeoutError extends CacheVaultError {
  override name = 'LoaderTimeoutError';
  override readonly code = 'LOADER_TIMEOUT';
  readonly timeoutMs: number;
  constructor(timeoutMs: number, options: CacheVaultErrorOptions = {}) {
    super(`The wrap loader did not settle within hardTimeoutMs (${timeoutMs} ms) and no stale value was available.`, {
      ...options,
      hint: options.hint ?? 'Raise hardTimeoutMs, make the loader faster, or set graceMs so a stale value can be served while the loader is slow.',
      context: { ...options.context, timeoutMs },
    });
    this.timeoutMs = timeoutMs;
  }
}
