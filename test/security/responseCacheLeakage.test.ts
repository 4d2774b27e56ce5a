import middy from '@middy/core';
import type { APIGatewayProxyResult, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { CacheVault } from '../../client/createCache';
import { cacheResponse, httpRequestKey, responseCacheKey } from '../../client/exports/middy';
import { silentLogger } from '../../client/logger';
import { apiGatewayV1Event, apiGatewayV2Event, lambdaContext } from '../support/lambdaEvents';
import { makeTempCache, type TempCache } from './support/tempCache';

/**
 * A shared response cache in front of a Lambda handler (`cachevault/middy`), attacked by its
 * callers and by a reader or writer of the file tier: one caller tries to be served another
 * caller's response (a session cookie, a private page, an error with details), to change what
 * later callers get, or to learn other callers' requests from storage; a writer of the cache
 * directory tries to have a response of its choosing served. Each attempt holds when the handler
 * runs again (or the response stays what it was) and storage shows nothing.
 */
describe('response cache leakage (cachevault/middy)', () => {
  let temp: TempCache;
  let vault: CacheVault;
  const context = lambdaContext();

  beforeEach(async () => {
    temp = makeTempCache();
    vault = await temp.open();
  });
  afterEach(async () => {
    await vault.close();
    temp.remove();
  });

  /** A handler that answers each caller with what `respond(caller)` gives, counting its runs. */
  function handlerFor(respond: (caller: string) => APIGatewayProxyStructuredResultV2) {
    const runs: string[] = [];
    const fn = middy(async (event: { headers?: Record<string, string | undefined> }) => {
      const caller = event.headers?.['x-caller'] ?? 'anonymous';
      runs.push(caller);
      return respond(caller);
    }).use(cacheResponse({ cache: vault, key: httpRequestKey(), ttlMs: 60_000, logger: silentLogger }));
    return { fn, runs };
  }

  const as = (caller: string) => apiGatewayV2Event({ path: '/account', headers: { 'x-caller': caller } });

  it("a response that sets the first caller's session cookie is not served to the next caller", async () => {
    const { fn, runs } = handlerFor((caller) => ({ statusCode: 200, headers: { 'Set-Cookie': `session=${caller}-secret; HttpOnly` }, body: 'welcome' }));
    await fn(as('alice'), context);
    const bob = await fn(as('bob'), context);
    expect(bob.headers?.['Set-Cookie']).toBe('session=bob-secret; HttpOnly');
    expect(runs).toEqual(['alice', 'bob']);
  });

  it('a v2 response with cookies[] is not served to the next caller', async () => {
    const { fn, runs } = handlerFor((caller) => ({ statusCode: 200, cookies: [`session=${caller}`], body: 'welcome' }));
    await fn(as('alice'), context);
    expect((await fn(as('bob'), context)).cookies).toEqual(['session=bob']);
    expect(runs).toEqual(['alice', 'bob']);
  });

  it("a caller with other credentials is not served the first caller's authenticated response", async () => {
    const runs: string[] = [];
    const fn = middy(async (event: { headers?: Record<string, string | undefined> }) => {
      const who = (event.headers?.authorization ?? '').replace('Bearer ', '');
      runs.push(who);
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ account: who, balance: who.length * 100 }) };
    }).use(cacheResponse({ cache: vault, key: httpRequestKey(), ttlMs: 60_000, logger: silentLogger }));
    const withToken = (token: string) => apiGatewayV2Event({ path: '/account', headers: { authorization: `Bearer ${token}` } });
    await fn(withToken('alice'), context);
    expect(JSON.parse((await fn(withToken('bob'), context)).body).account).toBe('bob');
    expect(runs).toEqual(['alice', 'bob']);
  });

  it("a Cache-Control: private page is not served to the next caller", async () => {
    const { fn, runs } = handlerFor((caller) => ({ statusCode: 200, headers: { 'Cache-Control': 'private, max-age=600' }, body: `${caller}'s statement` }));
    await fn(as('alice'), context);
    expect((await fn(as('bob'), context)).body).toBe("bob's statement");
    expect(runs).toEqual(['alice', 'bob']);
  });

  it("a caller waiting on the same key never receives the leading caller's error", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const runs: string[] = [];
    const fn = middy(async (event: { headers?: Record<string, string | undefined> }) => {
      const caller = event.headers?.['x-caller'] ?? 'anonymous';
      runs.push(caller);
      if (caller === 'alice') {
        await gate;
        throw new Error('alice: card 4111-1111-1111-1111 declined');
      }
      return { statusCode: 200, body: 'ok' };
    }).use(cacheResponse({ cache: vault, key: httpRequestKey(), logger: silentLogger }));
    const alice = fn(as('alice'), context);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    const bob = fn(as('bob'), context);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    expect(runs).toEqual(['alice']); // bob waits on alice's slot
    release();
    await expect(alice).rejects.toThrow('declined');
    await expect(bob).resolves.toEqual({ statusCode: 200, body: 'ok' });
  });

  it('a caller that changes the response it was served does not change what the next caller gets', async () => {
    const { fn } = handlerFor(() => ({ statusCode: 200, headers: { 'content-type': 'text/html' }, body: '<p>prices</p>' }));
    await fn(as('alice'), context);
    const served = await fn(as('mallory'), context);
    served.body = '<script>steal()</script>';
    served.headers!['content-type'] = 'text/javascript';
    expect(await fn(as('bob'), context)).toEqual({ statusCode: 200, headers: { 'content-type': 'text/html' }, body: '<p>prices</p>' });
  });

  it("a reader of the file tier learns neither the request's path and query nor the response", async () => {
    const fn = middy(async (): Promise<APIGatewayProxyResult> => ({ statusCode: 200, body: 'balance: 1234.56 EUR' }))
      .use(cacheResponse({ cache: vault, key: httpRequestKey(), ttlMs: 60_000, logger: silentLogger }));
    await fn(apiGatewayV1Event({ path: '/accounts/DE89370400440532013000', query: [['email', 'alice@example.com']] }), context);
    await vault.close();
    const db = temp.db();
    try {
      const stored = JSON.stringify(db.rows().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('latin1') : v]))));
      for (const secret of ['DE89370400440532013000', 'alice@example.com', 'accounts', 'balance', '1234.56']) expect(stored).not.toContain(secret);
    } finally {
      db.close();
    }
    vault = await temp.open();
  });

  it("a writer of the cache directory who moves another key's cached response under this key gets a miss, not that response", async () => {
    const fn = middy(async (event: { rawPath: string }) => ({ statusCode: 200, body: `page ${event.rawPath}` }))
      .use(cacheResponse({ cache: vault, key: httpRequestKey(), ttlMs: 60_000, logger: silentLogger }));
    const admin = apiGatewayV2Event({ path: '/admin/report' });
    const home = apiGatewayV2Event({ path: '/home' });
    await fn(admin, context);
    await fn(home, context);
    await vault.close();
    const db = temp.db();
    try {
      const adminRow = db.entry(vault.namespaceName, responseCacheKey(httpRequestKey()(admin)!))!;
      const homeRow = db.entry(vault.namespaceName, responseCacheKey(httpRequestKey()(home)!))!;
      for (const column of ['value', 'crc', 'size', 'key_id', 'expires_at', 'created_at', 'blob']) {
        if (column in adminRow) expect(db.update('entries', homeRow.id as number, column, adminRow[column] ?? null)).toBe(true);
      }
    } finally {
      db.close();
    }
    vault = await temp.open();
    const again = middy(async (event: { rawPath: string }) => ({ statusCode: 200, body: `page ${event.rawPath}` }))
      .use(cacheResponse({ cache: vault, key: httpRequestKey(), ttlMs: 60_000, logger: silentLogger }));
    expect((await again(home, context)).body).toBe('page /home');
    expect(vault.stats().decryptFailures).toBe(1);
  });
});
