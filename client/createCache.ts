import { dirname, join, resolve } from 'node:path';
import type { AuditAnchor, AuditKeySource, AuditLog } from './audit/auditLog';
import type { CacheBackend } from './backends/cacheBackend';
import type { LoadConfigOptions } from './config/loadConfig';
import type { AdvancedCacheConfig, CacheConfigInput } from './config/schema';
import { CacheManager } from './core/cacheManager';
import type { EncryptionProvider } from './crypto/encryptionProvider';
import type { KeyProviderDeps } from './keys/createKeyProviders';
import type { KeyManager } from './keys/keyManager';
import type { KeyProvider } from './keys/keyProvider';
import type { ManifestStore } from './keys/manifestStore';
import { createLogger, toLogger, warnOnce, type LoggerLike } from './logger';
import { loadOptional } from './optionalDependency';
import type { Clock, Logger } from './types';

/**
 * The key-provider registry, required when a cache is made rather than imported: it carries the
 * providers' config sections (zod), which the root entry must not load until it is used.
 */
function providers(): typeof import('./keys/providerRegistry') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./keys/providerRegistry') as typeof import('./keys/providerRegistry');
}

/*
 * The heavy parts (zod and the schema, the key manager, SQLite, the AWS SDK) are required inside
 * createCache, not at the top: the root entry exports createCache, and `import 'cachevault'`
 * must stay cheap for apps (and Lambda cold starts) that have not built a cache yet.
 */
/* eslint-disable @typescript-eslint/no-require-imports */

/** What `createCache` takes besides the configuration itself: how to run, not what to build. */
export interface CacheRuntimeOptions {
  /**
   * Where log lines go: any object with debug/info/warn/error (pino, bunyan, console, winston,
   * Powertools through `cachevault/powertools`). Calls are `(fields, message)`; set
   * `messageFirstLogger: true` for loggers that take the message first (console, winston).
   * @default nothing is logged, unless the configuration sets `logging.level` (JSON lines on stderr)
   */
  readonly logger?: LoggerLike | Logger;
  /** The logger takes `(message, fields)` rather than `(fields, message)`. @default false */
  readonly messageFirstLogger?: boolean;
  /** @default Date.now */
  readonly clock?: Clock;
  /** Config file; else `CACHEVAULT_CONFIG`, else `./cachevault.config.json` if present. */
  readonly configFile?: string;
  /** Environment to read `CACHEVAULT_*` (and AWS_REGION...) from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Directory the default config file is looked for in. @default process.cwd() */
  readonly cwd?: string;
  /** Injected key-provider dependencies (a KMS client with custom credentials, tests). */
  readonly keyProviderDeps?: Omit<KeyProviderDeps, 'logger'>;
  /**
   * Check that a data key can be had before returning. Off only for tools that report key
   * problems themselves (the CLI's health and status). @default true
   */
  readonly verifyKeys?: boolean;
  /**
   * Open without writing key state: no key version is created (not even the first), the manifest
   * and revision pin are not written and key events are not audited. For read-only commands.
   * @default false
   */
  readonly readOnly?: boolean;
  /** Open even when the key manifest is refused, so a key backup can replace it (`keys restore`). @default false */
  readonly recoverKeys?: boolean;
}

/**
 * `createCache`'s one argument: the configuration (every field of docs/configuration.md, all
 * optional) with the runtime options beside it, e.g.
 * `createCache({ backend: 'file', file: { dir: '/var/cache/app' }, logger })`.
 */
export type CreateCacheOptions = CacheConfigInput & CacheRuntimeOptions;

/**
 * The shape before 0.2: `{ options: config, file: configPath, env, cwd, clock, logger }`.
 * Still accepted, with a deprecation warning.
 * @deprecated pass the configuration directly: `createCache({ ...config, configFile })`.
 */
export interface LegacyCreateCacheOptions extends LoadConfigOptions {
  readonly clock?: Clock;
  readonly logger?: LoggerLike | Logger;
  readonly keyProviderDeps?: Omit<KeyProviderDeps, 'logger'>;
  readonly verifyKeys?: boolean;
  readonly readOnly?: boolean;
  readonly recoverKeys?: boolean;
}

/** The parts a {@link Cache} was built from. */
export interface CacheParts {
  readonly backend: CacheBackend;
  /** The key manager, when encryption is enabled. */
  readonly keyManager: KeyManager | undefined;
  /** The key provider chain the key manager uses (health checks probe it). */
  readonly keyProviders: readonly KeyProvider[];
  readonly encryption: EncryptionProvider;
  readonly audit: AuditLog | undefined;
  readonly config: AdvancedCacheConfig;
  /** Deprecations, insecure settings, fallbacks taken at start-up (each also logged once per process). */
  readonly warnings: readonly string[];
  /** Why the preferred backend did not start, when the configured fallback runs instead. */
  readonly fallbackReason: string | undefined;
  /** The backend actually running: the configured one, or the fallback. */
  readonly backendName: string;
}

/**
 * A configured cache: the CacheManager API (`get`, `set`, `wrap`, ...) with the parts it was
 * built from as properties. `close()` also closes the lease and zeroes key material.
 */
export class Cache extends CacheManager implements CacheParts {
  readonly keyManager: KeyManager | undefined;
  readonly keyProviders: readonly KeyProvider[];
  readonly encryption: EncryptionProvider;
  readonly audit: AuditLog | undefined;
  readonly config: AdvancedCacheConfig;
  readonly warnings: readonly string[];
  readonly fallbackReason: string | undefined;
  readonly backendName: string;
  private readonly closeParts: () => Promise<void>;

  /** @internal built by {@link createCache} */
  constructor(manager: ConstructorParameters<typeof CacheManager>[0], parts: CacheParts, closeParts: () => Promise<void>) {
    super(manager);
    this.keyManager = parts.keyManager;
    this.keyProviders = parts.keyProviders;
    this.encryption = parts.encryption;
    this.audit = parts.audit;
    this.config = parts.config;
    this.warnings = parts.warnings;
    this.fallbackReason = parts.fallbackReason;
    this.backendName = parts.backendName;
    this.closeParts = closeParts;
    this.keyManager?.attachEvents(this.eventSink);
  }

  /** @deprecated the key manager; use `keyManager`. */
  get keys(): KeyManager | undefined {
    return this.keyManager;
  }

  /** @deprecated `createCache` returns the cache itself; use it directly. */
  get cache(): this {
    return this;
  }

  /**
   * Closes the backend and lease, writes queued audit records and anchors the audit head, and
   * zeroes key material, each part even when another fails. Rejects (after all of that) when an
   * audit record could not be written.
   */
  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.closeParts();
    }
  }
}

/** @deprecated the old name of {@link Cache}. */
export type CacheVault = Cache;

const RUNTIME_KEYS = new Set(['logger', 'messageFirstLogger', 'clock', 'configFile', 'env', 'cwd', 'keyProviderDeps', 'verifyKeys', 'readOnly', 'recoverKeys']);
const LEGACY_KEYS = new Set(['options', 'file', 'env', 'cwd', 'clock', 'logger', 'keyProviderDeps', 'verifyKeys', 'readOnly', 'recoverKeys']);

/**
 * Builds the cache the configuration describes: defaults < config file < `CACHEVAULT_*`
 * environment < the options given here, validated; then the backend (with its fallback), the
 * key manager over the provider chain, and the encryption provider. With encryption on, it
 * checks that a data key can be had before it returns: a machine where no key provider works
 * fails here, with every provider tried and its fix, not at the first `set`.
 */
export async function createCache(input: CreateCacheOptions | LegacyCreateCacheOptions = {}): Promise<Cache> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TypeError(`createCache(options) takes an object such as { backend: 'file' }, got ${input === null ? 'null' : typeof input}.`);
  }
  const { load, runtime, deprecated } = splitInput(input);
  const { loadConfig } = require('./config/loadConfig') as typeof import('./config/loadConfig');
  const loaded = loadConfig(load);
  let { config } = loaded;
  const logger = runtime.logger
    ? toLogger(runtime.logger, { messageFirst: runtime.messageFirstLogger })
    : loaded.sources.has('logging.level') ? createLogger(config.logging.level) : createLogger('silent');
  const warnings = [...(deprecated ? [deprecated] : []), ...loaded.warnings];

  let audit: AuditLog | undefined;
  if (config.audit.enabled) {
    const { AuditLog } = require('./audit/auditLog') as typeof import('./audit/auditLog');
    audit = new AuditLog({ path: auditLogPath(config), clock: runtime.clock, logger });
  }
  let keys: KeyManager | undefined;
  let keyProviders: KeyProvider[] = [];
  const { NoEncryption } = require('./crypto/noEncryption') as typeof import('./crypto/noEncryption');
  let encryption: EncryptionProvider = new NoEncryption();
  if (config.encryption.enabled) {
    const { createKeyProviders } = require('./keys/createKeyProviders') as typeof import('./keys/createKeyProviders');
    const { KeyManager } = require('./keys/keyManager') as typeof import('./keys/keyManager');
    const { AeadEncryption } = require('./crypto/aeadEncryption') as typeof import('./crypto/aeadEncryption');
    keyProviders = createKeyProviders(config.keys, { ...runtime.keyProviderDeps, env: runtime.keyProviderDeps?.env ?? load.env, logger });
    if (!loaded.sources.has('keys.providers')) {
      // The default chain has the keyring "where reachable": on a server with the module
      // installed but no keyring daemon, it would only be a provider that is always down.
      const reachable = await Promise.all(keyProviders.map(async (p) => !providers().keyProviderDefinition(p.name).probeBeforeDefault || (await p.probe().catch(() => ({ ok: false }))).ok));
      if (reachable.includes(false) && reachable.includes(true)) {
        keyProviders = keyProviders.filter((_, i) => reachable[i]);
        config = { ...config, keys: { ...config.keys, providers: keyProviders.map((p) => p.name) } };
      }
    }
    const { manifestSealer } = require('./keys/createManifestSealer') as typeof import('./keys/createManifestSealer');
    const { isLocalRootKeyProvider } = require('./keys/keyProvider') as typeof import('./keys/keyProvider');
    // The local root key that seals the manifest and its revision pin: the first configured one
    // that answers here (keyring,env on a box without a keyring uses env, as the chain does).
    let localRoot: import('./keys/keyProvider').LocalRootKeyProvider | undefined;
    for (const p of keyProviders.filter(isLocalRootKeyProvider)) {
      if ((await p.probe().catch(() => ({ ok: false }))).ok) {
        localRoot = p;
        break;
      }
    }
    localRoot ??= keyProviders.find(isLocalRootKeyProvider);
    const sealer = manifestSealer(config, keyProviders.filter((p) => !isLocalRootKeyProvider(p) || p === localRoot), runtime.keyProviderDeps);
    if (!sealer) {
      warnings.push('The key manifest is not MACed (no manifest MAC key): whoever can write it could roll it back or replace keys. Set keys.kms.macKeyId (docs/key-management.md).');
    }
    const { FileRevisionPinStore, defaultRevisionPinDir } = require('./keys/revisionPin') as typeof import('./keys/revisionPin');
    keys = await KeyManager.open({
      providers: keyProviders,
      store: manifestStore(config),
      sealer,
      revisionPins: localRoot ? new FileRevisionPinStore(defaultRevisionPinDir(config.file.dir), localRoot) : undefined,
      readOnly: runtime.readOnly,
      recovery: runtime.recoverKeys,
      app: config.keys.app,
      environment: config.keys.environment,
      wrapLocally: config.keys.wrapLocally,
      audit,
      clock: runtime.clock,
      logger,
      cache: { maxAgeMs: config.keys.kms.cacheMaxAgeMs, maxUses: config.keys.kms.cacheMaxUses },
    });
    audit?.attach(auditParts(keys, config));
    if (runtime.verifyKeys !== false && !runtime.readOnly) {
      try {
        // Fail here, not at the first set: a data key must be obtainable with this chain.
        await keys.activeKey();
      } catch (err) {
        await keys.close();
        throw withSetupHint(err, config);
      }
    }
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
  const sharesKeys = config.keys.manifest.store === 'secretsmanager' || config.keys.providers.some(providers().isRemoteProvider);
  const isLocalOnly = keyManager && sharesKeys ? (entry: { keyId: string }) => keyManager.isLocalOnly(entry.keyId) : undefined;
  const { createBackend } = require('./backends/backendFactory') as typeof import('./backends/backendFactory');
  let created: Awaited<ReturnType<typeof createBackend>>;
  try {
    created = await createBackend(config, { clock: runtime.clock, logger, isLocalOnly, readOnly: runtime.readOnly });
  } catch (err) {
    await closeAudit(audit, logger);
    await keys?.close();
    throw err;
  }
  warnings.push(...created.warnings);
  // A provider that logs its own warning when it is used (env), which is when it matters: the
  // config's version of it stays in `warnings` without being logged a second time.
  const loggedByProvider = new Set(
    config.encryption.enabled
      ? providers().keyProviderConfigWarnings(config.keys, { explicit: loaded.sources.has('keys.providers'), env: load.env ?? process.env }).filter((w) => w.loggedWhenUsed).map((w) => w.message)
      : [],
  );
  for (const warning of warnings) if (!loggedByProvider.has(warning)) warnOnce(logger, warning);

  const { compressionTransform } = require('./core/compression') as typeof import('./core/compression');
  const lease = created.lease;
  return new Cache(
    {
      backend: created.backend,
      namespace: config.namespace,
      defaultTtlMs: config.defaultTtlMs,
      encryption,
      transforms: config.compression.enabled ? [compressionTransform({ thresholdBytes: config.compression.thresholdBytes })] : [],
      lease,
      strict: config.hybrid.strict,
      sharedValues: config.memory.sharedValues,
      tagVersionCacheMs: config.tags.versionCacheMs,
      tagVersionTtlMs: config.tags.versionTtlMs,
      clock: runtime.clock,
      logger,
    },
    {
      backend: created.backend,
      keyManager: keys,
      keyProviders,
      encryption,
      audit,
      config,
      warnings,
      fallbackReason: created.fallbackReason,
      backendName: created.name,
    },
    async () => {
      let auditFailure: Error | undefined;
      try {
        lease?.close();
      } finally {
        // Queued audit records need the keys for their MACs and the anchor: before keys close.
        auditFailure = await closeAudit(audit, logger);
        await keys?.close();
      }
      // Everything is closed and zeroed; a security event that could not be recorded is still news.
      if (auditFailure) throw auditFailure;
    },
  );
}

/** Separates what to load (config, file, env, cwd) from how to run (logger, clock...). */
function splitInput(input: CreateCacheOptions | LegacyCreateCacheOptions): {
  load: LoadConfigOptions;
  runtime: CacheRuntimeOptions;
  deprecated: string | undefined;
} {
  const record = input as Record<string, unknown>;
  const legacy = 'options' in record || typeof record.file === 'string';
  if (legacy) {
    const unknown = Object.keys(record).filter((k) => !LEGACY_KEYS.has(k));
    if (unknown.length > 0) {
      throw new TypeError(`createCache: ${unknown.map((k) => `"${k}"`).join(', ')} cannot be combined with the old { options, file } shape; put every setting at the top level.`);
    }
    const old = input as LegacyCreateCacheOptions;
    return {
      load: { options: old.options, file: old.file, env: old.env, cwd: old.cwd },
      runtime: { logger: old.logger, clock: old.clock, keyProviderDeps: old.keyProviderDeps, verifyKeys: old.verifyKeys, readOnly: old.readOnly, recoverKeys: old.recoverKeys },
      deprecated: 'createCache({ options: {...}, file }) is deprecated: pass the settings directly, createCache({ backend: "file", ..., configFile }).',
    };
  }
  const options: Record<string, unknown> = {};
  const runtime: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) (RUNTIME_KEYS.has(k) ? runtime : options)[k] = v;
  const r = runtime as CacheRuntimeOptions;
  return {
    load: { options: options as CacheConfigInput, file: r.configFile, env: r.env, cwd: r.cwd },
    runtime: r,
    deprecated: undefined,
  };
}

/** A key-provider failure at start-up, with how to configure a provider where none is. */
function withSetupHint(err: unknown, config: AdvancedCacheConfig): unknown {
  if (!(err instanceof Error) || (err as { code?: string }).code !== 'NO_KEY_PROVIDER') return err;
  const hinted = err as Error & { hint?: string };
  const setup =
    `Configure a key provider: keys.kms.keyId for KMS on AWS; an OS keyring on a desktop; or ${config.keys.envKey.variable} ` +
    `(\`openssl rand -base64 32\`) in containers and CI. \`npx cachevault init\` writes a config for each case; docs/configuration.md#keys-data-keys-and-the-keys-that-wrap-them.`;
  Object.defineProperty(hinted, 'hint', { value: hinted.hint ? `${hinted.hint} ${setup}` : setup, configurable: true, enumerable: true });
  return hinted;
}

/** The key manifest store the configuration names. */
export function manifestStore(config: AdvancedCacheConfig): ManifestStore {
  const m = config.keys.manifest;
  if (m.store === 'file') {
    const { FileManifestStore, defaultManifestPath } = require('./keys/fileManifestStore') as typeof import('./keys/fileManifestStore');
    return new FileManifestStore(m.path ?? defaultManifestPath(config.file.dir));
  }
  const { SecretsManagerManifestStore } = loadOptional(
    '@aws-sdk/client-secrets-manager',
    () => require('./keys/secretsManagerManifestStore') as typeof import('./keys/secretsManagerManifestStore'),
  );
  return new SecretsManagerManifestStore({
    secretId: m.secretId ?? keyManifestSecretName(config.keys.app, config.keys.environment),
    region: m.region ?? config.dynamodb.region,
  });
}

function keyManifestSecretName(app: string, environment: string): string {
  return (require('./schema/tableSchema') as typeof import('./schema/tableSchema')).keyManifestSecretName(app, environment);
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
  const { auditKeysFromKeyManager, manifestAuditAnchor } = require('./audit/auditKeys') as typeof import('./audit/auditKeys');
  const localRoot = config.keys.providers.some(providers().hasLocalRootKey);
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
