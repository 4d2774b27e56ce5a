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
export { AdvancedCacheConfig, type CacheConfigInput } from './config/schema';
export { loadConfig, envVarName, type LoadConfigOptions, type LoadedConfig, type ConfigSource } from './config/loadConfig';
export { TableSchema, keyManifestSecretName } from './schema/tableSchema';
export { createLogger, silentLogger, type LogLevel } from './logger';
