import { InvalidArgumentError } from '../../../client/errors';
import { BackupFormatError, BackupPassphraseError, KeyStateError } from '../../../client/keys/errors';
import { KeyManager } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { CollectingAudit, FakeKeyring, MemoryManifestStore } from './fakes';

const PASSPHRASE = 'correct horse battery staple';

function machine(app = 'shop', environment = 'dev') {
  const keyring = new FakeKeyring();
  const store = new MemoryManifestStore();
  const audit = new CollectingAudit();
  const open = () => KeyManager.open({ providers: [new KeyringKeyProvider({ entryFactory: keyring.factory })], store, app, environment, audit });
  return { keyring, store, audit, open };
}

describe('key backup and recovery', () => {
  it('restores every non-retired key on another machine, wrapped under that machine\'s keyring', async () => {
    const a = machine();
    const keysA = await a.open();
    await keysA.activeKey();
    await keysA.rotate();
    await keysA.rotate();
    await keysA.retire('k1');
    const k2 = Buffer.from((await keysA.keyById('k2')).material);
    const k3 = Buffer.from((await keysA.keyById('k3')).material);
    const backup = await keysA.exportBackup(PASSPHRASE);
    expect(backup.subarray(0, 4).toString('latin1')).toBe('CVKB');
    expect(backup[5]).toBeGreaterThanOrEqual(15); // scrypt N >= 2^15
    expect(backup.includes(k2)).toBe(false);
    expect(a.audit.of('keys.exported')).toEqual([{ versions: ['k2', 'k3'] }]);

    const b = machine();
    const keysB = await b.open();
    await expect(keysB.importBackup(backup, PASSPHRASE)).resolves.toEqual({ imported: ['k2', 'k3'], activeKeyId: 'k3' });
    expect((await keysB.activeKey())).toEqual({ id: 'k3', material: k3 });
    expect((await keysB.keyById('k2')).material).toEqual(k2);
    await expect(keysB.keyById('k1')).rejects.toThrow(/retired/);
    const wrapped = b.store.manifest!.versions.find((v) => v.id === 'k2')!.wrapped;
    const original = a.store.manifest!.versions.find((v) => v.id === 'k2')!.wrapped;
    expect(wrapped[0]!.wrappingKeyRef).not.toBe(original[0]!.wrappingKeyRef);
    expect(b.audit.of('keys.imported')).toEqual([{ versions: ['k2', 'k3'] }]);
  });

  it('recovers a machine whose keyring lost its root key', async () => {
    const a = machine();
    const keys = await a.open();
    const k1 = Buffer.from((await keys.activeKey()).material);
    const backup = await keys.exportBackup(PASSPHRASE);
    await keys.close();
    a.keyring.entries.clear();
    const reopened = await a.open();
    await expect(reopened.keyById('k1')).rejects.toMatchObject({ code: 'ROOT_KEY_MISMATCH' });
    await reopened.importBackup(backup, PASSPHRASE);
    expect((await reopened.keyById('k1')).material).toEqual(k1);
  });

  it('a wrong passphrase is a clear typed error and changes nothing', async () => {
    const a = machine();
    const keys = await a.open();
    await keys.activeKey();
    const backup = await keys.exportBackup(PASSPHRASE);
    const b = machine();
    const keysB = await b.open();
    const error = await keysB.importBackup(backup, 'correct horse battery stapler').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupPassphraseError);
    expect((error as BackupPassphraseError).message).toMatch(/passphrase is wrong or the backup is damaged/);
    expect(b.store.saves).toBe(0);
  });

  it('rejects foreign bytes, a damaged backup and a short passphrase with distinct errors', async () => {
    const keys = await machine().open();
    await keys.activeKey();
    await expect(keys.importBackup(Buffer.from('{"not":"a backup"}'), PASSPHRASE)).rejects.toBeInstanceOf(BackupFormatError);
    const backup = await keys.exportBackup(PASSPHRASE);
    backup[backup.length - 40]! ^= 1;
    await expect(keys.importBackup(backup, PASSPHRASE)).rejects.toBeInstanceOf(BackupPassphraseError);
    await expect(keys.exportBackup('short')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses a backup of another app or environment', async () => {
    const prod = await machine('shop', 'prod').open();
    await prod.activeKey();
    const backup = await prod.exportBackup(PASSPHRASE);
    const dev = await machine('shop', 'dev').open();
    await expect(dev.importBackup(backup, PASSPHRASE)).rejects.toBeInstanceOf(KeyStateError);
  });
});
