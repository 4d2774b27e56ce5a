/**
 * How a command is declared: commander parses, zod validates the options, the command returns
 * an exit code. Errors are not handled here: they travel to the one mapping in errors.ts.
 */
import type { Command } from 'commander';
import type { z } from 'zod';
import type { ExitCode } from '../errors';
import { CliContext, type GlobalOptions } from './context';
import { UsageError } from './errors';
import type { CliIo } from './output';

/** Shared by every command of one invocation: the io, and the context and exit code of the command that ran. */
export class Runtime {
  exitCode: ExitCode = 0;
  context: CliContext | undefined;
  constructor(readonly io: CliIo) {}
}

export type CommandRunner<O> = (ctx: CliContext, options: O, args: string[]) => Promise<ExitCode>;

/** Attaches `run` to `cmd`, validating its options with `schema` first. */
export function defineAction<S extends z.ZodType>(runtime: Runtime, cmd: Command, schema: S, run: CommandRunner<z.infer<S>>): Command {
  return cmd.action(async (...all: unknown[]) => {
    const command = all[all.length - 1] as Command;
    const args = all.slice(0, -2).filter((a): a is string => typeof a === 'string');
    const globals = command.optsWithGlobals<{ config?: string; json?: boolean; verbose?: boolean }>();
    const global: GlobalOptions = { config: globals.config, json: globals.json === true, verbose: globals.verbose === true };
    const ctx = new CliContext(runtime.io, global);
    runtime.context = ctx;
    const parsed = schema.safeParse(command.opts());
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.length > 0 ? `--${kebab(i.path.map(String).join('.'))}` : 'options'}: ${i.message}`);
      throw new UsageError(`Invalid option${problems.length === 1 ? '' : 's'} for \`${command.name()}\`: ${problems.join('; ')}.`);
    }
    runtime.exitCode = await run(ctx, parsed.data, args);
  });
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
