import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { EnvKeyProvider } from '../../../client/keys/envKeyProvider';
import { KeyProviderError, KeyProviderFailure, WeakRootKeyError } from '../../../client/keys/errors';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { isLegacyLocalWrap, keyContextAad, unwrapWithRootKey } from '../../../client/keys/localKeyWrap';
import { RootSubkeyLabel, assertStrongRootKey, deriveRootSubkey } from '../../../client/keys/rootKey';
import { CollectingLogger, FakeKeyring } from './fakes';

const context = { app: 'shop', environment: 'dev', keyId: 'k1' };

describe('KeyringKeyProvider', () => {
  it('generates a 32-byte root key once, stores it as raw bytes, and wraps data keys under it', async () => {
    const keyring = new FakeKeyring();
    const provider = new KeyringKeyProvider({ service: 'svc', account: 'acct', entryFactory: keyring.factory });
    const results = await Promise.all(Array.from({ length: 20 }, () => provider.generateDataKey(context)));
    expect(keyring.entries.size).toBe(1);
    expect(keyring.entries.get('svc/acct')).toHaveLength(32);
    // Single-flight: one read, one write, one read-back, however many concurrent first uses.
    expect(keyring.calls).toBe(3);
    for (const { plaintext, wrapped } of results) {
      expect(wrapped.provider).toBe('keyring');
      expect(wrapped.wrappingKeyRef).toMatch(/^keyring:svc\/acct#[0-9a-f]{16}$/);
      await expect(provider.unwrap(wrapped, context)).resolves.toEqual(plaintext);
    }
  });

  it('reuses the root key already in the keyring (another process, a restart)', async () => {
    const keyring = new FakeKeyring();
    const first = new KeyringKeyProvider({ entryFactory: keyring.factory });
    const { plaintext, wrapped } = await first.generateDataKey(context);
    const restarted = new KeyringKeyProvider({ entryFactory: keyring.factory });
    await expect(restarted.unwrap(wrapped, context)).resolves.toEqual(plaintext);
  });

  it('binds the wrap to the key context: another key id, app or environment does not unwrap', async () => {
    const keyring = new FakeKeyring();
    const provider = new KeyringKeyProvider({ entryFactory: keyring.factory });
    const { wrapped } = await provider.generateDataKey(context);
    for (const other of [{ ...context, keyId: 'k2' }, { ...context, app: 'other' }, { ...context, environment: 'prod' }]) {
      const error = (await provider.unwrap(wrapped, other).catch((e: unknown) => e)) as KeyProviderError;
      expect(error.failure).toBe(KeyProviderFailure.invalidCiphertext);
    }
  });

  it("says a key was wrapped under another machine's root key rather than failing vaguely", async () => {
    const mine = new KeyringKeyProvider({ entryFactory: new FakeKeyring().factory });
    const theirs = new KeyringKeyProvider({ entryFactory: new FakeKeyring().factory });
    const { wrapped } = await theirs.generateDataKey(context);
    await mine.generateDataKey(context);
    const error = (await mine.unwrap(wrapped, context).catch((e: unknown) => e)) as KeyProviderError;
    expect(error.failure).toBe(KeyProviderFailure.wrongKey);
    expect(error.hint).toMatch(/import a key backup/i);
  });

  it('turns GenericFailure (no D-Bus) into a probe failure with the reason and the fix', async () => {
    const keyring = new FakeKeyring();
    keyring.broken = "Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time";
    const provider = new KeyringKeyProvider({ entryFactory: keyring.factory });
    const probe = await provider.probe();
    expect(probe).toEqual({ ok: false, reason: expect.stringContaining('DBus error') });
    const error = (await provider.generateDataKey(context).catch((e: unknown) => e)) as KeyProviderError;
    expect(error.failure).toBe(KeyProviderFailure.unavailable);
    expect(error.isOutage).toBe(true);
    expect(error.hint).toMatch(/gnome-keyring.*dbus-run-session/);
  });

  it('does not create a root key just to unwrap: a missing root key is reported as such', async () => {
    const keyring = new FakeKeyring();
    const provider = new KeyringKeyProvider({ entryFactory: keyring.factory });
    const error = (await provider.unwrap({ provider: 'keyring', wrappingKeyRef: 'keyring:cachevault/root-key', ciphertext: 'AAAA' }, context).catch((e: unknown) => e)) as KeyProviderError;
    expect(error.failure).toBe(KeyProviderFailure.noRootKey);
    expect(error.isOutage).toBe(false);
    expect(keyring.entries.size).toBe(0);
  });

  it('close() zeroes the cached root key', async () => {
    const keyring = new FakeKeyring();
    const provider = new KeyringKeyProvider({ entryFactory: keyring.factory });
    await provider.generateDataKey(context);
    const root = (provider as unknown as { root: Buffer }).root;
    provider.close();
    expect(root.every((b) => b === 0)).toBe(true);
  });

  it('zeroes a freshly generated root key that the keyring refused to store', async () => {
    let offered: Uint8Array | undefined;
    const provider = new KeyringKeyProvider({
      entryFactory: () => ({
        getSecret: async () => null,
        setSecret: async (secret: Uint8Array) => {
          offered = secret;
          throw new Error('Platform failure: the keyring is locked');
        },
        deleteCredential: async () => false,
      }),
    });
    await expect(provider.generateDataKey(context)).rejects.toBeInstanceOf(KeyProviderError);
    expect(offered).toHaveLength(32);
    expect(offered!.every((b) => b === 0)).toBe(true);
  });
});

describe('EnvKeyProvider', () => {
  const key = randomBytes(32).toString('base64');

  it('wraps and unwraps under the key in the configured variable, and warns once that it is weaker', async () => {
    const logger = new CollectingLogger();
    const provider = new EnvKeyProvider({ variable: 'APP_KEY', env: { APP_KEY: key }, logger });
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    await provider.generateDataKey(context);
    await expect(provider.unwrap(wrapped, context)).resolves.toEqual(plaintext);
    expect(wrapped.wrappingKeyRef).toMatch(/^env:APP_KEY#/);
    expect(logger.at('warn')).toHaveLength(1);
    expect(logger.at('warn')[0]!.msg).toMatch(/weaker than KMS or an OS keyring/);
  });

  it('reports an unset variable and names it, without falling over', async () => {
    const provider = new EnvKeyProvider({ variable: 'APP_KEY', env: {} });
    await expect(provider.probe()).resolves.toEqual({ ok: false, reason: 'The environment variable APP_KEY is not set.' });
  });

  it('rejects a value that is not a base64 32-byte key and never echoes it', async () => {
    for (const bad of ['not base64!', Buffer.alloc(16, 1).toString('base64'), Buffer.alloc(33, 1).toString('base64')]) {
      const provider = new EnvKeyProvider({ env: { CACHEVAULT_KEY: bad } });
      const error = (await provider.generateDataKey(context).catch((e: unknown) => e)) as KeyProviderError;
      expect(error.failure).toBe(KeyProviderFailure.unavailable);
      expect(error.message).toBe('The environment variable CACHEVAULT_KEY is not a base64-encoded 32-byte key.');
      expect(error.hint).toMatch(/openssl rand -base64 32/);
    }
  });

  it('detects a key wrapped under a different variable value', async () => {
    const before = new EnvKeyProvider({ env: { CACHEVAULT_KEY: key } });
    const after = new EnvKeyProvider({ env: { CACHEVAULT_KEY: randomBytes(32).toString('base64') } });
    const { wrapped } = await before.generateDataKey(context);
    const error = (await after.unwrap(wrapped, context).catch((e: unknown) => e)) as KeyProviderError;
    expect(error.failure).toBe(KeyProviderFailure.wrongKey);
  });
});

describe('root key hygiene', () => {
  it('refuses degenerate root keys from the environment with a typed error, never as an outage to fall back from', async () => {
    const block = randomBytes(4);
    const degenerate = [
      Buffer.alloc(32, 0),
      Buffer.alloc(32, 0xab),
      Buffer.concat(Array.from({ length: 8 }, () => block)),
      Buffer.from(Array.from({ length: 32 }, (_, i) => i)),
      Buffer.from(Array.from({ length: 32 }, (_, i) => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10][i % 10]!)),
    ];
    for (const key of degenerate) {
      const provider = new EnvKeyProvider({ env: { CACHEVAULT_KEY: key.toString('base64') } });
      const error = await provider.generateDataKey(context).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WeakRootKeyError);
      expect((error as WeakRootKeyError).code).toBe('ROOT_KEY_WEAK');
      expect((error as Error).message).not.toContain(key.toString('base64'));
    }
  });

  it('accepts a thousand random keys (the entropy checks never refuse a real key)', () => {
    for (let i = 0; i < 1000; i++) expect(() => assertStrongRootKey(randomBytes(32), 'test')).not.toThrow();
  });

  it('refuses a degenerate root key found in the keyring', async () => {
    const entry = { getSecret: async () => Array.from(Buffer.alloc(32, 0)), setSecret: async () => undefined, deleteCredential: async () => true };
    const provider = new KeyringKeyProvider({ entryFactory: () => entry });
    await expect(provider.generateDataKey(context)).rejects.toBeInstanceOf(WeakRootKeyError);
  });

  it('wraps under a subkey (format 2) and still opens wraps made under the raw root key (format 1)', async () => {
    const root = randomBytes(32);
    const provider = new EnvKeyProvider({ env: { CACHEVAULT_KEY: root.toString('base64') } });
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    expect(Buffer.from(wrapped.ciphertext, 'base64')[0]).toBe(2);
    // The raw root key does not open a format-2 wrap: the subkey is what wraps.
    const raw = Buffer.from(wrapped.ciphertext, 'base64');
    expect(unwrapWithRootKey(Buffer.alloc(32), Buffer.concat([Buffer.of(1), raw.subarray(1)]), keyContextAad('env:CACHEVAULT_KEY', context, 1))).toBeUndefined();
    // A legacy wrap, made as cachevault 0.1 made it: AES-GCM under the raw root key, format 1.
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', root, iv);
    cipher.setAAD(keyContextAad('env:CACHEVAULT_KEY', context, 1));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const legacy = {
      provider: 'env' as const,
      wrappingKeyRef: `env:CACHEVAULT_KEY#${createHmac('sha256', root).update('cachevault root key fingerprint v1').digest('hex').slice(0, 16)}`,
      ciphertext: Buffer.concat([Buffer.of(1), iv, body, cipher.getAuthTag()]).toString('base64'),
    };
    await expect(provider.unwrap(legacy, context)).resolves.toEqual(plaintext);
    expect(isLegacyLocalWrap(legacy)).toBe(true);
    expect(isLegacyLocalWrap(wrapped)).toBe(false);
  });

  it('derives distinct subkeys per label, none equal to the root key', () => {
    const root = randomBytes(32);
    const labels = Object.values(RootSubkeyLabel);
    const subkeys = labels.map((l) => deriveRootSubkey(root, l).toString('hex'));
    expect(new Set([...subkeys, root.toString('hex')]).size).toBe(labels.length + 1);
    expect(deriveRootSubkey(root, 'audit-mac')).toEqual(deriveRootSubkey(root, 'audit-mac'));
  });
});
