/**
 * Lambda events as AWS delivers them (the shapes of the sample events in the API Gateway and ELB
 * developer guides), typed with @types/aws-lambda so a field that does not exist fails to compile.
 */
import type { ALBEvent, APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda';

export interface HttpRequestSpec {
  readonly method?: string;
  readonly path?: string;
  /** Query parameters in the order the client sent them. */
  readonly query?: readonly (readonly [string, string])[];
  readonly headers?: Record<string, string>;
}

const baseHeaders = {
  accept: 'application/json',
  'accept-encoding': 'gzip, deflate, br',
  host: 'api.example.com',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)',
  'x-forwarded-for': '203.0.113.10',
  'x-forwarded-port': '443',
  'x-forwarded-proto': 'https',
};

function multi(query: readonly (readonly [string, string])[]): Record<string, string[]> | null {
  if (query.length === 0) return null;
  const out: Record<string, string[]> = {};
  for (const [k, v] of query) (out[k] ??= []).push(v);
  return out;
}

function single(query: readonly (readonly [string, string])[]): Record<string, string> | null {
  if (query.length === 0) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of query) out[k] = v; // API Gateway keeps the last value
  return out;
}

/** API Gateway REST API (v1) proxy integration event. */
export function apiGatewayV1Event(spec: HttpRequestSpec = {}): APIGatewayProxyEvent {
  const method = spec.method ?? 'GET';
  const path = spec.path ?? '/products/42';
  const query = spec.query ?? [];
  const headers = { ...baseHeaders, ...spec.headers };
  return {
    resource: '/products/{id}',
    path,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: single(query),
    multiValueQueryStringParameters: multi(query),
    pathParameters: { id: path.split('/').pop() ?? '' },
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: '1234567890',
      authorizer: null,
      domainName: 'api.example.com',
      domainPrefix: 'api',
      extendedRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '203.0.113.10',
        user: null,
        userAgent: baseHeaders['user-agent'],
        userArn: null,
      },
      path: `/prod${path}`,
      protocol: 'HTTP/1.1',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      requestTime: '09/Apr/2015:12:34:56 +0000',
      requestTimeEpoch: 1428582896000,
      resourceId: '123456',
      resourcePath: '/products/{id}',
      stage: 'prod',
    },
    body: null,
    isBase64Encoded: false,
  };
}

/** API Gateway HTTP API (v2, payload format 2.0) event. */
export function apiGatewayV2Event(spec: HttpRequestSpec = {}): APIGatewayProxyEventV2 {
  const method = spec.method ?? 'GET';
  const path = spec.path ?? '/products/42';
  const query = spec.query ?? [];
  return {
    version: '2.0',
    routeKey: `${method} /products/{id}`,
    rawPath: path,
    rawQueryString: query.map(([k, v]) => `${k}=${v}`).join('&'),
    headers: { ...baseHeaders, ...spec.headers },
    queryStringParameters: query.length > 0 ? Object.fromEntries(query.map(([k]) => [k, query.filter(([q]) => q === k).map(([, v]) => v).join(',')])) : undefined,
    pathParameters: { id: path.split('/').pop() ?? '' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api-id',
      domainName: 'id.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'id',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.10', userAgent: baseHeaders['user-agent'] },
      requestId: 'JKJaXmPLvHcESHA=',
      routeKey: `${method} /products/{id}`,
      stage: '$default',
      time: '10/Mar/2020:05:16:23 +0000',
      timeEpoch: 1583817383220,
    },
    isBase64Encoded: false,
  };
}

/** Application Load Balancer target event, multi-value headers off (the default). */
export function albEvent(spec: HttpRequestSpec = {}): ALBEvent {
  const query = spec.query ?? [];
  return {
    requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-279XGJDqGZ5rsrHC2Fjr/49e9d65c45c6791a' } },
    httpMethod: spec.method ?? 'GET',
    path: spec.path ?? '/products/42',
    queryStringParameters: single(query) ?? {},
    headers: { ...baseHeaders, ...spec.headers, 'x-amzn-trace-id': 'Root=1-5c536348-3d683b8b04734faae651f476' },
    body: '',
    isBase64Encoded: false,
  };
}

/** A non-HTTP event: what a Step Functions task or a direct invoke sends. */
export interface OrderLookupEvent {
  readonly orderId: string;
  readonly includeLines: boolean;
}

export function plainEvent(orderId = 'ord-1001'): OrderLookupEvent {
  return { orderId, includeLines: true };
}

/** A Lambda context; `remainingMs` is what getRemainingTimeInMillis answers. */
export function lambdaContext(remainingMs = 30_000, requestId = 'f0e1d2c3-b4a5-4697-8899-aabbccddeeff'): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'products-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:products-api',
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/products-api',
    logStreamName: '2026/12/07/[$LATEST]0123456789abcdef0123456789abcdef',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
