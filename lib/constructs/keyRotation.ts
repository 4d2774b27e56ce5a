import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { MetricNames } from '../../lambda/metricNames';
import { grantGenerateDataKeys, grantKeyVia, grantManifestMacSeal, grantManifestRead, grantUnwrapDataKeys, type CacheResources } from './cacheAccess';
import { CacheFunction, type OperationsFunctionSettings } from './cacheFunction';

/** The table is not among its resources: rotation touches only the key manifest and the keys. */
export interface KeyRotationProps extends Omit<CacheResources, 'table'>, OperationsFunctionSettings {
  /** The function started (asynchronously) to re-encrypt entries after a rotation. */
  readonly migrateFunction: lambda.IFunction;
  readonly rotationDays: number;
  /** Concurrent executions reserved (and capped): one rotation at a time. */
  readonly reservedConcurrency: number;
}

/**
 * The `rotate-keys` Lambda: the Secrets Manager rotation function of the key-manifest secret,
 * its schedule and its failure alarm.
 */
export class KeyRotation extends Construct {
  public readonly function: CacheFunction;
  public readonly rotationSchedule: secretsmanager.CfnRotationSchedule;
  public readonly failures: cloudwatch.Metric;
  public readonly failureAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: KeyRotationProps) {
    super(scope, id);
    this.function = new CacheFunction(this, 'RotateKeys', {
      name: 'rotate-keys',
      app: props.app,
      envName: props.envName,
      description: 'cachevault: Secrets Manager rotation of the key manifest (new data key version), then re-encryption',
      timeout: Duration.minutes(2),
      logRetentionDays: props.logRetentionDays,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: { ...props.clientEnvironment, CACHEVAULT_MIGRATE_FUNCTION_NAME: props.migrateFunction.functionName },
      alarms: props.alarms,
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    const role = this.function.role;

    // What a rotation function needs on its secret, action by action. The L2 RotationSchedule
    // would also grant kms:ReEncrypt* / kms:GenerateDataKey* and GetRandomPassword on "*".
    grantManifestRead(role, props.manifestSecret, props.storageKey);
    iam.Grant.addToPrincipal({
      grantee: role,
      actions: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
      resourceArns: [props.manifestSecret.secretArn],
    });
    // Writing a secret version makes Secrets Manager generate a data key under the storage key.
    grantKeyVia(role, props.storageKey, 'secretsmanager', ['kms:GenerateDataKey']);
    grantGenerateDataKeys(role, props.wrappingKey, props.app, props.envName);
    grantUnwrapDataKeys(role, props.wrappingKey, props.app, props.envName);
    // createSecret verifies the current manifest's MAC and seals the pending one; setSecret and
    // testSecret verify the pending one.
    grantManifestMacSeal(role, props.manifestMacKey);
    // Only the unqualified function: grantInvoke would add every version and alias (`arn:*`).
    iam.Grant.addToPrincipal({ grantee: role, actions: ['lambda:InvokeFunction'], resourceArns: [props.migrateFunction.functionArn] });

    // Only for rotations of this manifest secret: Secrets Manager acting for another secret (of
    // this account or any other) cannot invoke the function.
    this.function.fn.addPermission('InvokedBySecretsManager', {
      principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
      sourceAccount: Stack.of(this).account,
      sourceArn: props.manifestSecret.secretArn,
    });
    this.rotationSchedule = new secretsmanager.CfnRotationSchedule(this, 'Schedule', {
      secretId: props.manifestSecret.secretArn,
      rotationLambdaArn: this.function.fn.functionArn,
      rotationRules: { scheduleExpression: `rate(${props.rotationDays} days)` },
    });
    // Secrets Manager checks that it may invoke the function when the schedule is created.
    this.rotationSchedule.node.addDependency(this.function.fn.node.findChild('InvokedBySecretsManager'));
    // Acknowledged here, where the schedule is made, so a manifest secret nobody rotates (no
    // KeyRotation) still gets the finding.
    Validations.of(props.manifestSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        `Rotation is scheduled: the KeyRotation construct ${this.node.path} attaches a rotation schedule to this secret ` +
        `(the rotate-keys Lambda, every ${props.rotationDays} days). cdk-nag looks for rotation schedules only in the secret's own stack, ` +
        'and the schedule may live in another (the operations stack).',
    });

    this.failures = this.function.metric(MetricNames.keyRotationFailures, { statistic: cloudwatch.Stats.SUM });
    this.failureAlarm = props.alarms.notify(
      new cloudwatch.Alarm(this, 'RotationFailedAlarm', {
        alarmDescription:
          'A key-manifest rotation step failed; the new data key version is not active. See docs/operations.md#key-rotation-failed.',
        metric: this.failures,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}
