/**
 * `health`: every few minutes (EventBridge Scheduler) opens the cache as a client would and runs
 * the client's `checkCacheHealth`: the backend's canary round trip and table checks, then the key
 * checks (active key through KMS, a sealed round trip, key ages). Publishes success,
 * the latency of each step and the table's item count. A failed check is reported through the
 * metric the health alarm watches, not thrown: a retry minutes later is the next scheduled run.
 */
import type { Context } from 'aws-lambda';
import { performance } from 'node:perf_hooks';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { backendRegistry } from '../client/backends/registry';
import { describeError } from '../client/describeError';
import { createCache, type CacheVault } from '../client/createCache';
import { checkCacheHealth } from '../client/health/cacheHealth';
import type { HealthCheckStep } from '../client/types';
import { MetricDimensions, MetricNames } from './metricNames';
import { createObservability, withObservability, type Observability } from './middleware/observability';

export interface HealthResult {
  readonly healthy: boolean;
  readonly latencyMs: number;
  readonly checks: readonly HealthCheckStep[];
  /** Approximate (DynamoDB refreshes it about every six hours). */
  readonly itemCount?: number;
  readonly activeKeyId?: string;
}

async function timed(name: string, fn: () => Promise<string | undefined>): Promise<HealthCheckStep> {
  const t0 = performance.now();
  try {
    const problem = await fn();
    return { name, ok: problem === undefined, latencyMs: performance.now() - t0, detail: problem };
  } catch (error) {
    return { name, ok: false, latencyMs: performance.now() - t0, detail: describeError(error) };
  }
}

/** DynamoDB's approximate item count of the cache table; undefined (and a warning) when unreadable. */
async function tableItemCount(vault: CacheVault, obs: Observability): Promise<number | undefined> {
  // Loaded here, like the client loads its backends: importing the DynamoDB SDK at module load
  // would add to every cold start's import time before the handler even runs.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { createDynamoDBClient } = require('../client/dynamodb/dynamodbClient') as typeof import('../client/dynamodb/dynamodbClient');
  const { TableManager } = require('../client/dynamodb/tableManager') as typeof import('../client/dynamodb/tableManager');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const { dynamodb } = vault.config;
  const client = createDynamoDBClient({ region: dynamodb.region, endpoint: dynamodb.endpoint, requestTimeoutMs: dynamodb.requestTimeoutMs, maxAttempts: dynamodb.maxAttempts });
  try {
    return (await new TableManager({ client, tableName: dynamodb.tableName }).describe()).itemCount;
  } catch (error) {
    obs.logger.warn('could not read the table item count', { error: describeError(error) });
    return undefined;
  } finally {
    client.destroy();
  }
}

export async function runHealthCheck(obs: Observability, env: NodeJS.ProcessEnv = process.env): Promise<HealthResult> {
  const started = performance.now();
  const checks: HealthCheckStep[] = [];
  let itemCount: number | undefined;
  let activeKeyId: string | undefined;
  let vault: CacheVault | undefined;
  const open = await timed('open', async () => {
    // The key checks below report a missing data key with what failed; opening must not stop at
    // it, or an outage of KMS would hide the state of the table too.
    vault = await createCache({ env, logger: obs.clientLogger, verifyKeys: false });
    return undefined;
  });
  checks.push(open);
  if (vault) {
    const v: CacheVault = vault;
    try {
      checks.push(...(await checkCacheHealth(v)).checks);
      activeKeyId = v.keys?.status().activeKeyId;
      if (backendRegistry.uses(v.config, 'dynamodb')) itemCount = await tableItemCount(v, obs);
    } finally {
      await v.close();
    }
  }

  const result: HealthResult = {
    healthy: checks.every((c) => c.ok),
    latencyMs: performance.now() - started,
    checks,
    itemCount,
    activeKeyId,
  };
  obs.metrics.addMetric(MetricNames.healthCheckSucceeded, MetricUnit.Count, result.healthy ? 1 : 0);
  obs.metrics.addMetric(MetricNames.healthCheckLatency, MetricUnit.Milliseconds, result.latencyMs);
  if (itemCount !== undefined) obs.metrics.addMetric(MetricNames.cacheItemCount, MetricUnit.Count, itemCount);
  for (const check of checks) {
    if (check.latencyMs === undefined) continue;
    const metric = obs.metrics.singleMetric();
    metric.addDimension(MetricDimensions.step, check.name);
    metric.addMetric(MetricNames.healthStepLatency, MetricUnit.Milliseconds, check.latencyMs);
  }
  if (result.healthy) obs.logger.info('cache healthy', { checks, itemCount, activeKeyId });
  else obs.logger.error('cache unhealthy', { failed: checks.filter((c) => !c.ok), checks });
  return result;
}

/** The function's logger and metrics (exported for tests). */
export const observability = createObservability('cachevault-health');

export const handler = withObservability<unknown, HealthResult>((_event: unknown, _context: Context) => runHealthCheck(observability), observability);
