import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { CacheResources } from './cacheAccess';
import { CacheMigration } from './cacheMigration';
import type { OperationsFunctionSettings } from './cacheFunction';
import type { CacheVaultData } from './cacheVaultData';
import { HealthCheck } from './healthCheck';
import { KeyRotation } from './keyRotation';
import { OperationsDashboard } from './operationsDashboard';

export interface CacheVaultOperationsProps {
  /** The cache these operations run; it may live in another stack (of the same account and region). */
  readonly data: CacheVaultData;
  /** @default 5 */
  readonly healthCheckEveryMinutes?: number;
  /** Days between automatic rotations of the data key (Secrets Manager rotation schedule). @default 30 */
  readonly keyRotationDays?: number;
  /** Timeout of the migrate Lambda (it checkpoints and re-invokes itself before it). @default Duration.minutes(15) */
  readonly migrateTimeout?: Duration;
  /** Minutes a migration keeps running without processing an entry before the stall alarm. @default 30 */
  readonly reencryptionStallMinutes?: number;
  /**
   * Concurrent executions reserved for (and capping) the rotate-keys and migrate Lambdas:
   * rotations of one secret never overlap, and more than two migrate copies would only multiply
   * writes to one table. Reserving needs 10 unreserved executions left in the account (a fresh
   * account with a limit of 10 must raise its quota first).
   * @default { rotateKeys: 1, migrate: 2 }
   */
  readonly reservedConcurrency?: { readonly rotateKeys: number; readonly migrate: number };
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default the data's removal policy */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default `${app}-${envName}-operations` */
  readonly dashboardName?: string;
}

/**
 * What keeps a cachevault environment running: the `health` Lambda on an EventBridge schedule,
 * the `rotate-keys` Lambda as the manifest secret's Secrets Manager rotation (its first run
 * writes data key `k1`), the resumable `migrate` Lambda for re-encryption and migrations, an
 * alarm for each failure mode (all notifying the data's alarm topic) and one dashboard. Each
 * function's role holds exactly the actions its handler uses (docs/operations.md).
 */
export class CacheVaultOperations extends Construct {
  public readonly health: HealthCheck;
  public readonly migration: CacheMigration;
  public readonly rotation: KeyRotation;
  public readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: CacheVaultOperationsProps) {
    super(scope, id);
    const { data } = props;
    const { cacheTable } = data;
    const reserved = props.reservedConcurrency ?? { rotateKeys: 1, migrate: 2 };
    const settings: OperationsFunctionSettings = {
      logRetentionDays: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      logRemovalPolicy: props.logRemovalPolicy ?? data.removalPolicy,
      alarms: data.alarms,
      clientEnvironment: data.clientEnvironmentVariables(),
    };

    // Construct ids as the repository's operations stack has always used (logical ids).
    this.health = new HealthCheck(this, 'HealthCheck', { ...resourcesOf(data), ...settings, everyMinutes: props.healthCheckEveryMinutes ?? 5 });
    this.migration = new CacheMigration(this, 'Migration', {
      ...resourcesOf(data),
      ...settings,
      timeout: props.migrateTimeout ?? Duration.minutes(15),
      stallMinutes: props.reencryptionStallMinutes ?? 30,
      reservedConcurrency: reserved.migrate,
    });
    const { table: _rotationNeedsNoTable, ...rotationResources } = resourcesOf(data);
    this.rotation = new KeyRotation(this, 'KeyRotation', {
      ...rotationResources,
      ...settings,
      migrateFunction: this.migration.function.fn,
      rotationDays: props.keyRotationDays ?? 30,
      reservedConcurrency: reserved.rotateKeys,
    });

    const functions = [this.health.function, this.rotation.function, this.migration.function];
    this.dashboard = new OperationsDashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${data.app}-${data.envName}-operations`,
      envName: data.envName,
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

/** The data's resources as a plain record (the getters read once), for spreading into props. */
function resourcesOf(data: CacheVaultData): CacheResources {
  return {
    app: data.app,
    envName: data.envName,
    table: data.table,
    storageKey: data.storageKey,
    wrappingKey: data.wrappingKey,
    manifestSecret: data.manifestSecret,
    manifestMacKey: data.manifestMacKey,
  };
}
