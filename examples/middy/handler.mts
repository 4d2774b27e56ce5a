/**
 * A product API behind API Gateway (HTTP API), cached with cachevault's middy middlewares.
 *
 * - `openCache` makes one cache per execution environment: the first invocation opens it, later
 *   ones reuse it, and it is closed when Lambda shuts the environment down.
 * - `cacheLifecycle` puts that cache on `context.cache` for the handler's own use.
 * - `cacheResponse` answers repeated GETs from the cache without running the handler; the
 *   response's own `Cache-Control: max-age` sets how long it is kept.
 *
 * Configuration comes from the environment as usual (CACHEVAULT_KEY for the env key provider
 * here; on AWS, a KMS key and the DynamoDB table, see docs/configuration.md).
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { cacheLifecycle, cacheResponse, httpRequestKey, openCache, ttlFromCacheControl } from 'cachevault/middy';

// Lambda's writable disk is /tmp, and it lives as long as the execution environment.
const cacheDir = process.env.CACHE_DIR ?? '/tmp/cachevault';

export const vault = openCache({
  backend: 'file',
  file: { dir: `${cacheDir}/cache` },
  keys: { providers: ['env'] },
  namespace: 'products-api',
});

/** How often the handler itself ran (a hit answers without it). */
export const handlerRuns = { count: 0 };

/** Stands in for the database; counts the loads so the example can show what the cache saved. */
export const database = {
  loads: 0,
  async product(id: string, language: string): Promise<{ id: string; name: string; price: number }> {
    this.loads += 1;
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { id, name: language.startsWith('de') ? `Schraube ${id}` : `Screw ${id}`, price: 4.2 };
  },
};

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(cacheLifecycle(vault))
  .use(
    cacheResponse({
      cache: vault,
      // The response depends on the path and on Accept-Language, so both are in the key.
      key: httpRequestKey({ headers: ['accept-language'] }),
      ttlFrom: ttlFromCacheControl,
    }),
  )
  .handler(async (event, context) => {
    handlerRuns.count += 1;
    if (event.requestContext.http.method === 'POST') {
      // A write: httpRequestKey gives POST no key, so it bypasses the cache and is never stored.
      return { statusCode: 202, body: JSON.stringify({ accepted: true }) };
    }
    const id = event.pathParameters?.id ?? 'unknown';
    // The handler can use the same cache for its own data: context.cache is typed.
    const rates = await context.cache.wrap('fx-rates', async () => ({ EUR: 1, USD: 1.08 }), { ttlMs: 300_000 });
    const product = await database.product(id, event.headers['accept-language'] ?? 'en');
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' },
      body: JSON.stringify({ ...product, priceUsd: Math.round(product.price * rates.USD * 100) / 100 }),
    };
  });
