import { z } from 'zod';
import { KEY_PROVIDER_NAMES, keyProviderConfigShape } from '../keys/providerRegistry';

/**
 * The whole configuration, validated with zod. Every field has a default, so `{}` is a valid
 * config (the embedded local default). docs/configuration.md is checked against this schema.
 *
 * Environment variables map to leaf fields: `CACHEVAULT_` + the path in SCREAMING_SNAKE_CASE,
 * e.g. `file.maxBytes` -> `CACHEVAULT_FILE_MAX_BYTES` (see `envVarName`).
 */

const positiveInt = z.number().int().positive();
const ttlMs = z.number().int().positive().nullable();

export const BackendType = z.enum(['memory', 'file', 'dynamodb', 'hybrid']);
export type BackendType = z.infer<typeof BackendType>;

export const MemoryConfig = z.strictObject({
  /** Most entries held in memory. */
  maxEntries: positiveInt.default(10_000),
  /** Most bytes held in memory. */
  maxBytes: positiveInt.default(64 * 1024 * 1024),
  /** Memory hits hand every caller one deep-frozen decoded object instead of a copy each (CacheManager's `sharedValues`). */
  sharedValues: z.boolean().default(false),
});

export const FileConfig = z.strictObject({
  /**
   * Directory of the local cache (created when the file tier first writes). Unset, `loadConfig`
   * puts it under the platform cache directory (see `defaultCacheDir`); this default is what a
   * bare `FileConfig.parse({})` gets, relative to the working directory.
   */
  dir: z.string().min(1).default('.cachevault/cache'),
  /** Upper bound on stored bytes; least recently used entries are evicted past it. */
  maxBytes: positiveInt.default(1024 * 1024 * 1024),
  /** Upper bound on entries. */
  maxEntries: positiveInt.default(1_000_000),
  /** `normal`: fast, a power cut may lose the last writes. `full`: fsync on every write. */
  durability: z.enum(['normal', 'full']).default('normal'),
  /** Values at least this large are stored as files beside the database. */
  spillThresholdBytes: positiveInt.default(64 * 1024),
  /** How long a writer waits for another process's lock before failing. */
  busyTimeoutMs: positiveInt.default(5_000),
});

export const DynamoDBConfig = z.strictObject({
  tableName: z.string().min(3).max(255).regex(/^[A-Za-z0-9_.-]+$/).default('cachevault'),
  /** Unset: AWS_REGION / AWS_DEFAULT_REGION, else the AWS SDK's own resolution (profile, instance metadata). */
  region: z.string().min(1).optional(),
  /** Endpoint override (DynamoDB Local); omit on AWS. */
  endpoint: z.url().optional(),
  /** Strongly consistent reads (twice the read cost). */
  consistentRead: z.boolean().default(false),
  /** Per-request timeout. */
  requestTimeoutMs: positiveInt.default(3_000),
  /** SDK retry attempts for throttling and transient errors. */
  maxAttempts: positiveInt.default(5),
  /** Largest item body before an entry is split into chunks. */
  chunkBytes: positiveInt.max(390 * 1024).default(350 * 1024),
  /** Deadline for retrying unprocessed batch items. */
  batchRetryDeadlineMs: positiveInt.default(10_000),
  /** Create the table (with TTL) at start-up if it does not exist; for local use. */
  createTable: z.boolean().default(false),
});

export const HybridConfig = z.strictObject({
  /**
   * Tiers from fastest to shared. The default is local only: the DynamoDB tier is added by
   * naming it, so `{}` never reaches for AWS.
   */
  tiers: z.array(z.enum(['memory', 'file', 'dynamodb'])).min(1).default(['memory', 'file']),
  /** Cap on how long a local copy of a shared entry lives before it is re-read from DynamoDB. */
  localTtlCapMs: positiveInt.default(60_000),
  /** How long past the local cap a local copy may be served while DynamoDB is failing. */
  staleIfErrorMs: z.number().int().nonnegative().default(300_000),
  /** Timeout for one operation on one tier. */
  tierTimeoutMs: positiveInt.default(1_000),
  /** Consecutive failures that open the circuit breaker for the shared tier. */
  breakerFailureThreshold: positiveInt.default(5),
  /** How long the breaker stays open before a probe. */
  breakerResetMs: positiveInt.default(30_000),
  /** Throw on shared-tier outages instead of degrading to local tiers. */
  strict: z.boolean().default(false),
  /** Cross-instance stampede protection for `wrap` through a DynamoDB lease item. */
  lease: z.boolean().default(false),
  /** How long a wrap lease holds before others compute anyway. */
  leaseMs: positiveInt.default(10_000),
});

/** The key provider names, from the provider registry (client/keys/providerRegistry.ts). */
export const KeyProviderName = z.enum(KEY_PROVIDER_NAMES);
export type KeyProviderName = z.infer<typeof KeyProviderName>;

export const KeysConfig = z.strictObject({
  /**
   * Providers tried in order; the first that works supplies keys, later ones are fallbacks.
   * Unset, `loadConfig` follows what is configured: `kms` when `keys.kms.keyId` is set, then
   * `keyring` (not on Lambda, and only with `@napi-rs/keyring` installed), then `env`.
   */
  providers: z.array(KeyProviderName).min(1).default(['keyring', 'env']),
  /** Application and environment names, bound into KMS encryption contexts. */
  app: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/).default('cachevault'),
  environment: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/).default('local'),
  /** Where the key manifest (wrapped data keys) lives. */
  manifest: z
    .strictObject({
      store: z.enum(['file', 'secretsmanager']).default('file'),
      /** File path for `store: file`; defaults to beside the cache directory. */
      path: z.string().min(1).optional(),
      /** Secret id for `store: secretsmanager`; defaults to the stack's naming convention. */
      secretId: z.string().min(1).optional(),
      region: z.string().min(1).optional(),
    })
    .default({ store: 'file' }),
  /** Each provider's own section (`kms`, `keyring`, `envKey`): see client/keys/providerRegistry.ts. */
  ...keyProviderConfigShape,
  /** Also wrap each data key under the local root key, so reads survive a KMS outage. */
  wrapLocally: z.boolean().default(true),
  /** Rotation policy: key versions older than this are flagged by `audit report`. */
  maxKeyAgeDays: positiveInt.default(90),
});

export const EncryptionConfig = z.strictObject({
  enabled: z.boolean().default(true),
  algorithm: z.enum(['aes-256-gcm', 'aes-256-cbc-hmac-sha-512']).default('aes-256-gcm'),
  /** Read entries written before encryption was enabled. */
  /**
   * Read entries stored unencrypted (`none` envelopes, written before encryption was enabled).
   * They carry only a checksum, so anyone who can write the file tier or the table could forge
   * them: off unless you turn it on. `cachevault encryption enable` turns it on for its sweep
   * and off again once no unencrypted entry remains. Ignored when encryption is disabled.
   */
  allowUnencryptedReads: z.boolean().default(false),
});

export const CompressionConfig = z.strictObject({
  enabled: z.boolean().default(true),
  thresholdBytes: positiveInt.default(1024),
});

/** Tag invalidation (docs/caching.md): how long tag versions are trusted and kept. */
export const TagsConfig = z.strictObject({
  /** How long an instance trusts a tag version it read; bounds how late another instance sees an invalidation. */
  versionCacheMs: z.number().int().nonnegative().default(1_000),
  /** Lifetime of a tag's version item. */
  versionTtlMs: positiveInt.default(2_592_000_000),
});

export const LoggingConfig = z.strictObject({
  level: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('warn'),
});

export const AuditConfig = z.strictObject({
  enabled: z.boolean().default(true),
  /** JSON-lines audit log; defaults to beside the cache directory. */
  path: z.string().min(1).optional(),
});

export const AdvancedCacheConfig = z.strictObject({
  backend: BackendType.default('hybrid'),
  /** Backend started when the preferred one cannot start; none by default. */
  fallback: BackendType.optional(),
  namespace: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/).default('default'),
  /** TTL for writes that name none; null never expires. */
  defaultTtlMs: ttlMs.default(3_600_000),
  memory: MemoryConfig.default(MemoryConfig.parse({})),
  file: FileConfig.default(FileConfig.parse({})),
  dynamodb: DynamoDBConfig.default(DynamoDBConfig.parse({})),
  hybrid: HybridConfig.default(HybridConfig.parse({})),
  encryption: EncryptionConfig.default(EncryptionConfig.parse({})),
  keys: KeysConfig.default(KeysConfig.parse({})),
  compression: CompressionConfig.default(CompressionConfig.parse({})),
  tags: TagsConfig.default(TagsConfig.parse({})),
  logging: LoggingConfig.default(LoggingConfig.parse({})),
  audit: AuditConfig.default(AuditConfig.parse({})),
});

/** The validated, fully defaulted configuration. */
export type AdvancedCacheConfig = z.infer<typeof AdvancedCacheConfig>;
/** What a user may write: every field optional, nested. */
export type CacheConfigInput = z.input<typeof AdvancedCacheConfig>;

/** Fields whose values are secret-bearing and always redacted in output (config/redact.ts). */
export { SECRET_FIELDS } from './redact';
