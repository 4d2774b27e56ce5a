import type { Clock } from '../../types';

/** `closed`: calls flow. `open`: calls are refused. `half-open`: one probe call is let through. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. @default 5 */
  readonly failureThreshold?: number;
  /** How long the breaker stays open before it lets one probe through. @default 30000 */
  readonly resetMs?: number;
  /** @default Date.now */
  readonly clock?: Clock;
  /** Called on every state change (for logs and stats). */
  readonly onStateChange?: (from: BreakerState, to: BreakerState) => void;
}

/**
 * A minimal circuit breaker for one tier. It exists so a failing shared tier costs one refused
 * check per call instead of a request timeout per call, and so the tier is probed again later
 * by a single call rather than by a thundering herd. Time comes from the injected clock, so
 * tests move through the states without sleeping.
 */
export class CircuitBreaker {
  private readonly failureThreshold: number;
  private readonly resetMs: number;
  private readonly clock: Clock;
  private readonly onStateChange: ((from: BreakerState, to: BreakerState) => void) | undefined;
  private current: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probeInFlight = false;
  /** Times the breaker opened, for stats. */
  opens = 0;
  /** Calls refused while open (or while a probe was in flight), for stats. */
  refused = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.resetMs = options.resetMs ?? 30_000;
    this.clock = options.clock ?? Date.now;
    this.onStateChange = options.onStateChange;
  }

  /** The state as of now: an open breaker whose reset time has passed reads as half-open. */
  get state(): BreakerState {
    if (this.current === 'open' && this.clock() - this.openedAt >= this.resetMs) return 'half-open';
    return this.current;
  }

  /**
   * Asks to make a call. `true` means go ahead and report the outcome with `success()` or
   * `failure()`; `false` means the tier is considered down, skip it.
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'half-open' && !this.probeInFlight) {
      this.transition('half-open');
      this.probeInFlight = true;
      return true;
    }
    this.refused += 1;
    return false;
  }

  success(): void {
    this.consecutiveFailures = 0;
    this.probeInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  failure(): void {
    this.consecutiveFailures += 1;
    const probeFailed = this.current === 'half-open';
    this.probeInFlight = false;
    if (probeFailed || (this.current === 'closed' && this.consecutiveFailures >= this.failureThreshold)) {
      this.openedAt = this.clock();
      this.opens += 1;
      this.transition('open');
    }
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.onStateChange?.(from, to);
  }
}
