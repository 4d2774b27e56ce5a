/**
 * Attacks on key backups by someone who has a copy of the file (a stolen laptop, a leaked
 * bucket) and guesses its secret offline, or who hands a victim a crafted file to import.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackupFormatError, BackupPassphraseError } from '../../client/keys/errors';
import { checkBackupPassphrase, generateRecoveryCode, inspectBackup, openBackup, sealBackup, type BackupContents } from '../../client/keys/keyBackup';
import { emptyManifest } from '../../client/keys/keyManifest';

const PASSPHRASE = 'correct horse battery staple';

function contents(): BackupContents {
  return {
    manifest: { ...emptyManifest('shop', 'dev'), revision: 1, versions: [{ id: 'k1', createdAt: '2026-01-01T00:00:00.000Z', state: 'active', localOnly: true, wrapped: [{ provider: 'env', wrappingKeyRef: 'env:CACHEVAULT_KEY', ciphertext: 'AAAA' }] }] },
    keys: [{ id: 'k1', material: Buffer.alloc(32, 0x33) }],
  };
}

describe('offline guessing of key backups', () => {
  it('every guess at a passphrase backup costs scrypt N = 2^17, r = 8 (128 MiB), and the file says so', async () => {
    const bytes = await sealBackup(contents(), PASSPHRASE);
    expect(inspectBackup(bytes)).toEqual({ format: 2, kdf: 'scrypt', scrypt: { log2N: 17, r: 8, p: 1 } });
  });

  it('lowering the cost in the header (to make guesses cheaper) makes the file unopenable', async () => {
    const bytes = await sealBackup(contents(), PASSPHRASE, { testOnlyLowCost: true, log2N: 12 });
    const cheaper = Buffer.from(bytes);
    cheaper[6] = 11;
    await expect(openBackup(cheaper, PASSPHRASE, { testOnlyLowCost: true })).rejects.toBeInstanceOf(BackupPassphraseError);
  });

  it('a crafted file asking for N = 2^31 or r = 255 is refused at once, not allocated', async () => {
    const bytes = await sealBackup(contents(), PASSPHRASE, { testOnlyLowCost: true, log2N: 10 });
    for (const [at, value] of [[6, 31], [7, 255], [8, 255]] as const) {
      const crafted = Buffer.from(bytes);
      crafted[at] = value;
      const started = Date.now();
      await expect(openBackup(crafted, PASSPHRASE, { allowWeakKdf: true })).rejects.toBeInstanceOf(BackupFormatError);
      expect(Date.now() - started).toBeLessThan(50);
    }
  });

  it('a weak (N = 2^15) backup is not imported without an explicit --allow-weak-kdf', async () => {
    const legacy = readFileSync(join(__dirname, '../fixtures/key-backup-format1.cvkb'));
    await expect(openBackup(legacy, PASSPHRASE)).rejects.toThrow(/below the floor/);
  });

  it('short or repetitive passphrases are refused before anything is written', () => {
    for (const weak of ['Summer2026!', 'passwordpassword', 'aaaaaaaaaaaaaaaaaaaaaaaa']) expect(() => checkBackupPassphrase(weak)).toThrow();
  });

  it('a recovery code carries 160 random bits, so it needs no stretching', () => {
    const code = generateRecoveryCode().replace(/-/g, '');
    expect(code).toHaveLength(32); // 32 base32 characters = 160 bits
  });
});
