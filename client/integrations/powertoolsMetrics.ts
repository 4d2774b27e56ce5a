import type { CacheStats } from '../core/cacheManager';

/**
 * The subset of `@aws-lambda-powertools/metrics`' Metrics this adapter uses (units are
 * Powertools' `MetricUnit` values, 'Count' and 'Bytes'). Powertools is the app's dependency.
 */
export interface PowertoolsMetricsLike {
  addMetric(name: string, unit: string, value: number): unknown;
}

/** Counters of {@link CacheStats} published, with their metric suffix and unit. */
const COUNTERS = [
  ['hits', 'Hits', 'Count'],
  ['misses', 'Misses', 'Count'],
  ['sets', 'Sets', 'Count'],
  ['deletes', 'Deletes', 'Count'],
  ['errors', 'Errors', 'Count'],
  ['decryptFailures', 'DecryptFailures', 'Count'],
  ['keyUnavailable', 'KeyUnavailable', 'Count'],
  ['degradedWrites', 'DegradedWrites', 'Count'],
  ['tagInvalidated', 'TagInvalidated', 'Count'],
  ['staleServed', 'StaleServed', 'Count'],
  ['refreshes', 'Refreshes', 'Count'],
  ['bytesRead', 'BytesRead', 'Bytes'],
  ['bytesWritten', 'BytesWritten', 'Bytes'],
] as const satisfies readonly (readonly [keyof Omit<CacheStats, 'backend'>, string, string])[];

/** Backend counters published beside them (the storage's view: expiry and eviction). */
const BACKEND_COUNTERS = [
  ['expired', 'Expired', 'Count'],
  ['evictions', 'Evictions', 'Count'],
] as const;

export interface CacheStatsMetricsOptions {
  /** Prefix of every metric name (`CacheHits`, `CacheMisses`, ...). @default 'Cache' */
  readonly prefix?: string;
}

/**
 * Publishes a cache's counters (`stats()`) as Powertools metrics: each `publish()` adds, for every
 * counter, what it grew by since the previous `publish()` of the same cache, zeros included (an
 * alarm on misses sees 0, not missing data). Call it once per invocation before Powertools flushes
 * (the `cacheMetrics` middleware of `cachevault/middy` does); the hit ratio is then
 * `CacheHits / (CacheHits + CacheMisses)` in CloudWatch metric math.
 *
 * Growth is tracked per cache object: a cache opened again (a new object) starts from its own zero.
 */
export class CacheStatsMetrics {
  private readonly metrics: PowertoolsMetricsLike;
  private readonly prefix: string;
  private readonly last = new WeakMap<object, Record<string, number>>();

  constructor(metrics: PowertoolsMetricsLike, options: CacheStatsMetricsOptions = {}) {
    if (typeof metrics?.addMetric !== 'function') throw new TypeError('CacheStatsMetrics(metrics): metrics must be a Powertools Metrics instance (it has addMetric(name, unit, value)).');
    this.metrics = metrics;
    this.prefix = options.prefix ?? 'Cache';
  }

  /** Adds the counters' growth since the last call for `cache` to the pending metrics. */
  publish(cache: { stats(): CacheStats }): void {
    const stats = cache.stats();
    const now: Record<string, number> = {};
    for (const [field, name] of COUNTERS) now[name] = stats[field];
    for (const [field, name] of BACKEND_COUNTERS) now[name] = stats.backend[field];
    const before = this.last.get(cache);
    for (const [, name, unit] of [...COUNTERS, ...BACKEND_COUNTERS]) {
      const delta = before === undefined ? now[name]! : now[name]! - before[name]!;
      this.metrics.addMetric(`${this.prefix}${name}`, unit, delta);
    }
    this.last.set(cache, now);
  }
}
