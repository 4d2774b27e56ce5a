import { performance } from 'node:perf_hooks';
import type { CacheBackend } from '../cacheBackend';
import type { BackendStats, Clock } from '../../types';
import { NO_EVENTS, type CacheEventSink } from '../../events/cacheEvents';
import { CircuitBreaker, type BreakerState } from './circuitBreaker';
import { TierTimeoutError, TierUnavailableError, type TierFailureKind } from './errors';

/** The outcome of one guarded call: a value, or why the tier did not answer. */
export type TierOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly kind: TierFailureKind; readonly error: Error };

export interface TierOptions {
  readonly name: string;
  readonly backend: CacheBackend;
  readonly index: number;
  /** Whether this tier holds local copies of data a shared tier below owns (the TTL cap applies). */
  readonly cachesShared: boolean;
  /** Per-call timeout; `undefined` for tiers that cannot hang (in-process memory). */
  readonly timeoutMs: number | undefined;
  readonly failureThreshold: number;
  readonly resetMs: number;
  readonly clock: Clock;
  readonly onStateChange?: (tier: string, from: BreakerState, to: BreakerState) => void;
  /** Called after every successful (breaker-guarded) call: the tier is answering. */
  readonly onAnswer?: (tier: Tier) => void;
}

/**
 * One tier of a hybrid backend: the backend plus its circuit breaker, its timeout and the
 * counters the hybrid keeps about it (the tier's own counters cannot see timeouts or skips).
 */
export class Tier {
  readonly name: string;
  readonly backend: CacheBackend;
  readonly index: number;
  readonly cachesShared: boolean;
  readonly shared: boolean;
  readonly timeoutMs: number | undefined;
  readonly breaker: CircuitBreaker;
  private readonly onAnswer: ((tier: Tier) => void) | undefined;
  /** Where timings are reported (`operation` events); set by the hybrid when a cache attaches. */
  events: CacheEventSink = NO_EVENTS;
  readonly counters = { hits: 0, misses: 0, errors: 0, timeouts: 0, skipped: 0, calls: 0, latencySamples: 0, latencyMsTotal: 0, latencyMsMax: 0 };

  constructor(options: TierOptions) {
    this.name = options.name;
    this.backend = options.backend;
    this.index = options.index;
    this.cachesShared = options.cachesShared;
    this.shared = options.backend.capabilities.shared;
    this.timeoutMs = options.timeoutMs;
    this.onAnswer = options.onAnswer;
    this.breaker = new CircuitBreaker({
      failureThreshold: options.failureThreshold,
      resetMs: options.resetMs,
      clock: options.clock,
      onStateChange: (from, to) => options.onStateChange?.(options.name, from, to),
    });
  }

  /**
   * Runs one operation on this tier through its breaker and timeout. Never throws: failures
   * come back as outcomes so the hybrid decides whether to degrade or (strict) rethrow.
   */
  call<T>(operation: string, fn: (backend: CacheBackend) => Promise<T>, options: { bypassBreaker?: boolean } = {}): Promise<TierOutcome<T>> {
    // Health checks bypass the breaker: they must report on the tier, not on the breaker.
    const guarded = !options.bypassBreaker;
    if (guarded && !this.breaker.tryAcquire()) {
      this.counters.skipped += 1;
      return Promise.resolve({
        ok: false,
        kind: 'breaker-open',
        error: new TierUnavailableError(this.name, 'breaker-open', `The ${this.name} tier was skipped for ${operation}: its circuit breaker is open.`),
      });
    }
    const started = this.begin();
    let pending: Promise<T>;
    try {
      pending = fn(this.backend);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (this.timeoutMs !== undefined) pending = withTimeout(pending, this.timeoutMs, () => new TierTimeoutError(this.name, operation, this.timeoutMs!));
    // Plain promise callbacks rather than an async function: this sits on every read's hot path.
    return pending.then(
      (value): TierOutcome<T> => {
        this.succeeded(started, guarded, operation);
        return { ok: true, value };
      },
      (err: unknown) => this.failed(started, guarded, err, operation),
    );
  }

  /**
   * Whether a caller may skip `call()` and await the backend itself: an in-process tier (no
   * timeout to arm) whose breaker is closed. It must then report with `begin()` and
   * `succeeded()` / `failed()`, exactly as `call()` does.
   */
  get direct(): boolean {
    return this.timeoutMs === undefined && this.breaker.state === 'closed';
  }

  /**
   * Counts a call and starts its clock. In-process tiers answer in about a microsecond, where two
   * clock reads would be a third of the cost: their latency is sampled (1 call in 16), unless
   * someone listens to `operation` events; every call to other tiers is timed. Returns the start
   * time, or -1 when this call is not timed.
   */
  begin(): number {
    const timed = this.timeoutMs !== undefined || (this.counters.calls & 15) === 0 || this.events.wants.operation;
    this.counters.calls += 1;
    return timed ? performance.now() : -1;
  }

  succeeded(started: number, guarded = true, operation = 'get'): void {
    if (started >= 0) this.recordLatency(started, operation, true);
    if (guarded) {
      this.breaker.success();
      this.onAnswer?.(this);
    }
  }

  failed(started: number, guarded: boolean, err: unknown, operation = 'get'): TierOutcome<never> {
    if (started >= 0) this.recordLatency(started, operation, false);
    if (guarded) this.breaker.failure();
    this.counters.errors += 1;
    const timedOut = err instanceof TierTimeoutError;
    if (timedOut) this.counters.timeouts += 1;
    return { ok: false, kind: timedOut ? 'timeout' : 'error', error: err instanceof Error ? err : new Error(String(err)) };
  }

  private recordLatency(started: number, operation: string, ok: boolean): void {
    const elapsed = performance.now() - started;
    if (this.events.wants.operation) this.events.emit('operation', { type: 'operation', tier: this.name, operation, durationMs: elapsed, ok });
    this.counters.latencySamples += 1;
    this.counters.latencyMsTotal += elapsed;
    if (elapsed > this.counters.latencyMsMax) this.counters.latencyMsMax = elapsed;
  }


  /** The tier's own stats, with the hybrid's view of it (hits, misses, errors, breaker, latency). */
  stats(): BackendStats {
    const own = this.backend.stats();
    const c = this.counters;
    return {
      ...own,
      hits: c.hits,
      misses: c.misses,
      errors: c.errors,
      extra: {
        ...own.extra,
        breaker: this.breaker.state,
        breakerOpens: this.breaker.opens,
        timeouts: c.timeouts,
        skipped: c.skipped,
        calls: c.calls,
        latencyMsAvg: c.latencySamples === 0 ? 0 : round(c.latencyMsTotal / c.latencySamples),
        latencyMsMax: round(c.latencyMsMax),
      },
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Rejects with `onTimeout()` if `promise` has not settled within `ms`; the timer never holds the process open. */
async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
    // A late rejection of the abandoned call must not become an unhandled rejection.
    promise.catch(() => undefined);
  }
}
