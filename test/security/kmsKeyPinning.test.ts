/**
 * A writer of a shared (Secrets Manager) manifest cannot choose the KMS key clients decrypt
 * with, nor change the manifest without the KMS HMAC key. Attempts run against KMS and Secrets
 * Manager doubles that behave like the services for these calls.
 */
import { DecryptCommand, GenerateMacCommand, VerifyMacCommand } from '@aws-sdk/client-kms';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { KeyManager } from '../../client/keys/keyManager';
import type { KeyManifest } from '../../client/keys/keyManifest';
import { KmsKeyProvider } from '../../client/keys/kmsKeyProvider';
import { KmsManifestSealer } from '../../client/keys/kmsManifestSealer';
import { KMS_KEY_ARN, MemoryManifestStore, fakeKms } from '../unit/keys/fakes';

const ATTACKER_KEY = 'arn:aws:kms:us-east-1:999999999999:key/ffffffff-0000-1111-2222-333333333333';
const MAC_KEY = 'arn:aws:kms:us-east-1:111122223333:key/mac-0000-1111-2222-333333333333';

function deployment() {
  const kms = fakeKms();
  // The HMAC key lives "in KMS": only GenerateMac/VerifyMac under MAC_KEY can use it.
  const macSecret = randomBytes(32);
  const install = () => {
    kms.mock.on(GenerateMacCommand).callsFake((input: { KeyId: string; Message: Uint8Array }) => {
      if (input.KeyId !== MAC_KEY) throw Object.assign(new Error('NotFoundException'), { name: 'NotFoundException' });
      return { Mac: createHmac('sha256', macSecret).update(input.Message).digest(), KeyId: MAC_KEY, MacAlgorithm: 'HMAC_SHA_256' };
    });
    kms.mock.on(VerifyMacCommand).callsFake((input: { KeyId: string; Message: Uint8Array; Mac: Uint8Array }) => {
      if (input.KeyId !== MAC_KEY) throw Object.assign(new Error('NotFoundException'), { name: 'NotFoundException' });
      const expected = createHmac('sha256', macSecret).update(input.Message).digest();
      const mac = Buffer.from(input.Mac);
      if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw Object.assign(new Error('KMSInvalidMacException'), { name: 'KMSInvalidMacException' });
      return { MacValid: true, KeyId: MAC_KEY };
    });
  };
  install();
  const store = new MemoryManifestStore(true);
  const open = (sealed = true) =>
    KeyManager.open({
      providers: [new KmsKeyProvider({ keyId: KMS_KEY_ARN, client: kms.client })],
      store,
      sealer: sealed ? new KmsManifestSealer({ macKeyId: MAC_KEY, client: kms.client }) : undefined,
      app: 'shop',
      environment: 'prod',
    });
  const edit = (fn: (m: KeyManifest) => KeyManifest) => {
    store.text = JSON.stringify(fn(store.manifest!));
  };
  return { kms, store, open, edit };
}

describe('KMS key pinning', () => {
  it('a KMS wrapping re-pointed at another key is refused before any Decrypt, even without a manifest MAC', async () => {
    const d = deployment();
    const keys = await d.open(false);
    await keys.activeKey();
    await keys.close();
    d.edit((m) => ({ ...m, versions: m.versions.map((v) => ({ ...v, wrapped: v.wrapped.map((w) => ({ ...w, wrappingKeyRef: ATTACKER_KEY })) })) }));
    const before = d.store.text;
    const decrypts = d.kms.mock.commandCalls(DecryptCommand).length;
    const again = await d.open(false);
    await expect(again.activeKey()).rejects.toMatchObject({ code: 'KMS_KEY_MISMATCH' });
    expect(d.kms.mock.commandCalls(DecryptCommand)).toHaveLength(decrypts);
    expect(d.store.text).toBe(before);
    await again.close();
  });

  it('a substituted KMS wrapping (a key made by anyone allowed GenerateDataKey under the context) fails its key check', async () => {
    const d = deployment();
    const keys = await d.open(false);
    await keys.activeKey();
    await keys.close();
    const attacker = new KmsKeyProvider({ keyId: KMS_KEY_ARN, client: d.kms.client });
    const { wrapped } = await attacker.generateDataKey({ app: 'shop', environment: 'prod', keyId: 'k1' });
    d.edit((m) => ({ ...m, versions: m.versions.map((v) => ({ ...v, wrapped: [wrapped, ...v.wrapped.filter((w) => w.provider !== 'kms')] })) }));
    const again = await d.open(false);
    await expect(again.activeKey()).rejects.toMatchObject({ code: 'MANIFEST_KEY_CHECK' });
    await again.close();
  });

  it('a shared manifest changed without the KMS HMAC key is refused', async () => {
    const d = deployment();
    const keys = await d.open();
    await keys.activeKey();
    await keys.rotate();
    await keys.close();
    d.edit((m) => ({ ...m, versions: m.versions.map((v) => ({ ...v, state: v.id === 'k1' ? 'active' : 'decrypt-only' })) }));
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_TAMPERED' });
  });

  it('a shared manifest re-MACed under a KMS HMAC key the attacker controls is refused (VerifyMac names the configured key)', async () => {
    const d = deployment();
    const keys = await d.open();
    await keys.activeKey();
    await keys.close();
    d.edit((m) => ({ ...m, mac: { ...m.mac!, keyRef: `kms:${ATTACKER_KEY}`, value: createHmac('sha256', randomBytes(32)).update('x').digest('base64') } }));
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_TAMPERED' });
    expect(d.kms.mock.commandCalls(VerifyMacCommand).every((c) => c.args[0].input.KeyId === MAC_KEY)).toBe(true);
  });

  it('a rolled-back shared manifest is refused by a running client', async () => {
    const d = deployment();
    const keys = await d.open();
    await keys.activeKey();
    const old = d.store.text;
    await keys.rotate();
    d.store.text = old;
    await expect(keys.keyById('k9')).rejects.toMatchObject({ code: 'MANIFEST_ROLLBACK' });
    await keys.close();
  });

  it('a blanked shared manifest is an error, never a fresh k1', async () => {
    const d = deployment();
    const keys = await d.open();
    await keys.activeKey();
    d.store.text = undefined;
    await expect(keys.rotate()).rejects.toMatchObject({ code: 'MANIFEST_MISSING' });
    expect(d.store.text).toBeUndefined();
    await keys.close();
  });
});
