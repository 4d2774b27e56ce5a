import { AeadEncryption } from '../../../client/crypto/aeadEncryption';
import type { EncryptionProvider } from '../../../client/crypto/encryptionProvider';
import { NoEncryption } from '../../../client/crypto/noEncryption';
import { checkKeys, type KeyHealthTarget } from '../../../client/health/keyHealth';
import { KeyManager } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';
import type { HealthCheckStep } from '../../../client/types';
import { ManualClock } from '../../contract/backendContract';
import { awsError, FakeKeyring, fakeKms, MemoryManifestStore } from '../keys/fakes';

const DAY_MS = 86_400_000;

function setup() {
  const kms = fakeKms();
  const keyring = new FakeKeyring();
  const store = new MemoryManifestStore();
  const clock = new ManualClock(1_800_000_000_000);
  const open = () =>
    KeyManager.open({
      providers: [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client }), new KeyringKeyProvider({ entryFactory: keyring.factory })],
      store,
      app: 'shop',
      environment: 'dev',
      clock: clock.read,
    });
  const target = (keys: KeyManager, encryption: EncryptionProvider = new AeadEncryption({ keys })): KeyHealthTarget => ({
    keys,
    encryption,
    config: { encryption: { enabled: true }, keys: { providers: ['kms', 'keyring'], maxKeyAgeDays: 90 } },
  });
  return { kms, clock, open, target };
}

const byName = (steps: readonly HealthCheckStep[]): Record<string, HealthCheckStep | undefined> => Object.fromEntries(steps.map((s) => [s.name, s]));

describe('checkKeys', () => {
  it('reports the active key and its provider, a canary round trip and key ages within the policy', async () => {
    const { open, target } = setup();
    const keys = await open();
    const steps = await checkKeys(target(keys));
    expect(steps.map((s) => [s.name, s.ok])).toEqual([
      ['keys.active', true],
      ['keys.providers', true],
      ['keys.roundTrip', true],
      ['keys.age', true],
    ]);
    const named = byName(steps);
    expect(named['keys.active']).toMatchObject({ detail: 'active key k1 via kms' });
    expect(named['keys.roundTrip']).toMatchObject({ detail: 'sealed and opened under k1 with aes-256-gcm' });
    expect(named['keys.age']).toMatchObject({ detail: '1 version(s) in use, oldest 0 day(s), policy 90 days' });
    await keys.close();
  });

  it('names the provider it fell back to when KMS is down, and fails the providers step', async () => {
    const { kms, open, target } = setup();
    const first = await open();
    await first.activeKey();
    await first.close();
    kms.failWith(awsError('AccessDeniedException'));
    const cold = await open();
    const named = byName(await checkKeys(target(cold)));
    expect(named['keys.active']).toMatchObject({ ok: true, detail: 'active key k1 via keyring' });
    expect(named['keys.providers']).toMatchObject({ ok: false, detail: expect.stringMatching(/^kms is down \(.+\); keys come from keyring instead \(fell back during this check\): restore access/) });
    expect(named['keys.roundTrip']).toMatchObject({ ok: true });
    await cold.close();
  });

  it('fails the active-key step when KMS is configured but the active key could only be wrapped locally', async () => {
    const { kms, open, target } = setup();
    kms.failWith(awsError('ThrottlingException'));
    const keys = await open();
    const active = byName(await checkKeys(target(keys)))['keys.active'];
    expect(active).toMatchObject({ ok: false, detail: expect.stringContaining('active key k1 is wrapped only by a local provider') });
    await keys.close();
  });

  it('flags versions older than keys.maxKeyAgeDays with the command that fixes each', async () => {
    const { clock, open, target } = setup();
    const keys = await open();
    await keys.activeKey();
    clock.advance(100 * DAY_MS);
    let age = byName(await checkKeys(target(keys)))['keys.age'];
    expect(age).toMatchObject({ ok: false, detail: 'beyond the 90-day rotation policy: active key k1 is 100 days old: run `cachevault encryption rotate`' });

    await keys.rotate();
    age = byName(await checkKeys(target(keys)))['keys.age'];
    expect(age?.ok).toBe(false);
    expect(age?.detail).toContain('decrypt-only key k1 is 100 days old: re-encrypt its entries (`cachevault encryption rotate`) and run `cachevault keys retire k1`');
    expect(age?.detail).not.toContain('k2');

    await keys.retire('k1');
    expect(byName(await checkKeys(target(keys)))['keys.age']).toMatchObject({ ok: true });
    await keys.close();
  });

  it('fails the round trip when the canary does not open to the bytes that were sealed', async () => {
    const { open, target } = setup();
    const keys = await open();
    const real = new AeadEncryption({ keys });
    const corrupting: EncryptionProvider = {
      algorithm: real.algorithm,
      seal: (plaintext, identity) => real.seal(plaintext, identity),
      open: async (bytes, identity) => {
        const opened = Buffer.from(await real.open(bytes, identity));
        opened[0] ^= 1;
        return opened;
      },
    };
    const roundTrip = byName(await checkKeys(target(keys, corrupting)))['keys.roundTrip'];
    expect(roundTrip).toMatchObject({ ok: false, detail: 'the canary sealed under k1 did not open to the same bytes' });
    await keys.close();
  });

  it('reports one passing step when encryption is disabled', async () => {
    const steps = await checkKeys({ keys: undefined, encryption: new NoEncryption(), config: { encryption: { enabled: false }, keys: { providers: ['keyring'], maxKeyAgeDays: 90 } } });
    expect(steps).toEqual([{ name: 'keys.active', ok: true, detail: expect.stringContaining('encryption is disabled') }]);
  });
});
