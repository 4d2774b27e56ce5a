import { BackendError, type CacheVaultErrorOptions } from '../../errors';

/** Why a tier did not answer: it failed, it timed out, or its circuit breaker is open. */
export type TierFailureKind = 'error' | 'timeout' | 'breaker-open';

/**
 * A tier of a hybrid backend could not serve a call. Thrown to the app only with
 * `strict: true`; otherwise the hybrid degrades to the tiers that answered and reports it.
 */
export class TierUnavailableError extends BackendError {
  override name = 'TierUnavailableError';
  override readonly code = 'TIER_UNAVAILABLE';
  readonly tier: string;
  readonly kind: TierFailureKind;
  constructor(tier: string, kind: TierFailureKind, message: string, options: CacheVaultErrorOptions = {}) {
    super('hybrid', message, {
      hint:
        kind === 'breaker-open'
          ? `The ${tier} tier failed repeatedly and is being skipped until its circuit breaker probes it again; check its health (\`cachevault health\`).`
          : `Check that the ${tier} tier is reachable and healthy, or set hybrid.strict to false to keep serving from the other tiers during outages.`,
      ...options,
      context: { tier, kind, ...options.context },
    });
    this.tier = tier;
    this.kind = kind;
  }
}

/** One call to one tier took longer than its timeout; the call itself may still complete. */
export class TierTimeoutError extends BackendError {
  override name = 'TierTimeoutError';
  override readonly code = 'TIER_TIMEOUT';
  readonly tier: string;
  readonly timeoutMs: number;
  constructor(tier: string, operation: string, timeoutMs: number) {
    super(tier, `The ${tier} tier did not answer ${operation} within ${timeoutMs} ms.`, {
      hint: 'Raise hybrid.tierTimeoutMs if the tier is healthy but slow, or check its network path.',
      context: { tier, operation, timeoutMs },
    });
    this.tier = tier;
    this.timeoutMs = timeoutMs;
  }
}

/** No backend could be started from the configuration (and no fallback could either). */
export class BackendStartError extends BackendError {
  override name = 'BackendStartError';
  override readonly code = 'BACKEND_START_FAILED';
  constructor(backend: string, message: string, options: CacheVaultErrorOptions = {}) {
    super(backend, message, options);
  }
}
