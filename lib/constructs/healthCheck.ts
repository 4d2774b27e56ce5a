import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { MetricNames } from '../../lambda/metricNames';
import { grantHealthCheckTable, grantManifestMacVerify, grantManifestRead, grantUnwrapDataKeys, type CacheResources } from './cacheAccess';
import { CacheFunction, type OperationsFunctionSettings } from './cacheFunction';

export interface HealthCheckProps extends CacheResources, OperationsFunctionSettings {
  readonly everyMinutes: number;
}

/**
 * The `health` Lambda, run by EventBridge Scheduler, and the alarm that fires when it reports a
 * failure or stops reporting at all.
 */
export class HealthCheck extends Construct {
  public readonly function: CacheFunction;
  public readonly schedule: scheduler.Schedule;
  public readonly succeeded: cloudwatch.Metric;
  public readonly unhealthyAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: HealthCheckProps) {
    super(scope, id);
    this.function = new CacheFunction(this, 'Health', {
      name: 'health',
      app: props.app,
      envName: props.envName,
      description: 'cachevault: health check of the cache table and data keys (canary round trip)',
      timeout: Duration.seconds(60),
      logRetentionDays: props.logRetentionDays,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: props.clientEnvironment,
      alarms: props.alarms,
    });
    // Scheduler invokes asynchronously; Lambda's own two retries would only add late checks.
    this.function.fn.configureAsyncInvoke({ retryAttempts: 0 });
    // The canary writes, reads and deletes one entry; nothing else touches the table.
    grantHealthCheckTable(this.function.role, props.table, props.storageKey);
    grantManifestRead(this.function.role, props.manifestSecret, props.storageKey);
    grantUnwrapDataKeys(this.function.role, props.wrappingKey, props.app, props.envName);
    // The key checks open the manifest, so they verify its MAC; health never writes one.
    grantManifestMacVerify(this.function.role, props.manifestMacKey);

    const period = Duration.minutes(props.everyMinutes);
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: `cachevault ${props.app}/${props.envName}: health check every ${props.everyMinutes} minutes`,
      schedule: scheduler.ScheduleExpression.rate(period),
      // A late check is worthless: the next one is minutes away, so no retries.
      target: new targets.LambdaInvoke(this.function.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(props.everyMinutes) }),
    });

    // The scheduler's role is a stack-level singleton, so the acknowledgement names exactly the
    // one finding it produces for this function.
    const fnLogicalId = Stack.of(this).getLogicalId(this.function.fn.node.defaultChild as lambda.CfnFunction);
    Validations.of(Stack.of(this)).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${fnLogicalId}.Arn>:*]`,
      reason:
        "aws-scheduler-targets' LambdaInvoke grants lambda:InvokeFunction on the health function and its versions " +
        '(`<arn>:*`). The wildcard spans versions and aliases of this one function only, and the schedule invokes the unqualified ARN.',
    });

    this.succeeded = this.function.metric(MetricNames.healthCheckSucceeded, { statistic: cloudwatch.Stats.MINIMUM, period });
    // Missing data is breaching: a health check that stopped running (schedule disabled, Lambda
    // crashing before it publishes, permissions revoked) must page just like a failing one.
    this.unhealthyAlarm = props.alarms.notify(
      new cloudwatch.Alarm(this, 'UnhealthyAlarm', {
        alarmDescription:
          'The cache health check failed or did not report twice in a row. See docs/operations.md#health-check-failing-or-missing.',
        metric: this.succeeded,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
  }
}
