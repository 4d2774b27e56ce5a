/**
 * The middy stack every cachevault Lambda shares: Powertools Logger (Lambda context in every
 * line) and Powertools Metrics (EMF, flushed after each invocation, cold starts counted). The
 * client never imports this; only the handlers do.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddyfiedHandler } from '@middy/core';
import type { Context } from 'aws-lambda';
import { powertoolsLogger } from '../../client/exports/powertools';
import type { Logger as ClientLogger } from '../../client/types';
import { METRICS_NAMESPACE } from '../metricNames';

export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The same logger in the shape the client takes (`(fields, message)`). */
  readonly clientLogger: ClientLogger;
}

/** Logger and metrics for one function; names come from the environment the stack sets. */
export function createObservability(defaultServiceName: string, env: NodeJS.ProcessEnv = process.env): Observability {
  const serviceName = env.POWERTOOLS_SERVICE_NAME ?? defaultServiceName;
  const logger = new Logger({ serviceName });
  const metrics = new Metrics({
    namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName,
    defaultDimensions: { environment: env.CACHEVAULT_ENVIRONMENT_NAME ?? 'unknown' },
  });
  return { logger, metrics, clientLogger: powertoolsLogger(logger) };
}

export type HandlerFn<E, R> = (event: E, context: Context, options: { signal: AbortSignal }) => Promise<R>;

export interface WrapOptions {
  /**
   * Abort the handler's `signal` (and answer with a TimeoutError) this long before Lambda's
   * timeout. 0 disables the early timeout.
   * @default 0
   */
  readonly timeoutEarlyInMillis?: number;
}

/** Wraps a handler in the shared middy stack. */
export function withObservability<E, R>(handler: HandlerFn<E, R>, obs: Observability, options: WrapOptions = {}): MiddyfiedHandler<E, R> {
  return middy<E, R>(handler, { timeoutEarlyInMillis: options.timeoutEarlyInMillis ?? 0 })
    .use(injectLambdaContext(obs.logger, { resetKeys: true }))
    .use(logMetrics(obs.metrics, { captureColdStartMetric: true }));
}
