import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { grantClientRead, grantClientReadWrite, type CacheResources } from './cacheAccess';

export type ClientAccessPoliciesProps = CacheResources;

/**
 * Managed policies an application role attaches to use the cache: read-only (a service reading
 * values another one writes) and read-write. Both read the key manifest and unwrap data keys;
 * neither can create, rotate or retire keys: only the rotation Lambda can. Both may verify the
 * manifest's MAC; neither may make one (no kms:GenerateMac), so neither can forge a manifest.
 * They hold exactly what `CacheVaultData.grantRead` / `grantReadWrite` give a role (the same
 * grants), for roles defined outside CDK.
 */
export class ClientAccessPolicies extends Construct {
  public readonly readOnly: iam.ManagedPolicy;
  public readonly readWrite: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: ClientAccessPoliciesProps) {
    super(scope, id);
    this.readOnly = new iam.ManagedPolicy(this, 'ReadOnly', {
      description: `cachevault ${props.app}/${props.envName}: read cache entries and unwrap data keys`,
    });
    this.readWrite = new iam.ManagedPolicy(this, 'ReadWrite', {
      description: `cachevault ${props.app}/${props.envName}: read and write cache entries, unwrap data keys`,
    });
    grantClientRead(this.readOnly, props);
    grantClientReadWrite(this.readWrite, props);
  }
}
