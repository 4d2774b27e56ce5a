/**
 * The one place the CLI turns a failure into what the user sees: one line saying what failed,
 * one line saying what to do, and an exit code. Stacks only with `--verbose`.
 */
import { CommanderError } from 'commander';
import { redactText } from '../config/redact';
import { CacheVaultError, ConfigError, ExitCode, InvalidArgumentError, type CacheVaultErrorOptions } from '../errors';
import { escapeControl } from './terminalText';

/** The command line itself is wrong: unknown option, bad value, missing argument. Exit 2. */
export class UsageError extends CacheVaultError {
  override name = 'UsageError';
  override readonly code = 'USAGE';
  constructor(message: string, options: CacheVaultErrorOptions = {}) {
    super(message, { hint: 'Run `cachevault <command> --help` for the accepted options.', ...options });
  }
}

/** The user declined a confirmation prompt (or none could be shown). Exit 1, nothing changed. */
export class NotConfirmedError extends CacheVaultError {
  override name = 'NotConfirmedError';
  override readonly code = 'NOT_CONFIRMED';
  constructor(action: string) {
    super(`${action} was not confirmed; nothing was changed.`, {
      hint: 'Answer "yes" at the prompt, or pass --yes in scripts.',
    });
  }
}

/** What the CLI prints for an error: stable for `--json` consumers and the docs. */
export interface ErrorReport {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly exitCode: ExitCode;
}

interface Recognised {
  /** The low-level code the message was recognised by (ECONNREFUSED...), if any. */
  readonly token?: string;
  readonly code: string;
  readonly message: string;
  readonly hint: string;
}

/**
 * Errors that come from outside our hierarchy but that users meet often enough to deserve a
 * sentence of their own: network refusals, missing credentials, missing Java, a locked keyring.
 */
export function recognise(err: unknown): Recognised | undefined {
  const chain = causes(err);
  for (const e of chain) {
    const code = (e as { code?: unknown }).code;
    const name = (e as { name?: unknown }).name;
    const message = e instanceof Error ? e.message : String(e);
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ECONNRESET') {
      const address = (e as { address?: string; port?: number; hostname?: string }).address ?? (e as { hostname?: string }).hostname;
      const port = (e as { port?: number }).port;
      const where = address ? ` ${address}${port ? `:${port}` : ''}` : '';
      return {
        token: String(code),
        code: 'ENDPOINT_UNREACHABLE',
        message: `Could not reach the endpoint${where} (${String(code)}).`,
        hint: 'Check dynamodb.endpoint (or kms.endpoint) and that the service is running; for the local stack run `npx cachevault local` (`npm start` in the cachevault repository).',
      };
    }
    if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
      return {
        code: 'AWS_CREDENTIALS_MISSING',
        message: 'No AWS credentials were found.',
        hint: 'Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use a local endpoint (dynamodb.endpoint) with the keyring or env key provider.',
      };
    }
    if (name === 'TimeoutError' || /RequestTimeout|socket hang up|timed out/i.test(message)) {
      return {
        code: 'ENDPOINT_TIMEOUT',
        message: `A request timed out: ${message.slice(0, 200)}`,
        hint: 'Check network access to the endpoint; raise dynamodb.requestTimeoutMs if the service is slow.',
      };
    }
  }
  return undefined;
}

function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  let cur: unknown = err;
  while (cur !== undefined && cur !== null && out.length < 8) {
    out.push(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

/** Codes of errors raised by client modules for bad command-line input (a malformed --from spec...). */
const USAGE_CODES: ReadonlySet<string> = new Set(['BACKEND_SPEC_INVALID']);

/**
 * Maps any thrown value to what the user sees and the exit code. Message and hint are redacted
 * (config/redact.ts): an error may quote input that holds a key or an endpoint's password.
 */
export function reportError(err: unknown): ErrorReport {
  const report = mapError(err);
  return { ...report, message: redactText(report.message), hint: report.hint === undefined ? undefined : redactText(report.hint) };
}

function mapError(err: unknown): ErrorReport {
  if (err instanceof CommanderError) {
    return { code: 'USAGE', message: err.message.replace(/^error:\s*/i, ''), hint: 'Run `cachevault --help` for the commands and options.', exitCode: ExitCode.usage };
  }
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof InvalidArgumentError || (err instanceof CacheVaultError && USAGE_CODES.has(err.code))) {
    return { code: err.code, message: err.message, hint: err.hint, exitCode: ExitCode.usage };
  }
  const recognised = recognise(err);
  if (err instanceof CacheVaultError) {
    // Our own message says what failed; a recognised cause explains why in plainer words.
    if (recognised) {
      const said = recognised.token !== undefined && err.message.includes(recognised.token);
      const message = said ? firstLine(err.message) : `${firstLine(err.message)} ${recognised.message}`;
      // Both hints help: how to fix the cause, and what our layer offers (a fallback...).
      const hint = err.hint && err.hint !== recognised.hint ? `${recognised.hint} ${err.hint}` : recognised.hint;
      return { code: err.code, message, hint, exitCode: ExitCode.failure };
    }
    return { code: err.code, message: err.message, hint: err.hint, exitCode: ExitCode.failure };
  }
  if (recognised) return { ...recognised, exitCode: ExitCode.failure };
  const message = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return {
    code: 'UNEXPECTED',
    message: `Unexpected error: ${firstLine(message)}`,
    hint: 'Run again with --verbose for the stack trace, and report it if it looks like a bug.',
    exitCode: ExitCode.failure,
  };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/**
 * The text printed on stderr: `error: ...`, `hint: ...`, and with --verbose the stack and causes,
 * redacted and with control characters made visible like every other line the CLI prints.
 */
export function formatError(report: ErrorReport, err: unknown, verbose: boolean): string {
  const lines = [`error: ${report.message}`];
  if (report.hint) lines.push(`hint: ${report.hint}`);
  if (verbose) {
    for (const e of causes(err)) {
      if (e instanceof Error && e.stack) lines.push('', e === err ? e.stack : `caused by: ${e.stack}`);
    }
  }
  return `${escapeControl(redactText(lines.join('\n')))}\n`;
}
