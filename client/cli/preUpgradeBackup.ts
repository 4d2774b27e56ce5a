/**
 * Before a rewrite that changes the stored format of every entry (enabling or disabling
 * encryption), the cache is copied as it is to a file cache under `backups/`, with the same
 * resumable migrator `cachevault migrate` uses. The restore is that copy migrated back, tier by
 * tier; the exact commands are returned for the user.
 */
import { dirname, join, resolve } from 'node:path';
import { FileBackend } from '../backends/fileBackend';
import { CacheMigrator } from '../migrate/cacheMigrator';
import type { CliContext } from './context';
import type { CliVault } from './openVault';

export interface UpgradeBackup {
  readonly dir: string;
  readonly entries: number;
  /** Commands that put the backed-up entries back, one per persistent tier. */
  readonly restoreCommands: readonly string[];
}

function tierSpecs(vault: CliVault, cwd: string): string[] {
  const { config } = vault;
  const tiers = config.backend === 'hybrid' ? config.hybrid.tiers : [config.backend];
  const specs: string[] = [];
  if (tiers.includes('file')) specs.push(`file:${resolve(cwd, config.file.dir)}`);
  if (tiers.includes('dynamodb')) {
    const params = new URLSearchParams(config.dynamodb.region ? { region: config.dynamodb.region } : {});
    if (config.dynamodb.endpoint) params.set('endpoint', config.dynamodb.endpoint);
    specs.push(`dynamodb:${config.dynamodb.tableName}?${params.toString()}`);
  }
  return specs;
}

export async function backupBeforeRewrite(ctx: CliContext, vault: CliVault, reason: 'enable' | 'disable'): Promise<UpgradeBackup> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(dirname(resolve(ctx.io.cwd, vault.config.file.dir)), 'backups', `${vault.config.namespace}-before-${reason}-${stamp}`);
  const destination = new FileBackend({ dir });
  try {
    const migrator = new CacheMigrator({
      source: vault.backend,
      destination,
      stateDir: join(dir, '.migration'),
      sourceDescription: `${vault.config.backend}:${vault.config.namespace}`,
      destinationDescription: `file:${dir}`,
    });
    const progress = ctx.out.progress('backup', 0);
    const report = await migrator.run({
      onProgress: (p) => {
        if (p.totalEntries !== undefined) progress.setTotal(p.totalEntries);
        progress.update(p.entriesSeen);
      },
    });
    progress.stop();
    const restoreCommands = [
      ...tierSpecs(vault, ctx.io.cwd).map((spec) => `cachevault migrate --from file:${dir} --to '${spec}'`),
      `cachevault config set encryption.enabled ${reason === 'enable' ? 'false' : 'true'}`,
    ];
    return { dir, entries: report.counts.entries, restoreCommands };
  } finally {
    await destination.close();
  }
}
