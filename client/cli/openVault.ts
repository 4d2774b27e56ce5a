/**
 * Opens the configured cache for a command. Until the shared `createCache` wiring lands this
 * builds the CacheManager over the memory backend from the loaded config.
 */
import { MemoryBackend } from '../backends/memoryBackend';
import type { CacheBackend } from '../backends/cacheBackend';
import { loadConfig, type LoadConfigOptions } from '../config/loadConfig';
import type { AdvancedCacheConfig } from '../config/schema';
import { CacheManager } from '../core/cacheManager';
import { NoEncryption } from '../crypto/noEncryption';
import type { EncryptionProvider } from '../crypto/encryptionProvider';

export interface CliVault {
  readonly cache: CacheManager;
  readonly backend: CacheBackend;
  readonly encryption: EncryptionProvider;
  readonly config: AdvancedCacheConfig;
  readonly warnings: string[];
  close(): Promise<void>;
}

export async function openVault(options: LoadConfigOptions): Promise<CliVault> {
  const { config, warnings } = loadConfig(options);
  const backend = new MemoryBackend(config.memory);
  const encryption = new NoEncryption();
  const cache = new CacheManager({ backend, encryption, namespace: config.namespace, defaultTtlMs: config.defaultTtlMs });
  return { cache, backend, encryption, config, warnings: [...warnings], close: () => cache.close() };
}
