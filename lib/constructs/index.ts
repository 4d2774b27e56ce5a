/**
 * `cachevault/cdk`: the infrastructure of a cachevault environment as constructs an app imports,
 * the same ones this repository's own stacks (lib/stacks/) are built from.
 *
 * Two L3 constructs do the work:
 * - `CacheVaultData`: state. KMS keys, the cache table, the key-manifest secret, the alarm topic;
 *   `grantRead` / `grantReadWrite` for clients and `clientEnvironment(fn)` to configure them.
 * - `CacheVaultOperations`: health check, key rotation, migration Lambdas, alarms, dashboard.
 * The building blocks they are made of are exported for apps that assemble their own.
 *
 * Needs `aws-cdk-lib` 2 and `constructs` 10 (optional peer dependencies of the package: only
 * this entry point loads them).
 */
export { CacheVaultData, type CacheVaultDataProps } from './cacheVaultData';
export { CacheVaultOperations, type CacheVaultOperationsProps } from './cacheVaultOperations';
export { ClientAccessPolicies, type ClientAccessPoliciesProps } from './clientAccessPolicies';
export { clientEnvironmentVariables, type ClientEnvironmentProps } from './clientEnvironment';
export { CacheActions, MANIFEST_MAC_ALGORITHM, grantClientRead, grantClientReadWrite, type CacheResources } from './cacheAccess';

export { AlarmTopic, type AlarmTopicProps } from './alarmTopic';
export { CacheKeys, type CacheKeysProps } from './cacheKeys';
export { CacheTable, type CacheTableProps, type TableBilling } from './cacheTable';
export { KeyManifestSecret, type KeyManifestSecretProps, EMPTY_MANIFEST } from './keyManifestSecret';
export { CacheFunction, FUNCTION_RUNTIME, type CacheFunctionProps, type OperationsFunctionSettings } from './cacheFunction';
export { HealthCheck, type HealthCheckProps } from './healthCheck';
export { KeyRotation, type KeyRotationProps } from './keyRotation';
export { CacheMigration, type CacheMigrationProps } from './cacheMigration';
export { OperationsDashboard, type OperationsDashboardProps } from './operationsDashboard';
export { METRICS_NAMESPACE, MetricNames } from '../../lambda/metricNames';
