/**
 * The parts of middy's request and middleware shapes these middlewares use, written out here so
 * that `cachevault/middy` needs nothing of `@middy/core` at run time and its types resolve in
 * CommonJS and ESM projects alike (`@middy/core` is ESM-only). They are structurally what
 * `@middy/core` 6 and 7 declare, so `middy(handler).use(cacheResponse(...))` infers the event
 * and the context (`request.context.cache` from `cacheLifecycle`) as it does for middy's own.
 */

/** middy's per-invocation request. */
export interface MiddyRequest<TEvent = unknown, TResult = unknown, TContext = object> {
  event: TEvent;
  context: TContext;
  response: TResult | null | undefined;
  error: unknown;
  internal: Record<string, unknown>;
}

/** A middy middleware object: `before` may answer early by returning a value. */
export interface MiddyMiddleware<TEvent = unknown, TResult = unknown, TContext = object> {
  before?: (request: MiddyRequest<TEvent, TResult, TContext>) => Promise<TResult | undefined>;
  after?: (request: MiddyRequest<TEvent, TResult, TContext>) => Promise<void>;
  onError?: (request: MiddyRequest<TEvent, TResult, TContext>) => Promise<void>;
  name?: string;
}

/** The few fields of the Lambda context these middlewares read. */
export interface LambdaContextLike {
  /** Lambda's; absent in tests and local runs. */
  getRemainingTimeInMillis?: () => number;
}

/**
 * The Lambda context as `@types/aws-lambda` declares it (`Context`), written out so these types
 * need no `aws-lambda` package. middy's `use()` infers a middleware's context only when it has all
 * of these members.
 */
export interface LambdaContext extends LambdaContextLike {
  callbackWaitsForEmptyEventLoop: boolean;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  getRemainingTimeInMillis(): number;
  done(error?: Error, result?: unknown): void;
  fail(error: Error | string): void;
  succeed(messageOrObject: unknown): void;
}
