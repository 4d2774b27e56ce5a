import { DecryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { KeyUnavailableError } from '../../../client/errors';
import { KeyStateError } from '../../../client/keys/errors';
import { KeyManager, type KeyManagerOptions } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';
import { ManualClock } from '../../contract/backendContract';
import { CollectingAudit, FakeKeyring, MemoryManifestStore, fakeKms } from './fakes';

function setup(overrides: Partial<KeyManagerOptions> = {}) {
  const kms = fakeKms();
  const keyring = new FakeKeyring();
  const store = new MemoryManifestStore();
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const audit = new CollectingAudit();
  const providers = [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client }), new KeyringKeyProvider({ entryFactory: keyring.factory })];
  const open = (more: Partial<KeyManagerOptions> = {}) =>
    KeyManager.open({ providers, store, app: 'shop', environment: 'dev', clock: clock.read, audit, ...overrides, ...more });
  return { kms, keyring, store, clock, audit, providers, open };
}

describe('KeyManager', () => {
  it('creates k1 on first use, wrapped by KMS and the keyring, and stores no plaintext', async () => {
    const { store, open, audit } = setup();
    const keys = await open();
    const key = await keys.activeKey();
    expect(key.id).toBe('k1');
    const manifest = store.manifest!;
    expect(manifest.versions).toHaveLength(1);
    expect(manifest.versions[0]).toMatchObject({ id: 'k1', state: 'active', localOnly: false, createdAt: '2026-01-01T00:00:00.000Z' });
    expect(manifest.versions[0]!.wrapped.map((w) => w.provider)).toEqual(['kms', 'keyring']);
    expect(store.text).not.toContain(key.material.toString('base64'));
    expect(store.text).not.toContain(key.material.toString('hex'));
    expect(audit.of('key.generated')).toEqual([{ keyId: 'k1', reason: 'initial', localOnly: false, providers: ['kms', 'keyring'] }]);
  });

  it('1,000 concurrent activeKey() calls on a cold cache make exactly one GenerateDataKey', async () => {
    const { kms, open } = setup();
    const keys = await open();
    const results = await Promise.all(Array.from({ length: 1000 }, () => keys.activeKey()));
    expect(kms.calls(GenerateDataKeyCommand)).toBe(1);
    expect(new Set(results.map((k) => k.id))).toEqual(new Set(['k1']));
  });

  it('1,000 concurrent activeKey() calls on a cold client with an existing key make exactly one Decrypt', async () => {
    const { kms, open } = setup();
    await (await open()).activeKey();
    const cold = await open();
    kms.mock.resetHistory();
    const results = await Promise.all(Array.from({ length: 1000 }, () => cold.activeKey()));
    expect(kms.calls(DecryptCommand)).toBe(1);
    expect(kms.calls(GenerateDataKeyCommand)).toBe(0);
    expect(results.every((k) => k.id === 'k1')).toBe(true);
  });

  it('drops a cached key past its max age and unwraps it again', async () => {
    const { kms, open, clock } = setup({ cache: { maxAgeMs: 60_000 } });
    const keys = await open();
    const first = await keys.activeKey();
    const held = first.material;
    kms.mock.resetHistory();
    clock.advance(59_999);
    await keys.activeKey();
    expect(kms.calls(DecryptCommand)).toBe(0);
    clock.advance(1);
    const again = await keys.activeKey();
    expect(kms.calls(DecryptCommand)).toBe(1);
    expect(held.every((b) => b === 0)).toBe(true);
    expect(again.material.every((b) => b === 0)).toBe(false);
  });

  it('zeroes a cached key past its max age even when it is never asked for again', async () => {
    const { open, clock } = setup({ cache: { maxAgeMs: 60_000 } });
    const keys = await open();
    const old = (await keys.activeKey()).material;
    clock.advance(50_000);
    await keys.rotate();
    clock.advance(20_000);
    // Only the new active key is used from here on; k1 sits idle in the cache past its age.
    for (let i = 0; i < 2_000; i++) await keys.activeKey();
    expect(old.every((b) => b === 0)).toBe(true);
  });

  it('drops a cached key after max uses', async () => {
    const { kms, open } = setup({ cache: { maxUses: 3 } });
    const keys = await open();
    await keys.activeKey(); // generate + 1 use
    kms.mock.resetHistory();
    await keys.activeKey();
    await keys.activeKey();
    expect(kms.calls(DecryptCommand)).toBe(0);
    await keys.activeKey();
    expect(kms.calls(DecryptCommand)).toBe(1);
  });

  it('rotate() makes a new active version and leaves the old one decrypt-only and readable', async () => {
    const { store, open, audit } = setup();
    const keys = await open();
    const k1 = Buffer.from((await keys.activeKey()).material);
    await expect(keys.rotate()).resolves.toEqual({ previous: 'k1', current: 'k2' });
    expect(store.manifest!.versions.map((v) => [v.id, v.state])).toEqual([
      ['k1', 'decrypt-only'],
      ['k2', 'active'],
    ]);
    expect((await keys.activeKey()).id).toBe('k2');
    expect((await keys.keyById('k1')).material).toEqual(k1);
    expect(audit.of('key.rotated')).toEqual([{ from: 'k1', to: 'k2', reason: 'rotate' }]);
  });

  it('retire() accepts only decrypt-only versions, drops their material and zeroes the cached key', async () => {
    const { store, open, audit } = setup();
    const keys = await open();
    const k1 = await keys.activeKey();
    await expect(keys.retire('k1')).rejects.toThrow(KeyStateError);
    await keys.rotate();
    const held = (await keys.keyById('k1')).material;
    await keys.retire('k1');
    expect(held.every((b) => b === 0)).toBe(true);
    expect(k1.material.every((b) => b === 0)).toBe(true);
    expect(store.manifest!.versions[0]).toMatchObject({ id: 'k1', state: 'retired', wrapped: [] });
    await expect(keys.keyById('k1')).rejects.toThrow(/k1 is retired/);
    await expect(keys.retire('k1')).rejects.toMatchObject({ hint: 'It is already retired.' });
    expect(audit.of('key.retired')).toEqual([{ keyId: 'k1' }]);
  });

  it('an unknown key id reloads the manifest once, then is a KeyUnavailableError', async () => {
    const { store, open } = setup();
    const keys = await open();
    await keys.activeKey();
    const loads = store.loads;
    await expect(keys.keyById('k9')).rejects.toBeInstanceOf(KeyUnavailableError);
    await expect(keys.keyById('k9')).rejects.toThrow(/k9 is not in the key manifest/);
    expect(store.loads).toBe(loads + 1);
  });

  it('does not reload the manifest for ids that cannot be manifest versions', async () => {
    const { store, open } = setup();
    const keys = await open();
    await keys.activeKey();
    const loads = store.loads;
    await expect(keys.keyById('local-0123456789ab')).rejects.toBeInstanceOf(KeyUnavailableError);
    await expect(keys.keyById('forged')).rejects.toBeInstanceOf(KeyUnavailableError);
    expect(store.loads).toBe(loads);
  });

  it('sees a version another process added, through that one reload', async () => {
    const { open } = setup();
    const reader = await open();
    const writer = await open();
    await writer.activeKey();
    await writer.rotate();
    const k2 = Buffer.from((await writer.keyById('k2')).material);
    expect((await reader.keyById('k2')).material).toEqual(k2);
  });

  it('status() lists versions with states and ages, and no key material', async () => {
    const { open, clock } = setup();
    const keys = await open();
    const k1 = await keys.activeKey();
    clock.advance(3 * 86_400_000);
    await keys.rotate();
    const status = keys.status();
    expect(status.activeKeyId).toBe('k2');
    expect(status.versions).toEqual([
      { id: 'k1', state: 'decrypt-only', createdAt: '2026-01-01T00:00:00.000Z', ageDays: 3, localOnly: false, wrappedBy: ['kms', 'keyring'], ephemeral: false },
      { id: 'k2', state: 'active', createdAt: '2026-01-04T00:00:00.000Z', ageDays: 0, localOnly: false, wrappedBy: ['kms', 'keyring'], ephemeral: false },
    ]);
    const text = JSON.stringify(status);
    expect(text).not.toContain(k1.material.toString('base64'));
    expect(text).not.toMatch(/ciphertext/);
  });

  it('close() zeroes every cached key and refuses further use', async () => {
    const { open } = setup();
    const keys = await open();
    const held = (await keys.activeKey()).material;
    await keys.close();
    expect(held.every((b) => b === 0)).toBe(true);
    await expect(keys.activeKey()).rejects.toThrow(/closed/);
  });

  it('refuses a manifest that belongs to another app or environment', async () => {
    const { open, store } = setup();
    await (await open()).activeKey();
    await expect(KeyManager.open({ providers: [], store, app: 'shop', environment: 'prod' })).rejects.toThrow(/belongs to app "shop", environment "dev"/);
  });

  it('picks up a rotation made elsewhere when the active key is fetched again after manifestMaxAgeMs', async () => {
    const { open, clock } = setup({ cache: { maxAgeMs: 60_000 }, manifestMaxAgeMs: 60_000 });
    const client = await open();
    const other = await open();
    expect((await client.activeKey()).id).toBe('k1');
    await other.rotate();
    expect((await client.activeKey()).id).toBe('k1');
    clock.advance(60_000);
    expect((await client.activeKey()).id).toBe('k2');
  });

  it('keeps working on the manifest in memory when the store cannot be read', async () => {
    const { open, clock, store } = setup({ cache: { maxAgeMs: 60_000 }, manifestMaxAgeMs: 60_000 });
    const client = await open();
    await client.activeKey();
    clock.advance(60_000);
    jest.spyOn(store, 'load').mockRejectedValue(new Error('store down'));
    expect((await client.activeKey()).id).toBe('k1');
  });
});
