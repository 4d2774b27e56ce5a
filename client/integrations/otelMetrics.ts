import type { Attributes, Meter, MeterProvider, ObservableResult } from '@opentelemetry/api';
import { loadOptional } from '../optionalDependency';
import { subscribe, type CacheEventTarget, type MetricsExporter } from './eventTarget';

export interface OtelMetricsOptions {
  /** The meter to create instruments on. @default `meterProvider.getMeter('cachevault')` */
  readonly meter?: Meter;
  /** Where the meter comes from when none is given. @default the global provider of `@opentelemetry/api` */
  readonly meterProvider?: MeterProvider;
  /**
   * Add `cachevault.namespace` to the read and write counters. Namespaces are few in most apps;
   * leave it off when an app makes them per tenant or per user. @default false
   */
  readonly namespaceAttribute?: boolean;
  /** Attributes added to every data point (e.g. `{ 'cachevault.cache': 'sessions' }` for an app with two caches). */
  readonly attributes?: Attributes;
}

/**
 * Latency buckets in milliseconds: a memory hit is microseconds, a DynamoDB call milliseconds, a
 * timeout a second. The SDK's default buckets start at 5 ms and would put every memory and file
 * call in the first one.
 */
export const LATENCY_BUCKETS_MS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000];

/** Breaker state as a gauge value: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * OpenTelemetry metrics over a cache's events (docs/integrations.md#opentelemetry). Instruments,
 * all prefixed `cachevault.`:
 *
 * - `cache.hits` {tier, stale} and `cache.misses`: one per key read, so the hit ratio of the
 *   cache is hits / (hits + misses) and the share a tier serves is its hits over the same total.
 * - `cache.sets`, `cache.deletes`, `cache.expirations` {tier}, `cache.decrypt_failures` {error.code},
 *   `cache.key_unavailable`, `cache.degraded_writes`.
 * - `operation.duration` (histogram, ms) {tier, operation, outcome}: each storage call per tier.
 * - `errors` {error.code, operation, tier}: failures the cache absorbed or threw.
 * - `breaker.state` (observable gauge, 0 closed / 1 half-open / 2 open) {tier} and `breaker.transitions` {tier, state}.
 * - `kms.calls` {operation, outcome} and `kms.duration` (histogram, ms): calls that reached KMS
 *   (data-key cache hits make none; that is what keeps the bill down).
 * - `key.fallbacks` {provider, fallback_to}, `key.rotations`, `replay.queued` {kind}, `replay.replayed`, `replay.dropped`.
 *
 * Cache keys never become attributes (cardinality, and they are data). `@opentelemetry/api` is
 * loaded only when no meter is passed. `stop()` detaches from the cache; instruments stay on the meter.
 */
export function otelMetrics(cache: CacheEventTarget, options: OtelMetricsOptions = {}): MetricsExporter {
  const meter = options.meter ?? (options.meterProvider ?? globalMeterProvider()).getMeter('cachevault');
  const base: Attributes = { ...options.attributes };
  const withNamespace = options.namespaceAttribute === true;
  const attrs = (extra: Attributes, namespace?: string): Attributes =>
    withNamespace && namespace !== undefined ? { ...base, ...extra, 'cachevault.namespace': namespace } : { ...base, ...extra };

  const counter = (name: string, description: string, unit = '{event}') => meter.createCounter(`cachevault.${name}`, { description, unit });
  const histogram = (name: string, description: string) =>
    meter.createHistogram(`cachevault.${name}`, { description, unit: 'ms', advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS } });

  const hits = counter('cache.hits', 'Key reads answered, by the tier that answered', '{read}');
  const misses = counter('cache.misses', 'Key reads no tier could answer', '{read}');
  const sets = counter('cache.sets', 'Entries written', '{entry}');
  const deletes = counter('cache.deletes', 'Entries removed', '{entry}');
  const expirations = counter('cache.expirations', 'Reads that found an entry past its expiry', '{entry}');
  const decryptFailures = counter('cache.decrypt_failures', 'Entries that failed authentication or decoding (tampered, corrupt, moved)', '{entry}');
  const keyUnavailable = counter('cache.key_unavailable', 'Entries sealed under a key version this client cannot have', '{entry}');
  const degradedWrites = counter('cache.degraded_writes', 'Writes that reached only some tiers', '{write}');
  const errors = counter('errors', 'Failures the cache absorbed (tier down, read treated as a miss) or threw', '{error}');
  const duration = histogram('operation.duration', 'Duration of one storage call, per tier and operation');
  const transitions = counter('breaker.transitions', 'Circuit breaker state changes, by the state entered', '{transition}');
  const kmsCalls = counter('kms.calls', 'Calls that reached AWS KMS', '{call}');
  const kmsDuration = histogram('kms.duration', 'Duration of one AWS KMS call');
  const fallbacks = counter('key.fallbacks', 'Key provider outages the chain fell back past', '{fallback}');
  const rotations = counter('key.rotations', 'Active data key versions replaced', '{rotation}');
  const replayQueued = counter('replay.queued', 'Writes, deletes and clears the shared tier missed, queued for replay', '{op}');
  const replayed = counter('replay.replayed', 'Queued ops replayed to the shared tier', '{op}');
  const replayDropped = counter('replay.dropped', 'Queued ops dropped because the replay queue was full', '{op}');

  const breakers = new Map<string, number>();
  for (const [tier, state] of initialBreakers(cache)) breakers.set(tier, state);
  const breakerState = meter.createObservableGauge('cachevault.breaker.state', {
    description: 'Circuit breaker state per tier: 0 closed, 1 half-open, 2 open',
    unit: '{state}',
  });
  const observeBreakers = (result: ObservableResult) => {
    for (const [tier, state] of breakers) result.observe(state, { ...base, 'cachevault.tier': tier });
  };
  breakerState.addCallback(observeBreakers);

  const breaker = (state: keyof typeof BREAKER_STATE_VALUE) => (e: { readonly tier: string }) => {
    breakers.set(e.tier, BREAKER_STATE_VALUE[state]);
    transitions.add(1, { ...base, 'cachevault.tier': e.tier, 'cachevault.breaker.state': state });
  };

  return subscribe(cache, {
    hit: (e) => hits.add(1, attrs({ 'cachevault.tier': e.tier, 'cachevault.stale': e.stale }, e.namespace)),
    miss: (e) => misses.add(1, attrs({}, e.namespace)),
    set: (e) => sets.add(1, attrs({}, e.namespace)),
    delete: (e) => {
      if (e.removed > 0) deletes.add(e.removed, attrs({}, e.namespace));
    },
    expire: (e) => expirations.add(1, attrs({ 'cachevault.tier': e.tier }, e.namespace)),
    decryptFailure: (e) => decryptFailures.add(1, attrs({ 'error.code': e.code }, e.namespace)),
    keyUnavailable: (e) => keyUnavailable.add(1, attrs({}, e.namespace)),
    degradedWrite: (e) => degradedWrites.add(1, attrs({}, e.namespace)),
    error: (e) => errors.add(1, { ...base, 'error.code': e.code, 'cachevault.operation': e.operation, ...(e.tier === undefined ? {} : { 'cachevault.tier': e.tier }) }),
    operation: (e) =>
      duration.record(e.durationMs, { ...base, 'cachevault.tier': e.tier, 'cachevault.operation': e.operation, 'cachevault.outcome': e.ok ? 'ok' : 'error' }),
    breakerOpen: breaker('open'),
    breakerHalfOpen: breaker('half-open'),
    breakerClose: breaker('closed'),
    keyProviderCall: (e) => {
      if (e.provider !== 'kms') return;
      const outcome = e.ok ? 'ok' : (e.failure ?? 'error');
      kmsCalls.add(1, { ...base, 'cachevault.operation': e.operation, 'cachevault.outcome': outcome });
      kmsDuration.record(e.durationMs, { ...base, 'cachevault.operation': e.operation, 'cachevault.outcome': e.ok ? 'ok' : 'error' });
    },
    fallback: (e) => fallbacks.add(1, { ...base, 'cachevault.provider': e.provider, 'cachevault.fallback_to': e.fallbackTo }),
    keyRotation: (e) => rotations.add(1, { ...base, 'cachevault.reason': e.reason }),
    replayQueued: (e) => replayQueued.add(1, { ...base, 'cachevault.kind': e.kind }),
    replayed: (e) => replayed.add(e.count, base),
    replayDropped: (e) => replayDropped.add(e.count, base),
  }, () => breakerState.removeCallback(observeBreakers));
}

/** The global meter provider of `@opentelemetry/api`, which is required only here (an optional peer). */
function globalMeterProvider(): MeterProvider {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return loadOptional('@opentelemetry/api', () => require('@opentelemetry/api') as typeof import('@opentelemetry/api')).metrics;
}

/** Breaker states as the backend reports them now (a hybrid's `breaker.<tier>` stats). */
function initialBreakers(cache: CacheEventTarget): [string, number][] {
  const extra = cache.stats?.().backend.extra ?? {};
  const out: [string, number][] = [];
  for (const [name, value] of Object.entries(extra)) {
    if (!name.startsWith('breaker.') || typeof value !== 'string' || !(value in BREAKER_STATE_VALUE)) continue;
    out.push([name.slice('breaker.'.length), BREAKER_STATE_VALUE[value as keyof typeof BREAKER_STATE_VALUE]]);
  }
  return out;
}
