/**
 * What `cacheResponse` needs to know about Lambda's HTTP event and response shapes (API Gateway
 * REST (v1) and HTTP API (v2) proxy events, ALB target events), read structurally so that no
 * `aws-lambda` types are needed at run time.
 */

/** A proxy integration's response: API Gateway v1, v2 (structured form) and ALB share it. */
export interface HttpResponseLike {
  statusCode: number;
  headers?: Record<string, string | number | boolean | undefined>;
  multiValueHeaders?: Record<string, readonly (string | number | boolean)[] | undefined>;
  /** API Gateway v2 only. */
  cookies?: readonly string[];
  body?: unknown;
  isBase64Encoded?: boolean;
}

/** Whether a handler's result is HTTP-shaped (has a numeric `statusCode`). */
export function isHttpResponse(response: unknown): response is HttpResponseLike {
  return typeof response === 'object' && response !== null && typeof (response as { statusCode?: unknown }).statusCode === 'number';
}

/** The values of one response header, whatever its case, from `headers` and `multiValueHeaders`. */
export function responseHeader(response: HttpResponseLike, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [k, v] of Object.entries(response.headers ?? {})) if (k.toLowerCase() === wanted && v !== undefined) values.push(String(v));
  for (const [k, vs] of Object.entries(response.multiValueHeaders ?? {})) if (k.toLowerCase() === wanted && vs) values.push(...vs.map(String));
  return values;
}

function cacheControl(response: HttpResponseLike): string[] {
  return responseHeader(response, 'cache-control')
    .flatMap((v) => v.split(','))
    .map((d) => d.trim().toLowerCase())
    .filter((d) => d.length > 0);
}

/**
 * `cacheResponse`'s default `shouldCache`. Any defined result that is not HTTP-shaped is cached
 * (a plain event's answer). An HTTP response is cached only when all of these hold:
 * - its status is 2xx (an error page or redirect is not kept);
 * - it sets no cookie (`Set-Cookie`, or v2's `cookies`): a response that sets one belongs to one
 *   client, and a shared cache would hand that client's cookie to the next;
 * - `Cache-Control` has neither `no-store` nor `private` (the response's own "do not share"),
 *   and it has no `Vary: *` (it varies by something no key can hold);
 * - the body is a string or absent (a stream cannot be stored, and a proxy integration's body is
 *   a string anyway).
 */
export function isCacheableResponse(response: unknown): boolean {
  if (response === undefined) return false;
  if (!isHttpResponse(response)) return true;
  if (response.statusCode < 200 || response.statusCode > 299) return false;
  if (responseHeader(response, 'set-cookie').length > 0 || (response.cookies?.length ?? 0) > 0) return false;
  const directives = cacheControl(response);
  if (directives.includes('no-store') || directives.includes('private')) return false;
  if (responseHeader(response, 'vary').some((v) => v.split(',').some((f) => f.trim() === '*'))) return false;
  return response.body === undefined || typeof response.body === 'string';
}

/**
 * A `ttlFrom` that reads the response's own `Cache-Control`: `s-maxage` (the shared-cache
 * lifetime) if present, else `max-age`, in milliseconds; `0` for `no-cache` or a zero age (not
 * stored); `undefined` without either (the middleware's `ttlMs`, or the cache's default TTL).
 */
export function ttlFromCacheControl(response: unknown): number | undefined {
  if (!isHttpResponse(response)) return undefined;
  const directives = cacheControl(response);
  if (directives.includes('no-cache')) return 0;
  const age = (name: string): number | undefined => {
    const found = directives.find((d) => d.startsWith(`${name}=`));
    if (found === undefined) return undefined;
    const seconds = Number(found.slice(name.length + 1).replace(/^"|"$/g, ''));
    return Number.isInteger(seconds) && seconds >= 0 ? seconds * 1000 : 0;
  };
  return age('s-maxage') ?? age('max-age');
}

interface HttpRequestParts {
  readonly method: string;
  readonly path: string;
  readonly query: [string, string][];
  readonly headers: Record<string, string[]>;
}

/**
 * Method, path, query and the `wanted` headers (lower case) of an API Gateway v1/v2 or ALB event;
 * `undefined` for any other event.
 */
function httpRequestParts(event: unknown, wanted: ReadonlySet<string>): HttpRequestParts | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const e = event as Record<string, unknown>;
  const requestContext = (e.requestContext ?? {}) as Record<string, unknown>;
  const headers: Record<string, string[]> = {};
  const addHeaders = (source: unknown, multi: boolean) => {
    if (wanted.size === 0) return;
    for (const [k, v] of Object.entries((source ?? {}) as Record<string, unknown>)) {
      if (v === undefined || v === null || !wanted.has(k.toLowerCase())) continue;
      const values = multi && Array.isArray(v) ? v.map(String) : [String(v)];
      (headers[k.toLowerCase()] ??= []).push(...values);
    }
  };
  const query: [string, string][] = [];
  if (e.version === '2.0' && typeof (requestContext.http as { method?: unknown } | undefined)?.method === 'string') {
    const http = requestContext.http as { method: string; path?: string };
    for (const pair of typeof e.rawQueryString === 'string' && e.rawQueryString.length > 0 ? e.rawQueryString.split('&') : []) {
      const at = pair.indexOf('=');
      query.push(at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)]);
    }
    addHeaders(e.headers, false);
    return { method: http.method.toUpperCase(), path: typeof e.rawPath === 'string' ? e.rawPath : (http.path ?? '/'), query, headers };
  }
  if (typeof e.httpMethod === 'string' && typeof e.path === 'string') {
    // API Gateway v1 and ALB: the multi-value form, when the integration sends it, holds everything.
    const multi = e.multiValueQueryStringParameters as Record<string, unknown[] | null> | null | undefined;
    if (multi) {
      for (const [k, vs] of Object.entries(multi)) for (const v of vs ?? []) query.push([k, String(v)]);
    } else {
      for (const [k, v] of Object.entries((e.queryStringParameters ?? {}) as Record<string, unknown>)) if (v !== undefined && v !== null) query.push([k, String(v)]);
    }
    if (e.multiValueHeaders) addHeaders(e.multiValueHeaders, true);
    else addHeaders(e.headers, false);
    return { method: e.httpMethod.toUpperCase(), path: e.path, query, headers };
  }
  return undefined;
}

export interface HttpRequestKeyOptions {
  /**
   * Request headers whose values are part of the key, for responses that vary by them (`accept`,
   * `accept-language`, `authorization` for per-caller responses). Case-insensitive.
   * @default none
   */
  readonly headers?: readonly string[];
  /** Methods whose responses may be cached. @default ['GET', 'HEAD'] */
  readonly methods?: readonly string[];
  /**
   * What to do with a request that carries an `Authorization` header, when `authorization` is not
   * among `headers` (naming it there caches per credential). `'bypass'` gives it no key, as a
   * shared HTTP cache must not answer it from another caller's response (RFC 9111, 3.5);
   * `'shared'` declares the response the same for every caller (the header only gates access).
   * @default 'bypass'
   */
  readonly authorized?: 'bypass' | 'shared';
}

/**
 * A `key` for HTTP events (API Gateway REST and HTTP API, ALB): method, path, the query
 * parameters sorted, and the values of the named headers, in an unambiguous encoding. It answers
 * `undefined` (no caching) for other methods than GET and HEAD, for requests with an
 * `Authorization` header (see `authorized`) and for events that are not HTTP. Everything the
 * response depends on must be in the key: add the headers it varies by.
 */
export function httpRequestKey(options: HttpRequestKeyOptions = {}): (event: unknown) => string | undefined {
  const methods = new Set((options.methods ?? ['GET', 'HEAD']).map((m) => m.toUpperCase()));
  const varyBy = (options.headers ?? []).map((h) => h.toLowerCase());
  const bypassAuthorized = (options.authorized ?? 'bypass') === 'bypass' && !varyBy.includes('authorization');
  const wanted = new Set(bypassAuthorized ? [...varyBy, 'authorization'] : varyBy);
  return (event) => {
    const parts = httpRequestParts(event, wanted);
    if (!parts || !methods.has(parts.method)) return undefined;
    if (bypassAuthorized && parts.headers.authorization !== undefined) return undefined;
    const query = [...parts.query].sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
    return JSON.stringify([parts.method, parts.path, query, varyBy.map((h) => parts.headers[h] ?? null)]);
  };
}
