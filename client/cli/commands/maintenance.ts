/**
 * `cachevault prune|gc|repair|reinit`: housekeeping of the storage tiers. Each works on the
 * configured tiers it applies to and says which ones it skipped.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { FileCacheSchemaError } from '../../backends/file/errors';
import { FileBackend } from '../../backends/fileBackend';
import { ExitCode } from '../../errors';
import { defineAction, type Runtime } from '../command';
import { confirmDestructive } from '../confirm';
import { UsageError } from '../errors';
import { keyValues } from '../output';
import { openDynamoTier, openFileTier, usesTier } from '../tierBackends';
import { tableManagerFor } from './table';

const NoOptions = z.object({});
const ReinitOptions = z.object({ yes: z.boolean().optional(), tier: z.enum(['file', 'dynamodb', 'all']).optional() });

export function registerMaintenance(program: Command, runtime: Runtime): void {
  defineAction(runtime, program.command('prune').description('file tier: remove expired entries, orphaned blobs and temp files'), NoOptions, async (ctx) => {
    const { config } = ctx.config();
    if (!usesTier(config, 'file')) throw new UsageError('`prune` works on the file tier, and this configuration has none.', { hint: 'For DynamoDB use `cachevault gc`; TTL removes expired items there.' });
    const backend = openFileTier(config, ctx.io.cwd);
    try {
      const report = await backend.prune();
      ctx.out.result({ tier: 'file', dir: config.file.dir, ...report }, (r) =>
        keyValues({ tier: `file (${r.dir})`, 'expired entries removed': r.expired, 'orphaned blobs removed': r.orphanedBlobs, 'temp files removed': r.tempFiles }),
      );
      return ExitCode.ok;
    } finally {
      await backend.close();
    }
  });

  defineAction(runtime, program.command('gc').description('DynamoDB tier: remove orphaned chunks, cleared generations and expired items TTL has not reached'), NoOptions, async (ctx) => {
    const { config } = ctx.config();
    if (!usesTier(config, 'dynamodb')) throw new UsageError('`gc` works on the DynamoDB tier, and this configuration has none.', { hint: 'For the file tier use `cachevault prune`.' });
    const backend = openDynamoTier(config);
    try {
      ctx.out.note(`Scanning table ${config.dynamodb.tableName} for garbage...`);
      const report = await backend.gc();
      ctx.out.result({ tier: 'dynamodb', tableName: config.dynamodb.tableName, ...report }, (r) =>
        keyValues({ tier: `dynamodb (${r.tableName})`, 'items scanned': r.scanned, 'stale generation items': r.staleGeneration, 'orphaned chunks': r.orphanedChunks, 'expired items': r.expired }),
      );
      return ExitCode.ok;
    } finally {
      await backend.close();
    }
  });

  defineAction(
    runtime,
    program.command('repair').description('fix what health and table validate find: SQLite integrity and index, orphaned blobs, DynamoDB TTL'),
    NoOptions,
    async (ctx) => {
      const { config } = ctx.config();
      const result: { file?: Record<string, unknown>; dynamodb?: Record<string, unknown>; ok: boolean } = { ok: true };
      if (usesTier(config, 'file')) {
        const backend = openFileTier(config, ctx.io.cwd);
        try {
          const report = await backend.repair();
          result.file = { dir: config.file.dir, ...report };
          if (!report.ok) result.ok = false;
        } finally {
          await backend.close();
        }
      }
      if (usesTier(config, 'dynamodb')) {
        const { manager, close } = tableManagerFor(ctx);
        try {
          const before = await manager.validate();
          const ttlFixable = before.problems.some((p) => p.kind === 'ttl' && p.actual === 'DISABLED');
          if (ttlFixable) await manager.enableTtl();
          const after = await manager.validate();
          result.dynamodb = {
            tableName: manager.tableName,
            ttlEnabled: ttlFixable,
            remainingProblems: after.problems.map((p) => p.message),
          };
          if (!after.ok) result.ok = false;
        } finally {
          close();
        }
      }
      if (!result.file && !result.dynamodb) throw new UsageError('`repair` works on the file and DynamoDB tiers, and this configuration has neither.');
      ctx.out.result(result, (r) => {
        const lines: string[] = [];
        if (r.file) {
          const f = r.file as { dir: string; ok: boolean; integrityProblems: string[]; reindexed: boolean; badBlobs: number; expired: number; orphanedBlobs: number; tempFiles: number; hint?: string };
          lines.push(keyValues({
            'file tier': f.dir,
            'integrity check': f.ok ? 'ok' : `FAILED: ${f.integrityProblems.join('; ')}`,
            reindexed: f.reindexed,
            'bad blobs removed': f.badBlobs,
            'orphaned blobs removed': f.orphanedBlobs,
            'temp files removed': f.tempFiles,
            'expired removed': f.expired,
          }));
          if (f.hint) lines.push(`hint: ${f.hint}`);
        }
        if (r.dynamodb) {
          const d = r.dynamodb as { tableName: string; ttlEnabled: boolean; remainingProblems: string[] };
          lines.push(keyValues({ 'dynamodb table': d.tableName, 'TTL enabled now': d.ttlEnabled, 'remaining problems': d.remainingProblems.join('; ') || 'none' }));
        }
        return lines.join('\n\n');
      });
      return result.ok ? ExitCode.ok : ExitCode.failure;
    },
  );

  defineAction(
    runtime,
    program
      .command('reinit')
      .option('--tier <tier>', 'file, dynamodb or all configured tiers', 'all')
      .option('-y, --yes', 'do not ask for confirmation')
      .description('wipe a backend and recreate it empty (the file cache directory, the DynamoDB table)'),
    ReinitOptions,
    async (ctx, opts) => {
      const { config } = ctx.config();
      const tier = opts.tier ?? 'all';
      // reinit knows two tiers' own wipe (a FileBackend clear, a table re-create); --tier picks them.
      const wants = (name: Exclude<typeof tier, 'all'>): boolean => (tier === 'all' || tier === name) && usesTier(config, name);
      const wantFile = wants('file');
      const wantDynamo = wants('dynamodb');
      if (!wantFile && !wantDynamo) throw new UsageError(`\`reinit --tier ${tier}\` matches no configured tier (configured: ${config.backend}).`);
      const what = [wantFile ? `the file cache in ${config.file.dir}` : '', wantDynamo ? `DynamoDB table "${config.dynamodb.tableName}"` : ''].filter(Boolean).join(' and ');
      await confirmDestructive(ctx, `Wipe ${what}`, opts.yes);
      const done: string[] = [];
      if (wantFile) {
        let backend;
        try {
          backend = openFileTier(config, ctx.io.cwd);
        } catch (err) {
          // A database of an older schema that cannot be migrated: reinit is the discard its error names.
          if (!(err instanceof FileCacheSchemaError)) throw err;
          FileBackend.setAsideUnmigratable(err);
          backend = openFileTier(config, ctx.io.cwd);
        }
        try {
          await backend.clear();
          done.push('file');
        } finally {
          await backend.close();
        }
      }
      if (wantDynamo) {
        const { manager, close } = tableManagerFor(ctx);
        try {
          const exists = (await manager.validate()).problems.every((p) => p.kind !== 'missing');
          if (exists) await manager.delete();
          await manager.create();
          done.push('dynamodb');
        } finally {
          close();
        }
      }
      ctx.out.result({ reinitialized: done }, (r) => `Reinitialized: ${r.reinitialized.join(', ')} (now empty).`);
      return ExitCode.ok;
    },
  );
}
