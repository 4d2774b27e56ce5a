import type { AdvancedCacheConfig } from '../config/schema';
import type { KeyProviderDeps } from './createKeyProviders';
import { isLocalRootKeyProvider, type KeyProvider } from './keyProvider';
import { LocalManifestSealer, type ManifestSealer } from './manifestSeal';

/**
 * What MACs the key manifest: the KMS HMAC key when `keys.kms.macKeyId` is set (required for a
 * manifest shared through Secrets Manager), else a file manifest's local root key (the first of
 * keyring/env configured). `undefined` when neither exists (KMS only, no MAC key).
 */
export function manifestSealer(config: AdvancedCacheConfig, providers: readonly KeyProvider[], deps: Pick<KeyProviderDeps, 'kmsClient'> = {}): ManifestSealer | undefined {
  const { macKeyId, region, endpoint } = config.keys.kms;
  if (macKeyId) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { KmsManifestSealer } = require('./kmsManifestSealer') as typeof import('./kmsManifestSealer');
    return new KmsManifestSealer({ macKeyId, client: deps.kmsClient, region, endpoint });
  }
  const local = providers.find(isLocalRootKeyProvider);
  return config.keys.manifest.store === 'file' && local ? new LocalManifestSealer(local) : undefined;
}

