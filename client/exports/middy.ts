/**
 * `cachevault/middy`: middy middlewares for Lambda handlers, a response cache
 * (`cacheResponse`), one cache per execution environment (`openCache`, `cacheLifecycle`) and the
 * cache's counters as Powertools metrics (`cacheMetrics`), with the Powertools Logger adapter.
 * Nothing here loads `@middy/core` or Powertools: they are the app's (optional peer) dependencies.
 */
export {
  cacheResponse,
  responseCacheKey,
  type CacheResponseOptions,
  type CacheResponseTtl,
} from '../integrations/middy/cacheResponse';
export {
  LambdaCache,
  openCache,
  cacheLifecycle,
  type CacheLifecycleOptions,
  type Closable,
  type OpenCacheOptions,
  type ShutdownSource,
} from '../integrations/middy/lambdaCache';
export { cacheMetrics, CACHE_METRICS_CLEANUP_KEY, type CacheMetricsOptions } from '../integrations/middy/cacheMetrics';
export {
  httpRequestKey,
  isCacheableResponse,
  isHttpResponse,
  ttlFromCacheControl,
  type HttpRequestKeyOptions,
  type HttpResponseLike,
} from '../integrations/middy/httpResponses';
export type { LambdaContext, LambdaContextLike, MiddyMiddleware, MiddyRequest } from '../integrations/middy/types';
export { powertoolsLogger, type PowertoolsLoggerLike } from './powertools';
export { CacheStatsMetrics, type CacheStatsMetricsOptions, type PowertoolsMetricsLike } from '../integrations/powertoolsMetrics';
