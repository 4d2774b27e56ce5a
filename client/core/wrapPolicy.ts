import { InvalidArgumentError } from '../errors';
import { LoaderTimeoutError } from './errors';
import { checkTags } from './tagVersions';

/** A TTL for `wrap`: fixed, or computed from the loaded value. `null` never expires. */
export type WrapTtl<T> = number | null | ((value: T) => number | null);

/** Options of `wrap`. Every field is optional; without any, `wrap` caches with the default TTL. */
export type WrapOptions<T = unknown> = WrapExpiry<T> & {
  /** Ask the cross-instance lease (if configured) so one machine computes. @default true */
  readonly useLease?: boolean;
  /** Cache the loaded value only when this returns true (e.g. skip partial results). @default always cache */
  readonly shouldCache?: (value: T) => boolean;
  /**
   * A hit less than this many ms before its expiry is served at once and starts one background
   * refresh (one per key in this process; one across instances when the cache has a lease).
   * @default 0 (no refresh-ahead)
   */
  readonly refreshAheadMs?: number;
  /**
   * Keep the value this long past its expiry, and serve it when the loader fails or is slower
   * than `softTimeoutMs` (or `hardTimeoutMs`). Plain `get` still sees it as expired. @default 0
   */
  readonly graceMs?: number;
  /** With `graceMs`: wait this long for the loader before serving the stale value. @default wait for the loader (or hardTimeoutMs) */
  readonly softTimeoutMs?: number;
  /**
   * Give up waiting for the loader after this long: serve the stale value if there is one, else
   * throw LoaderTimeoutError. The loader keeps running and its value is still cached. @default no limit
   */
  readonly hardTimeoutMs?: number;
  /**
   * Cache a loader result of `null` or `undefined` (an absence) for this long, so the loader is
   * not called again within it. `get` reads such an entry as a miss; `wrap` returns the cached
   * `null` or `undefined`. @default absences are cached like any value (with the TTL)
   */
  readonly negativeTtlMs?: number;
  /** Tags to record with the value, for `invalidateTags`. @default none */
  readonly tags?: readonly string[];
};

type WrapExpiry<T> =
  | { readonly ttlMs: WrapTtl<T>; readonly expiresAt?: never }
  | { readonly expiresAt: number | null; readonly ttlMs?: never }
  | { readonly ttlMs?: undefined; readonly expiresAt?: undefined };

export const WRAP_OPTIONS = [
  'ttlMs',
  'expiresAt',
  'useLease',
  'shouldCache',
  'refreshAheadMs',
  'graceMs',
  'softTimeoutMs',
  'hardTimeoutMs',
  'negativeTtlMs',
  'tags',
] as const;

/** `WrapOptions` checked and with defaults filled in. */
export interface WrapPolicy<T> {
  readonly ttl: WrapTtl<T> | undefined;
  readonly expiresAt: number | null | undefined;
  readonly useLease: boolean;
  readonly shouldCache: ((value: T) => boolean) | undefined;
  readonly refreshAheadMs: number;
  readonly graceMs: number;
  readonly softTimeoutMs: number | undefined;
  readonly hardTimeoutMs: number | undefined;
  readonly negativeTtlMs: number | undefined;
  readonly tags: readonly string[] | undefined;
}

/** Checks the option values (names are checked by the caller) and fills defaults. */
export function wrapPolicy<T>(options: WrapOptions<T>): WrapPolicy<T> {
  const ttl = options.ttlMs;
  if (ttl !== undefined && ttl !== null && typeof ttl !== 'number' && typeof ttl !== 'function') {
    throw new InvalidArgumentError(`wrap option ttlMs must be a number of milliseconds, null or a function of the value, got ${typeof ttl}.`);
  }
  if (options.shouldCache !== undefined && typeof options.shouldCache !== 'function') {
    throw new InvalidArgumentError(`wrap option shouldCache must be a function (value) => boolean, got ${typeof options.shouldCache}.`);
  }
  if (options.useLease !== undefined && typeof options.useLease !== 'boolean') {
    throw new InvalidArgumentError(`wrap option useLease must be a boolean, got ${typeof options.useLease}.`);
  }
  const graceMs = duration(options.graceMs, 'graceMs', 0) ?? 0;
  const softTimeoutMs = duration(options.softTimeoutMs, 'softTimeoutMs', 1);
  const hardTimeoutMs = duration(options.hardTimeoutMs, 'hardTimeoutMs', 1);
  if (softTimeoutMs !== undefined && graceMs === 0) {
    throw new InvalidArgumentError('wrap option softTimeoutMs needs graceMs: without a stale value there is nothing to serve when the loader is slow.', {
      hint: 'Set graceMs (how long past expiry a value may be served), or use hardTimeoutMs to fail slow loads.',
    });
  }
  if (softTimeoutMs !== undefined && hardTimeoutMs !== undefined && softTimeoutMs >= hardTimeoutMs) {
    throw new InvalidArgumentError(`wrap option softTimeoutMs (${softTimeoutMs}) must be shorter than hardTimeoutMs (${hardTimeoutMs}).`);
  }
  return {
    ttl,
    expiresAt: options.expiresAt,
    useLease: options.useLease ?? true,
    shouldCache: options.shouldCache,
    refreshAheadMs: duration(options.refreshAheadMs, 'refreshAheadMs', 0) ?? 0,
    graceMs,
    softTimeoutMs,
    hardTimeoutMs,
    negativeTtlMs: duration(options.negativeTtlMs, 'negativeTtlMs', 1),
    tags: options.tags === undefined ? undefined : checkTags(options.tags, 'wrap option tags'),
  };
}

function duration(value: unknown, name: string, min: 0 | 1): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(`wrap option ${name} must be a ${min === 0 ? 'non-negative' : 'positive'} number of milliseconds, got ${String(value)}.`, {
      hint: 'Durations are in milliseconds: one second is 1000.',
    });
  }
  return value;
}

/** The TTL to write a loaded value with (`undefined`: the manager's default). Throws for a bad computed TTL. */
export function ttlFor<T>(policy: WrapPolicy<T>, value: T): number | null | undefined {
  if (typeof policy.ttl !== 'function') return policy.ttl;
  const ttl = policy.ttl(value);
  if (ttl !== null && (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0)) {
    throw new InvalidArgumentError(`wrap option ttlMs(value) returned ${String(ttl)}; it must return a positive number of milliseconds or null.`, {
      hint: 'To skip caching some values, use shouldCache; to cache an absence briefly, use negativeTtlMs.',
    });
  }
  return ttl;
}

/** Whether a hit whose logical expiry is `freshUntil` is close enough to it to refresh ahead. */
export function refreshDue(policy: Pick<WrapPolicy<unknown>, 'refreshAheadMs'>, freshUntil: number | null, now: number): boolean {
  return policy.refreshAheadMs > 0 && freshUntil !== null && freshUntil - now <= policy.refreshAheadMs;
}

/** Whether an entry logically expired at `freshUntil` may still be served under this call's grace. */
export function withinGrace(policy: Pick<WrapPolicy<unknown>, 'graceMs'>, freshUntil: number, now: number): boolean {
  return policy.graceMs > 0 && now < freshUntil + policy.graceMs;
}

export type StaleReason = 'loader-failed' | 'loader-slow';

/**
 * Waits for `load` under the policy's timeouts. With a stale value: the loader's failure, or its
 * running past `softTimeoutMs` (else `hardTimeoutMs`), serves the stale value instead. Without:
 * a failure is thrown, and running past `hardTimeoutMs` throws LoaderTimeoutError. A load that
 * is given up on keeps running (`load` is the shared single-flight load, which caches its value).
 */
export function awaitLoad<T>(
  load: Promise<T>,
  stale: { readonly value: T } | undefined,
  policy: WrapPolicy<T>,
  onStale: (reason: StaleReason, err?: unknown) => void,
): Promise<T> {
  const limit = stale !== undefined ? (policy.softTimeoutMs ?? policy.hardTimeoutMs) : policy.hardTimeoutMs;
  if (stale === undefined && limit === undefined) return load;
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    if (limit !== undefined) {
      timer = setTimeout(() => {
        done = true;
        if (stale !== undefined) {
          onStale('loader-slow');
          resolve(stale.value);
        } else {
          reject(new LoaderTimeoutError(limit));
        }
      }, limit);
    }
    load.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (done) return;
        if (stale === undefined) {
          reject(err);
          return;
        }
        onStale('loader-failed', err);
        resolve(stale.value);
      },
    );
  });
}
