/**
 * `cachevault audit verify` (the keyed chain of the audit log, against the head anchored in the
 * key manifest) and `audit report` (compliance: share of entries encrypted, key ages against the
 * rotation policy, audit-chain status, fallbacks taken), as text, JSON or SARIF 2.1.0 for
 * security scanners. Both open the cache read-only: they need the keys to check MACs.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { AuditEvent, AuditLog, type AuditVerification } from '../../audit/auditLog';
import { auditLogPath, auditParts } from '../../createCache';
import { ExitCode } from '../../errors';
import { defineAction, type Runtime } from '../command';
import { UsageError } from '../errors';
import type { CliVault } from '../openVault';
import { keyValues, table } from '../output';
import { entriesByKeyId } from '../../keys/entriesByKeyId';
import { complianceToSarif, type ComplianceFinding, type ComplianceReport } from '../sarif';

const NoOptions = z.object({});
const ReportOptions = z.object({ format: z.enum(['text', 'json', 'sarif']).optional() });

type ChainResult = AuditVerification & { path: string; exists: boolean };

/** The log with the vault's audit keys and anchor (also when `audit.enabled` is off but a log exists). */
async function verification(vault: CliVault): Promise<{ chain: ChainResult; log: AuditLog }> {
  const path = auditLogPath(vault.config);
  let log = vault.audit;
  if (!log) {
    log = new AuditLog({ path });
    if (vault.keys) log.attach(auditParts(vault.keys, vault.config));
  }
  const keysExist = (vault.keys?.status().versions.some((v) => !v.ephemeral) ?? false) && vault.config.audit.enabled;
  const result = await log.verify({ keysExist });
  return { chain: { path, exists: existsSync(path), ...result }, log };
}

function describe(r: ChainResult): string {
  const lines: string[] = [];
  if (r.status === 'empty') lines.push(`No audit log at ${r.path} yet (nothing audited so far).`);
  else if (r.status === 'verified') {
    const anchor = r.anchoredSeq === null ? 'no anchor' : `anchored through record ${r.anchoredSeq}${r.unanchored > 0 ? `, ${r.unanchored} after it` : ''}`;
    lines.push(`${r.path}: verified, ${r.records} records (${r.macVerified} MACs checked; ${anchor}).`);
  } else lines.push(`${r.path}: ${r.status.toUpperCase()}${r.line !== undefined ? ` at line ${r.line}` : ''}: ${r.problem ?? ''}.`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  return lines.join('\n');
}

export function registerAudit(program: Command, runtime: Runtime): void {
  const group = program.command('audit').description('audit log verification and compliance report');

  defineAction(
    runtime,
    group.command('verify').description('check the audit log\'s keyed chain and anchored head (exit 1 unless verified: edited, forged, cut, deleted, legacy or unkeyed)'),
    NoOptions,
    async (ctx) => {
      const vault = await ctx.open(undefined, { readOnly: true });
      const { chain } = await verification(vault);
      ctx.out.result(chain, describe);
      return chain.ok ? ExitCode.ok : ExitCode.failure;
    },
  );

  defineAction(
    runtime,
    group.command('archive').description('move the audit log\'s records to an archive file beside it and continue the keyed chain in a fresh, anchored log'),
    NoOptions,
    async (ctx) => {
      const vault = await ctx.open();
      if (!vault.audit) throw new UsageError('Auditing is off (audit.enabled is false): there is no log to archive.');
      const before = await verification(vault);
      if (!before.chain.ok) {
        throw new UsageError(`The audit log does not verify (${before.chain.status}): archiving would launder it.`, {
          hint: 'Run `cachevault audit verify`, investigate, and keep the log as evidence.',
        });
      }
      const result = await vault.audit.archive();
      ctx.out.result({ path: before.chain.path, archive: result?.archive ?? null, records: result?.records ?? 0 }, (r) =>
        r.archive === null ? `Nothing to archive: ${r.path} is empty.` : `Moved ${r.records} records to ${r.archive}; ${r.path} continues the chain from record ${r.records + 1}. Keep the archive: it is the evidence for those records.`,
    );
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    group.command('report').option('--format <format>', 'text, json or sarif (default text; --json implies json)').description('compliance report: encryption coverage, key ages, audit chain, fallbacks'),
    ReportOptions,
    async (ctx, opts) => {
      const vault = await ctx.open(undefined, { readOnly: true });
      const { config } = vault;
      const { byKeyId } = await entriesByKeyId(vault.backend);
      const total = Object.values(byKeyId).reduce((a, b) => a + b, 0);
      const unencrypted = byKeyId.none ?? 0;
      const versions = vault.keys?.status().versions ?? [];
      const { chain, log } = await verification(vault);
      const fallbackEvents = chain.exists && chain.ok ? log.records().filter((r) => r.event === AuditEvent.fallbackTaken) : [];
      const findings: ComplianceFinding[] = [];
      if (!config.encryption.enabled) findings.push({ rule: 'encryption-disabled', level: 'error', message: 'Encryption is disabled in the configuration.', location: ctx.config().file });
      if (unencrypted > 0) findings.push({ rule: 'unencrypted-entries', level: 'warning', message: `${unencrypted} of ${total} entries are stored unencrypted; run \`cachevault encryption enable\`.`, location: ctx.config().file });
      for (const v of versions) {
        if (v.state !== 'retired' && v.ageDays > config.keys.maxKeyAgeDays) {
          findings.push({ rule: 'key-age-exceeded', level: 'warning', message: `Key ${v.id} (${v.state}) is ${v.ageDays} days old, beyond the ${config.keys.maxKeyAgeDays}-day rotation policy; run \`cachevault encryption rotate\`.`, location: ctx.config().file });
        }
      }
      if (chain.status === 'broken') findings.push({ rule: 'audit-chain-broken', level: 'error', message: `The audit log chain is broken at line ${chain.line}: ${chain.problem}.`, location: chain.path });
      if (chain.status === 'missing') findings.push({ rule: 'audit-log-missing', level: 'error', message: `Keys exist but there is no audit log at ${chain.path}.`, location: chain.path });
      if (chain.status === 'legacy' || chain.status === 'unkeyed' || chain.status === 'unauthenticated') {
        findings.push({ rule: 'audit-chain-unverified', level: 'warning', message: `The audit log cannot be verified (${chain.status}): ${chain.problem}.`, location: chain.path });
      }
      for (const f of fallbackEvents) findings.push({ rule: 'key-provider-fallback', level: 'note', message: `Key provider fallback at ${f.time} on ${f.host}: ${JSON.stringify(f.details)}.`, location: chain.path });
      if (vault.fallbackReason) findings.push({ rule: 'backend-fallback', level: 'warning', message: `The ${vault.config.fallback} fallback backend is running: ${vault.fallbackReason}.`, location: ctx.config().file });

      const report: ComplianceReport = {
        generatedAt: new Date().toISOString(),
        backend: config.backend,
        namespace: config.namespace,
        encryption: { enabled: config.encryption.enabled, algorithm: vault.encryption.algorithm, entries: total, unencryptedEntries: unencrypted, encryptedShare: total === 0 ? null : (total - unencrypted) / total, entriesByKeyId: byKeyId },
        keys: { maxKeyAgeDays: config.keys.maxKeyAgeDays, versions: versions.map((v) => ({ id: v.id, state: v.state, ageDays: v.ageDays, overAge: v.state !== 'retired' && v.ageDays > config.keys.maxKeyAgeDays })) },
        auditChain: {
          path: chain.path,
          exists: chain.exists,
          ok: chain.ok,
          status: chain.status,
          records: chain.records,
          anchoredSeq: chain.anchoredSeq,
          unanchored: chain.unanchored,
          problem: chain.ok ? null : `${chain.line !== undefined ? `line ${chain.line}: ` : ''}${chain.problem ?? chain.status}`,
        },
        fallbacks: { keyProvider: fallbackEvents.length, backend: vault.fallbackReason ?? null },
        findings,
      };
      const format = opts.format ?? (ctx.globals.json ? 'json' : 'text');
      if (format === 'sarif') ctx.io.stdout(`${JSON.stringify(complianceToSarif(report), null, 2)}\n`);
      else if (format === 'json') ctx.io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      else {
        ctx.io.stdout(
          `${[
            keyValues({
              encryption: report.encryption.enabled ? `enabled (${report.encryption.algorithm})` : 'DISABLED',
              'entries encrypted': report.encryption.encryptedShare === null ? 'no entries' : `${(report.encryption.encryptedShare * 100).toFixed(1)}% of ${report.encryption.entries}`,
              'rotation policy': `${report.keys.maxKeyAgeDays} days`,
              'key versions': report.keys.versions.map((v) => `${v.id} ${v.state} ${v.ageDays} d${v.overAge ? ' OVER AGE' : ''}`).join(', ') || 'none',
              'audit chain': report.auditChain.status === 'empty' ? 'no log yet' : report.auditChain.ok ? `verified (${report.auditChain.records} records)` : `${report.auditChain.status.toUpperCase()} (${report.auditChain.problem})`,
              'key provider fallbacks': report.fallbacks.keyProvider,
            }),
            '',
            findings.length === 0 ? 'No findings.' : table(findings.map((f) => ({ level: f.level, rule: f.rule, finding: f.message }))),
          ].join('\n')}\n`,
        );
      }
      return ExitCode.ok;
    },
  );
}
