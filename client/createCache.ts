import { dirname, join, resolve } from 'node:path';
import { auditKeysFromKeyManager, manifestAuditAnchor } from './audit/auditKeys';
import { AuditLog, type AuditAnchor, type AuditKeySource } from './audit/auditLog';
import { createBackend } from './backends/backendFactory';
import type { CacheBackend } from './backends/cacheBackend';
import { loadConfig, type LoadConfigOptions } from './config/loadConfig';
import type { AdvancedCacheConfig } from './config/schema';
import { CacheManager } from './core/cacheManager';
import { compressionTransform } from './core/compression';
import { AeadEncryption } from './crypto/aeadEncryption';
import type { EncryptionProvider } from './crypto/encryptionProvider';
import { NoEncryption } from './crypto/noEncryption';
import { createKeyProviders, type KeyProviderDeps } from './keys/createKeyProviders';
import { defaultManifestPath, FileManifestStore } from './keys/fileManifestStore';
import { KeyManager } from './keys/keyManager';
import { isLocalRootKeyProvider } from './keys/keyProvider';
import { manifestSealer } from './keys/createManifestSealer';
import type { ManifestStore } from './keys/manifestStore';
import { FileRevisionPinStore, defaultRevisionPinDir } from './keys/revisionPin';
import { createLogger } from './logger';
import { keyManifestSecretName } from './schema/tableSchema';
import type { Clock, Logger } from './types';

export interface CreateCacheOptions extends LoadConfigOptions {
  /** @default Date.now */
  readonly clock?: Clock;
  /** @default a pino logger on stderr at `logging.level` */
  readonly logger?: Logger;
  /** Injected key-provider dependencies (a KMS client with custom credentials, tests). */
  readonly keyProviderDeps?: Omit<KeyProviderDeps, 'logger'>;
  /**
   * Open without writing key state: no key version is created (not even the first), the manifest
   * and revision pin are not written and key events are not audited. For read-only commands.
   * @default false
   */
  readonly readOnly?: boolean;
  /** Open even when the key manifest is refused, so a key backup can replace it (`keys restore`). @default false */
  readonly recoverKeys?: boolean;
}

/** A configured cache and the parts it was built from, for apps, the CLI and the Lambdas. */
export interface CacheVault {
  readonly cache: CacheManager;
  readonly backend: CacheBackend;
  /** The key manager, when encryption is enabled. */
  readonly keys: KeyManager | undefined;
  readonly encryption: EncryptionProvider;
  readonly audit: AuditLog | undefined;
  readonly config: AdvancedCacheConfig;
  /** Deprecations, insecure settings, fallbacks taken at start-up. */
  readonly warnings: readonly string[];
  /** Why the preferred backend did not start, when the configured fallback runs instead. */
  readonly fallbackReason: string | undefined;
  /**
   * Closes the backend and lease, writes queued audit records and anchors the audit head, and
   * zeroes key material. Rejects (after all of that) when an audit record could not be written.
   */
  close(): Promise<void>;
}

/**
 * Builds the cache the configuration describes: defaults < config file < `CACHEVAULT_*`
 * environment < explicit options, validated; then the backend (with its fallback), the key
 * manager over the configured provider chain, and the encryption provider.
 */
export async function createCache(options: CreateCacheOptions = {}): Promise<CacheVault> {
  const loaded = loadConfig(options);
  const { config } = loaded;
  const logger = options.logger ?? createLogger(config.logging.level);
  const warnings = [...loaded.warnings];
  for (const warning of loaded.warnings) logger.warn({}, warning);

  const audit = config.audit.enabled ? new AuditLog({ path: auditLogPath(config), clock: options.clock, logger }) : undefined;
  let keys: KeyManager | undefined;
  let encryption: EncryptionProvider = new NoEncryption();
  if (config.encryption.enabled) {
    const store = manifestStore(config);
    const providers = createKeyProviders(config.keys, { ...options.keyProviderDeps, logger });
    const sealer = manifestSealer(config, providers, options.keyProviderDeps);
    if (!sealer) {
      const warning = 'The key manifest is not MACed (no manifest MAC key): whoever can write it could roll it back or replace keys. Set keys.kms.macKeyId (docs/key-management.md).';
      warnings.push(warning);
      logger.warn({}, warning);
    }
    const localRoot = providers.find(isLocalRootKeyProvider);
    keys = await KeyManager.open({
      providers,
      store,
      sealer,
      revisionPins: localRoot ? new FileRevisionPinStore(defaultRevisionPinDir(config.file.dir), localRoot) : undefined,
      readOnly: options.readOnly,
      recovery: options.recoverKeys,
      app: config.keys.app,
      environment: config.keys.environment,
      wrapLocally: config.keys.wrapLocally,
      audit,
      clock: options.clock,
      logger,
      cache: { maxAgeMs: config.keys.kms.cacheMaxAgeMs, maxUses: config.keys.kms.cacheMaxUses },
    });
    audit?.attach(auditParts(keys, config));
    encryption = new AeadEncryption({
      keys,
      algorithm: config.encryption.algorithm,
      allowUnencryptedReads: config.encryption.allowUnencryptedReads,
    });
  }

  // A key is "local-only" when no KMS wrapping exists for it (KMS was down when it was made).
  // Where the deployment shares keys (a Secrets Manager manifest, or KMS among the providers),
  // other machines cannot read entries sealed under such a key, so they stay off the shared
  // tier. A keyring-only setup (the local default) has no other machines to protect.
  const keyManager = keys;
  const sharesKeys = config.keys.manifest.store === 'secretsmanager' || config.keys.providers.includes('kms');
  const isLocalOnly = keyManager && sharesKeys ? (entry: { keyId: string }) => keyManager.isLocalOnly(entry.keyId) : undefined;
  let created;
  try {
    created = await createBackend(config, { clock: options.clock, logger, isLocalOnly });
  } catch (err) {
    await closeAudit(audit, logger);
    await keys?.close();
    throw err;
  }
  warnings.push(...created.warnings);

  const cache = new CacheManager({
    backend: created.backend,
    namespace: config.namespace,
    defaultTtlMs: config.defaultTtlMs,
    encryption,
    transforms: config.compression.enabled ? [compressionTransform({ thresholdBytes: config.compression.thresholdBytes })] : [],
    lease: created.lease,
    strict: config.hybrid.strict,
    clock: options.clock,
    logger,
  });

  return {
    cache,
    backend: created.backend,
    keys,
    encryption,
    audit,
    config,
    warnings,
    fallbackReason: created.fallbackReason,
    async close() {
      // Each part is released even when an earlier one fails to close; keys are zeroed last.
      let auditFailure: Error | undefined;
      try {
        await cache.close();
      } finally {
        try {
          created.lease?.close();
        } finally {
          // Queued audit records need the keys for their MACs and the anchor: before keys close.
          auditFailure = await closeAudit(audit, logger);
          await keys?.close();
        }
      }
      // Everything is closed and zeroed; a security event that could not be recorded is still news.
      if (auditFailure) throw auditFailure;
    },
  };
}

/** The key manifest store the configuration names. */
export function manifestStore(config: AdvancedCacheConfig): ManifestStore {
  const m = config.keys.manifest;
  if (m.store === 'file') return new FileManifestStore(m.path ?? defaultManifestPath(config.file.dir));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SecretsManagerManifestStore } = require('./keys/secretsManagerManifestStore') as typeof import('./keys/secretsManagerManifestStore');
  return new SecretsManagerManifestStore({
    secretId: m.secretId ?? keyManifestSecretName(config.keys.app, config.keys.environment),
    region: m.region ?? config.dynamodb.region,
  });
}

/** The audit log path: configured, or beside the cache directory. */
export function auditLogPath(config: AdvancedCacheConfig): string {
  return config.audit.path ?? join(dirname(resolve(config.file.dir)), 'audit.jsonl');
}

/**
 * The audit log's MAC keys and anchor from the key manager (client/audit/auditKeys.ts): the
 * root subkey when a local root-key provider is configured, else the active data key's; the
 * anchor only in a manifest file this machine alone writes.
 */
export function auditParts(keys: KeyManager, config: AdvancedCacheConfig): { keys: AuditKeySource; anchor: AuditAnchor | undefined } {
  const localRoot = config.keys.providers.some((p) => p === 'keyring' || p === 'env');
  return {
    keys: auditKeysFromKeyManager(keys, { localRoot }),
    anchor: config.keys.manifest.store === 'file' ? manifestAuditAnchor(keys) : undefined,
  };
}

/** Writes queued audit records and anchors the head; a failure is logged and returned, not thrown. */
async function closeAudit(audit: AuditLog | undefined, logger: Logger): Promise<Error | undefined> {
  try {
    await audit?.close();
    return undefined;
  } catch (error) {
    logger.warn({ error: (error as Error).message }, 'the audit log could not be completed on close');
    return error instanceof Error ? error : new Error(String(error));
  }
}
