/**
 * `cachevault/config`: the configuration schema as a zod value (for apps that validate their own
 * config files with it) and the config helpers. The root entry has `loadConfig` too, without
 * loading zod until it is called.
 */
export { AdvancedCacheConfig, type CacheConfigInput } from '../config/schema';
export { loadConfig, envVarName, type LoadConfigOptions, type LoadedConfig, type ConfigSource } from '../config/loadConfig';
export { TableSchema, keyManifestSecretName } from '../schema/tableSchema';
export { defaultCacheDir } from '../config/platformDefaults';
