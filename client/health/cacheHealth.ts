import type { HealthCheckOptions } from '../backends/cacheBackend';
import type { HealthReport } from '../types';
import { checkKeys, type KeyHealthTarget } from './keyHealth';

/** What a whole-cache health check needs: the backend, and what the key checks read. */
export type CacheHealthTarget = KeyHealthTarget & { readonly backend: { healthCheck(options?: HealthCheckOptions): Promise<HealthReport> } };

/**
 * The health of a configured cache: the backend's own report (canary round trip and backend
 * steps), then the key checks. One report for the CLI's `health` and `status` and the health
 * Lambda, so they cannot disagree about what "healthy" means.
 */
export async function checkCacheHealth(vault: CacheHealthTarget, options: HealthCheckOptions = {}): Promise<HealthReport> {
  const backendReport = await vault.backend.healthCheck(options);
  const keySteps = await checkKeys(vault);
  return {
    ...backendReport,
    healthy: backendReport.healthy && keySteps.every((s) => s.ok),
    latencyMs: keySteps.reduce((total, s) => total + (s.latencyMs ?? 0), backendReport.latencyMs),
    checks: [...backendReport.checks, ...keySteps],
  };
}
