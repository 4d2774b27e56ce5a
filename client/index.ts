/**
 * cachevault: an encrypted, tiered cache for applications on AWS.
 * This module is the package's public surface; everything else is internal.
 */
export * from './types';
export * from './errors';
export type { CacheBackend } from './backends/cacheBackend';
export { BaseBackend, type BaseBackendOptions } from './backends/baseBackend';
export { MemoryBackend, type MemoryBackendOptions } from './backends/memoryBackend';
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
export { AdvancedCacheConfig, type CacheConfigInput } from './config/schema';
export { loadConfig, envVarName, type LoadConfigOptions, type LoadedConfig, type ConfigSource } from './config/loadConfig';
export { TableSchema, keyManifestSecretName } from './schema/tableSchema';
export { createLogger, silentLogger, type LogLevel } from './logger';
export { createCache, manifestStore, auditLogPath, type CacheVault, type CreateCacheOptions } from './createCache';
