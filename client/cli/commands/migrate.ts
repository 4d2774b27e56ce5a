/**
 * `cachevault migrate --from SPEC --to SPEC [--dry-run] [--resume] [--validate] [--rollback]`:
 * the CLI face of CacheMigrator. Specs: `memory:`, `file:./dir`, `dynamodb:TABLE?endpoint=...`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { createBackend } from '../../backends/backendFactory';
import { backendRegistry } from '../../backends/registry';
import { AdvancedCacheConfig } from '../../config/schema';
import type { CacheBackend } from '../../backends/cacheBackend';
import { loadConfig } from '../../config/loadConfig';
import { ExitCode } from '../../errors';
import { describeSpec, parseBackendSpec } from '../../migrate/backendSpec';
import { CacheMigrator } from '../../migrate/cacheMigrator';
import type { MigrationProgress } from '../../migrate/types';
import type { Transcode } from '../../migrate/entryTranscoder';
import { openVault, type CliVault } from '../openVault';
import { defineAction, type Runtime } from '../command';
import type { CliContext } from '../context';
import { UsageError } from '../errors';
import { formatBytes, keyValues, table } from '../output';

const MigrateOptions = z
  .object({
    from: z.string().min(1),
    to: z.string().min(1),
    dryRun: z.boolean().optional(),
    resume: z.boolean().optional(),
    validate: z.boolean().optional(),
    rollback: z.boolean().optional(),
    stateDir: z.string().min(1).optional(),
    batchSize: z.coerce.number().int().positive().max(10_000).optional(),
    concurrency: z.coerce.number().int().positive().max(64).optional(),
    fromConfig: z.string().min(1).optional(),
    toConfig: z.string().min(1).optional(),
  })
  .refine((o) => !(o.rollback && (o.dryRun || o.resume || o.validate)), { message: '--rollback cannot be combined with --dry-run, --resume or --validate' })
  .refine((o) => !(o.dryRun && o.resume), { message: '--dry-run cannot be combined with --resume' });

/** Where a migration keeps its checkpoint and journal unless --state-dir says otherwise: one directory per (source, destination) pair, so --resume and --rollback find it. */
export function defaultStateDir(cwd: string, source: string, destination: string): string {
  const id = createHash('sha256').update(`${source}\n${destination}`).digest('hex').slice(0, 16);
  return resolve(cwd, '.cachevault', 'migrations', id);
}

/** One argument as a POSIX shell reads it back verbatim. */
function shellWord(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The rollback of this run as a shell command: quoted, so a spec's `?a=1&b=2` survives the shell,
 * with the state dir the run used, and with every option the plan hash covers (else the rollback
 * is refused as another plan).
 */
function undoCommand(opts: z.infer<typeof MigrateOptions>, stateDir: string): string {
  const args = ['--from', shellWord(opts.from), '--to', shellWord(opts.to)];
  if (opts.stateDir !== undefined) args.push('--state-dir', shellWord(stateDir));
  if (opts.batchSize !== undefined) args.push('--batch-size', String(opts.batchSize));
  if (opts.concurrency !== undefined) args.push('--concurrency', String(opts.concurrency));
  if (opts.fromConfig !== undefined) args.push('--from-config', shellWord(opts.fromConfig));
  if (opts.toConfig !== undefined) args.push('--to-config', shellWord(opts.toConfig));
  return `cachevault migrate ${args.join(' ')} --rollback`;
}

async function openSide(ctx: CliContext, spec: string): Promise<CacheBackend> {
  const parsed = parseBackendSpec(spec, { cwd: ctx.io.cwd });
  // Never migrate into (or out of) a fallback: the spec names exactly one backend.
  const { config } = loadConfig(ctx.loadOptions({ ...parsed.config, fallback: undefined }));
  const created = await createBackend(config, { exactBackend: true });
  for (const w of created.warnings) ctx.warnOnce(w);
  return created.backend;
}

/** Encryption (and keys) as configured in `file`, or in the current configuration when omitted. */
async function openKeySide(ctx: CliContext, file: string | undefined): Promise<CliVault> {
  const load = file === undefined ? ctx.loadOptions() : { ...ctx.loadOptions(), file: resolve(ctx.io.cwd, file) };
  return openVault({ ...load, options: { ...load.options, backend: 'memory', fallback: undefined } }, ctx.globals.verbose);
}

export function registerMigrate(program: Command, runtime: Runtime): void {
  defineAction(
    runtime,
    program
      .command('migrate')
      .requiredOption('--from <spec>', 'source: memory:, file:DIR or dynamodb:TABLE[?region=..&endpoint=..]')
      .requiredOption('--to <spec>', 'destination, same forms')
      .option('--dry-run', 'plan only: entries, bytes, estimated time and write units, what cannot be migrated')
      .option('--resume', 'continue an interrupted run of the same migration')
      .option('--validate', 'after copying, compare source and destination entry by entry')
      .option('--rollback', 'undo the last run: restore what it overwrote, remove what it created')
      .option('--state-dir <dir>', 'checkpoint and journal directory (default .cachevault/migrations/<id>)')
      .option('--batch-size <n>', 'entries per batch (default 100)')
      .option('--concurrency <n>', 'parallel scan segments (default: what the source supports)')
      .option('--from-config <file>', 'config whose encryption and keys the source was written with (default: the current one)')
      .option('--to-config <file>', 'config whose encryption and keys the destination gets; with either option entries are re-encrypted on the way')
      .description('copy a cache between backends, resumable, with dry run, validation and rollback'),
    MigrateOptions,
    async (ctx, opts) => {
      const sourceDescription = describeSpec(opts.from, { cwd: ctx.io.cwd });
      const destinationDescription = describeSpec(opts.to, { cwd: ctx.io.cwd });
      if (sourceDescription === destinationDescription) throw new UsageError(`--from and --to name the same cache (${sourceDescription}).`);
      const stateDir = opts.stateDir ? resolve(ctx.io.cwd, opts.stateDir) : defaultStateDir(ctx.io.cwd, sourceDescription, destinationDescription);
      // Opening a file backend creates its directory: a mistyped --from would otherwise "migrate" an empty new cache and succeed.
      const sourceSpec = parseBackendSpec(opts.from, { cwd: ctx.io.cwd });
      const sourcePath = backendRegistry.localPaths(AdvancedCacheConfig.parse(sourceSpec.config), ctx.io.cwd)[0];
      if (!opts.rollback && sourcePath !== undefined && !existsSync(sourcePath)) {
        throw new UsageError(`--from names no cache: ${sourcePath} does not exist.`, { hint: 'Check the path of the source cache directory (the directory in the config that wrote it, e.g. file.dir).' });
      }
      const source = await openSide(ctx, opts.from);
      let destination: CacheBackend | undefined;
      const keySides: CliVault[] = [];
      try {
        destination = await openSide(ctx, opts.to);
        let transcode: Transcode | undefined;
        if (opts.fromConfig !== undefined || opts.toConfig !== undefined) {
          // Only the encryption side of each config is used: a memory backend keeps the side
          // from touching any storage, while keys and encryption are built exactly as createCache does.
          const open = await openKeySide(ctx, opts.fromConfig);
          keySides.push(open);
          const seal = await openKeySide(ctx, opts.toConfig);
          keySides.push(seal);
          transcode = { open: open.encryption, seal: seal.encryption };
        }
        const migrator = new CacheMigrator({
          source,
          destination,
          transcode,
          stateDir,
          batchSize: opts.batchSize,
          concurrency: opts.concurrency,
          sourceDescription,
          destinationDescription,
        });
        const bar = (label: string) => {
          const progress = ctx.out.progress(label, 0);
          return {
            onProgress: (p: MigrationProgress) => {
              if (p.totalEntries !== undefined) progress.setTotal(p.totalEntries);
              progress.update(p.entriesSeen);
            },
            stop: () => progress.stop(),
          };
        };

        if (opts.rollback) {
          const b = bar('rollback');
          const report = await migrator.rollback({ onProgress: b.onProgress });
          b.stop();
          ctx.out.result({ mode: 'rollback', stateDir, ...report }, (r) =>
            keyValues({ 'rolled back': `${sourceDescription} -> ${destinationDescription}`, 'entries restored': r.restored, 'entries removed': r.removed, 'journal records': r.journalRecords }),
          );
          return ExitCode.ok;
        }

        if (opts.dryRun) {
          const b = bar('plan');
          const plan = await migrator.plan({ onProgress: b.onProgress });
          b.stop();
          ctx.out.result({ mode: 'dry-run', stateDir, ...plan }, (p) =>
            [
              keyValues({
                source: p.source,
                destination: p.destination,
                'entries to copy': p.entries,
                bytes: formatBytes(p.bytes),
                'expired (skipped)': p.skippedExpired,
                'cannot migrate': p.unmigratable,
                'largest entry': formatBytes(p.largestEntryBytes),
                'DynamoDB write units': p.estimatedWriteUnits,
                'estimated time': `${Math.ceil(p.estimatedSeconds)} s (${p.estimateBasis})`,
              }),
              p.failures.length > 0 ? `\n${table(p.failures.map((f) => ({ namespace: f.namespace, key: f.key, reason: f.reason, message: f.message })))}` : '',
            ].join(''),
          );
          return ExitCode.ok;
        }

        const b = bar('migrate');
        const report = await migrator.run({ resume: opts.resume === true, onProgress: b.onProgress });
        b.stop();
        const validation = opts.validate ? await migrator.validate() : undefined;
        ctx.out.result({ mode: 'migrate', stateDir, ...report, validation: validation ?? null }, (r) =>
          [
            keyValues({
              migrated: `${r.source} -> ${r.destination}`,
              resumed: r.resumed,
              entries: r.counts.entries,
              bytes: formatBytes(r.counts.bytes),
              'expired (skipped)': r.counts.skippedExpired,
              failed: r.counts.failed,
              'elapsed s': (r.elapsedMs / 1000).toFixed(1),
              validation: r.validation
                ? r.validation.ok
                  ? `ok (${r.validation.matched} matched${r.validation.extra ? `, ${r.validation.extra} extra in destination` : ''})`
                  : `FAILED: ${r.validation.missing} missing, ${r.validation.different} different`
                : undefined,
              'undo with': undoCommand(opts, stateDir),
            }),
            r.failures.length > 0 ? `\n${table(r.failures.map((f) => ({ namespace: f.namespace, key: f.key, reason: f.reason, message: f.message })))}` : '',
          ].join(''),
        );
        if (validation && !validation.ok) return ExitCode.failure;
        return report.counts.failed > 0 ? ExitCode.partial : ExitCode.ok;
      } finally {
        for (const side of keySides) await side.close();
        await destination?.close();
        await source.close();
      }
    },
  );
}
