import { DecryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { KeysConfig } from '../../../client/config/schema';
import { ConfigError } from '../../../client/errors';
import { createKeyProviders } from '../../../client/keys/createKeyProviders';
import { EnvKeyProvider } from '../../../client/keys/envKeyProvider';
import { NoKeyProviderError } from '../../../client/keys/errors';
import { KeyManager, type KeyManagerOptions } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';
import { ManualClock } from '../../contract/backendContract';
import { CollectingAudit, CollectingLogger, FakeKeyring, MemoryManifestStore, awsError, fakeKms } from './fakes';

function setup(shared = false, overrides: Partial<KeyManagerOptions> = {}) {
  const kms = fakeKms();
  const keyring = new FakeKeyring();
  const store = new MemoryManifestStore(shared);
  const clock = new ManualClock();
  const audit = new CollectingAudit();
  const logger = new CollectingLogger();
  const providers = [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client }), new KeyringKeyProvider({ entryFactory: keyring.factory })];
  const open = (more: Partial<KeyManagerOptions> = {}) =>
    KeyManager.open({ providers, store, app: 'shop', environment: 'dev', clock: clock.read, audit, logger, ...overrides, ...more });
  return { kms, keyring, store, clock, audit, logger, providers, open };
}

const outages: [string, Error][] = [
  ['no credentials', awsError('CredentialsProviderError')],
  ['a network error', Object.assign(new Error('getaddrinfo ENOTFOUND kms.us-east-1.amazonaws.com'), { code: 'ENOTFOUND' })],
  ['throttling after retries', awsError('ThrottlingException')],
  ['AccessDenied', awsError('AccessDeniedException')],
];

describe('the key provider chain', () => {
  describe.each(outages)('when KMS fails with %s', (_label, error) => {
    it('falls back to the keyring with one warning, one fallback stat and one audit record, and keeps working', async () => {
      const { kms, open, logger, audit, store } = setup();
      kms.failWith(error);
      const keys = await open();
      const results = await Promise.all(Array.from({ length: 50 }, () => keys.activeKey()));
      expect(results.every((k) => k.id === 'k1' && k.material.length === 32)).toBe(true);
      await keys.rotate();
      await keys.activeKey();
      expect(logger.at('warn').filter((l) => /key provider kms is unavailable/.test(l.msg ?? ''))).toHaveLength(1);
      expect(keys.stats().fallbacks).toBe(1);
      expect(audit.of('key-provider.fallback')).toEqual([{ provider: 'kms', failure: expect.any(String), fallbackTo: 'keyring' }]);
      // Keys made without KMS are flagged local-only, so the hybrid tier keeps their entries local.
      expect(store.manifest!.versions.every((v) => v.localOnly && v.wrapped.every((w) => w.provider === 'keyring'))).toBe(true);
      expect(keys.isLocalOnly('k1')).toBe(true);
    });
  });

  it('a cold client unwraps through the local copy when KMS is down (wrapLocally)', async () => {
    const { kms, open } = setup();
    const material = Buffer.from((await (await open()).activeKey()).material);
    kms.failWith(awsError('ThrottlingException'));
    const cold = await open();
    const key = await cold.activeKey();
    expect(key).toEqual({ id: 'k1', entryKeyId: `k1:${cold.manifestId}`, material });
    expect(cold.isLocalOnly('k1')).toBe(false);
    expect(cold.stats().fallbacks).toBe(1);
  });

  it('without wrapLocally, a KMS-only active key is replaced by a local-only version in a private manifest', async () => {
    const { kms, open, store } = setup(false, { wrapLocally: false });
    await (await open()).activeKey();
    expect(store.manifest!.versions[0]!.wrapped.map((w) => w.provider)).toEqual(['kms']);
    kms.failWith(awsError('AccessDeniedException'));
    const cold = await open();
    const key = await cold.activeKey();
    expect(key.id).toBe('k2');
    expect(store.manifest!.versions.map((v) => [v.id, v.state, v.localOnly])).toEqual([
      ['k1', 'decrypt-only', false],
      ['k2', 'active', true],
    ]);
  });

  it('with a shared manifest, falls back to a process-local key that is never written to the shared manifest', async () => {
    const { kms, open, store } = setup(true, { wrapLocally: false });
    await (await open()).activeKey();
    const before = store.text;
    kms.failWith(awsError('AccessDeniedException'));
    const cold = await open();
    const key = await cold.activeKey();
    expect(key.id).toMatch(/^local-[0-9a-f]{12}$/);
    expect(cold.isLocalOnly(key.id)).toBe(true);
    expect(store.text).toBe(before);
    expect((await cold.keyById(key.id)).material).toEqual(key.material);
    expect(cold.status().versions.find((v) => v.id === key.id)).toMatchObject({ ephemeral: true, localOnly: true, state: 'active' });
  });

  it('refuses to rotate a shared manifest to a version KMS does not wrap', async () => {
    const { kms, open } = setup(true);
    const keys = await open();
    await keys.activeKey();
    kms.failWith(awsError('AccessDeniedException'));
    await expect(keys.rotate()).rejects.toThrow(/shared manifest memory:test/);
  });

  it('refuses to import a backup into a shared manifest while KMS is down, leaving the KMS wrappings in place', async () => {
    const { kms, open, store } = setup(true);
    const keys = await open();
    await keys.activeKey();
    const backup = await keys.exportBackup('correct horse battery staple');
    const before = store.text;
    kms.failWith(awsError('AccessDeniedException'));
    await expect(keys.importBackup(backup, 'correct horse battery staple')).rejects.toBeInstanceOf(NoKeyProviderError);
    expect(store.text).toBe(before);
  });

  it('tries a failed provider again after the retry interval, and warns again only for a new outage', async () => {
    const { kms, open, clock, logger } = setup(false, { providerRetryAfterMs: 10_000, cache: { maxAgeMs: 1_000 } });
    const keys = await open();
    await keys.activeKey();
    kms.failWith(awsError('ThrottlingException'));
    clock.advance(1_000);
    await keys.activeKey(); // KMS fails, keyring copy used
    kms.mock.resetHistory();
    clock.advance(1_000);
    await keys.activeKey();
    expect(kms.calls(DecryptCommand)).toBe(0); // skipped within the retry interval
    kms.healthy();
    clock.advance(10_000);
    await keys.activeKey();
    expect(kms.calls(DecryptCommand)).toBe(1);
    expect(logger.at('info').some((l) => /kms works again/.test(l.msg ?? ''))).toBe(true);
    expect(keys.stats().fallbacks).toBe(1);
  });

  it('when no provider works, the error lists every provider tried, why it failed and how to fix it', async () => {
    const { kms, keyring, open } = setup();
    kms.failWith(awsError('CredentialsProviderError'));
    keyring.broken = "Platform failure: DBus error: Couldn't access platform storage";
    const env = new EnvKeyProvider({ env: {} });
    const keys = await open({ providers: [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client }), new KeyringKeyProvider({ entryFactory: keyring.factory }), env] });
    const error = (await keys.activeKey().catch((e: unknown) => e)) as NoKeyProviderError;
    expect(error).toBeInstanceOf(NoKeyProviderError);
    expect(error.attempts.map((a) => a.provider)).toEqual(['kms', 'keyring', 'env']);
    expect(error.message).toMatch(/kms: No AWS credentials were found for KMS\. \(fix: configure keys\.kms\.keyId and AWS credentials/);
    expect(error.message).toMatch(/keyring: Could not read the root key from the OS keyring: Platform failure: DBus error.*\(fix: install .*gnome-keyring.*dbus-run-session/);
    expect(error.message).toMatch(/env: The environment variable CACHEVAULT_KEY is not set\. \(fix: set CACHEVAULT_KEY/);
  });

  it('works with the keyring alone when KMS is not configured, and makes no KMS call', async () => {
    const { kms, keyring, store } = setup();
    const keys = await KeyManager.open({ providers: [new KeyringKeyProvider({ entryFactory: keyring.factory })], store, app: 'shop', environment: 'dev' });
    await keys.activeKey();
    expect(kms.calls(GenerateDataKeyCommand)).toBe(0);
    expect(keys.stats().fallbacks).toBe(0);
  });
});

describe('createKeyProviders', () => {
  it('builds the configured providers in order', () => {
    const config = KeysConfig.parse({ providers: ['kms', 'keyring', 'env'], kms: { keyId: 'alias/cv' }, keyring: { service: 's', account: 'a' }, envKey: { variable: 'MY_KEY' } });
    const providers = createKeyProviders(config, { kmsClient: fakeKms().client, keyringEntryFactory: new FakeKeyring().factory, env: {} });
    expect(providers.map((p) => p.name)).toEqual(['kms', 'keyring', 'env']);
    expect((providers[1] as KeyringKeyProvider).service).toBe('s');
    expect((providers[2] as EnvKeyProvider).variable).toBe('MY_KEY');
  });

  it('names keys.kms.keyId when kms is configured without a key', () => {
    const config = KeysConfig.parse({ providers: ['kms', 'keyring'] });
    expect(() => createKeyProviders(config)).toThrow(ConfigError);
    expect(() => createKeyProviders(config)).toThrow(/keys\.kms\.keyId is not set/);
  });

  it('rejects a provider listed twice', () => {
    expect(() => createKeyProviders(KeysConfig.parse({ providers: ['keyring', 'keyring'] }))).toThrow(/lists "keyring" twice/);
  });
});
