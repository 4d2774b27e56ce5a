import { createHash } from 'node:crypto';
import type { CacheManager, ExpiryOptions } from '../../core/cacheManager';
import { describeError } from '../../describeError';
import { createLogger } from '../../logger';
import type { Logger } from '../../types';
import { CACHE_METRICS_CLEANUP_KEY } from './cacheMetrics';
import { isCacheableResponse } from './httpResponses';
import { LambdaCache } from './lambdaCache';
import type { LambdaContext, LambdaContextLike, MiddyMiddleware, MiddyRequest } from './types';

interface CacheResponseBase<TEvent, TResult, TContext> {
  /** The cache, or the environment's {@link LambdaCache} (opened on the first invocation). */
  readonly cache: CacheManager | LambdaCache<CacheManager>;
  /**
   * The cache key of an invocation: everything the response depends on. `undefined` bypasses the
   * cache for this invocation (the handler runs, nothing is read or stored). For HTTP events,
   * `httpRequestKey()` builds one from method, path, query and chosen headers.
   */
  readonly key: (event: TEvent, context: TContext) => string | undefined;
  /**
   * Whether a response may be stored. @default isCacheableResponse: any defined result; for
   * HTTP-shaped ones only 2xx without cookies, `Cache-Control: no-store | private` or `Vary: *`
   */
  readonly shouldCache?: (response: TResult, request: MiddyRequest<TEvent, TResult, TContext>) => boolean;
  /** Store responses under this namespace of the cache. @default the cache's own namespace */
  readonly namespace?: string;
  /**
   * Store the SHA-256 of each key rather than the key. Keys are one of the clear fields storage
   * keeps (docs/security.md): a key built from a request's path, query and headers would show
   * them to whoever reads the table or the cache files. @default true
   */
  readonly hashKeys?: boolean;
  /**
   * Let the cache's cross-instance lease (DynamoDB, when configured) make one environment of many
   * compute a missing response while the others wait for it. @default true
   */
  readonly useLease?: boolean;
  /** Where cache failures are reported (the response is served all the same). @default warnings as JSON lines on stderr */
  readonly logger?: Logger;
}

/** How long a stored response lives: a fixed TTL, or one read from the response. */
export type CacheResponseTtl<TResult> =
  | {
      /** Milliseconds; `null` never expires. @default the cache's `defaultTtlMs` */
      readonly ttlMs?: number | null;
      readonly ttlFrom?: never;
    }
  | {
      readonly ttlMs?: never;
      /**
       * The TTL for this response in milliseconds: `null` never expires, `undefined` takes the
       * cache's default, 0 (or less) does not store it. `ttlFromCacheControl` reads the
       * response's own `Cache-Control`.
       */
      readonly ttlFrom: (response: TResult) => number | null | undefined;
    };

export type CacheResponseOptions<TEvent = unknown, TResult = unknown, TContext = object> = CacheResponseBase<TEvent, TResult, TContext> &
  CacheResponseTtl<TResult>;

/** How a leader's invocation ended, as its waiting followers learn it. */
class LeaderSettled extends Error {
  /** The response the leader stored, copied; absent when it stored none (error, rejected, early return). */
  readonly stored: { readonly value: unknown } | undefined;
  constructor(stored: { readonly value: unknown } | undefined) {
    super('cacheResponse: the leading invocation finished');
    this.stored = stored;
  }
}

/**
 * The in-flight slot of the invocation computing a key's response. Its promise is what the
 * cache's `wrap` waits on, so the cache's own single-flight (and its lease, when it has one) hold
 * the other invocations of the key until the leader's `after` (or `onError`) settles it.
 */
class LeaderSlot {
  readonly promise: Promise<never>;
  private settled = false;
  private reject!: (reason: LeaderSettled) => void;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly request: object;

  constructor(request: object, deadlineMs: number | undefined) {
    this.request = request;
    this.promise = new Promise<never>((_, reject) => {
      this.reject = reject;
    });
    // The leader's invocation cannot outlive its own deadline; nothing will settle the slot after it.
    if (deadlineMs !== undefined && Number.isFinite(deadlineMs)) this.timer = setTimeout(() => this.settle(undefined), Math.max(0, deadlineMs)).unref();
    liveLeaders.add(this);
    abandonSweep ??= setInterval(releaseAbandoned, ABANDON_CHECK_MS).unref();
  }

  settle(stored: { readonly value: unknown } | undefined): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    liveLeaders.delete(this);
    if (liveLeaders.size === 0 && abandonSweep) {
      clearInterval(abandonSweep);
      abandonSweep = undefined;
    }
    this.reject(new LeaderSettled(stored));
  }

  /**
   * Another middleware answered early (middy's early return: a later `before`, or an `after` or
   * `onError` that ran before this one's and returned a value): middy skips the rest, this
   * middleware's `after` or `onError` included, so nothing else would settle the slot.
   */
  get abandoned(): boolean {
    return !this.settled && Object.hasOwn(this.request, 'earlyResponse');
  }
}

type InvocationState =
  /** This invocation computes the key's response for every waiting invocation. */
  | { readonly role: 'leader'; readonly cache: CacheManager; readonly key: string; readonly slot: LeaderSlot }
  /** This invocation computes on its own (its leader stored nothing, or the cache failed) and stores if it can. */
  | { readonly role: 'solo'; readonly cache: CacheManager; readonly key: string };

/**
 * The slots of invocations computing right now, in this process (a handful at most), and the
 * sweep that releases the abandoned ones while any exists. Invocations that wait on a slot are
 * thus freed within ABANDON_CHECK_MS, and the next invocation to arrive frees them at once;
 * a hit pays for neither.
 */
const liveLeaders = new Set<LeaderSlot>();
let abandonSweep: NodeJS.Timeout | undefined;
const ABANDON_CHECK_MS = 50;

function releaseAbandoned(): void {
  for (const slot of liveLeaders) if (slot.abandoned) slot.settle(undefined);
}

/**
 * A middy middleware that caches a handler's responses. On a hit, `before` answers early (the
 * handler and later middlewares do not run); on a miss the handler runs and `after` stores its
 * response if `shouldCache` accepts it. Errors are never stored. Concurrent invocations of one
 * key in one process compute once, through the cache's `wrap` single-flight; across execution
 * environments too when the cache has a DynamoDB lease. `use()` it first, so that its `after`
 * runs last and stores the response every other middleware has finished.
 *
 * Every hit is a copy: a middleware or handler that changes `request.response` changes nothing
 * stored and nothing another invocation gets.
 */
export function cacheResponse<TEvent = unknown, TResult = unknown, TContext extends LambdaContextLike = LambdaContext>(
  options: CacheResponseOptions<TEvent, TResult, TContext>,
): MiddyMiddleware<TEvent, TResult, TContext> {
  checkOptions(options);
  const shouldCache = options.shouldCache ?? ((response: TResult) => isCacheableResponse(response));
  const hashKeys = options.hashKeys ?? true;
  const useLease = options.useLease ?? true;
  const logger = options.logger ?? createLogger('warn');
  const states = new WeakMap<object, InvocationState>();
  const views = new WeakMap<CacheManager, CacheManager>();

  const resolveCache = async (): Promise<CacheManager> => {
    const base = options.cache instanceof LambdaCache ? await options.cache.get() : options.cache;
    if (options.namespace === undefined || options.namespace === base.namespaceName) return base;
    let view = views.get(base);
    if (!view) {
      view = base.namespace(options.namespace);
      views.set(base, view);
    }
    return view;
  };

  /** Expiry for a response that may be stored, or undefined when it may not. */
  const expiryFor = (request: MiddyRequest<TEvent, TResult, TContext>): ExpiryOptions | undefined => {
    const response = request.response as TResult;
    if (response === undefined || !shouldCache(response, request)) return undefined;
    if (options.ttlFrom) {
      const ttl = options.ttlFrom(response);
      if (ttl === undefined) return {};
      if (ttl === null) return { ttlMs: null };
      return Number.isFinite(ttl) && ttl > 0 ? { ttlMs: ttl } : undefined;
    }
    return options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs };
  };

  const finish = async (request: MiddyRequest<TEvent, TResult, TContext>): Promise<void> => {
    const state = states.get(request);
    if (!state) return;
    states.delete(request);
    let stored: { value: unknown } | undefined;
    try {
      const expiry = expiryFor(request);
      if (expiry) {
        await state.cache.set(state.key, request.response, expiry);
        // Followers get their own copy of what was stored, whatever later middlewares do to this one.
        if (state.role === 'leader') stored = copyOf(request.response);
      }
    } catch (error) {
      logger.warn({ error: describeError(error) }, 'cacheResponse could not store the response; it is served uncached');
    } finally {
      if (state.role === 'leader') state.slot.settle(stored);
    }
  };

  return {
    name: 'cachevaultCacheResponse',
    before: async (request) => {
      const key = options.key(request.event, request.context);
      if (key === undefined) return undefined;
      if (typeof key !== 'string') throw new TypeError(`cacheResponse: key(event, context) must return a string or undefined, got ${key === null ? 'null' : typeof key}.`);
      let cache: CacheManager;
      try {
        cache = await resolveCache();
      } catch (error) {
        logger.warn({ error: describeError(error) }, 'cacheResponse could not open the cache; this invocation is served uncached');
        return undefined;
      }
      const storedKey = hashKeys ? hashKey(key) : key;
      releaseAbandoned();

      let slot: LeaderSlot | undefined;
      let becameLeader!: () => void;
      const leading = new Promise<'leader'>((resolve) => {
        becameLeader = () => resolve('leader');
      });
      const flight = cache.wrap(
        storedKey,
        () => {
          const mine = new LeaderSlot(request, request.context.getRemainingTimeInMillis?.());
          slot = mine;
          becameLeader();
          return mine.promise;
        },
        { useLease },
      );
      const outcome: 'leader' | { readonly hit: unknown } | { readonly failed: unknown } = await Promise.race([
        leading,
        flight.then((hit) => ({ hit }), (failed: unknown) => ({ failed })),
      ]);

      if (outcome === 'leader') {
        flight.catch(() => undefined); // it ends with this invocation's own LeaderSettled
        states.set(request, { role: 'leader', cache, key: storedKey, slot: slot! });
        return undefined;
      }
      const found = 'hit' in outcome ? { value: outcome.hit } : outcome.failed instanceof LeaderSettled ? outcome.failed.stored : undefined;
      if ('failed' in outcome && !(outcome.failed instanceof LeaderSettled)) {
        logger.warn({ error: describeError(outcome.failed) }, 'cacheResponse could not read the cache; this invocation is served uncached');
      }
      const copy = found === undefined || found.value === undefined ? undefined : copyOf(found.value);
      if (copy === undefined) {
        states.set(request, { role: 'solo', cache, key: storedKey });
        return undefined;
      }
      request.response = copy.value as TResult;
      await runEarlyReturnCleanup(request);
      return request.response;
    },
    after: finish,
    onError: async (request) => {
      const state = states.get(request);
      if (!state) return;
      states.delete(request);
      if (state.role === 'leader') state.slot.settle(undefined);
    },
  };
}

/**
 * A copy no one else holds, or undefined for a value that cannot be copied (then the invocation
 * computes its own). Stored values always can be: the serializer takes structured-clone types.
 */
function copyOf(value: unknown): { readonly value: unknown } | undefined {
  try {
    return { value: structuredClone(value) };
  } catch {
    return undefined;
  }
}

/**
 * What an early return must run in place of the skipped `after` stack: cacheMetrics' publish,
 * then Powertools' cleanup functions (Tracer, Metrics flush, Logger reset, Idempotency), as
 * `cleanupMiddlewares` of `@aws-lambda-powertools/commons` runs them; read from
 * `request.internal` here so that Powertools stays the app's dependency.
 */
const EARLY_RETURN_CLEANUP = [CACHE_METRICS_CLEANUP_KEY, ...['tracer', 'metrics', 'logger', 'idempotency'].map((k) => `powertools-for-aws.${k}`)];

async function runEarlyReturnCleanup(request: MiddyRequest<unknown, unknown, unknown>): Promise<void> {
  for (const name of EARLY_RETURN_CLEANUP) {
    const cleanup = Object.hasOwn(request.internal, name) ? request.internal[name] : undefined;
    if (typeof cleanup === 'function') await (cleanup as (request: unknown) => unknown)(request);
  }
}

/**
 * The key `cacheResponse` stores a response under when `hashKeys` is on (the default): the
 * SHA-256 of the key, base64url. Use it to delete or inspect one response:
 * `cache.delete(responseCacheKey(key))`.
 */
export function responseCacheKey(key: string): string {
  return `r1:${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
}

const hashKey = responseCacheKey;

function checkOptions(options: CacheResponseOptions<never, never, never>): void {
  if (options === null || typeof options !== 'object') throw new TypeError('cacheResponse(options) takes an object such as { cache, key: (event) => event.path, ttlMs: 60000 }.');
  const cache = options.cache as unknown;
  if (!(cache instanceof LambdaCache) && (typeof cache !== 'object' || cache === null || typeof (cache as { wrap?: unknown }).wrap !== 'function')) {
    throw new TypeError('cacheResponse: options.cache must be a cache (createCache(), or a namespace of one) or openCache(...)\'s LambdaCache.');
  }
  if (typeof options.key !== 'function') throw new TypeError('cacheResponse: options.key must be a function (event, context) => string | undefined.');
  if (options.ttlMs !== undefined && options.ttlFrom !== undefined) throw new TypeError('cacheResponse: give ttlMs or ttlFrom, not both.');
  if (options.ttlFrom !== undefined && typeof options.ttlFrom !== 'function') throw new TypeError('cacheResponse: options.ttlFrom must be a function (response) => milliseconds.');
  if (options.ttlMs !== undefined && options.ttlMs !== null && !(Number.isFinite(options.ttlMs) && options.ttlMs > 0)) {
    throw new TypeError(`cacheResponse: options.ttlMs must be a positive number of milliseconds or null (no expiry), got ${String(options.ttlMs)}.`);
  }
  if (options.shouldCache !== undefined && typeof options.shouldCache !== 'function') throw new TypeError('cacheResponse: options.shouldCache must be a function (response, request) => boolean.');
}
