/**
 * `cachevault/emf`: CloudWatch metrics in the embedded metric format over a cache's events,
 * written as JSON lines, or handed to a Powertools Metrics instance in Lambda. Powertools is the
 * app's (optional peer) dependency; this entry never loads it.
 */
export { emfMetrics, type EmfExporter, type EmfMetricsOptions, type PowertoolsMetricsLike } from '../integrations/emfMetrics';
export type { CacheEventTarget, MetricsExporter } from '../integrations/eventTarget';
