/* global console */
// OpenTelemetry metrics for a cachevault cache: `node examples/otel/metrics.mjs`.
//
// In an app, pass the MeterProvider your OpenTelemetry setup already has (the NodeSDK's, with an
// OTLP or Prometheus exporter), or nothing at all to use the global one. Here an in-memory
// exporter stands in for it, so the script can print what was recorded.
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createCache } from 'cachevault';
import { otelMetrics } from 'cachevault/otel';

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
const meterProvider = new MeterProvider({ readers: [reader] });

const cache = await createCache({ backend: 'memory', audit: { enabled: false } });
const metrics = otelMetrics(cache, { meterProvider, attributes: { 'service.name': 'checkout' } });

await cache.set('user:42', { name: 'Ada' });
await cache.get('user:42'); // hit
await cache.get('user:42'); // hit
await cache.get('user:43'); // miss
await cache.wrap('report:today', () => ({ total: 3 })); // miss, then a set

await reader.forceFlush();
const recorded = new Map();
for (const resource of exporter.getMetrics()) for (const scope of resource.scopeMetrics) for (const m of scope.metrics) recorded.set(m.descriptor.name, m);
const total = (name) => (recorded.get(name)?.dataPoints ?? []).reduce((sum, p) => sum + (typeof p.value === 'number' ? p.value : p.value.count), 0);

const hits = total('cachevault.cache.hits');
const misses = total('cachevault.cache.misses');
console.log(`hits=${hits} misses=${misses} hitRatio=${(hits / (hits + misses)).toFixed(2)} sets=${total('cachevault.cache.sets')} timedCalls=${total('cachevault.operation.duration')}`);

metrics.stop();
await cache.close();
await meterProvider.shutdown();
