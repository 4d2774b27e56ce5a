/**
 * Runs the example handler locally, as Lambda would call it: a few API Gateway HTTP API events
 * against one execution environment. `npx tsx examples/middy/invoke.mts` (after `npm run build`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

// A throwaway key and cache directory for this run, unless you give your own.
process.env.CACHEVAULT_KEY ??= randomBytes(32).toString('base64');
process.env.CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'cachevault-middy-example-'));

const { handler, handlerRuns, database, vault } = await import('./handler.mjs');

function event(method: 'GET' | 'POST', path: string, language = 'en'): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `${method} /products/{id}`,
    rawPath: path,
    rawQueryString: '',
    headers: { accept: 'application/json', 'accept-language': language, host: 'api.example.com' },
    pathParameters: { id: path.split('/').pop()! },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api-id',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.10', userAgent: 'example' },
      requestId: randomBytes(8).toString('hex'),
      routeKey: `${method} /products/{id}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  };
}

function context(): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'products-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:products-api',
    memoryLimitInMB: '512',
    awsRequestId: randomBytes(16).toString('hex'),
    logGroupName: '/aws/lambda/products-api',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const calls: [string, APIGatewayProxyEventV2][] = [
  ['GET /products/42', event('GET', '/products/42')],
  ['GET /products/42 again', event('GET', '/products/42')],
  ['GET /products/42 in German', event('GET', '/products/42', 'de-DE')],
  ['POST /products/42', event('POST', '/products/42')],
];
for (const [label, e] of calls) {
  const before = handlerRuns.count;
  // middy types the context with what cacheLifecycle adds; Lambda passes the plain one.
  const response = await handler(e, context() as never);
  console.log(`${label}: ${response.statusCode} ${handlerRuns.count > before ? 'handler ran' : 'answered from the cache'} ${response.body}`);
}

const cache = vault.current!;
const stats = cache.stats();
console.log(`handler runs: ${handlerRuns.count}, database loads: ${database.loads}; cache hits ${stats.hits}, misses ${stats.misses}, sets ${stats.sets}`);
// Nothing to close by hand: when the script runs out of work ('beforeExit'), or Lambda shuts the
// environment down (SIGTERM), the cache closes itself.
