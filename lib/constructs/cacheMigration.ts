import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { MetricNames } from '../../lambda/metricNames';
import { grantKeyVia, grantManifestMacSeal, grantManifestRead, grantTableReadWrite, grantUnwrapDataKeys, type CacheResources } from './cacheAccess';
import { CacheFunction, type OperationsFunctionSettings } from './cacheFunction';

export interface CacheMigrationProps extends CacheResources, OperationsFunctionSettings {
  readonly timeout: Duration;
  /** Minutes of no progress while the function keeps being invoked before the stall alarm. */
  readonly stallMinutes: number;
  /** Concurrent executions reserved (and capped), so a job cannot starve or be starved by the account's other functions. */
  readonly reservedConcurrency: number;
}

/**
 * The `migrate` Lambda (migration and re-encryption jobs, resumable by re-invoking itself with
 * its cursor) and the alarm that fires when a job keeps running without making progress.
 */
export class CacheMigration extends Construct {
  public readonly function: CacheFunction;
  public readonly itemsProcessed: cloudwatch.Metric;
  public readonly stalledAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CacheMigrationProps) {
    super(scope, id);
    const functionName = `${props.app}-${props.envName}-migrate`;
    this.function = new CacheFunction(this, 'Migrate', {
      name: 'migrate',
      functionName,
      app: props.app,
      envName: props.envName,
      description: 'cachevault: resumable migration and re-encryption jobs',
      timeout: props.timeout,
      memorySize: 1024,
      logRetentionDays: props.logRetentionDays,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: props.clientEnvironment,
      alarms: props.alarms,
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    const role = this.function.role;
    grantTableReadWrite(role, props.table, props.storageKey);
    grantManifestRead(role, props.manifestSecret, props.storageKey);
    // A complete re-encryption retires the versions it drained, which writes a new manifest
    // version (the current stage only: no UpdateSecretVersionStage, no new data keys).
    iam.Grant.addToPrincipal({ grantee: role, actions: ['secretsmanager:PutSecretValue'], resourceArns: [props.manifestSecret.secretArn] });
    grantKeyVia(role, props.storageKey, 'secretsmanager', ['kms:GenerateDataKey']);
    grantUnwrapDataKeys(role, props.wrappingKey, props.app, props.envName);
    // Opening the manifest verifies its MAC; retiring drained versions writes and seals a new one.
    grantManifestMacSeal(role, props.manifestMacKey);
    // Continuing a job re-invokes this function. Its ARN is spelled out from the fixed name:
    // referencing `fn.functionArn` from its own role's policy would be a dependency cycle.
    iam.Grant.addToPrincipal({
      grantee: role,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [
        Stack.of(this).formatArn({ service: 'lambda', resource: 'function', resourceName: functionName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      ],
    });

    const period = Duration.minutes(5);
    this.itemsProcessed = this.function.metric(MetricNames.migrationItemsProcessed, { statistic: cloudwatch.Stats.SUM, period });
    const invocations = this.function.fn.metricInvocations({ statistic: cloudwatch.Stats.SUM, period });
    // Stalled = the function keeps running (a job is in flight) but no entry moves.
    const stalled = new cloudwatch.MathExpression({
      label: 'Re-encryption stalled (invoked, nothing processed)',
      expression: 'IF(invocations > 0 AND FILL(processed, 0) == 0, 1, 0)',
      usingMetrics: { invocations, processed: this.itemsProcessed },
      period,
    });
    const periods = Math.max(1, Math.ceil(props.stallMinutes / 5));
    this.stalledAlarm = props.alarms.notify(
      new cloudwatch.Alarm(this, 'StalledAlarm', {
        alarmDescription: `A migration or re-encryption job ran for ${props.stallMinutes} minutes without processing an entry. See docs/operations.md#re-encryption-stalled.`,
        metric: stalled,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}
