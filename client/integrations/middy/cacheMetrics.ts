import type { CacheManager } from '../../core/cacheManager';
import { CacheStatsMetrics, type PowertoolsMetricsLike } from '../powertoolsMetrics';
import { LambdaCache } from './lambdaCache';
import type { LambdaContext, MiddyMiddleware } from './types';

/**
 * Where `cacheMetrics` leaves its publish function for the invocation, so that a middleware that
 * answers early (`cacheResponse` on a hit) can run it as Powertools' own middlewares run theirs
 * (`cleanupMiddlewares`): middy skips every `after` on an early return.
 */
export const CACHE_METRICS_CLEANUP_KEY = 'cachevault.cacheMetrics';

export interface CacheMetricsOptions {
  /** The cache whose `stats()` are published; a LambdaCache is read only once it is open. */
  readonly cache: CacheManager | LambdaCache<CacheManager>;
  /** A Powertools Metrics instance, flushed by Powertools' `logMetrics` middleware. */
  readonly metrics: PowertoolsMetricsLike;
  /** Metric name prefix. @default 'Cache' */
  readonly prefix?: string;
}

/**
 * A middleware that adds the cache's counters (what they grew by during the invocation) to a
 * Powertools Metrics instance at the end of every invocation: `CacheHits`, `CacheMisses`,
 * `CacheSets`, `CacheErrors`, `CacheDecryptFailures`, ... (see {@link CacheStatsMetrics}).
 * `use()` it after Powertools' `logMetrics`, so that its `after` runs before the flush.
 */
export function cacheMetrics(options: CacheMetricsOptions): MiddyMiddleware<unknown, unknown, LambdaContext> {
  const publisher = new CacheStatsMetrics(options.metrics, { prefix: options.prefix });
  const published = new WeakSet<object>();
  const publish = async (request: object): Promise<void> => {
    if (published.has(request)) return;
    published.add(request);
    const cache = options.cache instanceof LambdaCache ? options.cache.current : options.cache;
    if (cache) publisher.publish(cache);
  };
  return {
    name: 'cachevaultCacheMetrics',
    before: async (request) => {
      request.internal[CACHE_METRICS_CLEANUP_KEY] = () => publish(request);
      return undefined;
    },
    after: publish,
    onError: publish,
  };
}
