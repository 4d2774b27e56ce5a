import type { KMSClient } from '@aws-sdk/client-kms';
import type { z } from 'zod';
import type { OptionalPackage } from '../optionalDependency';
import type { Logger } from '../types';
import type { KeyProvider, LocalRootKeyProvider } from './keyProvider';
import type { KeyringEntry } from './keyringKeyProvider';

/** What every provider may be given at creation, besides its own config section. */
export interface KeyProviderDeps {
  readonly logger?: Logger;
  /** A KMS client to use instead of building one from `keys.kms` (tests, custom credentials). */
  readonly kmsClient?: KMSClient;
  /** Keyring entries for tests; defaults to `@napi-rs/keyring`. */
  readonly keyringEntryFactory?: (service: string, account: string) => KeyringEntry;
  /** Environment for the `env` provider. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** The part of `keys` a provider is built from: its own section plus the deployment's names. */
export interface KeyProviderSettings<Config> {
  /** The provider's section of `keys` (`keys.kms`, `keys.keyring`, ...), parsed, defaults applied. */
  readonly config: Config;
  readonly app: string;
  readonly environment: string;
}

/**
 * One key provider as the rest of cachevault sees it: everything code needs to know about a
 * provider without comparing its name to a string. The registry (providerRegistry.ts) lists
 * these; the config schema, the provider chain, the key manager, health and the CLI read them.
 *
 * `create` loads the provider's implementation (and any SDK or native module it needs) only when
 * called, so a configuration that does not use a provider never pays for its code.
 */
export interface KeyProviderDefinition<Name extends string = string, ConfigKey extends string = string, Section extends z.ZodType = z.ZodType> {
  /** The name in `keys.providers` and in every wrapping it makes (`WrappedKey.provider`). */
  readonly name: Name;
  /** The provider's section under `keys` in the config (`keys.<configKey>`). */
  readonly configKey: ConfigKey;
  /** Its zod schema, every field defaulted, so `{}` parses. */
  readonly config: Section;
  /**
   * The wrapping key lives in a service every machine of the deployment can reach (KMS), not on
   * this machine. Only such a wrapping lets other machines read a key: a key version wrapped by
   * no remote provider is "local only", its entries stay off shared tiers, and a shared manifest
   * refuses it while a remote provider is configured.
   */
  readonly remote: boolean;
  /**
   * The wrapping key is a root key on this machine, from which HKDF subkeys are derived (the
   * local manifest MAC, the audit log's MAC key); the provider is a LocalRootKeyProvider.
   */
  readonly localRootKey: boolean;
  /** The generic fix when it fails and its own error has no more specific hint. */
  readonly fix: string;
  /**
   * Whether the default chain (no `keys.providers` configured) includes it, judged from the raw,
   * unparsed section and the environment before the config is parsed.
   */
  inDefaultChain(context: { readonly section: Readonly<Record<string, unknown>>; readonly env: NodeJS.ProcessEnv; readonly installed: (pkg: OptionalPackage) => boolean }): boolean;
  /**
   * In a default chain, keep it only where its probe passes (a keyring module installed on a
   * server without a keyring daemon is a provider that would always be down).
   */
  readonly probeBeforeDefault: boolean;
  /**
   * A warning about the configuration when this provider is in it (`explicit`: named in
   * `keys.providers` rather than defaulted), or undefined. `loggedWhenUsed`: the provider logs
   * the same warning itself when it is used, so `createCache` does not log it a second time.
   */
  readonly configWarning?: {
    message(config: z.output<Section>, context: { readonly explicit: boolean; readonly env: NodeJS.ProcessEnv }): string | undefined;
    readonly loggedWhenUsed: boolean;
  };
  /**
   * For a provider whose root key can be replaced in place (`cachevault keys rotate-root`): the
   * provider holding `newRootKey` instead, presented as the configured one so wrappings and the
   * manifest MAC name the root key as clients will look it up.
   */
  replaceRootKey?(config: z.output<Section>, newRootKey: string): LocalRootKeyProvider;
  create(settings: KeyProviderSettings<z.output<Section>>, deps: KeyProviderDeps): KeyProvider;
}
