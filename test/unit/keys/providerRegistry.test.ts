import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { KeyProviderName, KeysConfig } from '../../../client/config/schema';
import { parseManifest } from '../../../client/keys/keyManifest';
import { KEY_PROVIDERS, KEY_PROVIDER_NAMES, keyProviderConfigWarnings, keyProviderDefinition } from '../../../client/keys/providerRegistry';
import { ConfigError } from '../../../client/errors';

/** Which provider modules and SDKs a fresh process has loaded after building `providers`. */
function loadedAfter(providers: string[]): Record<string, boolean> {
  const script = [
    "const { KeysConfig } = require('./client/config/schema');",
    "const { createKeyProviders } = require('./client/keys/createKeyProviders');",
    `createKeyProviders(KeysConfig.parse({ providers: ${JSON.stringify(providers)}, kms: { keyId: 'alias/app', region: 'us-east-1' } }), { env: {} });`,
    'const loaded = Object.keys(require.cache);',
    "const has = (s) => loaded.some((p) => p.includes(s));",
    "console.log(JSON.stringify({ kmsSdk: has('@aws-sdk/client-kms'), keyringModule: has('@napi-rs/keyring'), kmsProvider: has('kmsKeyProvider'), keyringProvider: has('keyringKeyProvider'), envProvider: has('envKeyProvider') }));",
  ].join('\n');
  const out = execFileSync(join(process.cwd(), 'node_modules/.bin/tsx'), ['-e', script], { cwd: process.cwd(), encoding: 'utf8' });
  return JSON.parse(out.trim()) as Record<string, boolean>;
}

describe('the key-provider registry', () => {
  it('is where the config schema, the manifest schema and KeyProviderName get the provider names and sections from', () => {
    expect(KeyProviderName.options).toEqual(KEY_PROVIDERS.map((p) => p.name));
    expect(KEY_PROVIDER_NAMES).toEqual(['kms', 'keyring', 'env']);
    const keys = KeysConfig.parse({}) as unknown as Record<string, unknown>;
    for (const provider of KEY_PROVIDERS) expect(keys[provider.configKey]).toEqual(provider.config.parse(undefined));
    const manifest = (provider: string) =>
      JSON.stringify({
        format: 'cachevault-key-manifest', formatVersion: 2, app: 'a', environment: 'e', revision: 1,
        versions: [{ id: 'k1', createdAt: '2026-01-01T00:00:00.000Z', state: 'active', localOnly: false, wrapped: [{ provider, wrappingKeyRef: 'r', ciphertext: 'AAAA' }] }],
      });
    for (const name of KEY_PROVIDER_NAMES) expect(parseManifest(manifest(name), 'test').versions[0]!.wrapped[0]!.provider).toBe(name);
    expect(() => parseManifest(manifest('vault'), 'test')).toThrow();
  });

  it('says which providers are remote and which hold a root key on this machine', () => {
    expect(KEY_PROVIDERS.map((p) => [p.name, p.remote, p.localRootKey])).toEqual([
      ['kms', true, false],
      ['keyring', false, true],
      ['env', false, true],
    ]);
  });

  it('refuses a name that is not registered with a ConfigError naming the ones that are', () => {
    expect(() => keyProviderDefinition('vault' as never)).toThrow(ConfigError);
    expect(() => keyProviderDefinition('vault' as never)).toThrow(/Unknown key provider "vault"/);
  });

  it('warns about the env provider when it is named in keys.providers or its variable is set, and not when it is only a defaulted fallback', () => {
    const keys = KeysConfig.parse({ providers: ['keyring', 'env'] });
    expect(keyProviderConfigWarnings(keys, { explicit: false, env: {} })).toEqual([]);
    expect(keyProviderConfigWarnings(keys, { explicit: true, env: {} })).toEqual([
      { provider: 'env', message: expect.stringContaining('reads a key from CACHEVAULT_KEY'), loggedWhenUsed: true },
    ]);
    expect(keyProviderConfigWarnings(keys, { explicit: false, env: { CACHEVAULT_KEY: 'x' } })).toHaveLength(1);
  });

  it('loads neither the KMS SDK nor the keyring module nor their providers when only the env provider is configured', () => {
    expect(loadedAfter(['env'])).toEqual({ kmsSdk: false, keyringModule: false, kmsProvider: false, keyringProvider: false, envProvider: true });
  }, 60_000);

  it('loads the KMS SDK only when kms is configured, and the keyring module not before the keyring is first used', () => {
    expect(loadedAfter(['kms'])).toEqual({ kmsSdk: true, keyringModule: false, kmsProvider: true, keyringProvider: false, envProvider: false });
    expect(loadedAfter(['keyring'])).toEqual({ kmsSdk: false, keyringModule: false, kmsProvider: false, keyringProvider: true, envProvider: false });
  }, 60_000);
});
