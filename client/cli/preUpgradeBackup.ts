/**
 * Before a rewrite that changes the stored format of every entry (enabling or disabling
 * encryption), the cache is copied as it is to a file cache under `backups/`, with the same
 * resumable migrator `cachevault migrate` uses. The restore is that copy migrated back, tier by
 * tier; the exact commands are returned for the user.
 *
 * A backup taken before `encryption enable` holds the entries as they were: unencrypted. It is
 * named for what it holds (`*.plaintext-backup`, else `*.encrypted-backup`), made owner-only
 * (directories 0700, files 0600, whatever the umask), and the CLI says where it is and how to
 * remove it: it is the one copy of the cache that encryption does not protect.
 */
import { chmodSync, existsSync, lstatSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { FileBackend } from '../backends/fileBackend';
import { redactUrlUserinfo } from '../config/redact';
import { entriesByKeyId } from '../keys/entriesByKeyId';
import { backendRegistry } from '../backends/registry';
import { formatSpec } from '../migrate/backendSpec';
import { CacheMigrator } from '../migrate/cacheMigrator';
import type { CliContext } from './context';
import type { CliVault } from './openVault';

export interface UpgradeBackup {
  readonly dir: string;
  readonly entries: number;
  /** Whether any entry in it is stored unencrypted (the directory is then named `*.plaintext-backup`). */
  readonly plaintext: boolean;
  /** Removes the backup once a rollback is no longer wanted. */
  readonly removeCommand: string;
  /** Commands that put the backed-up entries back, one per persistent tier. */
  readonly restoreCommands: readonly string[];
}

/** `'it''s'`-style quoting for a POSIX shell: the commands are printed for copy and paste. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function tierSpecs(vault: CliVault, cwd: string): string[] {
  const { config } = vault;
  // Every tier whose entries outlive the process; a password in an endpoint URL is not printed
  // (the user adds it back if it is needed).
  return backendRegistry
    .configuredTiers(config)
    .filter((tier) => backendRegistry.definition(tier).capabilities.persistent)
    .flatMap((tier) => formatSpec(tier, config, cwd, redactUrlUserinfo) ?? []);
}

/** Directories 0700 and files 0600 below `root` (and `root` itself); symlinks are left alone, never followed. */
function ownerOnly(root: string): void {
  const st = lstatSync(root);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(root, 0o700);
    for (const name of readdirSync(root)) ownerOnly(join(root, name));
  } else if (st.isFile()) chmodSync(root, 0o600);
}

export async function backupBeforeRewrite(ctx: CliContext, vault: CliVault, reason: 'enable' | 'disable'): Promise<UpgradeBackup> {
  // Lower case, so the name never looks like key material to the redaction of messages.
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').toLowerCase();
  const backupsDir = join(dirname(resolve(ctx.io.cwd, vault.config.file.dir)), 'backups');
  const base = join(backupsDir, `${vault.config.namespace}-before-${reason}-${stamp}`);
  // Until the copy is done and judged, a copy taken before `enable` is assumed to hold plaintext.
  const workDir = `${base}${reason === 'enable' ? '.plaintext-backup' : '.backup'}.partial`;
  const destination = new FileBackend({ dir: workDir });
  let entries: number;
  let plaintext: boolean;
  try {
    const migrator = new CacheMigrator({
      source: vault.backend,
      destination,
      stateDir: join(workDir, '.migration'),
      sourceDescription: `${vault.config.backend}:${vault.config.namespace}`,
      destinationDescription: `file:${workDir}`,
    });
    const progress = ctx.out.progress('backup', 0);
    const report = await migrator.run({
      onProgress: (p) => {
        if (p.totalEntries !== undefined) progress.setTotal(p.totalEntries);
        progress.update(p.entriesSeen);
      },
    });
    progress.stop();
    entries = report.counts.entries;
    // Judged by the authenticated envelope headers of what was copied; an unreadable one may be anything.
    const held = await entriesByKeyId(destination);
    plaintext = (held.byKeyId.none ?? 0) > 0 || held.unreadable > 0;
  } finally {
    await destination.close();
    // Also when the copy failed half way: what it holds is as sensitive as a finished one.
    if (existsSync(backupsDir)) ownerOnly(backupsDir);
  }
  const dir = `${base}${plaintext ? '.plaintext-backup' : '.encrypted-backup'}`;
  renameSync(workDir, dir);
  const restoreCommands = tierSpecs(vault, ctx.io.cwd).map((spec) => `cachevault migrate --from ${shellQuote(`file:${dir}`)} --to ${shellQuote(spec)}`);
  return { dir, entries, plaintext, removeCommand: `rm -rf -- ${shellQuote(dir)}`, restoreCommands };
}
