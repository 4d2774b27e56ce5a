/**
 * `cachevault/pino`: pino is cachevault's native logger shape (`logger.warn(fields, message)`),
 * so a pino instance can be passed to `createCache({ logger })` as it is. This adapter adds a
 * `cachevault` child binding and pino's own redaction of secret-bearing field names.
 * pino itself is the app's dependency; this entry never loads it.
 */
import type { Logger } from '../types';
import { REDACTED_FIELDS } from '../logger';

/** The subset of a pino logger this adapter uses. */
export interface PinoLike {
  child(bindings: Record<string, unknown>, options?: { redact?: { paths: string[]; censor: string } }): PinoLike;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Wraps an app's pino logger for `createCache({ logger: pinoLogger(appLogger) })`. */
export function pinoLogger(logger: PinoLike, bindings: Record<string, unknown> = { component: 'cachevault' }): Logger {
  const paths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]);
  const child = logger.child(bindings, { redact: { paths, censor: '[redacted]' } });
  return {
    debug: (fields, msg) => child.debug(fields, msg),
    info: (fields, msg) => child.info(fields, msg),
    warn: (fields, msg) => child.warn(fields, msg),
    error: (fields, msg) => child.error(fields, msg),
    child: (more) => pinoLogger(child, more),
  };
}
