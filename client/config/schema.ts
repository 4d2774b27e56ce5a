import { z } from 'zod';
import { backendRegistry } from '../backends/registry';
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

/**
 * The backend types and their sections come from the backend registry
 * (client/backends/registry): one definition per type declares its section, and this schema
 * assembles them. Add a backend there, not here.
 */
type Registry = typeof backendRegistry;
type Definition = Registry['definitions'][number];
type SectionOf<Type extends string> = ReturnType<Extract<Definition, { type: Type }>['configSection']>;

export const BackendType = z.enum(backendRegistry.names);
export type BackendType = z.infer<typeof BackendType>;
/** The backend types a hybrid may name in `tiers` (the registered ones that can be tiers). */
export type TierName = AdvancedCacheConfig['hybrid']['tiers'][number];

/**
 * The `config[type]` sections of a registry's backends, each defaulted to its own defaults; in
 * registry order. Exported for tests that build a registry with an extra backend type.
 */
type RegistryLike = { readonly definitions: readonly { readonly type: string; configSection(zod: typeof z): z.ZodObject }[] };

export function backendSections<R extends RegistryLike>(
  registry: R,
): { [D in R['definitions'][number] as D['type']]: z.ZodDefault<ReturnType<D['configSection']>> } {
  const shape: Record<string, z.ZodType> = {};
  for (const d of registry.definitions) {
    const section = d.configSection(z);
    shape[d.type] = section.default(section.parse({}));
  }
  return shape as { [D in R['definitions'][number] as D['type']]: z.ZodDefault<ReturnType<D['configSection']>> };
}

const sections = backendSections(backendRegistry);

export const MemoryConfig: SectionOf<'memory'> = sections.memory.unwrap();
export const FileConfig: SectionOf<'file'> = sections.file.unwrap();
export const DynamoDBConfig: SectionOf<'dynamodb'> = sections.dynamodb.unwrap();
export const HybridConfig: SectionOf<'hybrid'> = sections.hybrid.unwrap();

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
  ...sections,
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

/**
 * The configuration schema for another registry (a test's, with an extra backend type): the
 * same as {@link AdvancedCacheConfig} with that registry's `backend`, `fallback` and sections.
 * `AdvancedCacheConfig` itself is this over the built-in registry.
 */
export function configSchemaFor<R extends RegistryLike & { readonly names: readonly [string, ...string[]] }>(registry: R) {
  const type = z.enum(registry.names as R['names']);
  return AdvancedCacheConfig.extend({
    backend: type.default('hybrid' as R['names'][number]),
    fallback: type.optional(),
    ...backendSections(registry),
  });
}

/** Fields whose values are secret-bearing and always redacted in output (config/redact.ts). */
export { SECRET_FIELDS } from './redact';
