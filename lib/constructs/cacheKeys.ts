import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface CacheKeysProps {
  readonly app: string;
  readonly envName: string;
  /** RETAIN in long-lived environments: a deleted key makes every byte it protected unreadable. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The customer-managed KMS keys of an environment: two symmetric keys with yearly automatic
 * rotation, and the HMAC key that authenticates the key manifest.
 *
 * - `wrappingKey` wraps the cache's data keys (GenerateDataKey / Decrypt with the encryption
 *   context `{ app, env, keyId }`). Clients get Decrypt on it only for their own app and env.
 * - `storageKey` encrypts data at rest: the table, the key-manifest secret and the alarm topic.
 *
 * Two keys rather than one because DynamoDB and Secrets Manager call KMS with their own
 * encryption contexts: a grant that lets a client read the table must not also let it unwrap
 * data keys of another app or environment.
 *
 * - `manifestMacKey` (HMAC_256, GENERATE_VERIFY_MAC) MACs the key manifest
 *   (client/keys/kmsManifestSealer.ts, `keys.kms.macKeyId`): the rotate-keys and migrate roles
 *   may GenerateMac (they write the manifest), clients and the health check only VerifyMac
 *   (lib/constructs/cacheAccess.ts). A third key because its use is a MAC, not encryption, and
 *   because the split between who seals and who verifies is the point of it.
 */
export class CacheKeys extends Construct {
  public readonly wrappingKey: kms.Key;
  public readonly storageKey: kms.Key;
  public readonly manifestMacKey: kms.Key;

  constructor(scope: Construct, id: string, props: CacheKeysProps) {
    super(scope, id);
    const pendingWindow = props.removalPolicy === RemovalPolicy.DESTROY ? Duration.days(7) : Duration.days(30);

    this.wrappingKey = new kms.Key(this, 'WrappingKey', {
      description: `cachevault ${props.app}/${props.envName}: wraps the cache's data keys`,
      alias: `alias/${props.app}/${props.envName}/data-key-wrapping`,
      enableKeyRotation: true,
      pendingWindow,
      removalPolicy: props.removalPolicy,
    });

    this.storageKey = new kms.Key(this, 'StorageKey', {
      description: `cachevault ${props.app}/${props.envName}: encrypts the table, the key manifest and alarms at rest`,
      alias: `alias/${props.app}/${props.envName}/storage`,
      enableKeyRotation: true,
      pendingWindow,
      removalPolicy: props.removalPolicy,
    });
    // KMS cannot rotate HMAC keys automatically (EnableKeyRotation is for symmetric encryption
    // keys only), so none is asked for; cdk-nag's AwsSolutions-KMS5 exempts non-symmetric key
    // specs itself. Replacing this key is a new key plus `cachevault keys seal-manifest` under it.
    // Retained with the manifest: deleting it leaves every client refusing the manifest.
    this.manifestMacKey = new kms.Key(this, 'ManifestMacKey', {
      description: `cachevault ${props.app}/${props.envName}: MACs the key manifest (GenerateMac by rotation and migrate, VerifyMac by clients)`,
      alias: `alias/${props.app}/${props.envName}/manifest-mac`,
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      enableKeyRotation: false,
      pendingWindow,
      removalPolicy: props.removalPolicy,
    });
    // CloudWatch alarms publish to the encrypted SNS topic; an AWS-managed SNS key would refuse them.
    // Only on behalf of this account's alarms: without the condition, CloudWatch acting for any
    // account (an alarm someone else points at our topic ARN) could use the key (confused deputy).
    const stack = Stack.of(this);
    this.storageKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      }),
    );
  }
}
