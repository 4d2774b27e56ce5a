import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, MetricNames } from '../../lambda/metricNames';
import type { CacheFunction } from './cacheFunction';

export interface OperationsDashboardProps {
  readonly dashboardName: string;
  readonly envName: string;
  readonly functions: readonly CacheFunction[];
  readonly alarms: readonly cloudwatch.IAlarm[];
  readonly healthSucceeded: cloudwatch.IMetric;
  readonly healthService: string;
  readonly tableThrottles: cloudwatch.IMetric;
  readonly tableSystemErrors: cloudwatch.IMetric;
  readonly rotationFailures: cloudwatch.IMetric;
  readonly migration: CacheFunction;
}

/** One CloudWatch dashboard with every metric the alarms watch, plus the alarms' states. */
export class OperationsDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const health = props.functions.find((f) => f.serviceName === props.healthService);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(24),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Health check succeeded (min)', left: [props.healthSucceeded], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Health check latency by step (ms)',
        left: [
          new cloudwatch.MathExpression({
            label: '',
            expression: `SEARCH('{${METRICS_NAMESPACE},environment,service,step} MetricName="${MetricNames.healthStepLatency}" environment="${props.envName}"', 'Average', 300)`,
            period,
          }),
          ...(health ? [health.metric(MetricNames.healthCheckLatency, { statistic: cloudwatch.Stats.AVERAGE })] : []),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Cache table items',
        left: health ? [health.metric(MetricNames.cacheItemCount, { statistic: cloudwatch.Stats.MAXIMUM })] : [],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Lambda errors',
        left: props.functions.map((f) => f.fn.metricErrors({ period, label: f.serviceName })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda throttles',
        left: props.functions.map((f) => f.fn.metricThrottles({ period, label: f.serviceName })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda duration p99 (ms)',
        left: props.functions.map((f) => f.fn.metricDuration({ period, statistic: cloudwatch.Stats.p(99), label: f.serviceName })),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'DynamoDB throttled requests', left: [props.tableThrottles], width: 6 }),
      new cloudwatch.GraphWidget({ title: 'DynamoDB system errors', left: [props.tableSystemErrors], width: 6 }),
      new cloudwatch.GraphWidget({ title: 'Key rotation failures', left: [props.rotationFailures], width: 6 }),
      new cloudwatch.GraphWidget({
        title: 'Migration / re-encryption progress',
        left: [
          props.migration.metric(MetricNames.migrationItemsProcessed, { statistic: cloudwatch.Stats.SUM, label: 'processed' }),
          props.migration.metric(MetricNames.migrationItemsRewritten, { statistic: cloudwatch.Stats.SUM, label: 'rewritten' }),
          props.migration.metric(MetricNames.migrationItemsFailed, { statistic: cloudwatch.Stats.SUM, label: 'failed' }),
        ],
        width: 6,
      }),
    );
  }
}
