import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import middy from '@middy/core';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { MemoryBackend } from '../../../client/backends/memoryBackend';
import { CacheManager } from '../../../client/core/cacheManager';
import type { HeldLease, StampedeLease } from '../../../client/core/stampedeLease';
import { createCache, type Cache } from '../../../client/createCache';
import { cacheMetrics, cacheResponse, httpRequestKey, openCache, responseCacheKey, ttlFromCacheControl } from '../../../client/exports/middy';
import { silentLogger } from '../../../client/logger';
import type { EntryRef } from '../../../client/types';
import { albEvent, apiGatewayV1Event, apiGatewayV2Event, lambdaContext, plainEvent, type HttpRequestSpec, type OrderLookupEvent } from '../../support/lambdaEvents';

// A fixed test key for the env key provider (SHA-256 of a phrase, base64); never a real one.
const TEST_KEY = 'JfECIMRagJmvQvfMAJY4oAp4MmPqsNALXSWAK8SkU8U=';

async function encryptedCache(clock?: () => number): Promise<Cache> {
  const dir = mkdtempSync(join(tmpdir(), 'cv-middy-'));
  return createCache({
    backend: 'memory',
    file: { dir: join(dir, 'cache') },
    keys: { providers: ['env'] },
    audit: { enabled: false },
    logging: { level: 'silent' },
    cwd: dir,
    env: {},
    keyProviderDeps: { env: { CACHEVAULT_KEY: TEST_KEY } },
    clock,
  });
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Lets every invocation run up to its next real wait (no timers involved). */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

const productResponse = (n: number, extra: Partial<APIGatewayProxyResult> = {}): APIGatewayProxyResult => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ id: 42, name: 'Widget', computed: n }),
  ...extra,
});

const context: Context = lambdaContext();

let cache: Cache;
beforeEach(async () => {
  cache = await encryptedCache();
});
afterEach(async () => {
  await cache.close();
});

const httpShapes: [string, (spec: HttpRequestSpec) => unknown][] = [
  ['API Gateway REST API (v1)', apiGatewayV1Event],
  ['API Gateway HTTP API (v2)', apiGatewayV2Event],
  ['an Application Load Balancer', albEvent],
];

describe.each(httpShapes)('cacheResponse with an event from %s', (_shape, makeEvent) => {
  test('a hit answers from the cache: the handler is not called and the response is the stored one', async () => {
    let n = 0;
    const handler = jest.fn(async () => productResponse(++n));
    const fn = middy(handler).use(cacheResponse({ cache, key: httpRequestKey(), ttlMs: 60_000, logger: silentLogger }));

    const first = await fn(makeEvent({ query: [['color', 'red'], ['size', 'M']] }), context);
    // The same request with its query parameters in another order is the same key.
    const second = await fn(makeEvent({ query: [['size', 'M'], ['color', 'red']] }), context);

    expect(handler).toHaveBeenCalledTimes(1);
    expect(first).toEqual(productResponse(1));
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
  });

  test('a miss stores the response under the hashed key, sealed: storage holds neither the path nor the body', async () => {
    const fn = middy(async () => productResponse(1)).use(cacheResponse({ cache, key: httpRequestKey(), ttlMs: 60_000, logger: silentLogger }));
    const event = makeEvent({ path: '/products/secret-sku-991', query: [['email', 'ada@example.com']] });
    await fn(event, context);

    const key = httpRequestKey()(event)!;
    expect(key).toContain('/products/secret-sku-991');
    const stored = await cache.backend.get(cache.namespaceName, responseCacheKey(key));
    expect(stored).toBeDefined();
    expect(stored!.key).not.toContain('secret-sku');
    expect(stored!.key).not.toContain('ada@example.com');
    expect(Buffer.from(stored!.value).includes(Buffer.from('Widget'))).toBe(false);
    expect(stored!.keyId).toMatch(/^k\d+:[0-9a-f]{16}$/);
  });

  test('a POST bypasses the cache (its key is undefined): the handler runs every time and nothing is stored', async () => {
    const handler = jest.fn(async () => productResponse(1));
    const fn = middy(handler).use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }));
    await fn(makeEvent({ method: 'POST' }), context);
    await fn(makeEvent({ method: 'POST' }), context);
    expect(handler).toHaveBeenCalledTimes(2);
    expect(cache.stats().sets).toBe(0);
    expect(cache.stats().hits + cache.stats().misses).toBe(0);
  });

  test('a 500 response is not cached by the default predicate, a later 200 is', async () => {
    const responses = [{ statusCode: 500, body: 'upstream down' }, productResponse(2), productResponse(3)];
    const handler = jest.fn(async () => responses.shift()!);
    const fn = middy(handler).use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }));
    expect((await fn(makeEvent({}), context)).statusCode).toBe(500);
    expect(await fn(makeEvent({}), context)).toEqual(productResponse(2));
    expect(await fn(makeEvent({}), context)).toEqual(productResponse(2));
    expect(handler).toHaveBeenCalledTimes(2);
  });
});

describe('cacheResponse with a plain (non-HTTP) event', () => {
  const key = (event: OrderLookupEvent) => `order:${event.orderId}`;
  const order = (n: number) => ({ orderId: 'ord-1001', status: 'shipped', lines: [{ sku: 'W-1', qty: 2 }], computed: n });

  test('a hit answers from the cache: the handler is not called', async () => {
    let n = 0;
    const handler = jest.fn(async (_event: OrderLookupEvent) => order(++n));
    const fn = middy(handler).use(cacheResponse({ cache, key, ttlMs: 60_000, logger: silentLogger }));
    expect(await fn(plainEvent('ord-1001'), context)).toEqual(order(1));
    expect(await fn(plainEvent('ord-1001'), context)).toEqual(order(1));
    expect(await fn(plainEvent('ord-2002'), context)).toEqual(order(2));
    expect(handler).toHaveBeenCalledTimes(2);
  });

  test('a thrown error is not cached: the next invocation runs the handler again', async () => {
    const handler = jest
      .fn<Promise<ReturnType<typeof order>>, [OrderLookupEvent]>()
      .mockRejectedValueOnce(new Error('database timeout'))
      .mockResolvedValue(order(2));
    const fn = middy(handler).use(cacheResponse({ cache, key, logger: silentLogger }));
    await expect(fn(plainEvent(), context)).rejects.toThrow('database timeout');
    expect(cache.stats().sets).toBe(0);
    expect(await fn(plainEvent(), context)).toEqual(order(2));
    expect(await fn(plainEvent(), context)).toEqual(order(2));
    expect(handler).toHaveBeenCalledTimes(2);
  });

  test('a response shouldCache rejects is served but not stored', async () => {
    const handler = jest.fn(async () => ({ ...order(1), status: 'pending' }));
    const shouldCache = jest.fn((response: { status: string }) => response.status === 'shipped');
    const fn = middy(handler).use(cacheResponse({ cache, key, shouldCache, logger: silentLogger }));
    expect((await fn(plainEvent(), context)).status).toBe('pending');
    await fn(plainEvent(), context);
    expect(handler).toHaveBeenCalledTimes(2);
    expect(shouldCache).toHaveBeenCalledTimes(2);
    expect(cache.stats().sets).toBe(0);
  });

  test('a key function that returns something else than a string or undefined is a TypeError', async () => {
    const fn = middy(async () => order(1)).use(cacheResponse({ cache, key: () => 42 as unknown as string, logger: silentLogger }));
    await expect(fn(plainEvent(), context)).rejects.toThrow(/must return a string or undefined, got number/);
  });
});

describe('cacheResponse single-flight', () => {
  const event = apiGatewayV2Event();

  test('concurrent invocations of one key run the handler once and each gets its own copy of the response', async () => {
    const gate = deferred();
    const handler = jest.fn(async () => {
      await gate.promise;
      return productResponse(1);
    });
    const fn = middy(handler).use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }));
    const all = Promise.all([fn(event, context), fn(event, context), fn(event, context), fn(event, context)]);
    await settle();
    expect(handler).toHaveBeenCalledTimes(1);
    gate.resolve();
    const responses = await all;
    expect(handler).toHaveBeenCalledTimes(1);
    for (const r of responses) expect(r).toEqual(productResponse(1));
    expect(new Set(responses).size).toBe(4);
    expect(cache.stats().sets).toBe(1);
  });

  test('when the leading invocation fails, the waiting ones run the handler themselves and do not get its error', async () => {
    const gate = deferred();
    let n = 0;
    const handler = jest.fn(async () => {
      n += 1;
      if (n === 1) {
        await gate.promise;
        throw new Error('first one failed');
      }
      return productResponse(n);
    });
    const fn = middy(handler).use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }));
    const leader = fn(event, context);
    await settle();
    const followers = Promise.all([fn(event, context), fn(event, context)]);
    await settle();
    expect(handler).toHaveBeenCalledTimes(1);
    gate.resolve();
    await expect(leader).rejects.toThrow('first one failed');
    const [a, b] = await followers;
    expect(handler).toHaveBeenCalledTimes(3);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
  });

  test('when the leading response is not cacheable, the waiting ones compute their own', async () => {
    const gate = deferred();
    let n = 0;
    const handler = jest.fn(async () => {
      n += 1;
      if (n === 1) {
        await gate.promise;
        return { statusCode: 503, body: 'try later' };
      }
      return productResponse(n);
    });
    const fn = middy(handler).use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }));
    const all = Promise.all([fn(event, context), fn(event, context)]);
    await settle();
    gate.resolve();
    const [leader, follower] = await all;
    expect(leader.statusCode).toBe(503);
    expect(follower.statusCode).toBe(200);
    expect(handler).toHaveBeenCalledTimes(2);
  });

  test("a later middleware's early return (a warm-up ping) does not leave the key's slot taken", async () => {
    const handler = jest.fn(async () => productResponse(1));
    const fn = middy(handler)
      .use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }))
      // What @middy/warmup does: answer early, so the handler and every `after` are skipped.
      .use({ before: async (request) => ((request.event as { headers?: Record<string, string> }).headers?.['x-warmup'] ? { statusCode: 204, body: '' } : undefined) });

    const warm = apiGatewayV2Event({ headers: { 'x-warmup': '1' } });
    expect((await fn(warm, context)).statusCode).toBe(204);
    // The slot the warm-up took is released when the next invocation of the key arrives ...
    expect(await fn(event, context)).toEqual(productResponse(1));
    expect(handler).toHaveBeenCalledTimes(1);

    // ... and while another invocation waits on it.
    await cache.clear();
    const gate = deferred();
    const slowWarm = middy(async () => productResponse(9))
      .use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }))
      .use({ before: async () => {
        await gate.promise;
        return { statusCode: 204, body: '' };
      } });
    const warming = slowWarm(event, context);
    await settle();
    const waiting = fn(event, context);
    await settle();
    gate.resolve();
    expect((await warming).statusCode).toBe(204);
    expect(await waiting).toEqual(productResponse(1));
    expect(handler).toHaveBeenCalledTimes(2);
  });

  test("an inner middleware's `after` that answers early (so this one's `after` is skipped) does not leave the slot taken", async () => {
    const handler = jest.fn(async () => productResponse(1));
    const fn = middy(handler)
      .use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }))
      // Its `after` runs before cacheResponse's and returns a value: middy skips the rest of the stack.
      .use({ after: async (request) => ({ ...(request.response as APIGatewayProxyResult), headers: { 'x-inner': 'yes' } }) });
    expect((await fn(event, context)).headers).toEqual({ 'x-inner': 'yes' });
    expect(cache.stats().sets).toBe(0);
    await fn(event, context); // not stuck behind the first invocation's slot
    expect(handler).toHaveBeenCalledTimes(2);
  });

  test('a leader that outlives its own Lambda deadline releases the slot', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const gate = deferred<APIGatewayProxyResult>();
      let n = 0;
      const handler = jest.fn(async () => (++n === 1 ? gate.promise : productResponse(n)));
      const fn = middy(handler, { timeoutEarlyInMillis: 0 }).use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }));
      void fn(event, lambdaContext(1_000));
      await settle();
      const waiting = fn(event, lambdaContext(30_000));
      await settle();
      expect(handler).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(1_001);
      expect(await waiting).toEqual(productResponse(2));
      gate.resolve(productResponse(1));
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('cacheResponse expiry and copies', () => {
  test('ttlFrom sets each response its own expiry (here from Cache-Control: max-age)', async () => {
    let now = 1_800_000_000_000;
    const timed = await encryptedCache(() => now);
    try {
      let n = 0;
      const handler = jest.fn(async () => productResponse(++n, { headers: { 'Cache-Control': 'public, max-age=30' } }));
      const fn = middy(handler).use(cacheResponse({ cache: timed, key: httpRequestKey(), ttlFrom: ttlFromCacheControl, logger: silentLogger }));
      const event = apiGatewayV1Event();
      await fn(event, context);
      const stored = await timed.backend.get(timed.namespaceName, responseCacheKey(httpRequestKey()(event)!));
      expect(stored!.expiresAt).toBe(now + 30_000);
      now += 29_999;
      expect(JSON.parse((await fn(event, context)).body).computed).toBe(1);
      now += 1;
      expect(JSON.parse((await fn(event, context)).body).computed).toBe(2);
      expect(handler).toHaveBeenCalledTimes(2);
    } finally {
      await timed.close();
    }
  });

  test('a ttlFrom of 0 (Cache-Control: no-cache) stores nothing', async () => {
    const handler = jest.fn(async () => productResponse(1, { headers: { 'cache-control': 'no-cache' } }));
    const fn = middy(handler).use(cacheResponse({ cache, key: httpRequestKey(), ttlFrom: ttlFromCacheControl, logger: silentLogger }));
    await fn(apiGatewayV2Event(), context);
    await fn(apiGatewayV2Event(), context);
    expect(handler).toHaveBeenCalledTimes(2);
  });

  test('responses that set a cookie or say private are not cached by default', async () => {
    const responses = [
      productResponse(1, { headers: { 'Set-Cookie': 'session=abc; HttpOnly' } }),
      { ...productResponse(2), cookies: ['session=def'] },
      productResponse(3, { headers: { 'cache-control': 'private, max-age=60' } }),
      productResponse(4),
      productResponse(5),
    ];
    const handler = jest.fn(async () => responses.shift()!);
    const fn = middy(handler).use(cacheResponse({ cache, key: httpRequestKey(), logger: silentLogger }));
    for (let i = 0; i < 5; i++) await fn(apiGatewayV2Event(), context);
    expect(handler).toHaveBeenCalledTimes(4);
  });

  test('a hit is a copy, even from a cache that shares decoded values: changing it changes no later hit', async () => {
    const shared = new CacheManager({ backend: new MemoryBackend(), sharedValues: true });
    const fn = middy(async () => productResponse(1))
      .use(cacheResponse({ cache: shared, key: httpRequestKey(), logger: silentLogger }));
    await fn(apiGatewayV2Event(), context);
    const hit = await fn(apiGatewayV2Event(), context);
    hit.body = 'changed by a caller';
    hit.headers!['x-extra'] = 'added';
    expect(await fn(apiGatewayV2Event(), context)).toEqual(productResponse(1));
  });
});

describe('cacheResponse across execution environments (the cache lease)', () => {
  const ref = (r: EntryRef) => r.key;

  test('an environment that does not get the lease waits and serves the holder’s response without running its handler', async () => {
    const backend = new MemoryBackend();
    const otherEnvironment = new CacheManager({ backend });
    const lease: StampedeLease = {
      acquire: jest.fn(async (): Promise<HeldLease> => ({ acquired: false, release: async () => undefined })),
      waitFor: jest.fn(async (r, lookup) => {
        // The holder finishes meanwhile and stores its response.
        await otherEnvironment.set(ref(r), productResponse(7));
        return lookup();
      }),
    };
    const handler = jest.fn(async () => productResponse(1));
    const fn = middy(handler).use(cacheResponse({ cache: new CacheManager({ backend, lease }), key: httpRequestKey(), logger: silentLogger }));
    expect(await fn(apiGatewayV1Event(), context)).toEqual(productResponse(7));
    expect(handler).not.toHaveBeenCalled();
    expect(lease.acquire).toHaveBeenCalledTimes(1);
  });

  test('the environment holding the lease stores its response before releasing the lease', async () => {
    const backend = new MemoryBackend();
    const order: string[] = [];
    const lease: StampedeLease = {
      acquire: async () => ({ acquired: true, release: async () => void order.push('release') }),
      waitFor: async () => undefined,
    };
    const setSpy = jest.spyOn(backend, 'set').mockImplementation(async function (this: MemoryBackend, ...args) {
      order.push('set');
      return MemoryBackend.prototype.set.apply(this, args);
    });
    const fn = middy(async () => {
      order.push('handler');
      return productResponse(1);
    }).use(cacheResponse({ cache: new CacheManager({ backend, lease }), key: httpRequestKey(), logger: silentLogger }));
    await fn(apiGatewayV1Event(), context);
    expect(order).toEqual(['handler', 'set', 'release']);
    setSpy.mockRestore();
  });

  test('useLease: false keeps the lease out of it', async () => {
    const lease: StampedeLease = { acquire: jest.fn(), waitFor: jest.fn() };
    const fn = middy(async () => productResponse(1)).use(
      cacheResponse({ cache: new CacheManager({ backend: new MemoryBackend(), lease }), key: httpRequestKey(), useLease: false, logger: silentLogger }),
    );
    await fn(apiGatewayV1Event(), context);
    expect(lease.acquire).not.toHaveBeenCalled();
  });
});

describe('cacheResponse with a LambdaCache and Powertools Metrics', () => {
  test('the cache is opened on the first invocation, and a hit still flushes the invocation’s metrics', async () => {
    const open = jest.fn(() => encryptedCache());
    const vault = openCache(open, { closeOnShutdown: false });
    const metrics = new Metrics({ namespace: 'cachevault-test', serviceName: 'products' });
    const flushed = jest.spyOn(metrics, 'publishStoredMetrics');
    const added = jest.spyOn(metrics, 'addMetric');
    const handler = jest.fn(async () => productResponse(1));
    const fn = middy(handler)
      .use(logMetrics(metrics))
      .use(cacheMetrics({ cache: vault, metrics }))
      .use(cacheResponse({ cache: vault, key: httpRequestKey(), logger: silentLogger }));
    try {
      await fn(apiGatewayV2Event(), context);
      await fn(apiGatewayV2Event(), context);
      expect(open).toHaveBeenCalledTimes(1);
      expect(handler).toHaveBeenCalledTimes(1);
      // The hit answered early, so middy skipped every `after`; the metrics were flushed anyway.
      expect(flushed).toHaveBeenCalledTimes(2);
      const hits = added.mock.calls.filter(([name]) => name === 'CacheHits').map(([, , value]) => value);
      expect(hits).toEqual([0, 1]);
    } finally {
      await vault.close();
    }
  });

  test('a cache that cannot be opened leaves the handler serving, uncached', async () => {
    const warn = jest.fn();
    const vault = openCache(async (): Promise<Cache> => {
      throw new Error('KMS unreachable');
    }, { closeOnShutdown: false });
    const handler = jest.fn(async () => productResponse(1));
    const fn = middy(handler).use(cacheResponse({ cache: vault, key: httpRequestKey(), logger: { ...silentLogger, warn } }));
    expect(await fn(apiGatewayV2Event(), context)).toEqual(productResponse(1));
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ error: expect.stringContaining('KMS unreachable') }), expect.stringContaining('could not open the cache'));
  });
});

describe('cacheResponse options', () => {
  test('ttlMs and ttlFrom together are refused', () => {
    expect(() => cacheResponse({ cache, key: () => 'k', ttlMs: 1000, ttlFrom: () => 1000 } as never)).toThrow('ttlMs or ttlFrom, not both');
  });

  test('a non-positive ttlMs is refused', () => {
    expect(() => cacheResponse({ cache, key: () => 'k', ttlMs: 0 })).toThrow(/positive number of milliseconds/);
  });

  test('a missing cache is refused with what to pass', () => {
    expect(() => cacheResponse({ cache: undefined as never, key: () => 'k' })).toThrow(/options.cache must be a cache/);
  });
});
