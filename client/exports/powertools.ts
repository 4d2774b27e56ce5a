/**
 * `cachevault/powertools`: the cache's counters as Powertools Metrics (CacheStatsMetrics), and an
 * adapter for AWS Lambda Powertools Logger, which takes the message
 * first (`logger.warn(message, fields)`) where cachevault calls `(fields, message)`. Powertools is
 * the app's dependency; this entry never loads it.
 */
import type { Logger } from '../types';
import { redact } from '../logger';

/** The subset of `@aws-lambda-powertools/logger`'s Logger this adapter uses. */
export interface PowertoolsLoggerLike {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Wraps a Powertools Logger for `createCache({ logger: powertoolsLogger(logger) })`. */
export function powertoolsLogger(logger: PowertoolsLoggerLike, bindings: Record<string, unknown> = {}): Logger {
  const call = (method: 'debug' | 'info' | 'warn' | 'error') => (fields: object, message?: string) =>
    logger[method](message ?? '', { ...bindings, ...redact(fields) });
  return {
    debug: call('debug'),
    info: call('info'),
    warn: call('warn'),
    error: call('error'),
    child: (more) => powertoolsLogger(logger, { ...bindings, ...more }),
  };
}

export { CacheStatsMetrics, type CacheStatsMetricsOptions, type PowertoolsMetricsLike } from '../integrations/powertoolsMetrics';
