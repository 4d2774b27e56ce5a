import { ConfigError } from '../errors';
import { isInstalled, type OptionalPackage } from '../optionalDependency';
import type { KeyProvider } from './keyProvider';
import type { KeyProviderDeps } from './keyProviderDefinition';
import { KEY_PROVIDERS, keyProviderDefinition, keyProviderSettings, type KeyProviderKeysConfig, type KeyProviderName } from './providerRegistry';

export type { KeyProviderDeps } from './keyProviderDefinition';

/** The `keys` config createKeyProviders reads: `providers` plus each provider's section. */
export type KeysConfigValue = KeyProviderKeysConfig & { readonly providers: readonly KeyProviderName[] };

/**
 * The provider chain when `keys.providers` is not configured, following what is (registry
 * order, each entry's `inDefaultChain`): KMS when a key id is set (`keys.kms.keyId`), then the
 * OS keyring where one can exist (its module installed, not on Lambda), then the env key. A key
 * is only ever taken from the first provider that works; later ones are fallbacks. `createCache`
 * checks that the chain yields a key before it returns, so a machine where none works fails
 * there, with each provider's fix.
 *
 * `keys` is the raw, unparsed `keys` object (this runs before the config is parsed).
 */
export function defaultKeyProviders(
  keys: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
  installed: (pkg: OptionalPackage) => boolean = isInstalled,
): KeyProviderName[] {
  const section = (key: string): Readonly<Record<string, unknown>> => {
    const value = keys[key];
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  };
  return KEY_PROVIDERS.filter((p) => p.inDefaultChain({ section: section(p.configKey), env, installed })).map((p) => p.name);
}

/**
 * Builds the configured provider chain, in `keys.providers` order. Each provider's code (and the
 * KMS SDK or the keyring module it needs) is loaded only when it is configured.
 */
export function createKeyProviders(keys: KeysConfigValue, deps: KeyProviderDeps = {}): KeyProvider[] {
  const seen = new Set<string>();
  return keys.providers.map((name) => {
    if (seen.has(name)) {
      throw new ConfigError(`keys.providers lists "${name}" twice.`, [
        { path: 'keys.providers', value: JSON.stringify(keys.providers), expected: 'each provider at most once' },
      ]);
    }
    seen.add(name);
    return keyProviderDefinition(name).create(keyProviderSettings(name, keys), deps);
  });
}
