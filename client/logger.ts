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
const LEVELS: readonly LogLevel[] = ['silent', 'error', 'warn', 'info', 'debug'];

/** Any logger with the four methods: pino, bunyan, console, winston, Powertools, an app's own. */
export interface LoggerLike {
  debug(...args: never[]): unknown;
  info(...args: never[]): unknown;
  warn(...args: never[]): unknown;
  error(...args: never[]): unknown;
}

/**
 * Takes the logger an app passed and returns one with cachevault's `(fields, message)` calls.
 * A logger that is already shaped that way (pino, bunyan, our own) is used as it is; pass
 * `{ messageFirst: true }` for loggers that take the message first (console, winston), or use
 * the `cachevault/powertools` adapter for Powertools Logger.
 */
export function toLogger(logger: LoggerLike | Logger | undefined, options: { messageFirst?: boolean } = {}): Logger {
  if (logger === undefined) return silentLogger;
  for (const method of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof (logger as unknown as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(`The logger passed to cachevault has no ${method}() method; pass an object with debug, info, warn and error (pino, console, Powertools via cachevault/powertools...).`);
    }
  }
  if (!options.messageFirst) return logger as Logger;
  const target = logger as unknown as Record<'debug' | 'info' | 'warn' | 'error', (msg: string, fields: object) => void>;
  const wrap = (method: 'debug' | 'info' | 'warn' | 'error') => (fields: object, msg?: string) => target[method].call(logger, msg ?? '', redact(fields));
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}

/** Copies `fields` with secret-bearing names replaced, one level deep and in nested objects. */
export function redact(fields: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if ((REDACTED_FIELDS as readonly string[]).includes(k)) out[k] = '[redacted]';
    else if (v instanceof Error) out[k] = { name: v.name, message: v.message };
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) out[k] = redact(v);
    else out[k] = v;
  }
  return out;
}

/**
 * A JSON-lines logger on a stream (stderr by default) at `level`, with secret-bearing fields
 * redacted. The CLI's `--verbose` uses it, and `createCache` when the configuration sets
 * `logging.level` and the app passed no logger. No dependency: pino is the app's choice.
 */
export function createLogger(
  level: LogLevel = 'warn',
  bindings: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  if (level === 'silent') return silentLogger;
  const max = LEVELS.indexOf(level);
  const emit = (lvl: LogLevel) => (fields: object, msg?: string) => {
    if (LEVELS.indexOf(lvl) > max) return;
    write(`${JSON.stringify({ level: lvl, time: Date.now(), name: 'cachevault', ...bindings, ...redact(fields), msg })}\n`);
  };
  const logger: Logger = {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (more) => createLogger(level, { ...bindings, ...more }, write),
  };
  return logger;
}

const warnedOnce = new Set<string>();

/**
 * Logs `message` at warn unless this process has logged the same message already: a warning
 * about a setting says nothing new the second time a cache is built with it.
 */
export function warnOnce(logger: Logger, message: string, fields: object = {}): void {
  if (warnedOnce.has(message)) return;
  warnedOnce.add(message);
  logger.warn(fields, message);
}

/** For tests: forget which warnings were logged. */
export function resetWarnOnce(): void {
  warnedOnce.clear();
}
