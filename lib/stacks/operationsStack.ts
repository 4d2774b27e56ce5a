import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { CacheMigration } from '../constructs/cacheMigration';
import { CacheVaultOperations } from '../constructs/cacheVaultOperations';
import type { HealthCheck } from '../constructs/healthCheck';
import type { KeyRotation } from '../constructs/keyRotation';
import type { OperationsDashboard } from '../constructs/operationsDashboard';
import type { EnvironmentParameters } from '../parameters';
import type { DataStack } from './dataStack';

export interface OperationsStackProps extends StackProps {
  readonly parameters: EnvironmentParameters;
  readonly data: DataStack;
}

/** The operations Lambdas (health, rotate-keys, migrate), their schedules, alarms and dashboard. */
export class OperationsStack extends Stack {
  /** The public construct apps use too (`cachevault/cdk`). */
  public readonly operations: CacheVaultOperations;
  public readonly health: HealthCheck;
  public readonly migration: CacheMigration;
  public readonly rotation: KeyRotation;
  public readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: OperationsStackProps) {
    super(scope, id, props);
    const p = props.parameters;
    // `Default`: left out of logical ids, so the resources keep the ids they always had.
    this.operations = new CacheVaultOperations(this, 'Default', {
      data: props.data.cache,
      healthCheckEveryMinutes: p.healthCheckEveryMinutes,
      keyRotationDays: p.keyRotationDays,
      migrateTimeout: Duration.seconds(p.migrateTimeoutSeconds),
      reencryptionStallMinutes: p.reencryptionStallMinutes,
      reservedConcurrency: p.reservedConcurrency,
      logRetention: p.logRetentionDays as logs.RetentionDays,
      logRemovalPolicy: p.retention === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      dashboardName: `${p.app}-${p.envName}-operations`,
    });
    ({ health: this.health, migration: this.migration, rotation: this.rotation, dashboard: this.dashboard } = this.operations);
  }
}
