import { RemovalPolicy, SecretValue } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { keyManifestSecretName } from '../../client/schema/tableSchema';

export interface KeyManifestSecretProps {
  readonly app: string;
  readonly envName: string;
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The value the secret is created with: no key versions yet. It holds nothing secret, which is
 * why it may appear in the template; Secrets Manager runs the first rotation right after the
 * rotation schedule is created, and that rotation writes data key `k1` (wrapped under KMS).
 */
export const EMPTY_MANIFEST = '{}';

/**
 * The Secrets Manager secret that holds an environment's key manifest: wrapped data keys and
 * their states, never plaintext. Named by the convention the KeyManager also uses, so clients
 * find it from `app` and `env` alone. Its rotation (which writes the first data key) is the
 * KeyRotation construct's, part of CacheVaultOperations: without it the manifest stays empty.
 */
export class KeyManifestSecret extends Construct {
  public readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: KeyManifestSecretProps) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      secretName: keyManifestSecretName(props.app, props.envName),
      description: `cachevault ${props.app}/${props.envName}: key manifest (wrapped data keys only)`,
      encryptionKey: props.encryptionKey,
      secretStringValue: SecretValue.unsafePlainText(EMPTY_MANIFEST),
      removalPolicy: props.removalPolicy,
    });
  }
}
