/**
 * cachevault: an encrypted, tiered cache for applications on AWS.
 *
 * The root entry is deliberately small and cheap to load: `createCache`, the `CacheManager` it
 * returns, configuration loading, the error classes and the core types. Everything else lives
 * behind a subpath, loaded only by apps that use it:
 *
 * - `cachevault/backends`: MemoryBackend, FileBackend, HybridBackend, createBackend
 * - `cachevault/keys`: KeyManager, key providers, manifest stores, rotation helpers
 * - `cachevault/crypto`: AeadEncryption, NoEncryption, the envelope and cipher functions
 * - `cachevault/migrate`: CacheMigrator, reencryptInPlace, backend specs
 * - `cachevault/config`: the zod schema (`AdvancedCacheConfig`) and config helpers
 * - `cachevault/health`, `cachevault/audit`
 * - `cachevault/dynamodb`, `cachevault/aws`: classes that load the AWS SDK
 * - `cachevault/pino`, `cachevault/powertools`: logger adapters
 * - `cachevault/otel`, `cachevault/emf`: metrics exporters over the cache's events
 */
export type * from './types';
export * from './exports/errors';
export {
  CacheManager,
  type CacheManagerOptions,
  type CacheStats,
  type ExpiryOptions,
  type SetOptions,
  type Lookup,
  type WrapOptions,
} from './core/cacheManager';
export type { CacheBackend } from './backends/cacheBackend';
export type { CacheEvent, CacheEventListener, CacheEventMap, CacheEventName, KeyProviderOperation } from './events/cacheEvents';
export type { EncryptionProvider, SealedValue } from './crypto/encryptionProvider';
export type { AdvancedCacheConfig, CacheConfigInput } from './config/schema';
export type { LoadConfigOptions, LoadedConfig, ConfigSource } from './config/loadConfig';
export { loadConfig, envVarName } from './config/loadConfigLazy';
export { silentLogger, type LogLevel } from './logger';
export { createCache, type Cache, type CacheVault, type CreateCacheOptions } from './createCache';
