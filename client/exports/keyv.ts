/**
 * `cachevault/keyv`: cachevault as a Keyv store (for keyv, cacheable and cache-manager v7), and
 * any Keyv store as a cachevault tier (KeyvBackend).
 * Keyv itself is the app's dependency; this entry imports nothing of it at run time.
 */
export { KeyvCacheVaultStore, type KeyvCacheVaultStoreOptions } from '../integrations/keyvStore';
export { KeyvBackend, type KeyvBackendOptions } from '../backends/keyvBackend';
