import type { KMSClient } from '@aws-sdk/client-kms';
import type { z } from 'zod';
import type { KeyProviderName, KeysConfig } from '../config/schema';
import { ConfigError } from '../errors';
import { silentLogger, warnOnce } from '../logger';
import { isInstalled, loadOptional } from '../optionalDependency';
import type { Logger } from '../types';
import { EnvKeyProvider } from './envKeyProvider';
import type { KeyProvider } from './keyProvider';
import { KeyringKeyProvider, type KeyringEntry } from './keyringKeyProvider';

export type KeysConfigValue = z.infer<typeof KeysConfig>;

export interface KeyProviderDeps {
  readonly logger?: Logger;
  /** A KMS client to use instead of building one from `keys.kms` (tests, custom credentials). */
  readonly kmsClient?: KMSClient;
  /** Keyring entries for tests; defaults to `@napi-rs/keyring`. */
  readonly keyringEntryFactory?: (service: string, account: string) => KeyringEntry;
  /** Environment for the `env` provider. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The provider chain when `keys.providers` is not configured, following what is: KMS when a key
 * id is set (`keys.kms.keyId`), then the OS keyring where one can exist (its module installed,
 * not on Lambda), then the env key. A key is only ever taken from the first provider that
 * works; later ones are fallbacks. `createCache` checks that the chain yields a key before it
 * returns, so a machine where none works fails there, with each provider's fix.
 */
export function defaultKeyProviders(
  keys: { readonly kms?: { readonly keyId?: string } },
  env: NodeJS.ProcessEnv = process.env,
  keyringInstalled: () => boolean = () => isInstalled('@napi-rs/keyring'),
): KeyProviderName[] {
  const chain: KeyProviderName[] = [];
  if (keys.kms?.keyId) chain.push('kms');
  if (!env.AWS_LAMBDA_FUNCTION_NAME && keyringInstalled()) chain.push('keyring');
  chain.push('env');
  return chain;
}

/**
 * Builds the configured provider chain, in `keys.providers` order. The KMS SDK is loaded only
 * when `kms` is configured, so local-only apps do not pay its start-up cost.
 */
export function createKeyProviders(keys: KeysConfigValue, deps: KeyProviderDeps = {}): KeyProvider[] {
  const logger = deps.logger ?? silentLogger;
  const seen = new Set<string>();
  return keys.providers.map((name) => {
    if (seen.has(name)) {
      throw new ConfigError(`keys.providers lists "${name}" twice.`, [
        { path: 'keys.providers', value: JSON.stringify(keys.providers), expected: 'each provider at most once' },
      ]);
    }
    seen.add(name);
    switch (name) {
      case 'kms': {
        if (!keys.kms.keyId) {
          throw new ConfigError('keys.providers includes "kms" but keys.kms.keyId is not set.', [
            { path: 'keys.kms.keyId', value: '(unset)', expected: 'a KMS key id, ARN or alias/NAME' },
          ], { hint: 'Set keys.kms.keyId (CACHEVAULT_KEYS_KMS_KEY_ID), or remove "kms" from keys.providers.' });
        }
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { KmsKeyProvider } = loadOptional('@aws-sdk/client-kms', () => require('./kmsKeyProvider') as typeof import('./kmsKeyProvider'));
        return new KmsKeyProvider({ keyId: keys.kms.keyId, client: deps.kmsClient, region: keys.kms.region, endpoint: keys.kms.endpoint, app: keys.app, environment: keys.environment });
      }
      case 'keyring':
        return new KeyringKeyProvider({
          service: keys.keyring.service,
          account: keys.keyring.account,
          linuxStore: keys.keyring.linuxStore,
          entryFactory: deps.keyringEntryFactory,
          logger,
        });
      case 'env':
        // Its "weaker than KMS" warning says nothing new after the first cache in a process.
        return new EnvKeyProvider({ variable: keys.envKey.variable, env: deps.env, logger: { ...logger, warn: (fields, msg) => warnOnce(logger, msg ?? '', fields) } });
    }
  });
}
