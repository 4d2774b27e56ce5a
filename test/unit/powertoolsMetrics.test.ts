import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { CacheStatsMetrics } from '../../client/exports/powertools';

describe('CacheStatsMetrics', () => {
  test('publishes what each counter grew by since the last publish, zeros included', async () => {
    const cache = new CacheManager({ backend: new MemoryBackend() });
    const added: [string, string, number][] = [];
    const metrics = new CacheStatsMetrics({ addMetric: (name, unit, value) => added.push([name, unit, value]) });
    await cache.set('a', 1);
    await cache.get('a');
    await cache.get('missing');
    metrics.publish(cache);
    const first = Object.fromEntries(added.map(([n, , v]) => [n, v]));
    expect(first).toMatchObject({ CacheHits: 1, CacheMisses: 1, CacheSets: 1, CacheErrors: 0, CacheDecryptFailures: 0 });
    expect(added.find(([n]) => n === 'CacheBytesWritten')![1]).toBe('Bytes');
    added.length = 0;
    await cache.get('a');
    metrics.publish(cache);
    expect(Object.fromEntries(added.map(([n, , v]) => [n, v]))).toMatchObject({ CacheHits: 1, CacheMisses: 0, CacheSets: 0 });
  });

  test('refuses something that is not a Metrics instance', () => {
    expect(() => new CacheStatsMetrics({} as never)).toThrow(/Powertools Metrics instance/);
  });
});
