/**
 * The `cachevault` command line: assembles the commands in ./commands, runs one, and maps any
 * failure to one line, a hint and an exit code (see errors.ts and docs/cli.md).
 */
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../errors';
import { Runtime } from './command';
import { formatError, reportError } from './errors';
import { packageVersion } from './packageVersion';
import { terminalSafe, type CliIo } from './output';
import { escapeJsonText } from './terminalText';
import { registerConfig } from './commands/config';
import { registerEntries } from './commands/entries';
import { registerStatus } from './commands/status';
import { registerHealth } from './commands/health';
import { registerTable } from './commands/table';
import { registerMaintenance } from './commands/maintenance';
import { registerMigrate } from './commands/migrate';
import { registerBench } from './commands/bench';
import { registerEncryption } from './commands/encryption';
import { registerKeys } from './commands/keys';
import { registerAudit } from './commands/audit';
import { registerInit } from './commands/init';
import { registerLocal } from './commands/local';
import { registerPlan } from './commands/plan';

export type { CliIo } from './output';

export function buildProgram(runtime: Runtime): Command {
  const program = new Command('cachevault')
    .description('Operate a cachevault cache: configuration, keys, tables, migration, health.')
    .version(packageVersion(), '-V, --version')
    .option('-c, --config <file>', 'config file (else $CACHEVAULT_CONFIG, else ./cachevault.config.json)')
    .option('--json', 'machine-readable JSON on stdout (field names documented in docs/cli.md)')
    .option('-v, --verbose', 'print stack traces of errors')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => runtime.io.stdout(s),
      writeErr: (s) => runtime.io.stderr(s),
      // Usage errors are printed by main() in the same format as every other error.
      outputError: () => {},
    });
  registerInit(program, runtime);
  registerLocal(program, runtime);
  registerStatus(program, runtime);
  registerConfig(program, runtime);
  registerHealth(program, runtime);
  registerEncryption(program, runtime);
  registerKeys(program, runtime);
  registerAudit(program, runtime);
  registerEntries(program, runtime);
  registerTable(program, runtime);
  registerMaintenance(program, runtime);
  registerMigrate(program, runtime);
  registerBench(program, runtime);
  registerPlan(program, runtime);
  // Subcommands inherit the overrides so their usage errors reach main() too.
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().showSuggestionAfterError(true).configureOutput(program.configureOutput());
  }
  return program;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** Runs one invocation; resolves the exit code (never throws, never calls process.exit). */
export async function main(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const runtime = new Runtime(io);
  const program = buildProgram(runtime);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return runtime.exitCode;
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return ExitCode.ok;
    // No command given: commander has already printed the help; that is a usage error, not news.
    if (err instanceof CommanderError && err.code === 'commander.help') return ExitCode.usage;
    const report = reportError(err);
    const json = runtime.context?.globals.json ?? argv.includes('--json');
    const verbose = runtime.context?.globals.verbose ?? (argv.includes('--verbose') || argv.includes('-v'));
    if (json) {
      io.stdout(`${escapeJsonText(JSON.stringify({ ok: false, error: { code: report.code, message: report.message, hint: report.hint ?? null } }, null, 2))}\n`);
    }
    io.stderr(formatError(report, err, verbose));
    return report.exitCode;
  } finally {
    try {
      await runtime.context?.closeAll();
    } catch (err) {
      io.stderr(`warning: closing the cache failed: ${terminalSafe(err instanceof Error ? err.message : String(err))}\n`);
    }
  }
}
