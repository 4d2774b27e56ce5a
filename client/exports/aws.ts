/**
 * `cachevault/aws`: the KMS key provider and the Secrets Manager manifest store as values, for
 * apps that assemble a KeyManager by hand. Separate from the root entry because they load the
 * AWS SDK clients.
 */
export { KmsKeyProvider, type KmsKeyProviderOptions } from '../keys/kmsKeyProvider';
export { SecretsManagerManifestStore, SecretStage, type SecretsManagerManifestStoreOptions } from '../keys/secretsManagerManifestStore';
