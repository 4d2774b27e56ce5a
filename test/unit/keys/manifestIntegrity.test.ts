import { DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdvancedCacheConfig } from '../../../client/config/schema';
import { manifestSealer } from '../../../client/keys/createManifestSealer';
import { EnvKeyProvider } from '../../../client/keys/envKeyProvider';
import { FileManifestStore } from '../../../client/keys/fileManifestStore';
import { keyCheckValue, verifyKeyCheck } from '../../../client/keys/keyCheck';
import { KeyManager } from '../../../client/keys/keyManager';
import type { KeyManifest } from '../../../client/keys/keyManifest';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';
import { KmsManifestSealer } from '../../../client/keys/kmsManifestSealer';
import { keyContextAad } from '../../../client/keys/localKeyWrap';
import { LocalManifestSealer, manifestMacInput } from '../../../client/keys/manifestSeal';
import { FileRevisionPinStore } from '../../../client/keys/revisionPin';
import { KMS_KEY_ARN, MemoryManifestStore, fakeKms } from './fakes';

describe('key-check values', () => {
  it('commit to one key: the right key verifies, any other does not', () => {
    const key = randomBytes(32);
    const check = keyCheckValue(key);
    expect(verifyKeyCheck(key, check)).toBe(true);
    expect(verifyKeyCheck(randomBytes(32), check)).toBe(false);
    expect(verifyKeyCheck(key, 'AAAA')).toBe(false);
  });
});

describe('manifest MAC input', () => {
  it('is the same for the same manifest whatever the order of its fields', () => {
    const a = { format: 'cachevault-key-manifest', formatVersion: 2, app: 'a', environment: 'e', revision: 3, versions: [] } as KeyManifest;
    const b = JSON.parse('{"versions":[],"revision":3,"environment":"e","app":"a","formatVersion":2,"format":"cachevault-key-manifest"}') as KeyManifest;
    expect(manifestMacInput(a).equals(manifestMacInput(b))).toBe(true);
    expect(manifestMacInput({ ...a, revision: 4 }).equals(manifestMacInput(a))).toBe(false);
  });
});

describe('sealing a legacy manifest (keys seal-manifest)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cachevault-seal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A manifest as cachevault 0.1 wrote it: format 1, raw-root-key wrap, no MAC, no key check. */
  function legacyManifest(root: Buffer, dek: Buffer): KeyManifest {
    const context = { app: 'shop', environment: 'dev', keyId: 'k1' };
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', root, iv);
    cipher.setAAD(keyContextAad('env:CACHEVAULT_KEY', context, 1));
    const body = Buffer.concat([cipher.update(dek), cipher.final()]);
    const fingerprint = createHmac('sha256', root).update('cachevault root key fingerprint v1').digest('hex').slice(0, 16);
    return {
      format: 'cachevault-key-manifest',
      formatVersion: 1,
      app: 'shop',
      environment: 'dev',
      revision: 1,
      versions: [
        {
          id: 'k1',
          createdAt: '2026-01-01T00:00:00.000Z',
          state: 'active',
          localOnly: true,
          wrapped: [{ provider: 'env', wrappingKeyRef: `env:CACHEVAULT_KEY#${fingerprint}`, ciphertext: Buffer.concat([Buffer.of(1), iv, body, cipher.getAuthTag()]).toString('base64') }],
        },
      ],
    };
  }

  it('refuses to use a legacy manifest until it is sealed explicitly, then uses the same key', async () => {
    const root = randomBytes(32);
    const dek = randomBytes(32);
    const store = new FileManifestStore(join(dir, 'keys.manifest.json'));
    await store.save(legacyManifest(root, dek));
    const env = new EnvKeyProvider({ env: { CACHEVAULT_KEY: root.toString('base64') } });
    const open = () => KeyManager.open({ providers: [env], store, sealer: new LocalManifestSealer(env), revisionPins: new FileRevisionPinStore(dir, env), app: 'shop', environment: 'dev' });
    const keys = await open();
    expect(keys.status().manifestSealed).toBe(false);
    await expect(keys.activeKey()).rejects.toMatchObject({ code: 'MANIFEST_UNSEALED', hint: expect.stringContaining('keys seal-manifest') });
    await expect(keys.sealManifest()).resolves.toEqual({ revision: 2, versions: ['k1'], alreadySealed: false });
    expect((await keys.activeKey()).material).toEqual(dek);
    const stored = await store.load();
    expect(stored).toMatchObject({ formatVersion: 2, revision: 2, mac: { alg: 'hmac-sha256' } });
    expect(stored!.versions[0]!.check).toBe(keyCheckValue(dek));
    await keys.close();
    const again = await open();
    expect(again.status().manifestSealed).toBe(true);
    await expect(again.sealManifest()).resolves.toMatchObject({ alreadySealed: true });
    await again.close();
  });

  it('a rotate also seals a legacy manifest, after checking its keys unwrap', async () => {
    const root = randomBytes(32);
    const dek = randomBytes(32);
    const store = new FileManifestStore(join(dir, 'keys.manifest.json'));
    await store.save(legacyManifest(root, dek));
    const env = new EnvKeyProvider({ env: { CACHEVAULT_KEY: root.toString('base64') } });
    const keys = await KeyManager.open({ providers: [env], store, sealer: new LocalManifestSealer(env), app: 'shop', environment: 'dev' });
    await expect(keys.rotate()).resolves.toEqual({ previous: 'k1', current: 'k2' });
    expect((await keys.keyById('k1')).material).toEqual(dek);
    expect((await store.load())!.versions.map((v) => v.check !== undefined)).toEqual([true, true]);
    await keys.close();
  });

  it('refuses to seal under a root key that does not unwrap the keys', async () => {
    const store = new FileManifestStore(join(dir, 'keys.manifest.json'));
    await store.save(legacyManifest(randomBytes(32), randomBytes(32)));
    const env = new EnvKeyProvider({ env: { CACHEVAULT_KEY: randomBytes(32).toString('base64') } });
    const keys = await KeyManager.open({ providers: [env], store, sealer: new LocalManifestSealer(env), app: 'shop', environment: 'dev' });
    await expect(keys.sealManifest()).rejects.toMatchObject({ code: 'ROOT_KEY_MISMATCH' });
    expect((await store.load())!.mac).toBeUndefined();
    await keys.close();
  });
});

describe('keys rewrap after the KMS alias moved', () => {
  const NEW_ARN = 'arn:aws:kms:us-east-1:111122223333:key/99999999-aaaa-bbbb-cccc-dddddddddddd';

  it('wraps every version again under the new key, only from the former key named', async () => {
    const kms = fakeKms();
    const store = new MemoryManifestStore();
    const before = await KeyManager.open({ providers: [new KmsKeyProvider({ keyId: KMS_KEY_ARN, client: kms.client })], store, app: 'shop', environment: 'dev', wrapLocally: false });
    const k1 = Buffer.from((await before.activeKey()).material);
    await before.close();
    // The alias now names NEW_ARN. The double still decrypts only under the old key, and Encrypt
    // under the new one records what it wrapped.
    const vault = new Map<string, Buffer>();
    kms.mock.on(EncryptCommand).callsFake((input: { Plaintext: Uint8Array; KeyId: string }) => {
      const blob = randomBytes(48);
      vault.set(blob.toString('base64'), Buffer.from(input.Plaintext));
      return { CiphertextBlob: blob, KeyId: input.KeyId };
    });
    const after = await KeyManager.open({ providers: [new KmsKeyProvider({ keyId: NEW_ARN, client: kms.client })], store, app: 'shop', environment: 'dev', wrapLocally: false });
    await expect(after.activeKey()).rejects.toMatchObject({ code: 'KMS_KEY_MISMATCH' });
    await expect(after.rewrap({ from: ['arn:aws:kms:us-east-1:111122223333:key/not-the-old-one'] })).rejects.toMatchObject({ code: 'KMS_KEY_MISMATCH' });
    await expect(after.rewrap({ from: [KMS_KEY_ARN] })).resolves.toEqual({ rewrapped: ['k1'], unchanged: [], target: NEW_ARN });
    const wrapping = store.manifest!.versions[0]!.wrapped[0]!;
    expect(wrapping.wrappingKeyRef).toBe(NEW_ARN);
    expect(vault.get(wrapping.ciphertext)).toEqual(k1);
    expect(kms.mock.commandCalls(DecryptCommand).every((c) => c.args[0].input.KeyId === KMS_KEY_ARN)).toBe(true);
    await after.close();
  });
});

describe('the audit head anchored in the manifest', () => {
  it('is covered by the MAC, moves only forward, and survives a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachevault-audithead-'));
    try {
      const store = new FileManifestStore(join(dir, 'keys.manifest.json'));
      const env = new EnvKeyProvider({ env: { CACHEVAULT_KEY: randomBytes(32).toString('base64') } });
      const open = () => KeyManager.open({ providers: [env], store, sealer: new LocalManifestSealer(env), app: 'shop', environment: 'dev' });
      const keys = await open();
      await keys.activeKey();
      await keys.updateAuditHead({ seq: 5, mac: 'abc' });
      await expect(keys.updateAuditHead({ seq: 4, mac: 'old' })).rejects.toMatchObject({ code: 'KEY_STATE_INVALID' });
      expect(keys.auditHead()).toEqual({ seq: 5, mac: 'abc' });
      await keys.close();
      const again = await open();
      expect(again.auditHead()).toEqual({ seq: 5, mac: 'abc' });
      await again.close();
      // A writer of the manifest cannot move the head back (truncating the log) unnoticed.
      const stored = (await store.load())!;
      await store.save({ ...stored, auditHead: { seq: 1, mac: 'forged' } });
      await expect(open()).rejects.toMatchObject({ code: 'MANIFEST_TAMPERED' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the audit log a root subkey of its own, the same for every open', async () => {
    const root = randomBytes(32).toString('base64');
    const keys = await KeyManager.open({ providers: [new EnvKeyProvider({ env: { CACHEVAULT_KEY: root } })], store: new MemoryManifestStore(), app: 'shop', environment: 'dev' });
    const a = await keys.deriveRootSubkey('audit-mac');
    const b = await keys.deriveRootSubkey('audit-mac');
    expect(a).toEqual(b);
    expect(a.toString('base64')).not.toBe(root);
    expect(await keys.deriveRootSubkey('manifest-mac')).not.toEqual(a);
    await keys.close();
  });
});

describe('which key MACs the manifest', () => {
  const config = (keys: Record<string, unknown>) => AdvancedCacheConfig.parse({ keys });
  const env = () => new EnvKeyProvider({ env: { CACHEVAULT_KEY: randomBytes(32).toString('base64') } });

  it('a file manifest: the first local root key; a KMS HMAC key when keys.kms.macKeyId is set; none for a shared manifest without one', () => {
    expect(manifestSealer(config({ providers: ['env'] }), [env()])).toBeInstanceOf(LocalManifestSealer);
    const kms = fakeKms();
    expect(manifestSealer(config({ providers: ['env'], kms: { macKeyId: 'alias/mac' } }), [env()], { kmsClient: kms.client })).toBeInstanceOf(KmsManifestSealer);
    expect(manifestSealer(config({ providers: ['kms'], kms: { keyId: KMS_KEY_ARN }, manifest: { store: 'secretsmanager' } }), [])).toBeUndefined();
    expect(manifestSealer(config({ providers: ['kms', 'env'], kms: { keyId: KMS_KEY_ARN }, manifest: { store: 'secretsmanager' } }), [env()])).toBeUndefined();
  });
});
