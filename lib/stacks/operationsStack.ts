import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { CacheResources } from '../constructs/cacheAccess';
import type { OperationsFunctionSettings } from '../constructs/cacheFunction';
import { CacheMigration } from '../constructs/cacheMigration';
import { clientEnvironment } from '../constructs/clientEnvironment';
import { HealthCheck } from '../constructs/healthCheck';
import { KeyRotation } from '../constructs/keyRotation';
import { OperationsDashboard } from '../constructs/operationsDashboard';
import type { EnvironmentParameters } from '../parameters';
import type { DataStack } from './dataStack';

export interface OperationsStackProps extends StackProps {
  readonly parameters: EnvironmentParameters;
  readonly data: DataStack;
}

/** The operations Lambdas (health, rotate-keys, migrate), their schedules, alarms and dashboard. */
export class OperationsStack extends Stack {
  public readonly health: HealthCheck;
  public readonly migration: CacheMigration;
  public readonly rotation: KeyRotation;
  public readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: OperationsStackProps) {
    super(scope, id, props);
    const p = props.parameters;
    const { keys, cacheTable, manifest, alarms } = props.data;
    const logRetentionDays = p.logRetentionDays as logs.RetentionDays;
    const logRemovalPolicy = p.retention === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const resources: CacheResources = {
      app: p.app,
      envName: p.envName,
      table: cacheTable.table,
      storageKey: keys.storageKey,
      wrappingKey: keys.wrappingKey,
      manifestSecret: manifest.secret,
      manifestMacKey: keys.manifestMacKey,
    };
    const settings: OperationsFunctionSettings = {
      logRetentionDays,
      logRemovalPolicy,
      alarms,
      clientEnvironment: clientEnvironment({
        app: p.app,
        envName: p.envName,
        table: cacheTable.table,
        wrappingKey: keys.wrappingKey,
        manifestSecret: manifest.secret,
        manifestMacKey: keys.manifestMacKey,
      }),
    };

    this.health = new HealthCheck(this, 'HealthCheck', { ...resources, ...settings, everyMinutes: p.healthCheckEveryMinutes });
    this.migration = new CacheMigration(this, 'Migration', {
      ...resources,
      ...settings,
      timeout: Duration.seconds(p.migrateTimeoutSeconds),
      stallMinutes: p.reencryptionStallMinutes,
      reservedConcurrency: p.reservedConcurrency.migrate,
    });
    const { table: _rotationNeedsNoTable, ...rotationResources } = resources;
    this.rotation = new KeyRotation(this, 'KeyRotation', {
      ...rotationResources,
      ...settings,
      migrateFunction: this.migration.function.fn,
      rotationDays: p.keyRotationDays,
      reservedConcurrency: p.reservedConcurrency.rotateKeys,
    });

    const functions = [this.health.function, this.rotation.function, this.migration.function];
    this.dashboard = new OperationsDashboard(this, 'Dashboard', {
      dashboardName: `${p.app}-${p.envName}-operations`,
      envName: p.envName,
      functions,
      alarms: [
        this.health.unhealthyAlarm,
        this.rotation.failureAlarm,
        this.migration.stalledAlarm,
        cacheTable.throttleAlarm,
        cacheTable.systemErrorAlarm,
        ...functions.flatMap((f) => [f.errorsAlarm, f.throttlesAlarm]),
      ],
      healthSucceeded: this.health.succeeded,
      healthService: this.health.function.serviceName,
      tableThrottles: cacheTable.throttledRequests,
      tableSystemErrors: cacheTable.systemErrors,
      rotationFailures: this.rotation.failures,
      migration: this.migration.function,
    });
  }
}
