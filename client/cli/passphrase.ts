/**
 * Where `keys backup|restore` get their secret (a passphrase, or a recovery code for a backup
 * sealed under one): the environment variable named by `--passphrase-env` (scripts), else a
 * prompt with no echo. Never from a command-line argument, which would land in shell history
 * and `ps`. New passphrases must pass the library's `checkBackupPassphrase`, the one rule.
 */
import { checkBackupPassphrase } from '../keys/keyBackup';
import { InvalidArgumentError } from '../errors';
import type { CliContext } from './context';
import { UsageError } from './errors';

export interface ReadPassphraseOptions {
  readonly envName?: string;
  /** A new passphrase: checked for strength and asked twice. */
  readonly confirm: boolean;
  /** What is asked for. @default 'passphrase' */
  readonly kind?: 'passphrase' | 'recovery code';
}

export async function readPassphrase(ctx: CliContext, options: ReadPassphraseOptions): Promise<string> {
  const kind = options.kind ?? 'passphrase';
  if (options.envName !== undefined) {
    const value = ctx.env[options.envName];
    if (value === undefined || value === '') {
      throw new UsageError(`--passphrase-env names ${options.envName}, which is not set or empty.`, { hint: `Export ${options.envName} with the ${kind}, or omit --passphrase-env to be prompted.` });
    }
    if (options.confirm) checkStrength(value);
    return value;
  }
  const prompt = ctx.io.prompt;
  if (!prompt) {
    throw new UsageError(`A ${kind} is needed and there is no terminal to ask on.`, { hint: `Pass --passphrase-env NAME with the ${kind} in environment variable NAME.` });
  }
  const first = await prompt(kind === 'passphrase' ? 'Backup passphrase: ' : 'Recovery code: ', { secret: true });
  if (options.confirm) {
    checkStrength(first);
    const again = await prompt('Repeat the passphrase: ', { secret: true });
    if (again !== first) throw new UsageError('The two passphrases differ; nothing was written.');
  }
  return first;
}

function checkStrength(passphrase: string): void {
  try {
    checkBackupPassphrase(passphrase);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new UsageError(error.message, { hint: error.hint });
    throw error;
  }
}
