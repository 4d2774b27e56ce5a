import type { Logger } from './types';

/** A logger that drops everything; the default for library use, so apps opt in to output. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** Field names whose values must never be logged, whatever object they appear in. */
export const REDACTED_FIELDS = [
  'plaintext',
  'key',
  'dataKey',
  'secret',
  'secretAccessKey',
  'sessionToken',
  'passphrase',
  'password',
  'value',
] as const;

export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';

/**
 * A pino logger on stderr with secret-bearing fields redacted. Loaded lazily so apps that bring
 * their own logger do not pay for pino.
 */
export function createLogger(level: LogLevel = 'warn', bindings: Record<string, unknown> = {}): Logger {
  if (level === 'silent') return silentLogger;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pino = require('pino') as typeof import('pino');
  const paths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]);
  return pino.default(
    { level, base: { name: 'cachevault', ...bindings }, redact: { paths, censor: '[redacted]' } },
    pino.destination(2),
  );
}
