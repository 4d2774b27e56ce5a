import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { KeyManager } from '../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../client/keys/keyringKeyProvider';
import { KmsKeyProvider } from '../../client/keys/kmsKeyProvider';
import { LATENCY_BUCKETS_MS, otelMetrics } from '../../client/exports/otel';
import { ManualClock } from '../contract/backendContract';
import { CollectingLogger, FakeKeyring, MemoryManifestStore, fakeKms } from './keys/fakes';
import { SharedMemoryBackend } from '../support/sharedMemoryBackend';

/** A cache whose key manager reports on the cache's own events, as createCache wires it. */
class KeyedCache extends CacheManager {
  attachKeys(keys: KeyManager): void {
    keys.attachEvents(this.eventSink);
  }
}

function metricsReader() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  /** Every metric of the latest export, by name. */
  const collect = async (): Promise<Map<string, MetricData>> => {
    exporter.reset();
    await reader.forceFlush();
    const out = new Map<string, MetricData>();
    for (const resource of exporter.getMetrics()) for (const scope of resource.scopeMetrics) for (const m of scope.metrics) out.set(m.descriptor.name, m);
    return out;
  };
  return { provider, collect };
}

/** The value of the data point whose attributes include `attrs` (exactly one must match). */
function point<T = number>(metric: MetricData | undefined, attrs: Record<string, unknown> = {}): T {
  if (metric === undefined) throw new Error('metric not exported');
  const matches = (metric.dataPoints as DataPoint<unknown>[]).filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  if (matches.length !== 1) throw new Error(`${metric.descriptor.name}: ${matches.length} points match ${JSON.stringify(attrs)}: ${JSON.stringify(metric.dataPoints.map((p) => p.attributes))}`);
  return matches[0]!.value as T;
}

describe('cachevault/otel', () => {
  it('exports hits and misses per tier, latency per tier and operation, errors by code, breaker state and KMS calls for a scripted run', async () => {
    const { provider, collect } = metricsReader();
    const clock = new ManualClock(1_700_000_000_000);
    const l0 = new MemoryBackend({ clock: clock.read });
    const l1 = new SharedMemoryBackend({ clock: clock.read });
    const kms = fakeKms();
    const keys = await KeyManager.open({
      providers: [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client }), new KeyringKeyProvider({ entryFactory: new FakeKeyring().factory })],
      store: new MemoryManifestStore(),
      app: 'shop',
      environment: 'dev',
      clock: clock.read,
      logger: new CollectingLogger(),
    });
    const cache = new KeyedCache({
      backend: new HybridBackend({
        clock: clock.read,
        breakerFailureThreshold: 2,
        durableReplays: false,
        tiers: [
          { name: 'memory', backend: l0 },
          { name: 'shared', backend: l1 },
        ],
      }),
      encryption: new AeadEncryption({ keys }),
      clock: clock.read,
    });
    cache.attachKeys(keys);
    const exporter = otelMetrics(cache, { meter: provider.getMeter('test'), attributes: { 'service.name': 'checkout' } });

    await cache.set('a', { n: 1 }); // first data key: KMS GenerateDataKey (+ a keyring wrapping)
    await cache.get('a'); // memory hit
    await l0.clear();
    await cache.get('a'); // shared hit, promoted; the key is cached: no KMS call
    await cache.get('b'); // miss
    l1.down = true;
    await cache.set('c', 1); // shared fails
    await cache.set('d', 1); // shared fails again: breaker opens
    await cache.set('e', 1); // skipped by the open breaker
    await keys.rotate(); // KMS GenerateDataKey

    const m = await collect();
    expect(point(m.get('cachevault.cache.hits'), { 'cachevault.tier': 'memory', 'cachevault.stale': false })).toBe(1);
    expect(point(m.get('cachevault.cache.hits'), { 'cachevault.tier': 'shared' })).toBe(1);
    expect(point(m.get('cachevault.cache.misses'))).toBe(1);
    expect(point(m.get('cachevault.cache.sets'))).toBe(4);
    expect(point(m.get('cachevault.cache.degraded_writes'))).toBe(3);
    expect(point(m.get('cachevault.errors'), { 'error.code': 'BACKEND_ERROR', 'cachevault.tier': 'shared', 'cachevault.operation': 'set' })).toBe(2);
    expect(point(m.get('cachevault.errors'), { 'error.code': 'TIER_UNAVAILABLE', 'cachevault.tier': 'shared' })).toBe(1);
    expect(point(m.get('cachevault.breaker.state'), { 'cachevault.tier': 'shared' })).toBe(2);
    expect(point(m.get('cachevault.breaker.state'), { 'cachevault.tier': 'memory' })).toBe(0);
    expect(point(m.get('cachevault.breaker.transitions'), { 'cachevault.tier': 'shared', 'cachevault.breaker.state': 'open' })).toBe(1);
    expect(point(m.get('cachevault.kms.calls'), { 'cachevault.operation': 'generate', 'cachevault.outcome': 'ok' })).toBe(2);
    expect(point(m.get('cachevault.key.rotations'))).toBe(1);

    const memoryGets = point<Histogram>(m.get('cachevault.operation.duration'), { 'cachevault.tier': 'memory', 'cachevault.operation': 'get' });
    const sharedGets = point<Histogram>(m.get('cachevault.operation.duration'), { 'cachevault.tier': 'shared', 'cachevault.operation': 'get' });
    const sharedSets = point<Histogram>(m.get('cachevault.operation.duration'), { 'cachevault.tier': 'shared', 'cachevault.operation': 'set', 'cachevault.outcome': 'error' });
    expect([memoryGets.count, sharedGets.count, sharedSets.count]).toEqual([3, 2, 2]);
    expect(memoryGets.buckets.boundaries).toEqual(LATENCY_BUCKETS_MS);
    expect(m.get('cachevault.operation.duration')!.descriptor.unit).toBe('ms');
    // The app's attributes are on every point; cache keys are on none.
    for (const metric of m.values()) {
      for (const p of metric.dataPoints) {
        expect(p.attributes['service.name']).toBe('checkout');
        expect(Object.values(p.attributes)).not.toContain('a');
      }
    }

    exporter.stop();
    await cache.get('a');
    expect(point((await collect()).get('cachevault.cache.hits'), { 'cachevault.tier': 'memory' })).toBe(1);
    await keys.close();
    await provider.shutdown();
  });

  it('uses the global meter provider when given no meter, and counts by namespace when asked', async () => {
    const { provider, collect } = metricsReader();
    metrics.setGlobalMeterProvider(provider);
    try {
      const cache = new CacheManager({ backend: new MemoryBackend() });
      otelMetrics(cache, { namespaceAttribute: true });
      await cache.set('a', 1);
      await cache.namespace('users').get('a');
      await cache.get('a');
      const m = await collect();
      expect(point(m.get('cachevault.cache.hits'), { 'cachevault.namespace': 'default', 'cachevault.tier': 'memory' })).toBe(1);
      expect(point(m.get('cachevault.cache.misses'), { 'cachevault.namespace': 'users' })).toBe(1);
    } finally {
      metrics.disable();
      await provider.shutdown();
    }
  });
});
