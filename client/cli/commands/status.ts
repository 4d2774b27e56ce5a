/**
 * `cachevault status`: the configured backend(s), encryption and key versions (never material),
 * entry counts and bytes per tier, hit ratio, table information and health, in one view.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { redactUrlUserinfo } from '../../config/redact';
import { sealedKeyId } from '../../keys/entriesByKeyId';
import type { BackendStats } from '../../types';
import { probeProviders } from '../providerProbe';
import { defineAction, type Runtime } from '../command';
import { configuredTiers, describeBackend, usesTier } from '../configProbe';
import { checkCacheHealth } from '../../health/cacheHealth';
import { healthExitCode } from './health';
import { tableManagerFor } from './table';
import type { TableSummary } from '../../dynamodb/tableManager';
import { reportError } from '../errors';
import { formatBytes, keyValues, table } from '../output';

const StatusOptions = z.object({ count: z.boolean().optional() });

export interface TierStatus {
  readonly tier: string;
  readonly entries: number | null;
  readonly bytes: number | null;
  readonly hits: number;
  readonly misses: number;
}

function runningTiers(config: Parameters<typeof configuredTiers>[0], fallbackReason: string | undefined): string[] {
  if (fallbackReason === undefined || config.fallback === undefined) return configuredTiers(config);
  return configuredTiers({ ...config, backend: config.fallback });
}

function tierRows(stats: BackendStats): TierStatus[] {
  const tiers = stats.tiers ? Object.entries(stats.tiers) : [[stats.backend, stats] as const];
  return tiers.map(([tier, s]) => ({ tier, entries: s.entries ?? null, bytes: s.bytes ?? null, hits: s.hits, misses: s.misses }));
}

export function registerStatus(program: Command, runtime: Runtime): void {
  defineAction(
    runtime,
    program
      .command('status')
      .option('--count', 'count live entries and bytes by scanning (slow on large caches)')
      .description('backend, encryption and keys, entries per tier, table and health at a glance'),
    StatusOptions,
    async (ctx, opts) => {
      const missing = ctx.missingLocalCache();
      if (missing !== undefined) {
        // Read-only: report the configuration rather than create the cache to look at it.
        const { config } = ctx.config();
        // Probing a provider reads, never writes: a machine where none works still hears it here.
        const providers = config.encryption.enabled ? await probeProviders(config, ctx.env) : [];
        const keysOk = !config.encryption.enabled || providers.some((p) => p.ok);
        const empty = {
          backend: { type: config.backend, tiers: configuredTiers(config), namespace: config.namespace, fallback: config.fallback ?? null },
          encryption: { enabled: config.encryption.enabled, algorithm: config.encryption.algorithm, providers: config.keys.providers, activeKeyId: null },
          initialized: false,
          detail: missing,
          keyProviders: providers,
          healthy: keysOk,
          file: usesTier(config, 'file') ? { dir: config.file.dir } : null,
        };
        ctx.out.result(empty, (s) =>
          keyValues({
            backend: describeBackend(s.backend.type, s.backend.tiers),
            encryption: s.encryption.enabled ? `${s.encryption.algorithm} via ${s.encryption.providers.join(', ')}` : 'disabled',
            'file dir': s.file?.dir,
            cache: s.detail,
            'key providers': s.keyProviders.map((p) => `${p.provider} ${p.ok ? 'ok' : `unavailable (${p.reason})`}`).join('; ') || undefined,
          }),
        );
        return keysOk ? 0 : 3;
      }
      const vault = await ctx.open(undefined, { readOnly: true });
      const { config } = vault;
      let counted: { entries: number; bytes: number; unencrypted: number } | null = null;
      if (opts.count) {
        counted = { entries: 0, bytes: 0, unencrypted: 0 };
        for await (const entry of vault.backend.entries()) {
          counted.entries += 1;
          counted.bytes += entry.value.byteLength;
          // By the authenticated envelope header, not the clear key id column.
          if (sealedKeyId(entry) === 'none') counted.unencrypted += 1;
        }
        // A cache written before encryption was enabled: not protected, and read only while allowUnencryptedReads is on.
        if (config.encryption.enabled && counted.unencrypted > 0) {
          const reads = config.encryption.allowUnencryptedReads ? 'they are read (allowUnencryptedReads is on)' : 'they read as misses';
          ctx.out.warn(`${counted.unencrypted} of ${counted.entries} entries are stored unencrypted (written before encryption was enabled); ${reads}. \`cachevault encryption enable\` rewrites them, after taking a backup.`);
        }
      }
      const health = await checkCacheHealth(vault, { readOnly: true });
      const keyStatus = vault.keys?.status();
      let tableInfo: TableSummary | { error: string } | null = null;
      if (usesTier(config, 'dynamodb')) {
        const { manager, close } = tableManagerFor(ctx);
        try {
          tableInfo = await manager.describe();
        } catch (err) {
          tableInfo = { error: reportError(err).message.split('\n')[0]! };
        } finally {
          close();
        }
      }
      const stats = vault.backend.stats();
      const reads = stats.hits + stats.misses;
      const status = {
        // The tiers that run: a fallback replaces the configured backend's tiers.
        backend: { type: config.backend, name: vault.backend.name, tiers: runningTiers(config, vault.fallbackReason), configuredTiers: configuredTiers(config), namespace: config.namespace, fallback: config.fallback ?? null },
        encryption: {
          enabled: config.encryption.enabled,
          algorithm: vault.encryption.algorithm,
          providers: config.keys.providers,
          activeKeyId: keyStatus?.activeKeyId ?? null,
          manifest: keyStatus?.manifest ?? null,
          /** Qualifies the key ids entries carry (`k1:<manifestId>`); see docs/key-management.md. */
          manifestId: keyStatus?.manifestId ?? null,
          manifestSealed: keyStatus?.manifestSealed ?? null,
          manifestRevision: keyStatus?.manifestRevision ?? null,
          versions: (keyStatus?.versions ?? []).map((v) => ({ id: v.id, state: v.state, ageDays: v.ageDays, createdAt: v.createdAt, localOnly: v.localOnly, wrappedBy: v.wrappedBy })),
          providerHealth: keyStatus?.providers ?? [],
        },
        fallbackReason: vault.fallbackReason ?? null,
        tiers: tierRows(stats),
        counted,
        hitRatio: reads === 0 ? null : stats.hits / reads,
        file: usesTier(config, 'file') ? { dir: config.file.dir } : null,
        dynamodb: usesTier(config, 'dynamodb') ? { tableName: config.dynamodb.tableName, region: config.dynamodb.region, endpoint: config.dynamodb.endpoint === undefined ? null : redactUrlUserinfo(config.dynamodb.endpoint), table: tableInfo } : null,
        health,
        warnings: vault.warnings,
      };
      ctx.out.result(status, (s) =>
        [
          keyValues({
            backend: describeBackend(s.backend.type, s.backend.tiers),
            namespace: s.backend.namespace,
            fallback: s.backend.fallback ?? 'none',
            encryption: s.encryption.enabled ? `${s.encryption.algorithm} via ${s.encryption.providers.join(', ')}` : 'disabled',
            'file cache': s.file?.dir,
            'key manifest': s.encryption.enabled && s.encryption.manifest ? `${s.encryption.manifest} (${s.encryption.manifestId ? `id ${s.encryption.manifestId}, ` : ''}revision ${s.encryption.manifestRevision}, ${s.encryption.manifestSealed ? 'MAC verified' : 'NOT MACed: see docs/key-management.md'})` : undefined,
            'key versions': s.encryption.enabled ? s.encryption.versions.map((v) => `${v.id} ${v.state} ${v.ageDays} d`).join(', ') || 'none yet (created on first write)' : undefined,
            'fallback taken': s.fallbackReason ?? undefined,
            'dynamodb table': s.dynamodb ? `${s.dynamodb.tableName} (${s.dynamodb.endpoint ?? s.dynamodb.region})` : undefined,
            'table status': s.dynamodb?.table ? ('error' in s.dynamodb.table ? s.dynamodb.table.error : `${s.dynamodb.table.status}, ~${s.dynamodb.table.itemCount} items, ${formatBytes(s.dynamodb.table.sizeBytes)}, TTL ${s.dynamodb.table.ttl.status}`) : undefined,
            'entries (scanned)': s.counted ? `${s.counted.entries} (${formatBytes(s.counted.bytes)})` : undefined,
            'hit ratio': s.hitRatio === null ? undefined : `${(s.hitRatio * 100).toFixed(1)}%`,
            healthy: s.health.healthy ? 'yes' : `NO (${s.health.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? 'failed'}`).join('; ')})`,
          }),
          '',
          table(s.tiers.map((t) => ({ tier: t.tier, entries: t.entries, bytes: t.bytes === null ? null : formatBytes(t.bytes) }))),
        ].join('\n'),
      );
      return healthExitCode(health);
    },
  );
}
