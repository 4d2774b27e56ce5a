/**
 * cachevault: an encrypted, tiered cache for applications on AWS.
 * This module is the package's public surface; everything else is internal.
 */
export * from './types';
export * from './errors';
export type { CacheBackend } from './backends/cacheBackend';
export { BaseBackend, type BaseBackendOptions } from './backends/baseBackend';
export { MemoryBackend, type MemoryBackendOptions } from './backends/memoryBackend';
export { FileBackend, type CompactReport, type FileBackendOptions, type PruneReport, type RepairReport } from './backends/fileBackend';
export { FileCacheBusyError, ForeignDatabaseError } from './backends/file/errors';
export { UnsafePathError } from './fs/errors';
export { ValueTooLargeError } from './core/errors';
export {
  CacheManager,
  type CacheManagerOptions,
  type CacheStats,
  type ExpiryOptions,
  type Lookup,
  type WrapOptions,
} from './core/cacheManager';
export type { StampedeLease, HeldLease } from './core/stampedeLease';
export type { ValueTransform } from './core/valueTransform';
export { compressionTransform, type CompressionOptions } from './core/compression';
export { msgpackSerializer, type Serializer } from './core/serializer';
export type { EncryptionProvider, SealedValue } from './crypto/encryptionProvider';
export { NoEncryption } from './crypto/noEncryption';
export { AlgorithmId, type AlgorithmName } from './crypto/envelope';
export { AeadEncryption, type AeadAlgorithmName, type AeadEncryptionOptions } from './crypto/aeadEncryption';
export { EncryptionClosedError } from './crypto/errors';
export { encryptAes256CbcHmacSha512, decryptAes256CbcHmacSha512 } from './crypto/algorithms/aes256CbcHmacSha512';
export { StaticKeySource, type StaticKeyInput } from './keys/staticKeySource';
// Key management. KMS and Secrets Manager classes are exported as types only: their modules load
// the AWS SDK, which apps that don't use them should not pay for (import them by path, or let
// createKeyProviders / manifestStore load them on demand).
export type { DataKey, DataKeySource, KeyContext, KeyProvider, KeyProviderName, WrappedKey } from './keys/keyProvider';
export { KeyManager, type KeyManagerOptions, type KeyManagerStats, type KeyManagerStatus, type KeyVersionStatus } from './keys/keyManager';
export { createKeyProviders, type KeyProviderDeps } from './keys/createKeyProviders';
export { KeyringKeyProvider, type KeyringKeyProviderOptions } from './keys/keyringKeyProvider';
export { EnvKeyProvider, type EnvKeyProviderOptions } from './keys/envKeyProvider';
export type { KmsKeyProvider, KmsKeyProviderOptions } from './keys/kmsKeyProvider';
export { FileManifestStore, defaultManifestPath } from './keys/fileManifestStore';
export type { SecretsManagerManifestStore } from './keys/secretsManagerManifestStore';
export type { ManifestStore } from './keys/manifestStore';
export { KeyState, type KeyManifest, type KeyVersionRecord } from './keys/keyManifest';
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
} from './keys/errors';
export { AuditLog, AuditLogError, AuditEvent, verifyAuditLog, type AuditAnchor, type AuditHead, type AuditKeySource, type AuditMacKey, type AuditRecord, type AuditSink, type AuditStatus, type AuditVerification } from './audit/auditLog';
export { AdvancedCacheConfig, type CacheConfigInput } from './config/schema';
export { loadConfig, envVarName, type LoadConfigOptions, type LoadedConfig, type ConfigSource } from './config/loadConfig';
export { TableSchema, keyManifestSecretName } from './schema/tableSchema';
export { CacheMigrator, type CacheMigratorOptions, type RunOptions as MigrationRunOptions } from './migrate/cacheMigrator';
export { reencryptInPlace, type ReencryptOptions, type ReencryptReport, type ReencryptCounts } from './migrate/reencrypt';
export { parseBackendSpec, describeSpec, type BackendSpec } from './migrate/backendSpec';
export { checkCacheHealth, type CacheHealthTarget } from './health/cacheHealth';
export { checkKeys, KeyHealthStep, type KeyHealthTarget, type KeyHealthOptions } from './health/keyHealth';
export { retireKeyVersion, retireDrainedVersions, type RetireKeyVersionOptions, type RetireKeyVersionResult, type RetireDrainedVersionsOptions, type RetireDrainedVersionsResult } from './keys/retireKeyVersion';
export { entriesByKeyId, type EntriesByKeyId, type EntriesByKeyIdOptions } from './keys/entriesByKeyId';
export type { Transcode } from './migrate/entryTranscoder';
export type * from './migrate/types';
export {
  MigrationError,
  PlanMismatchError,
  MigrationInProgressError,
  MigrationStateError,
  MigrationWriteError,
  BackendSpecError,
} from './migrate/errors';
// DynamoDB: classes as types only (their modules load the AWS SDK; createCache builds them on demand).
export type { DynamoDBBackend, DynamoDBBackendOptions, DynamoGcReport } from './backends/dynamodbBackend';
export type { TableManager, TableManagerOptions, CreateTableOptions, TableProblem, TableSummary, TtlStatus } from './dynamodb/tableManager';
export type { DynamoDBClientOptions } from './dynamodb/dynamodbClient';
export {
  DynamoDBError,
  TableNotFoundError,
  DynamoDBAccessDeniedError,
  DynamoDBThrottledError,
  UnprocessedBatchError,
  TableSchemaMismatchError,
  DynamoDbLocalError,
} from './dynamodb/errors';
// Tiers and the backend factory (no AWS SDK at import time; the lease is a type for that reason).
export { HybridBackend, type HybridBackendOptions, type HybridTierSpec } from './backends/hybridBackend';
export type { BreakerState } from './backends/hybrid/circuitBreaker';
export { TierUnavailableError, TierTimeoutError, BackendStartError, type TierFailureKind } from './backends/hybrid/errors';
export { createBackend, type BackendFactoryDeps, type CreatedBackend } from './backends/backendFactory';
export type { DynamoDBLease, DynamoDBLeaseOptions, LeaseStats } from './dynamodb/dynamodbLease';
export { createLogger, silentLogger, type LogLevel } from './logger';
export { createCache, manifestStore, auditLogPath, type CacheVault, type CreateCacheOptions } from './createCache';
