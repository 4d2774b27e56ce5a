/**
 * Names of the custom metrics the Lambdas publish (Powertools Metrics, EMF) and the alarms and
 * dashboard read. One definition, imported by both sides; this file imports nothing so the CDK
 * app can use it without pulling handler code.
 */
export const METRICS_NAMESPACE = 'CacheVault';

/** Every metric carries these dimensions (Powertools adds `service`; handlers add `environment`). */
export const MetricDimensions = { service: 'service', environment: 'environment', step: 'step' } as const;

export const MetricNames = {
  /** 1 when a health check passed, 0 when it failed (Count). */
  healthCheckSucceeded: 'HealthCheckSucceeded',
  /** Whole health check duration (Milliseconds). */
  healthCheckLatency: 'HealthCheckLatency',
  /** Duration of one health step, with dimension `step` (Milliseconds). */
  healthStepLatency: 'HealthStepLatency',
  /** Approximate item count of the cache table (Count; DynamoDB refreshes it about every 6 h). */
  cacheItemCount: 'CacheItemCount',
  /** One per rotation step that threw (Count). */
  keyRotationFailures: 'KeyRotationFailures',
  /** One per rotation step completed, with dimension `step` (Count). */
  keyRotationSteps: 'KeyRotationSteps',
  /** Entries examined / rewritten / failed by a migration or re-encryption invocation (Count). */
  migrationItemsProcessed: 'MigrationItemsProcessed',
  migrationItemsRewritten: 'MigrationItemsRewritten',
  migrationItemsFailed: 'MigrationItemsFailed',
  /** 1 when an invocation finished its job, 0 when it handed a cursor on (Count). */
  migrationCompleted: 'MigrationCompleted',
} as const;
