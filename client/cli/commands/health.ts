/**
 * `cachevault health [--backend NAME]`: a canary round trip through the backend and its own
 * checks, then the key checks (active key and provider, a sealed canary, key ages vs policy).
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { BackendType } from '../../config/schema';
import { ExitCode } from '../../errors';
import { checkCacheHealth } from '../../health/cacheHealth';
import type { HealthReport } from '../../types';
import { defineAction, type Runtime } from '../command';
import { keyValues, table } from '../output';
import { probeProviders } from '../providerProbe';

const HealthOptions = z.object({ backend: BackendType.optional() });

/** 0 when every check passed, 3 when the cache still works with some checks failing, 1 when nothing works. */
export function healthExitCode(report: HealthReport): typeof ExitCode[keyof typeof ExitCode] {
  if (report.healthy) return ExitCode.ok;
  return report.checks.some((c) => c.ok) ? ExitCode.partial : ExitCode.failure;
}

export function formatHealth(report: HealthReport): string {
  return [
    keyValues({ backend: report.backend, healthy: report.healthy ? 'yes' : 'NO', 'latency ms': Math.round(report.latencyMs) }),
    '',
    table(report.checks.map((c) => ({ check: c.name, ok: c.ok ? 'yes' : 'NO', 'latency ms': c.latencyMs === undefined ? undefined : Math.round(c.latencyMs), detail: c.detail ?? '' }))),
  ].join('\n');
}

export function registerHealth(program: Command, runtime: Runtime): void {
  defineAction(
    runtime,
    program
      .command('health')
      .option('-b, --backend <name>', 'check only this backend (memory, file, dynamodb, hybrid) instead of the configured one')
      .description('run a health check: canary write/read/delete, backend-specific checks, and the key checks'),
    HealthOptions,
    async (ctx, opts) => {
      const missing = opts.backend ? undefined : ctx.missingLocalCache();
      if (missing !== undefined) {
        // Read-only: where nothing is cached yet, check what can be checked without creating it.
        const { config } = ctx.config();
        const providers = config.encryption.enabled ? await probeProviders(config, ctx.env) : [];
        const report: HealthReport = {
          backend: config.backend,
          healthy: providers.every((p) => p.ok),
          latencyMs: 0,
          checks: [
            { name: 'cache', ok: true, detail: `${missing}; the first write creates it` },
            ...providers.map((p) => ({ name: `keys.provider.${p.provider}`, ok: p.ok, detail: p.ok ? 'answers' : (p.reason ?? 'unavailable') })),
          ],
        };
        ctx.out.result(report, formatHealth);
        return healthExitCode(report);
      }
      const vault = await ctx.open(opts.backend ? { backend: opts.backend } : undefined, { readOnly: true });
      const report = await checkCacheHealth(vault, { readOnly: true });
      ctx.out.result(report, formatHealth);
      return healthExitCode(report);
    },
  );
}
