/**
 * `config test`: tries every configured backend tier and key provider on its own, so one
 * broken piece is named instead of hiding behind a fallback.
 */
import type { LoadConfigOptions } from '../config/loadConfig';
import { backendRegistry } from '../backends/registry';
import type { AdvancedCacheConfig, BackendType, TierName } from '../config/schema';
import { describeError } from '../describeError';
import { createKeyProviders } from '../keys/createKeyProviders';
import type { KeyProvider } from '../keys/keyProvider';
import { reportError } from './errors';
import { openVault } from './openVault';

export interface ProbeCheck {
  readonly component: 'backend' | 'keys';
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface ProbeReport {
  readonly backend: BackendType;
  readonly ok: boolean;
  readonly checks: ProbeCheck[];
}

/** The tiers a config uses: the hybrid's tiers, or the single backend. */
export function configuredTiers(config: AdvancedCacheConfig): TierName[] {
  return backendRegistry.configuredTiers(config) as TierName[];
}

/**
 * Whether the config uses `tier`, alone or in a hybrid. For commands that work with one tier's
 * own features (prune, gc, the table's status); a typed name, not a string comparison.
 */
export function usesTier(config: AdvancedCacheConfig, tier: TierName): boolean {
  return backendRegistry.uses(config, tier);
}

/** `hybrid (memory -> file)`, or the backend's name alone when it has no tiers. */
export function describeBackend(type: BackendType, tiers: readonly string[]): string {
  return backendRegistry.isComposite(type) ? `${type} (${tiers.join(' -> ')})` : type;
}

export async function probeConfiguration(config: AdvancedCacheConfig, load: LoadConfigOptions): Promise<ProbeReport> {
  const checks: ProbeCheck[] = [];
  for (const tier of configuredTiers(config)) {
    try {
      // Each tier alone, without fallback, so a failing tier is reported rather than replaced.
      const vault = await openVault({ ...load, options: { ...load.options, backend: tier, fallback: undefined, encryption: { enabled: false }, audit: { enabled: false } } });
      try {
        const health = await vault.backend.healthCheck();
        const failed = health.checks.filter((c) => !c.ok);
        checks.push({
          component: 'backend',
          name: tier,
          ok: health.healthy,
          detail: health.healthy ? `round trip ${Math.round(health.latencyMs)} ms` : failed.map((c) => `${c.name}: ${c.detail ?? 'failed'}`).join('; '),
        });
      } finally {
        await vault.close();
      }
    } catch (err) {
      checks.push({ component: 'backend', name: tier, ok: false, detail: oneLine(err) });
    }
  }
  if (config.encryption.enabled) {
    let providers: KeyProvider[] = [];
    try {
      providers = createKeyProviders(config.keys, { env: load.env });
    } catch (err) {
      checks.push({ component: 'keys', name: config.keys.providers.join(','), ok: false, detail: oneLine(err) });
    }
    for (const provider of providers) {
      try {
        const probe = await provider.probe();
        checks.push({ component: 'keys', name: provider.name, ok: probe.ok, detail: probe.ok ? 'usable' : probe.reason });
      } catch (err) {
        checks.push({ component: 'keys', name: provider.name, ok: false, detail: oneLine(err) });
      } finally {
        (provider as { close?: () => void }).close?.();
      }
    }
  }
  return { backend: config.backend, ok: checks.every((c) => c.ok), checks };
}

function oneLine(err: unknown): string {
  const report = reportError(err);
  return report.hint ? `${report.message.split('\n')[0]} (${report.hint})` : report.message.split('\n')[0] ?? describeError(err);
}
