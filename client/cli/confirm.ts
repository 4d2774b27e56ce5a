/** Destructive commands ask first: `--yes` in scripts, a typed "yes" on a terminal, else refuse. */
import type { CliContext } from './context';
import { NotConfirmedError } from './errors';

export async function confirmDestructive(ctx: CliContext, action: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  const prompt = ctx.io.prompt;
  if (!prompt || ctx.globals.json) throw new NotConfirmedError(action);
  const answer = await prompt(`${action}. This cannot be undone. Type "yes" to continue: `, { secret: false });
  if (answer.trim().toLowerCase() !== 'yes') throw new NotConfirmedError(action);
}
