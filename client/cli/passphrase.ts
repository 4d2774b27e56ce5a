/**
 * Where `keys backup|restore` get a passphrase: the environment variable named by
 * `--passphrase-env` (scripts), else a prompt with no echo. Never from a command-line argument,
 * which would land in shell history and `ps`.
 */
import type { CliContext } from './context';
import { UsageError } from './errors';

const MIN_LENGTH = 12;

export async function readPassphrase(ctx: CliContext, options: { envName?: string; confirm: boolean }): Promise<string> {
  if (options.envName !== undefined) {
    const value = ctx.env[options.envName];
    if (value === undefined || value === '') {
      throw new UsageError(`--passphrase-env names ${options.envName}, which is not set or empty.`, { hint: `Export ${options.envName} with the passphrase, or omit --passphrase-env to be prompted.` });
    }
    if (options.confirm) checkStrength(value);
    return value;
  }
  const prompt = ctx.io.prompt;
  if (!prompt) {
    throw new UsageError('A passphrase is needed and there is no terminal to ask on.', { hint: 'Pass --passphrase-env NAME with the passphrase in environment variable NAME.' });
  }
  const first = await prompt('Backup passphrase: ', { secret: true });
  if (options.confirm) {
    checkStrength(first);
    const again = await prompt('Repeat the passphrase: ', { secret: true });
    if (again !== first) throw new UsageError('The two passphrases differ; nothing was written.');
  }
  return first;
}

function checkStrength(passphrase: string): void {
  if (passphrase.length < MIN_LENGTH) {
    throw new UsageError(`The backup passphrase must be at least ${MIN_LENGTH} characters.`, { hint: 'A few random words make a passphrase that is long and memorable.' });
  }
}
