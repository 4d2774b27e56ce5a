/**
 * The key providers cachevault knows, one entry each. Everything that depends on which provider
 * is which reads it from here: the config schema (`keys.providers` and each provider's section),
 * the manifest's wrapping schema, the default chain, the provider chain ("remote" or on this
 * machine), the key manager, health, the CLI. No other file compares a provider name to a string
 * (test/unit/keys/providerNameComparisons.test.ts checks that).
 *
 * Adding a provider (a Vault transit key, a PKCS#11 token) is its implementation file plus one
 * entry in KEY_PROVIDERS. This module is loaded by the config schema, so it stays light: each
 * entry's `create` requires its implementation only when the provider is configured, and the
 * KMS SDK and `@napi-rs/keyring` load only then.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading is the point: see above */
import { z } from 'zod';
import { looksLikeSecret } from '../config/redact';
import { ConfigError } from '../errors';
import { silentLogger, warnOnce } from '../logger';
import { loadOptional } from '../optionalDependency';
import type { KeyProviderDefinition } from './keyProviderDefinition';

const positiveInt = z.number().int().positive();

const kmsConfig = z
  .strictObject({
    /** KMS key id, ARN or alias (`alias/...`). */
    keyId: z.string().min(1).optional(),
    /**
     * An HMAC_256 KMS key that MACs the key manifest (GenerateMac by the rotation role, VerifyMac
     * by clients). Required to seal a manifest kept in Secrets Manager; see docs/key-management.md.
     */
    macKeyId: z.string().min(1).optional(),
    region: z.string().min(1).optional(),
    endpoint: z.url().optional(),
    /** Plaintext data keys are cached at most this long. */
    cacheMaxAgeMs: positiveInt.default(300_000),
    /** ... and for at most this many uses. */
    cacheMaxUses: positiveInt.default(1_000_000),
  })
  .default({ cacheMaxAgeMs: 300_000, cacheMaxUses: 1_000_000 });

const kms: KeyProviderDefinition<'kms', 'kms', typeof kmsConfig> = {
  name: 'kms',
  configKey: 'kms',
  config: kmsConfig,
  remote: true,
  localRootKey: false,
  fix: 'configure keys.kms.keyId and AWS credentials (AWS_PROFILE, AWS_REGION or an instance/task role) with kms:GenerateDataKey and kms:Decrypt on the key',
  inDefaultChain: ({ section }) => typeof section.keyId === 'string' && section.keyId !== '',
  probeBeforeDefault: false,
  create({ config, app, environment }, deps) {
    if (!config.keyId) {
      // Required here rather than in the schema: `keys.kms` also carries macKeyId and the cache
      // limits, which apply without KMS among the providers.
      throw new ConfigError(
        'keys.providers includes "kms" but keys.kms.keyId is not set.',
        [{ path: 'keys.kms.keyId', value: '(unset)', expected: 'a KMS key id, ARN or alias/NAME' }],
        { hint: 'Set keys.kms.keyId (CACHEVAULT_KEYS_KMS_KEY_ID), or remove "kms" from keys.providers.' },
      );
    }
    const { KmsKeyProvider } = loadOptional('@aws-sdk/client-kms', () => require('./kmsKeyProvider') as typeof import('./kmsKeyProvider'));
    return new KmsKeyProvider({ keyId: config.keyId, client: deps.kmsClient, region: config.region, endpoint: config.endpoint, app, environment });
  },
};

const keyringConfig = z
  .strictObject({
    service: z.string().min(1).default('cachevault'),
    account: z.string().min(1).default('root-key'),
    /** Linux store: `secret-service` persists; the kernel `keyutils` keyring is lost on reboot. */
    linuxStore: z.enum(['secret-service', 'keyutils', 'auto']).default('secret-service'),
  })
  .default({ service: 'cachevault', account: 'root-key', linuxStore: 'secret-service' });

const keyring: KeyProviderDefinition<'keyring', 'keyring', typeof keyringConfig> = {
  name: 'keyring',
  configKey: 'keyring',
  config: keyringConfig,
  remote: false,
  localRootKey: true,
  fix: 'install a Secret Service keyring (apt-get install gnome-keyring dbus) and run inside a desktop session or under dbus-run-session with the keyring unlocked',
  // No keyring daemon exists on Lambda; elsewhere only where the module is installed.
  inDefaultChain: ({ env, installed }) => !env.AWS_LAMBDA_FUNCTION_NAME && installed('@napi-rs/keyring'),
  probeBeforeDefault: true,
  create({ config }, deps) {
    // The module itself is light: it loads @napi-rs/keyring on the first keyring access.
    const { KeyringKeyProvider } = require('./keyringKeyProvider') as typeof import('./keyringKeyProvider');
    return new KeyringKeyProvider({ service: config.service, account: config.account, linuxStore: config.linuxStore, entryFactory: deps.keyringEntryFactory, logger: deps.logger ?? silentLogger });
  },
};

const envConfig = z
  .strictObject({
    /** Name of the environment variable holding a base64 256-bit key (provider `env`). */
    variable: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'the NAME of an environment variable (A-Z, 0-9, _), not the key itself')
      .refine((v) => !looksLikeSecret(v), 'looks like a key, not the name of an environment variable: put the key in the environment and its variable name here')
      .default('CACHEVAULT_KEY'),
  })
  .default({ variable: 'CACHEVAULT_KEY' });

const env: KeyProviderDefinition<'env', 'envKey', typeof envConfig> = {
  name: 'env',
  configKey: 'envKey',
  config: envConfig,
  remote: false,
  localRootKey: true,
  fix: 'set CACHEVAULT_KEY (or keys.envKey.variable) to a base64 32-byte key, e.g. `openssl rand -base64 32`, and add "env" to keys.providers',
  inDefaultChain: () => true,
  probeBeforeDefault: false,
  configWarning: {
    // Defaulted into the chain and its variable unset, it is only a fallback that never runs.
    message: (config, { explicit, env: vars }) =>
      explicit || vars[config.variable]
        ? `The env key provider reads a key from ${config.variable}; environment variables leak more easily than a keyring or KMS.`
        : undefined,
    loggedWhenUsed: true,
  },
  replaceRootKey(config, newRootKey) {
    const { EnvKeyProvider } = require('./envKeyProvider') as typeof import('./envKeyProvider');
    return new EnvKeyProvider({ variable: config.variable, env: { [config.variable]: newRootKey } });
  },
  create({ config }, deps) {
    const { EnvKeyProvider } = require('./envKeyProvider') as typeof import('./envKeyProvider');
    const logger = deps.logger ?? silentLogger;
    // Its "weaker than KMS" warning says nothing new after the first cache in a process.
    return new EnvKeyProvider({ variable: config.variable, env: deps.env, logger: { ...logger, warn: (fields, msg) => warnOnce(logger, msg ?? '', fields) } });
  },
};

/** Every provider, in the order the default chain tries them. */
export const KEY_PROVIDERS = [kms, keyring, env] as const;

type Entry = (typeof KEY_PROVIDERS)[number];

/** The one provider-name type (`'kms' | 'keyring' | 'env'`), derived from the registry. */
export type KeyProviderName = Entry['name'];

/** The names, in registry order (for `z.enum`). */
export const KEY_PROVIDER_NAMES = KEY_PROVIDERS.map((p) => p.name) as unknown as readonly [KeyProviderName, ...KeyProviderName[]];

/** Each provider's config section keyed by its place under `keys` (spread into KeysConfig). */
export type KeyProviderConfigShape = { [E in Entry as E['configKey']]: E['config'] };
export const keyProviderConfigShape = Object.fromEntries(KEY_PROVIDERS.map((p) => [p.configKey, p.config])) as unknown as KeyProviderConfigShape;

/** The parsed `keys` fields providers are built from (a slice of KeysConfig's output). */
export type KeyProviderKeysConfig = { readonly [E in Entry as E['configKey']]: z.output<E['config']> } & { readonly app: string; readonly environment: string };

const byName: ReadonlyMap<string, KeyProviderDefinition> = new Map(KEY_PROVIDERS.map((p) => [p.name, p as KeyProviderDefinition]));

/** The registry entry for a provider name. */
export function keyProviderDefinition(name: KeyProviderName): KeyProviderDefinition {
  const definition = byName.get(name);
  // Names are checked where they enter (config, manifest schemas); this guards a cast gone wrong.
  if (!definition) throw new ConfigError(`Unknown key provider "${String(name)}".`, [{ path: 'keys.providers', value: JSON.stringify(name), expected: KEY_PROVIDER_NAMES.join(', ') }]);
  return definition;
}

/** Whether wrappings by this provider are readable on every machine of the deployment (see `remote`). */
export function isRemoteProvider(name: KeyProviderName): boolean {
  return keyProviderDefinition(name).remote;
}

/** Whether this provider's key is a root key on this machine (see `localRootKey`). */
export function hasLocalRootKey(name: KeyProviderName): boolean {
  return keyProviderDefinition(name).localRootKey;
}

/** The section of `keys` this provider is configured by. */
export function keyProviderSettings(name: KeyProviderName, keys: KeyProviderKeysConfig): { config: unknown; app: string; environment: string } {
  const section = (keys as unknown as Record<string, unknown>)[keyProviderDefinition(name).configKey];
  return { config: section, app: keys.app, environment: keys.environment };
}

/**
 * The configured providers' warnings about the configuration (see `configWarning`). `explicit`:
 * `keys.providers` was set rather than defaulted.
 */
export function keyProviderConfigWarnings(
  keys: KeyProviderKeysConfig & { readonly providers: readonly KeyProviderName[] },
  context: { readonly explicit: boolean; readonly env: NodeJS.ProcessEnv },
): { readonly provider: KeyProviderName; readonly message: string; readonly loggedWhenUsed: boolean }[] {
  return keys.providers.flatMap((name) => {
    const warning = keyProviderDefinition(name).configWarning;
    const message = warning?.message(keyProviderSettings(name, keys).config, context);
    return warning && message ? [{ provider: name, message, loggedWhenUsed: warning.loggedWhenUsed }] : [];
  });
}
