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
import { retireDrainedVersions } from '../../keys/retireKeyVersion';
import { rotateOrResume, rotationSweepDescription } from '../../keys/rotationResume';
import { reencryptInPlace, type ReencryptReport } from '../../migrate/reencrypt';
import type { StoredEntry } from '../../types';
import { defineAction, type Runtime } from '../command';
import { configFileTarget, writeConfigValue } from '../configEditor';
import { confirmDestructive } from '../confirm';
import type { CliContext } from '../context';
import { UsageError } from '../errors';
import type { CliVault } from '../openVault';
import { keyValues, table } from '../output';
import { sweepStateDir } from '../sweepDir';
import { backupBeforeRewrite, type UpgradeBackup } from '../preUpgradeBackup';

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

/** Records the new setting in the config file, and warns when the environment overrides it. */
function persistEnabled(ctx: CliContext, enabled: boolean): string {
  const file = configFileTarget(ctx.globals.config, ctx.env, ctx.io.cwd);
  writeConfigValue(file, 'encryption.enabled', enabled);
  const fromEnv = ctx.env.CACHEVAULT_ENCRYPTION_ENABLED;
  if (fromEnv !== undefined && fromEnv !== '') ctx.out.warn(`CACHEVAULT_ENCRYPTION_ENABLED=${fromEnv} in the environment overrides the config file; unset it.`);
  return file;
}

function sweepSummary(r: ReencryptReport): Record<string, string | number> {
  return {
    scanned: r.counts.scanned,
    rewritten: r.counts.rewritten,
    unchanged: r.counts.unchanged,
    'changed by apps meanwhile (left)': r.counts.skippedChanged,
    failed: r.counts.failed,
    'key ids after': Object.entries(r.counts.keyIdsAfter).map(([k, n]) => `${k}: ${n}`).join(', ') || '-',
  };
}

function backupText(backup: UpgradeBackup | null): string {
  if (!backup) return '';
  return `\nBackup of ${backup.entries} entries taken first: ${backup.dir}\nTo roll back:\n${backup.restoreCommands.map((c) => `  ${c}`).join('\n')}`;
}

export function registerEncryption(program: Command, runtime: Runtime): void {
  const group = program.command('encryption').description('encryption state, enable/disable (rewrites entries), key rotation');

  defineAction(runtime, group.command('status').description('whether entries are encrypted, under which key versions'), NoOptions, async (ctx) => {
    const vault = await ctx.open();
    const { byKeyId } = await entriesByKeyId(vault.backend);
    const total = Object.values(byKeyId).reduce((a, b) => a + b, 0);
    const status = vault.keys?.status();
    const result = {
      enabled: vault.config.encryption.enabled,
      algorithm: vault.encryption.algorithm,
      allowUnencryptedReads: vault.config.encryption.allowUnencryptedReads,
      entries: total,
      entriesByKeyId: byKeyId,
      encryptedShare: total === 0 ? null : (total - (byKeyId.none ?? 0)) / total,
      activeKeyId: status?.activeKeyId ?? null,
      versions: status?.versions ?? [],
      providers: status?.providers ?? [],
    };
    ctx.out.result(result, (r) =>
      [
        keyValues({
          encryption: r.enabled ? `enabled (${r.algorithm})` : 'disabled',
          'active key': r.activeKeyId,
          entries: r.entries,
          encrypted: r.encryptedShare === null ? '-' : `${(r.encryptedShare * 100).toFixed(1)}%`,
          'by key id': Object.entries(r.entriesByKeyId).map(([k, n]) => `${k}: ${n}`).join(', ') || '-',
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
      const vault = await ctx.open({ encryption: { enabled: true, allowUnencryptedReads: true } });
      const backup = opts.backup === false ? null : await backupBeforeRewrite(ctx, vault, 'enable');
      const report = await sweep(ctx, vault, 'enable', vault.encryption, vault.encryption, (e) => e.keyId === 'none', 'enable encryption');
      const file = persistEnabled(ctx, true);
      vault.audit?.append(AuditEvent.encryptionEnabled, { rewritten: report.counts.rewritten, failed: report.counts.failed });
      ctx.out.result({ enabled: true, configFile: file, backup, ...report }, (r) => `Encryption enabled (${file}).\n${keyValues(sweepSummary(r))}${backupText(r.backup)}`);
      return report.counts.failed > 0 ? ExitCode.partial : ExitCode.ok;
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
      const backup = opts.backup === false ? null : await backupBeforeRewrite(ctx, vault, 'disable');
      const report = await sweep(ctx, vault, 'disable', vault.encryption, new NoEncryption(), (e) => e.keyId !== 'none', 'disable encryption');
      const file = persistEnabled(ctx, false);
      vault.audit?.append(AuditEvent.encryptionDisabled, { rewritten: report.counts.rewritten, failed: report.counts.failed });
      ctx.out.result({ enabled: false, configFile: file, backup, ...report }, (r) => `Encryption disabled (${file}).\n${keyValues(sweepSummary(r))}${backupText(r.backup)}`);
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
        report = await sweep(ctx, vault, 'rotate', vault.encryption, vault.encryption, (e) => e.keyId !== 'none' && e.keyId !== current, rotationSweepDescription(current), resumed);
      }
      const retired: string[] = [];
      if (opts.retire) {
        if (!report || report.counts.failed > 0) {
          ctx.out.warn('Not retiring older key versions: the sweep did not complete without failures.');
        } else {
          // One scan re-checks that no live entry is still under a version before it is destroyed.
          const outcome = await retireDrainedVersions({ keys, backend: vault.backend });
          retired.push(...outcome.retired);
          if (outcome.inUse.length > 0) throw outcome.inUse[0];
        }
      }
      ctx.out.result({ previous: previous ?? null, current, resumed, sweep: report ?? null, retired }, (r) =>
        [
          `${r.resumed ? 'Resumed the interrupted rotation' : 'Rotated'}: ${r.previous ?? '(none)'} -> ${r.current}${r.retired.length ? `; retired ${r.retired.join(', ')}` : ''}.`,
          r.sweep ? keyValues(sweepSummary(r.sweep)) : 'Entries were not re-encrypted (--no-sweep); run `cachevault encryption rotate` again later, or they move on their next write.',
        ].join('\n'),
      );
      return report && report.counts.failed > 0 ? ExitCode.partial : ExitCode.ok;
    },
  );
}
