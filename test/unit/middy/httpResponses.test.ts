import { httpRequestKey, isCacheableResponse, ttlFromCacheControl } from '../../../client/exports/middy';
import { albEvent, apiGatewayV1Event, apiGatewayV2Event, plainEvent } from '../../support/lambdaEvents';

describe('httpRequestKey', () => {
  const key = httpRequestKey();

  test.each([
    ['API Gateway REST (v1)', apiGatewayV1Event],
    ['API Gateway HTTP API (v2)', apiGatewayV2Event],
    ['ALB', albEvent],
  ])('for %s: the same request gives the same key whatever the query order; path, query and method tell keys apart', (_name, make) => {
    const k = key(make({ query: [['a', '1'], ['b', '2']] }));
    expect(k).toBeDefined();
    expect(key(make({ query: [['b', '2'], ['a', '1']] }))).toBe(k);
    expect(key(make({ query: [['a', '1'], ['b', '3']] }))).not.toBe(k);
    expect(key(make({ path: '/products/43', query: [['a', '1'], ['b', '2']] }))).not.toBe(k);
    expect(key(make({ method: 'HEAD', query: [['a', '1'], ['b', '2']] }))).not.toBe(k);
    expect(key(make({ method: 'DELETE' }))).toBeUndefined();
  });

  test('the encoding is unambiguous: a query value holding a separator is not another parameter', () => {
    expect(key(apiGatewayV1Event({ query: [['a', '1&b=2']] }))).not.toBe(key(apiGatewayV1Event({ query: [['a', '1'], ['b', '2']] })));
  });

  test('named headers vary the key, case-insensitively; others do not', () => {
    const byLanguage = httpRequestKey({ headers: ['Accept-Language'] });
    const en = byLanguage(apiGatewayV2Event({ headers: { 'accept-language': 'en' } }));
    expect(byLanguage(apiGatewayV2Event({ headers: { 'accept-language': 'de' } }))).not.toBe(en);
    expect(byLanguage(apiGatewayV2Event({ headers: { 'accept-language': 'en', 'user-agent': 'curl' } }))).toBe(en);
  });

  test.each([
    ['API Gateway REST (v1)', apiGatewayV1Event],
    ['API Gateway HTTP API (v2)', apiGatewayV2Event],
    ['ALB', albEvent],
  ])('for %s: a request with Authorization has no key by default, one per credential when the header is named, a shared one when declared shared', (_name, make) => {
    const alice = make({ headers: { Authorization: 'Bearer alice' } });
    const bob = make({ headers: { Authorization: 'Bearer bob' } });
    expect(key(alice)).toBeUndefined();
    const perCredential = httpRequestKey({ headers: ['authorization'] });
    expect(perCredential(alice)).toBeDefined();
    expect(perCredential(alice)).not.toBe(perCredential(bob));
    const shared = httpRequestKey({ authorized: 'shared' });
    expect(shared(alice)).toBe(shared(bob));
    expect(shared(alice)).toBe(key(make({})));
  });

  test('a non-HTTP event has no HTTP key', () => {
    expect(key(plainEvent())).toBeUndefined();
    expect(key(undefined)).toBeUndefined();
  });
});

describe('isCacheableResponse and ttlFromCacheControl', () => {
  test('plain results are cacheable, undefined is not', () => {
    expect(isCacheableResponse({ orderId: 'x' })).toBe(true);
    expect(isCacheableResponse('a string')).toBe(true);
    expect(isCacheableResponse(undefined)).toBe(false);
  });

  test.each([
    [{ statusCode: 200, body: '{}' }, true],
    [{ statusCode: 204 }, true],
    [{ statusCode: 301, headers: { location: '/x' } }, false],
    [{ statusCode: 404, body: 'no' }, false],
    [{ statusCode: 200, multiValueHeaders: { 'Set-Cookie': ['a=1'] }, body: '' }, false],
    [{ statusCode: 200, headers: { 'Cache-Control': 'no-store' }, body: '' }, false],
    [{ statusCode: 200, headers: { 'cache-control': 'max-age=5, Private' }, body: '' }, false],
    [{ statusCode: 200, headers: { Vary: 'Accept-Encoding, *' }, body: '' }, false],
    [{ statusCode: 200, headers: { Vary: 'Accept-Language' }, body: '' }, true],
    [{ statusCode: 200, body: { pipe: () => undefined } }, false],
  ])('%j is cacheable: %s', (response, expected) => {
    expect(isCacheableResponse(response)).toBe(expected);
  });

  test.each([
    [{ 'cache-control': 'public, max-age=60' }, 60_000],
    [{ 'Cache-Control': 'max-age=60, s-maxage=600' }, 600_000],
    [{ 'cache-control': 'no-cache' }, 0],
    [{ 'cache-control': 'max-age=abc' }, 0],
    [{ 'content-type': 'text/plain' }, undefined],
  ])('Cache-Control %j gives a TTL of %s', (headers, ttl) => {
    expect(ttlFromCacheControl({ statusCode: 200, headers })).toBe(ttl);
  });
});
