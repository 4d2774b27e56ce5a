import { Metrics } from '@aws-lambda-powertools/metrics';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { emfMetrics } from '../../client/exports/emf';
import { emfProblems } from '../support/emfSpec';

function collector() {
  const lines: string[] = [];
  const docs = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, docs, write: (line: string) => void lines.push(line) };
}

describe('cachevault/emf', () => {
  it('writes one valid EMF document per flush with what happened since the last one', async () => {
    const cache = new CacheManager({ backend: new MemoryBackend() });
    const out = collector();
    const emf = emfMetrics(cache, { namespace: 'Shop/Cache', dimensions: { Service: 'checkout' }, write: out.write, clock: () => 1_700_000_000_123.7 });
    await cache.set('user:1', { name: 'Ada' });
    await cache.get('user:1');
    await cache.get('user:1');
    await cache.get('user:2');
    await cache.delete('user:1');
    emf.flush();
    emf.flush(); // nothing happened since: nothing written
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).not.toContain('\n');
    const [doc] = out.docs();
    expect(emfProblems(doc)).toEqual([]);
    expect(doc!._aws).toEqual({
      Timestamp: 1_700_000_000_123,
      CloudWatchMetrics: [{ Namespace: 'Shop/Cache', Dimensions: [['Service']], Metrics: expect.any(Array) }],
    });
    expect(doc).toMatchObject({ Service: 'checkout', Hits: 2, 'Hits.memory': 2, Misses: 1, Sets: 1, Deletes: 1 });
    const metrics = (doc!._aws as { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] }).CloudWatchMetrics[0]!.Metrics;
    expect(metrics).toContainEqual({ Name: 'Hits', Unit: 'Count' });
    expect(metrics).toContainEqual({ Name: 'Latency.memory.get', Unit: 'Milliseconds' });
    expect(doc!['Latency.memory.get']).toHaveLength(3);
    // No cache key anywhere in the document.
    expect(out.lines[0]).not.toMatch(/user:/);

    await cache.get('user:1');
    emf.flush();
    expect(out.docs()[1]).toMatchObject({ Misses: 1 });
    expect(out.docs()[1]!.Hits).toBeUndefined();
  });

  it('splits a long latency series over documents of at most 100 values each, every one valid', async () => {
    const cache = new CacheManager({ backend: new MemoryBackend() });
    const out = collector();
    const emf = emfMetrics(cache, { write: out.write, maxSamples: 250 });
    await cache.set('k', 1);
    for (let i = 0; i < 250; i++) await cache.get('k');
    emf.flush();
    const docs = out.docs();
    expect(docs.map((d) => (d['Latency.memory.get'] as number[]).length)).toEqual([100, 100, 50]);
    for (const doc of docs) expect(emfProblems(doc)).toEqual([]);
    expect(docs[0]).toMatchObject({ Hits: 250 });
    expect((docs[0]!._aws as { CloudWatchMetrics: { Dimensions: unknown }[] }).CloudWatchMetrics[0]!.Dimensions).toEqual([[]]);
  });

  it('keeps at most maxSamples latency values between flushes, however many calls there were', async () => {
    const cache = new CacheManager({ backend: new MemoryBackend() });
    const out = collector();
    const emf = emfMetrics(cache, { write: out.write, maxSamples: 10 });
    await cache.set('k', 1);
    for (let i = 0; i < 500; i++) await cache.get('k');
    emf.flush();
    expect(out.docs()[0]).toMatchObject({ Hits: 500 });
    expect(out.docs()[0]!['Latency.memory.get']).toHaveLength(10);
  });

  it('hands the values to a Powertools Metrics instance, which publishes them with its namespace and service', async () => {
    const before = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const metrics = new Metrics({ namespace: 'Shop', serviceName: 'checkout' });
      const cache = new CacheManager({ backend: new MemoryBackend() });
      const emf = emfMetrics(cache, { metrics });
      await cache.set('a', 1);
      await cache.get('a');
      await cache.get('b');
      emf.flush(); // before the handler's metrics are published (Powertools' logMetrics does that after)
      metrics.addMetric('OrdersPlaced', 'Count', 1);
      metrics.publishStoredMetrics();
      const docs = written.join('').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(docs).toHaveLength(1);
      expect(emfProblems(docs[0])).toEqual([]);
      expect(docs[0]).toMatchObject({ service: 'checkout', Hits: 1, 'Hits.memory': 1, Misses: 1, Sets: 1, OrdersPlaced: 1 });
      expect((docs[0]!._aws as { CloudWatchMetrics: { Namespace: string }[] }).CloudWatchMetrics[0]!.Namespace).toBe('Shop');
    } finally {
      spy.mockRestore();
      process.env.POWERTOOLS_METRICS_DISABLED = before;
    }
  });

  it('flushes on its interval without holding the process open, and stop() flushes and detaches', async () => {
    jest.useFakeTimers();
    try {
      const cache = new CacheManager({ backend: new MemoryBackend() });
      const out = collector();
      const emf = emfMetrics(cache, { write: out.write, flushIntervalMs: 60_000 });
      await cache.get('a');
      jest.advanceTimersByTime(60_000);
      expect(out.docs().map((d) => d.Misses)).toEqual([1]);
      await cache.get('a');
      emf.stop();
      expect(out.docs().map((d) => d.Misses)).toEqual([1, 1]);
      await cache.get('a');
      jest.advanceTimersByTime(120_000);
      emf.flush();
      expect(out.lines).toHaveLength(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('refuses dimensions EMF cannot carry and a namespace out of range', () => {
    const cache = new CacheManager({ backend: new MemoryBackend() });
    expect(() => emfMetrics(cache, { dimensions: { _aws: 'x' } })).toThrow(/dimension "_aws"/);
    expect(() => emfMetrics(cache, { dimensions: { Hits: 'x' } })).toThrow(/collide/);
    expect(() => emfMetrics(cache, { dimensions: { Service: '' } })).toThrow(/non-empty/);
    expect(() => emfMetrics(cache, { namespace: '' })).toThrow(/namespace/);
    expect(() => emfMetrics(cache, { dimensions: Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`d${i}`, 'v'])) })).toThrow(/at most 30/);
  });
});
