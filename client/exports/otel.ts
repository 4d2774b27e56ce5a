/**
 * `cachevault/otel`: OpenTelemetry metrics over a cache's events. `@opentelemetry/api` is an
 * optional peer dependency, loaded only when no meter is passed; the root entry never loads it.
 */
export { otelMetrics, LATENCY_BUCKETS_MS, BREAKER_STATE_VALUE, type OtelMetricsOptions } from '../integrations/otelMetrics';
export type { CacheEventTarget, MetricsExporter } from '../integrations/eventTarget';
