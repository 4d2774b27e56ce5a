import { Stack } from 'aws-cdk-lib';
import type { CacheResources } from './cacheAccess';

/** What the client's environment is built from: the cache's resources but its storage key. */
export type ClientEnvironmentProps = Omit<CacheResources, 'storageKey'>;

/**
 * The `CACHEVAULT_*` variables that configure the client inside a Lambda (the client's
 * loadConfig maps each to a config field, `CACHEVAULT_` + the field's path, e.g.
 * `CACHEVAULT_KEYS_MANIFEST_SECRET_ID` is `keys.manifest.secretId`). Shared tier only: the file
 * tier and the OS keyring do not exist in Lambda, and data keys are wrapped by KMS alone.
 */
export function clientEnvironmentVariables(props: ClientEnvironmentProps): Record<string, string> {
  const region = Stack.of(props.table).region;
  return {
    CACHEVAULT_BACKEND: 'dynamodb',
    CACHEVAULT_DYNAMODB_TABLE_NAME: props.table.tableName,
    CACHEVAULT_DYNAMODB_REGION: region,
    CACHEVAULT_KEYS_PROVIDERS: 'kms',
    CACHEVAULT_KEYS_APP: props.app,
    CACHEVAULT_KEYS_ENVIRONMENT: props.envName,
    CACHEVAULT_KEYS_MANIFEST_STORE: 'secretsmanager',
    CACHEVAULT_KEYS_MANIFEST_SECRET_ID: props.manifestSecret.secretArn,
    CACHEVAULT_KEYS_MANIFEST_REGION: region,
    CACHEVAULT_KEYS_KMS_KEY_ID: props.wrappingKey.keyArn,
    CACHEVAULT_KEYS_KMS_MAC_KEY_ID: props.manifestMacKey.keyArn,
    CACHEVAULT_KEYS_KMS_REGION: region,
    CACHEVAULT_KEYS_WRAP_LOCALLY: 'false',
    // Lambda's CloudWatch logs are the audit trail here; a local audit file would vanish with /tmp.
    CACHEVAULT_AUDIT_ENABLED: 'false',
    CACHEVAULT_FILE_DIR: '/tmp/cachevault',
    CACHEVAULT_LOGGING_LEVEL: 'info',
  };
}
