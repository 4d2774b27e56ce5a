import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

export interface ClientEnvironmentProps {
  readonly app: string;
  readonly envName: string;
  readonly table: dynamodb.ITable;
  readonly wrappingKey: kms.IKey;
  readonly manifestSecret: secretsmanager.ISecret;
  /** The HMAC key that MACs the key manifest: clients verify (and rotate/migrate seal) with it. */
  readonly manifestMacKey: kms.IKey;
}

/**
 * The `CACHEVAULT_*` variables that configure the client inside a Lambda (the client's
 * loadConfig maps each to a config field, e.g. `keys.manifest.secretId`). Shared tier only: the
 * file tier and the OS keyring do not exist in Lambda, and data keys are wrapped by KMS alone.
 */
export function clientEnvironment(props: ClientEnvironmentProps): Record<string, string> {
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
