import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { AlarmTopic } from '../constructs/alarmTopic';
import type { CacheKeys } from '../constructs/cacheKeys';
import type { CacheTable } from '../constructs/cacheTable';
import { CacheVaultData } from '../constructs/cacheVaultData';
import { ClientAccessPolicies } from '../constructs/clientAccessPolicies';
import type { KeyManifestSecret } from '../constructs/keyManifestSecret';
import type { EnvironmentParameters } from '../parameters';

export interface DataStackProps extends StackProps {
  readonly parameters: EnvironmentParameters;
}

/** Everything that holds state: keys, the cache table, the key manifest, client policies, the alarm topic. */
export class DataStack extends Stack {
  /** The public construct apps use too (`cachevault/cdk`). */
  public readonly cache: CacheVaultData;
  public readonly keys: CacheKeys;
  public readonly alarms: AlarmTopic;
  public readonly cacheTable: CacheTable;
  public readonly manifest: KeyManifestSecret;
  public readonly clientAccess: ClientAccessPolicies;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const p = props.parameters;
    // `Default` is the construct id CDK leaves out of logical ids: the resources keep the ids
    // they had when this stack created them directly (a new table logical id would replace the
    // table, and its entries, on the next deploy).
    this.cache = new CacheVaultData(this, 'Default', {
      app: p.app,
      envName: p.envName,
      tableName: p.tableName,
      billing: p.billing,
      removalPolicy: p.retention === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      alarmEmail: p.alarmEmail,
    });
    ({ keys: this.keys, alarms: this.alarms, cacheTable: this.cacheTable, manifest: this.manifest } = this.cache);
    // For roles defined outside CDK: the same grants as `cache.grantRead` / `grantReadWrite`.
    this.clientAccess = new ClientAccessPolicies(this, 'ClientAccess', this.cache);

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
