/**
 * `cachevault encryption status|enable|disable|rotate`. Enabling, disabling and rotating rewrite
 * the stored entries in place (a resumable sweep), then record the change in the config file and
 * the audit log.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { AuditEvent } from '../../audit/auditLog';
import { NoEncryption } from '../../crypto/noEncryption';
import { ExitCode } from '../../errors';
import { entriesByKeyId } from '../../keys/entriesByKeyId';
import { sealedUnderOlderVersion } from '../../keys/keyIds';
import { retireDrainedVersions } from '../../keys/retireKeyVersion';
import { rotateOrResume, rotationSweepDescription } from '../../keys/rotationResume';
import { reencryptInPlace, type ReencryptReport } from '../../migrate/reencrypt';
import type { StoredEntry } from '../../types';
import { defineAction, type Runtime } from '../command';
import { FileBackend, type CompactReport } from '../../backends/fileBackend';
import { envVarName } from '../../config/loadConfig';
import { configFileTarget, readConfigValue, writeConfigValue } from '../configEditor';
import { openFileTier, usesTier } from '../tierBackends';
import { keyIdMismatchWarning } from './keysRetire';
import { confirmDestructive } from '../confirm';
import type { CliContext } from '../context';
import { UsageError } from '../errors';
import type { CliVault } from '../openVault';
import { keyValues, table } from '../output';
import { sweepStateDir } from '../sweepDir';
import { backupBeforeRewrite, shellQuote, type UpgradeBackup } from '../preUpgradeBackup';

const NoOptions = z.object({});
const EnableOptions = z.object({ backup: z.boolean().optional() });
const DisableOptions = z.object({ yes: z.boolean().optional(), backup: z.boolean().optional() });
const RotateOptions = z.object({ sweep: z.boolean().optional(), retire: z.boolean().optional() });


async function sweep(ctx: CliContext, vault: CliVault, kind: 'rotate' | 'enable' | 'disable', open: CliVault['encryption'], seal: CliVault['encryption'], shouldRewrite: (e: StoredEntry) => boolean, description: string, resumeRotation = false): Promise<ReencryptReport> {
  const progress = ctx.out.progress(kind, 0);
  try {
    return await reencryptInPlace({
      backend: vault.backend,
      open,
      seal,
      shouldRewrite,
      stateDir: sweepStateDir(vault.config, ctx.io.cwd, kind),
      // A rotate resumes only the interrupted sweep toward the version it recorded (rotateOrResume);
      // a fresh rotate starts afresh (entries already under the new key are skipped as unchanged).
      resume: kind !== 'rotate' || resumeRotation,
      description,
      backendDescription: `${vault.config.backend}:${vault.config.namespace}`,
      onProgress: (p) => {
        if (p.totalEntries !== undefined) progress.setTotal(p.totalEntries);
        progress.update(p.entriesSeen);
      },
    });
  } finally {
    progress.stop();
  }
}

/** One value the command changed in the config file; `from` undefined = it was not in the file. */
export interface ConfigChange {
  readonly key: string;
  readonly from: unknown;
  readonly to: unknown;
}

/** The config file a command writes, and the environment variables that would override it. */
class ConfigRecorder {
  readonly file: string;
  readonly changes: ConfigChange[] = [];

  constructor(private readonly ctx: CliContext) {
    this.file = configFileTarget(ctx.globals.config, ctx.env, ctx.io.cwd);
  }

  /** Writes `key = value` to the file unless it already says so; the first `from` of a key is kept. */
  set(key: string, value: unknown): void {
    const from = readConfigValue(this.file, key);
    if (from !== value) writeConfigValue(this.file, key, value);
    const earlier = this.changes.findIndex((c) => c.key === key);
    if (earlier >= 0) this.changes[earlier] = { key, from: this.changes[earlier]!.from, to: value };
    else if (from !== value) this.changes.push({ key, from, to: value });
    const variable = envVarName(key);
    const fromEnv = this.ctx.env[variable];
    if (fromEnv !== undefined && fromEnv !== '') this.ctx.warnOnce(`${variable}=${fromEnv} in the environment overrides ${key} in the config file; unset it.`);
  }

  /** `cachevault config set|unset` commands that put every changed key back as it was. */
  rollbackCommands(): string[] {
    const prefix = this.ctx.globals.config !== undefined ? `cachevault --config ${shellQuote(this.file)}` : 'cachevault';
    return this.changes
      .filter((c) => c.from !== c.to)
      .map((c) => (c.from === undefined ? `${prefix} config unset ${c.key}` : `${prefix} config set ${c.key} ${shellQuote(typeof c.from === 'string' ? c.from : JSON.stringify(c.from))}`));
  }
}

function describeChange(c: ConfigChange): string {
  return `${c.key}: ${c.from === undefined ? '(not set)' : JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`;
}

function configChangesText(changes: readonly ConfigChange[]): string {
  return `\nConfig file changes:\n${changes.map((c) => `  ${describeChange(c)}`).join('\n') || '  (none)'}`;
}

function sweepSummary(r: ReencryptReport, keys: CliVault['keys']): Record<string, string | number> {
  return {
    scanned: r.counts.scanned,
    rewritten: r.counts.rewritten,
    unchanged: r.counts.unchanged,
    'changed by apps meanwhile (left)': r.counts.skippedChanged,
    failed: r.counts.failed,
    'key ids after': Object.entries(byVersion(keys, r.counts.keyIdsAfter)).map(([k, n]) => `${k}: ${n}`).join(', ') || '-',
    ...(r.counts.keyIdMismatches > 0 ? { 'key id column disagreed with header': r.counts.keyIdMismatches } : {}),
  };
}

function backupText(backup: UpgradeBackup | null): string {
  if (!backup) return '';
  const what = backup.plaintext ? 'UNENCRYPTED copy of the cache as it was' : 'copy of the cache as it was (entries encrypted)';
  return [
    `\nBackup: ${backup.entries} entries in ${backup.dir}`,
    `  A ${what}, readable by your user only. Remove it once you no longer need to roll back:`,
    `    ${backup.removeCommand}`,
  ].join('\n');
}

function rollbackText(backup: UpgradeBackup | null, configCommands: readonly string[]): string {
  const commands = [...(backup?.restoreCommands ?? []), ...configCommands];
  if (commands.length === 0) return '';
  return `\nTo roll back${backup ? '' : ' the configuration (no backup was taken)'}:\n${commands.map((c) => `  ${c}`).join('\n')}`;
}

/**
 * Rewrites the file tier's database so no page of what the sweep replaced survives: SQLite keeps
 * deleted rows in free pages and old page images in the WAL until they are overwritten
 * (FileBackend.compact: secure_delete, VACUUM, WAL checkpoint TRUNCATE).
 */
async function compactFileTier(ctx: CliContext, vault: CliVault): Promise<CompactReport | null> {
  if (!usesTier(vault.config, 'file')) return null;
  // The vault's own file backend when it is one; through a hybrid, a second connection (the
  // vault's is idle, so it holds no WAL frames back).
  const own = vault.backend instanceof FileBackend ? vault.backend : undefined;
  const backend = own ?? openFileTier(vault.config, ctx.io.cwd);
  try {
    const report = await backend.compact();
    if (!report.walTruncated) {
      ctx.out.warn('Another process is still reading the file cache, so its WAL (which may hold unencrypted copies of rewritten entries) could not be truncated; run `cachevault repair` (which checkpoints and truncates the WAL) once it has stopped.');
    }
    return report;
  } finally {
    if (!own) await backend.close();
  }
}

/**
 * Entry counts as an operator reads them: this manifest's versions by their plain id (`k1`,
 * whether entries carry `k1:<manifest id>` or the plain `k1` of older writes), another manifest's
 * entries as `other manifest <id>`, anything else (`none`, process-local keys) as it is.
 */
function byVersion(keys: CliVault['keys'], byKeyId: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [keyId, n] of Object.entries(byKeyId)) {
    const owner = keys?.ownerOf(keyId);
    const label = owner?.kind === 'own' ? owner.versionId : owner?.kind === 'foreign' ? `other manifest ${owner.manifestId}` : keyId;
    out[label] = (out[label] ?? 0) + n;
  }
  return out;
}

export function registerEncryption(program: Command, runtime: Runtime): void {
  const group = program.command('encryption').description('encryption state, enable/disable (rewrites entries), key rotation');

  defineAction(runtime, group.command('status').description('whether entries are encrypted, under which key versions'), NoOptions, async (ctx) => {
    const vault = await ctx.open();
    const { byKeyId, mismatched, unreadable } = await entriesByKeyId(vault.backend);
    const total = Object.values(byKeyId).reduce((a, b) => a + b, 0);
    const status = vault.keys?.status();
    const { enabled, allowUnencryptedReads } = vault.config.encryption;
    const unencrypted = byKeyId.none ?? 0;
    if (mismatched > 0) ctx.out.warn(keyIdMismatchWarning(mismatched));
    if (enabled && !allowUnencryptedReads && unencrypted > 0) {
      ctx.out.warn(`${unencrypted} entr${unencrypted === 1 ? 'y is' : 'ies are'} stored unencrypted in this encrypted cache and read${unencrypted === 1 ? 's' : ''} as a miss (allowUnencryptedReads is false; such entries could be forged by anyone who can write the storage).`);
    }
    const result = {
      enabled,
      algorithm: vault.encryption.algorithm,
      allowUnencryptedReads,
      /** Unencrypted entries this configuration refuses to read (each read is a counted miss). */
      unencryptedRefused: enabled && !allowUnencryptedReads ? unencrypted : 0,
      keyIdMismatches: mismatched,
      unreadableEntries: unreadable,
      entries: total,
      entriesByKeyId: byKeyId,
      encryptedShare: total === 0 ? null : (total - (byKeyId.none ?? 0)) / total,
      /** Entries by version of this manifest (both id forms merged), and other manifests' entries by manifest id. */
      entriesByVersion: byVersion(vault.keys, byKeyId),
      activeKeyId: status?.activeKeyId ?? null,
      manifestId: status?.manifestId ?? null,
      versions: status?.versions ?? [],
      providers: status?.providers ?? [],
    };
    ctx.out.result(result, (r) =>
      [
        keyValues({
          encryption: r.enabled ? `enabled (${r.algorithm})` : 'disabled',
          'active key': r.activeKeyId,
          'key manifest id': r.manifestId ?? undefined,
          entries: r.entries,
          encrypted: r.encryptedShare === null ? '-' : `${(r.encryptedShare * 100).toFixed(1)}%`,
          'by key id': Object.entries(r.entriesByVersion).map(([k, n]) => `${k}: ${n}`).join(', ') || '-',
          'unencrypted reads': r.enabled ? (r.allowUnencryptedReads ? 'allowed (an enable sweep is unfinished, or set by hand)' : 'refused (misses)') : 'n/a (encryption disabled)',
          'unreadable entries': r.unreadableEntries > 0 ? r.unreadableEntries : undefined,
        }),
        r.versions.length > 0 ? `\n${table(r.versions.map((v) => ({ key: v.id, state: v.state, 'age days': v.ageDays, 'wrapped by': v.wrappedBy.join(', '), 'local only': v.localOnly })))}` : '',
      ].join(''),
    );
    return ExitCode.ok;
  });

  defineAction(
    runtime,
    group
      .command('enable')
      .option('--no-backup', 'skip the copy of the cache taken before the rewrite')
      .description('encrypt every unencrypted entry in place (after a backup copy) and turn encryption on in the config'),
    EnableOptions,
    async (ctx, opts) => {
      const { config } = ctx.config();
      const recorder = new ConfigRecorder(ctx);
      if (config.encryption.enabled && !config.encryption.allowUnencryptedReads) {
        // Already encrypted, and no enable sweep left unfinished (that leaves allowUnencryptedReads on).
        const vault = await ctx.open();
        const held = await entriesByKeyId(vault.backend);
        const unencrypted = held.byKeyId.none ?? 0;
        if (held.mismatched > 0) ctx.out.warn(keyIdMismatchWarning(held.mismatched));
        if (unencrypted > 0) {
          ctx.out.warn(
            `${unencrypted} of ${held.total} entries are stored unencrypted although this cache is configured encrypted; they read as misses (anyone who can write the storage could have forged them) and are left as they are. ` +
              'If they are yours from before encryption was turned on, set encryption.enabled to false and run `cachevault encryption enable` again to encrypt them.',
          );
        }
        ctx.out.result(
          { enabled: true, alreadyEnabled: true, configFile: recorder.file, configChanges: [], backup: null, entries: held.total, unencryptedEntries: unencrypted },
          (r) => `Encryption is already enabled (${r.entries} entries; ${r.unencryptedEntries === 0 ? 'none unencrypted' : `${r.unencryptedEntries} unencrypted, read as misses`}). Nothing was changed: no backup, no rewrite.`,
        );
        return ExitCode.ok;
      }

      // Old plaintext is read only for this sweep: on in the config while it runs (so apps read
      // entries not yet rewritten, and an interrupted sweep is resumed by running this again),
      // off again once none remains.
      const vault = await ctx.open({ encryption: { enabled: true, allowUnencryptedReads: true } });
      const backup = opts.backup === false ? null : await backupBeforeRewrite(ctx, vault, 'enable');
      recorder.set('encryption.enabled', true);
      recorder.set('encryption.allowUnencryptedReads', true);
      const report = await sweep(ctx, vault, 'enable', vault.encryption, vault.encryption, (e) => e.keyId === 'none', 'enable encryption');
      // Counted again after the sweep: an app still running unencrypted may have written meanwhile.
      const after = await entriesByKeyId(vault.backend);
      const remaining = (after.byKeyId.none ?? 0) + after.unreadable;
      if (remaining === 0) recorder.set('encryption.allowUnencryptedReads', false);
      else {
        ctx.out.warn(
          `${remaining} entr${remaining === 1 ? 'y is' : 'ies are'} still unencrypted or unreadable after the sweep${report.counts.failed > 0 ? ` (${report.counts.failed} could not be opened)` : ''}; ` +
            'encryption.allowUnencryptedReads stays true so they stay readable. Stop apps that still write unencrypted and run `cachevault encryption enable` again.',
        );
      }
      const compacted = await compactFileTier(ctx, vault);
      vault.audit?.append(AuditEvent.encryptionEnabled, { rewritten: report.counts.rewritten, failed: report.counts.failed });
      const rollback = recorder.rollbackCommands();
      ctx.out.result(
        {
          enabled: true,
          alreadyEnabled: false,
          configFile: recorder.file,
          configChanges: recorder.changes,
          unencryptedRemaining: remaining,
          backup,
          rollbackCommands: [...(backup?.restoreCommands ?? []), ...rollback],
          compacted,
          ...report,
        },
        (r) =>
          [
            `Encryption enabled (${r.configFile}).`,
            keyValues(sweepSummary(r, vault.keys)),
            configChangesText(r.configChanges),
            r.unencryptedRemaining === 0 ? '' : `Reading of unencrypted entries stays on: ${r.unencryptedRemaining} remain.`,
            backupText(r.backup),
            rollbackText(r.backup, rollback),
          ]
            .filter(Boolean)
            .join('\n'),
      );
      return report.counts.failed > 0 || remaining > 0 ? ExitCode.partial : ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    group
      .command('disable')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--no-backup', 'skip the copy of the cache taken before the rewrite')
      .description('decrypt every entry in place (after a backup copy) and turn encryption off in the config'),
    DisableOptions,
    async (ctx, opts) => {
      const vault = await ctx.open({ encryption: { enabled: true, allowUnencryptedReads: true } });
      await confirmDestructive(ctx, `Store every entry of namespace "${vault.config.namespace}" unencrypted`, opts.yes);
      const recorder = new ConfigRecorder(ctx);
      const backup = opts.backup === false ? null : await backupBeforeRewrite(ctx, vault, 'disable');
      const report = await sweep(ctx, vault, 'disable', vault.encryption, new NoEncryption(), (e) => e.keyId !== 'none' && vault.keys?.ownerOf(e.keyId).kind !== 'foreign', 'disable encryption');
      recorder.set('encryption.enabled', false);
      vault.audit?.append(AuditEvent.encryptionDisabled, { rewritten: report.counts.rewritten, failed: report.counts.failed });
      const rollback = recorder.rollbackCommands();
      ctx.out.result(
        { enabled: false, configFile: recorder.file, configChanges: recorder.changes, backup, rollbackCommands: [...(backup?.restoreCommands ?? []), ...rollback], ...report },
        (r) =>
          [`Encryption disabled (${r.configFile}).`, keyValues(sweepSummary(r, vault.keys)), configChangesText(r.configChanges), backupText(r.backup), rollbackText(r.backup, rollback)]
            .filter(Boolean)
            .join('\n'),
      );
      return report.counts.failed > 0 ? ExitCode.partial : ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    group
      .command('rotate')
      .option('--no-sweep', 'only create the new key version; leave entries under older versions as they are')
      .option('--retire', 'after a complete sweep, retire the previous versions (entries still under them become unreadable)')
      .description('create a new active key version and re-encrypt entries under older versions'),
    RotateOptions,
    async (ctx, opts) => {
      const vault = await ctx.open();
      if (!vault.keys) throw new UsageError('Encryption is disabled, so there are no keys to rotate.', { hint: 'Run `cachevault encryption enable` first.' });
      const keys = vault.keys;
      const { previous, current, resumed } = await rotateOrResume(keys, sweepStateDir(vault.config, ctx.io.cwd, 'rotate'));
      let report: ReencryptReport | undefined;
      if (opts.sweep !== false) {
        report = await sweep(ctx, vault, 'rotate', vault.encryption, vault.encryption, (e) => sealedUnderOlderVersion(e.keyId, keys.acceptedManifestIds, current), rotationSweepDescription(current), resumed);
      }
      const retired: string[] = [];
      if (opts.retire) {
        if (!report || report.counts.failed > 0) {
          ctx.out.warn('Not retiring older key versions: the sweep did not complete without failures.');
        } else {
          // One scan re-checks that no live entry is still under a version before it is destroyed.
          const outcome = await retireDrainedVersions({ keys, backend: vault.backend });
          if (outcome.keyIdMismatches > 0) ctx.out.warn(keyIdMismatchWarning(outcome.keyIdMismatches));
          retired.push(...outcome.retired);
          if (outcome.inUse.length > 0) throw outcome.inUse[0];
        }
      }
      ctx.out.result({ previous: previous ?? null, current, resumed, sweep: report ?? null, retired }, (r) =>
        [
          `${r.resumed ? 'Resumed the interrupted rotation' : 'Rotated'}: ${r.previous ?? '(none)'} -> ${r.current}${r.retired.length ? `; retired ${r.retired.join(', ')}` : ''}.`,
          r.sweep ? keyValues(sweepSummary(r.sweep, keys)) : 'Entries were not re-encrypted (--no-sweep); run `cachevault encryption rotate` again later, or they move on their next write.',
        ].join('\n'),
      );
      return report && report.counts.failed > 0 ? ExitCode.partial : ExitCode.ok;
    },
  );
}
