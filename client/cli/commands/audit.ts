/**
 * `cachevault audit verify` (the hash chain of the audit log) and `audit report` (compliance:
 * share of entries encrypted, key ages against the rotation policy, audit-chain status,
 * fallbacks taken), as text, JSON or SARIF 2.1.0 for security scanners.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { AuditEvent, AuditLog, type AuditVerification } from '../../audit/auditLog';
import { auditLogPath } from '../../createCache';
import { ExitCode } from '../../errors';
import { defineAction, type Runtime } from '../command';
import { keyValues, table } from '../output';
import { entriesByKeyId } from '../../keys/entriesByKeyId';
import { complianceToSarif, type ComplianceFinding, type ComplianceReport } from '../sarif';

const NoOptions = z.object({});
const ReportOptions = z.object({ format: z.enum(['text', 'json', 'sarif']).optional() });

function verification(path: string): AuditVerification & { path: string; exists: boolean } {
  const exists = existsSync(path);
  return { path, exists, ...(exists ? new AuditLog({ path }).verify() : { ok: true as const, records: 0 }) };
}

export function registerAudit(program: Command, runtime: Runtime): void {
  const group = program.command('audit').description('audit log verification and compliance report');

  defineAction(runtime, group.command('verify').description('check the audit log hash chain (exit 1 if it was edited)'), NoOptions, async (ctx) => {
    const { config } = ctx.config();
    const result = verification(auditLogPath(config));
    ctx.out.result(result, (r) =>
      !r.exists ? `No audit log at ${r.path} yet (nothing audited so far).` : r.ok ? `${r.path}: chain intact, ${r.records} records.` : `${r.path}: BROKEN at line ${r.line}: ${r.problem} (${r.records} records before it verified).`,
    );
    return result.ok ? ExitCode.ok : ExitCode.failure;
  });

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
      const chain = verification(auditLogPath(config));
      const fallbackEvents = chain.exists && chain.ok ? new AuditLog({ path: chain.path }).records().filter((r) => r.event === AuditEvent.fallbackTaken) : [];
      const findings: ComplianceFinding[] = [];
      if (!config.encryption.enabled) findings.push({ rule: 'encryption-disabled', level: 'error', message: 'Encryption is disabled in the configuration.', location: ctx.config().file });
      if (unencrypted > 0) findings.push({ rule: 'unencrypted-entries', level: 'warning', message: `${unencrypted} of ${total} entries are stored unencrypted; run \`cachevault encryption enable\`.`, location: ctx.config().file });
      for (const v of versions) {
        if (v.state !== 'retired' && v.ageDays > config.keys.maxKeyAgeDays) {
          findings.push({ rule: 'key-age-exceeded', level: 'warning', message: `Key ${v.id} (${v.state}) is ${v.ageDays} days old, beyond the ${config.keys.maxKeyAgeDays}-day rotation policy; run \`cachevault encryption rotate\`.`, location: ctx.config().file });
        }
      }
      if (!chain.ok) findings.push({ rule: 'audit-chain-broken', level: 'error', message: `The audit log chain is broken at line ${chain.line}: ${chain.problem}.`, location: chain.path });
      if (config.audit.enabled && !chain.exists && versions.length > 0) findings.push({ rule: 'audit-log-missing', level: 'warning', message: `Keys exist but there is no audit log at ${chain.path}.`, location: chain.path });
      for (const f of fallbackEvents) findings.push({ rule: 'key-provider-fallback', level: 'note', message: `Key provider fallback at ${f.time} on ${f.host}: ${JSON.stringify(f.details)}.`, location: chain.path });
      if (vault.fallbackReason) findings.push({ rule: 'backend-fallback', level: 'warning', message: `The ${vault.config.fallback} fallback backend is running: ${vault.fallbackReason}.`, location: ctx.config().file });

      const report: ComplianceReport = {
        generatedAt: new Date().toISOString(),
        backend: config.backend,
        namespace: config.namespace,
        encryption: { enabled: config.encryption.enabled, algorithm: vault.encryption.algorithm, entries: total, unencryptedEntries: unencrypted, encryptedShare: total === 0 ? null : (total - unencrypted) / total, entriesByKeyId: byKeyId },
        keys: { maxKeyAgeDays: config.keys.maxKeyAgeDays, versions: versions.map((v) => ({ id: v.id, state: v.state, ageDays: v.ageDays, overAge: v.state !== 'retired' && v.ageDays > config.keys.maxKeyAgeDays })) },
        auditChain: { path: chain.path, exists: chain.exists, ok: chain.ok, records: chain.records, problem: chain.ok ? null : `line ${chain.line}: ${chain.problem}` },
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
              'audit chain': !report.auditChain.exists ? 'no log yet' : report.auditChain.ok ? `intact (${report.auditChain.records} records)` : `BROKEN (${report.auditChain.problem})`,
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
