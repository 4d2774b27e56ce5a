import { subscribe, type CacheEventTarget, type MetricsExporter } from './eventTarget';

/** The subset of `@aws-lambda-powertools/metrics`'s `Metrics` this exporter uses. */
export interface PowertoolsMetricsLike {
  addMetric(name: string, unit: 'Count' | 'Milliseconds', value: number): unknown;
}

export interface EmfMetricsOptions {
  /**
   * Send the values to this Powertools Metrics instance (`addMetric`) at each flush, so they go
   * out in its next published document, with its namespace, service and dimensions. Otherwise
   * the exporter writes EMF documents itself.
   */
  readonly metrics?: PowertoolsMetricsLike;
  /** CloudWatch namespace of the documents written (not with `metrics`). @default 'CacheVault' */
  readonly namespace?: string;
  /** Dimensions of every document written (not with `metrics`), e.g. `{ Service: 'checkout' }`. @default none */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** Where a document goes, one JSON line each (not with `metrics`). @default a line on stdout */
  readonly write?: (line: string) => void;
  /**
   * Flush on this period as well (a long-running process). The timer never keeps the process
   * alive. In Lambda, call `flush()` before the handler returns instead. @default no timer
   */
  readonly flushIntervalMs?: number;
  /** Latency values kept per metric between flushes; past it a uniform sample is kept. @default 1000 */
  readonly maxSamples?: number;
  /** @default Date.now */
  readonly clock?: () => number;
}

export interface EmfExporter extends MetricsExporter {
  /** Sends what was counted since the last flush (nothing when nothing happened). */
  flush(): void;
  /** Flushes, then detaches from the cache and stops the timer. */
  stop(): void;
}

/** EMF limits (CloudWatch embedded metric format specification). */
const MAX_METRICS_PER_DOCUMENT = 100;
const MAX_VALUES_PER_METRIC = 100;
const MAX_DIMENSIONS = 30;

interface Samples {
  readonly values: number[];
  seen: number;
}

/**
 * CloudWatch metrics in the embedded metric format over a cache's events
 * (docs/integrations.md#cloudwatch-emf). Counts are summed between flushes; latencies are kept
 * as values (CloudWatch computes percentiles from them). Per-tier and per-operation metrics
 * carry the tier and operation in their names (`Hits.memory`, `Latency.dynamodb.get`), so one
 * document holds a flush whatever the tiers, and the Powertools path (one dimension set per
 * document) produces the same metrics as the plain one.
 *
 * Metric names: Hits, Misses, StaleHits, Hits.<tier>, Sets, Deletes, Expirations,
 * DecryptFailures, KeyUnavailable, DegradedWrites, Errors, Errors.<code>, BreakerOpens.<tier>,
 * BreakerCloses.<tier>, KmsCalls, KmsErrors, KmsLatency, Fallbacks, KeyRotations, ReplayQueued,
 * Replayed, ReplayDropped, Latency.<tier>.<operation>. No cache key ever becomes a metric name.
 */
export function emfMetrics(cache: CacheEventTarget, options: EmfMetricsOptions = {}): EmfExporter {
  const namespace = options.namespace ?? 'CacheVault';
  const dimensions = { ...options.dimensions };
  checkDimensions(namespace, dimensions);
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const maxSamples = options.maxSamples ?? 1_000;
  if (!Number.isInteger(maxSamples) || maxSamples < 1) throw new RangeError(`emfMetrics: maxSamples must be a positive integer, got ${maxSamples}.`);
  const clock = options.clock ?? Date.now;

  let counts = new Map<string, number>();
  let samples = new Map<string, Samples>();
  const count = (name: string, by = 1) => counts.set(name, (counts.get(name) ?? 0) + by);
  const sample = (name: string, value: number) => {
    let s = samples.get(name);
    if (s === undefined) samples.set(name, (s = { values: [], seen: 0 }));
    s.seen += 1;
    if (s.values.length < maxSamples) s.values.push(value);
    else {
      // Reservoir sampling: every value seen has the same chance to be kept.
      const slot = Math.floor(Math.random() * s.seen);
      if (slot < maxSamples) s.values[slot] = value;
    }
  };

  const flush = () => {
    const counted = [...counts].filter(([, v]) => v !== 0);
    const timed = [...samples].filter(([, s]) => s.values.length > 0);
    counts = new Map();
    samples = new Map();
    if (counted.length === 0 && timed.length === 0) return;
    if (options.metrics) {
      for (const [name, value] of counted) options.metrics.addMetric(name, 'Count', value);
      for (const [name, s] of timed) for (const v of s.values) options.metrics.addMetric(name, 'Milliseconds', v);
      return;
    }
    const items: EmfItem[] = counted.map(([name, value]) => ({ name, unit: 'Count', value }));
    for (const [name, s] of timed) {
      for (let i = 0; i < s.values.length; i += MAX_VALUES_PER_METRIC) items.push({ name, unit: 'Milliseconds', value: s.values.slice(i, i + MAX_VALUES_PER_METRIC) });
    }
    for (const doc of emfDocuments(items, namespace, dimensions, clock())) write(JSON.stringify(doc));
  };

  const exporter = subscribe(cache, {
    hit: (e) => {
      count('Hits');
      count(`Hits.${part(e.tier)}`);
      if (e.stale) count('StaleHits');
    },
    miss: () => count('Misses'),
    set: () => count('Sets'),
    delete: (e) => count('Deletes', e.removed),
    expire: () => count('Expirations'),
    decryptFailure: () => count('DecryptFailures'),
    keyUnavailable: () => count('KeyUnavailable'),
    degradedWrite: () => count('DegradedWrites'),
    error: (e) => {
      count('Errors');
      count(`Errors.${part(e.code)}`);
    },
    breakerOpen: (e) => count(`BreakerOpens.${part(e.tier)}`),
    breakerClose: (e) => count(`BreakerCloses.${part(e.tier)}`),
    operation: (e) => sample(`Latency.${part(e.tier)}.${part(e.operation)}`, e.durationMs),
    keyProviderCall: (e) => {
      if (e.provider !== 'kms') return;
      count('KmsCalls');
      if (!e.ok) count('KmsErrors');
      sample('KmsLatency', e.durationMs);
    },
    fallback: () => count('Fallbacks'),
    keyRotation: () => count('KeyRotations'),
    replayQueued: () => count('ReplayQueued'),
    replayed: (e) => count('Replayed', e.count),
    replayDropped: (e) => count('ReplayDropped', e.count),
  });

  let timer: NodeJS.Timeout | undefined;
  if (options.flushIntervalMs !== undefined) {
    if (!(options.flushIntervalMs > 0)) throw new RangeError(`emfMetrics: flushIntervalMs must be a positive number of milliseconds, got ${options.flushIntervalMs}.`);
    timer = setInterval(flush, options.flushIntervalMs);
    timer.unref();
  }
  return {
    flush,
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      exporter.stop();
      flush();
    },
  };
}

interface EmfItem {
  readonly name: string;
  readonly unit: 'Count' | 'Milliseconds';
  readonly value: number | number[];
}

/**
 * Packs metric values into EMF documents: at most 100 metrics per document and 100 values per
 * metric, a metric name at most once per document (a long latency series spans documents).
 */
export function emfDocuments(items: readonly EmfItem[], namespace: string, dimensions: Readonly<Record<string, string>>, timestamp: number): Record<string, unknown>[] {
  const docs: { names: Set<string>; items: EmfItem[] }[] = [];
  for (const item of items) {
    let doc = docs.find((d) => d.items.length < MAX_METRICS_PER_DOCUMENT && !d.names.has(item.name));
    if (doc === undefined) docs.push((doc = { names: new Set(), items: [] }));
    doc.names.add(item.name);
    doc.items.push(item);
  }
  return docs.map((doc) => ({
    _aws: {
      Timestamp: Math.floor(timestamp),
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [Object.keys(dimensions)], Metrics: doc.items.map((i) => ({ Name: i.name, Unit: i.unit })) }],
    },
    ...dimensions,
    ...Object.fromEntries(doc.items.map((i) => [i.name, i.value])),
  }));
}

/** A tier, operation or error code as part of a metric name: letters, digits, `_` and `-` only. */
function part(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || '_';
}

function checkDimensions(namespace: string, dimensions: Record<string, string>): void {
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 255) {
    throw new TypeError(`emfMetrics: namespace must be 1-255 characters, got ${JSON.stringify(namespace)}.`);
  }
  const keys = Object.keys(dimensions);
  if (keys.length > MAX_DIMENSIONS) throw new RangeError(`emfMetrics: at most ${MAX_DIMENSIONS} dimensions, got ${keys.length}.`);
  for (const [key, value] of Object.entries(dimensions)) {
    if (key.length === 0 || key === '_aws' || typeof value !== 'string' || value.length === 0) {
      throw new TypeError(`emfMetrics: dimension ${JSON.stringify(key)} must have a non-empty name other than _aws and a non-empty string value.`);
    }
    if (/^[A-Z][A-Za-z]*(\.|$)/.test(key) && METRIC_ROOTS.has(key.split('.')[0]!)) {
      throw new TypeError(`emfMetrics: dimension ${JSON.stringify(key)} would collide with a metric of the same name.`);
    }
  }
}

const METRIC_ROOTS = new Set([
  'Hits', 'Misses', 'StaleHits', 'Sets', 'Deletes', 'Expirations', 'DecryptFailures', 'KeyUnavailable', 'DegradedWrites', 'Errors',
  'BreakerOpens', 'BreakerCloses', 'KmsCalls', 'KmsErrors', 'KmsLatency', 'Fallbacks', 'KeyRotations', 'ReplayQueued', 'Replayed',
  'ReplayDropped', 'Latency',
]);
