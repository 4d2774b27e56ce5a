import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AlarmTopic } from '../constructs/alarmTopic';
import { CacheKeys } from '../constructs/cacheKeys';
import { CacheTable } from '../constructs/cacheTable';
import { ClientAccessPolicies } from '../constructs/clientAccessPolicies';
import { KeyManifestSecret } from '../constructs/keyManifestSecret';
import type { EnvironmentParameters } from '../parameters';

export interface DataStackProps extends StackProps {
  readonly parameters: EnvironmentParameters;
}

/** Everything that holds state: keys, the cache table, the key manifest, client policies, the alarm topic. */
export class DataStack extends Stack {
  public readonly keys: CacheKeys;
  public readonly alarms: AlarmTopic;
  public readonly cacheTable: CacheTable;
  public readonly manifest: KeyManifestSecret;
  public readonly clientAccess: ClientAccessPolicies;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const p = props.parameters;
    const removalPolicy = p.retention === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.keys = new CacheKeys(this, 'Keys', { app: p.app, envName: p.envName, removalPolicy });
    this.alarms = new AlarmTopic(this, 'Alarms', {
      app: p.app,
      envName: p.envName,
      encryptionKey: this.keys.storageKey,
      email: p.alarmEmail,
    });
    this.cacheTable = new CacheTable(this, 'Cache', {
      tableName: p.tableName,
      billing: p.billing,
      encryptionKey: this.keys.storageKey,
      removalPolicy,
      alarms: this.alarms,
    });
    this.manifest = new KeyManifestSecret(this, 'KeyManifest', {
      app: p.app,
      envName: p.envName,
      encryptionKey: this.keys.storageKey,
      removalPolicy,
    });
    this.clientAccess = new ClientAccessPolicies(this, 'ClientAccess', {
      app: p.app,
      envName: p.envName,
      table: this.cacheTable.table,
      storageKey: this.keys.storageKey,
      wrappingKey: this.keys.wrappingKey,
      manifestSecret: this.manifest.secret,
      manifestMacKey: this.keys.manifestMacKey,
    });

    // What an application's configuration and role need (docs/operations.md#connecting-applications).
    const outputs: Record<string, [string, string]> = {
      TableName: [this.cacheTable.table.tableName, 'CACHEVAULT_DYNAMODB_TABLE_NAME'],
      KeyManifestSecretArn: [this.manifest.secret.secretArn, 'CACHEVAULT_KEYS_MANIFEST_SECRET_ID'],
      WrappingKeyArn: [this.keys.wrappingKey.keyArn, 'CACHEVAULT_KEYS_KMS_KEY_ID'],
      ManifestMacKeyArn: [this.keys.manifestMacKey.keyArn, 'CACHEVAULT_KEYS_KMS_MAC_KEY_ID (seal the manifest before clients get it: docs/operations.md#upgrading)'],
      ReadOnlyPolicyArn: [this.clientAccess.readOnly.managedPolicyArn, 'attach to roles that only read the cache'],
      ReadWritePolicyArn: [this.clientAccess.readWrite.managedPolicyArn, 'attach to roles that read and write the cache'],
    };
    for (const [id, [value, description]] of Object.entries(outputs)) new CfnOutput(this, id, { value, description });
  }
}
