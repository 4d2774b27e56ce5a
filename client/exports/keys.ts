/**
 * `cachevault/keys`: key management. KMS and Secrets Manager classes are types here; their
 * values are in `cachevault/aws` (they load the AWS SDK). The keyring provider loads its native
 * module only when it is first asked for a key.
 */
export type { DataKey, DataKeySource, KeyContext, KeyProvider, KeyProviderName, WrappedKey } from '../keys/keyProvider';
export { StaticKeySource, type StaticKeyInput } from '../keys/staticKeySource';
export { KeyManager, type KeyManagerOptions, type KeyManagerStats, type KeyManagerStatus, type KeyVersionStatus } from '../keys/keyManager';
export { createKeyProviders, defaultKeyProviders, type KeyProviderDeps } from '../keys/createKeyProviders';
export { KeyringKeyProvider, type KeyringKeyProviderOptions } from '../keys/keyringKeyProvider';
export { EnvKeyProvider, type EnvKeyProviderOptions } from '../keys/envKeyProvider';
export type { KmsKeyProvider, KmsKeyProviderOptions } from '../keys/kmsKeyProvider';
export { FileManifestStore, defaultManifestPath } from '../keys/fileManifestStore';
export type { SecretsManagerManifestStore } from '../keys/secretsManagerManifestStore';
export type { ManifestStore } from '../keys/manifestStore';
export { KeyState, type KeyManifest, type KeyVersionRecord } from '../keys/keyManifest';
export {
  KeyProviderError,
  KeyProviderFailure,
  NoKeyProviderError,
  ManifestError,
  KeyStateError,
  KeyVersionInUseError,
  BackupPassphraseError,
  BackupFormatError,
  RotationStepError,
  type ProviderAttempt,
} from '../keys/errors';
export { retireKeyVersion, retireDrainedVersions, type RetireKeyVersionOptions, type RetireKeyVersionResult, type RetireDrainedVersionsOptions, type RetireDrainedVersionsResult } from '../keys/retireKeyVersion';
export { entriesByKeyId, type EntriesByKeyId, type EntriesByKeyIdOptions } from '../keys/entriesByKeyId';
export { manifestId, acceptedManifestIds, parseKeyId, qualifyKeyId, keyIdOwner, sealedUnderOlderVersion, type ParsedKeyId, type KeyIdOwner } from '../keys/keyIds';
export { manifestStore } from '../createCache';
