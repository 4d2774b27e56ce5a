import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../../client/errors';
import { BackupFormatError, BackupPassphraseError, KeyStateError } from '../../../client/keys/errors';
import { checkBackupPassphrase, generateRecoveryCode, inspectBackup, openBackup, sealBackup, type BackupContents } from '../../../client/keys/keyBackup';
import { keyCheckValue } from '../../../client/keys/keyCheck';
import { KeyManager } from '../../../client/keys/keyManager';
import { emptyManifest, type KeyManifest } from '../../../client/keys/keyManifest';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { CollectingAudit, FakeKeyring, MemoryManifestStore } from './fakes';

const PASSPHRASE = 'correct horse battery staple';
/** scrypt at 2^10: the test-only cost, so the suite stays fast; the floor is tested below at full cost. */
const LOW = { testOnlyLowCost: true } as const;
/** Written by cachevault's format-1 code (scrypt N = 2^15) for k1 = 32 bytes of 0x11, app shop/dev, under PASSPHRASE. */
const FORMAT1_FIXTURE = join(__dirname, '../../fixtures/key-backup-format1.cvkb');

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
    const backup = await keysA.exportBackup(PASSPHRASE, LOW);
    expect(backup.subarray(0, 4).toString('latin1')).toBe('CVKB');
    expect(backup[4]).toBe(2); // format 2
    expect(backup.includes(k2)).toBe(false);
    expect(a.audit.of('keys.exported')).toEqual([{ versions: ['k2', 'k3'] }]);

    const b = machine();
    const keysB = await b.open();
    await expect(keysB.importBackup(backup, PASSPHRASE, LOW)).resolves.toEqual({ imported: ['k2', 'k3'], activeKeyId: 'k3' });
    // The restored manifest keeps its id, so entries sealed on machine A read on machine B.
    expect(keysB.manifestId).toBe(keysA.manifestId);
    expect((await keysB.activeKey())).toEqual({ id: 'k3', entryKeyId: `k3:${keysA.manifestId}`, material: k3 });
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
    const backup = await keys.exportBackup(PASSPHRASE, LOW);
    await keys.close();
    a.keyring.entries.clear();
    const reopened = await a.open();
    await expect(reopened.keyById('k1')).rejects.toMatchObject({ code: 'ROOT_KEY_MISMATCH' });
    await reopened.importBackup(backup, PASSPHRASE, LOW);
    expect((await reopened.keyById('k1')).material).toEqual(k1);
  });

  it('a wrong passphrase is a clear typed error and changes nothing', async () => {
    const a = machine();
    const keys = await a.open();
    await keys.activeKey();
    const backup = await keys.exportBackup(PASSPHRASE, LOW);
    const b = machine();
    const keysB = await b.open();
    const error = await keysB.importBackup(backup, 'correct horse battery stapler', LOW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupPassphraseError);
    expect((error as BackupPassphraseError).message).toMatch(/passphrase is wrong or the backup is damaged/);
    expect(b.store.saves).toBe(0);
  });

  it('rejects foreign bytes, a damaged backup and a short passphrase with distinct errors', async () => {
    const keys = await machine().open();
    await keys.activeKey();
    await expect(keys.importBackup(Buffer.from('{"not":"a backup"}'), PASSPHRASE)).rejects.toBeInstanceOf(BackupFormatError);
    const backup = await keys.exportBackup(PASSPHRASE, LOW);
    backup[backup.length - 40]! ^= 1;
    await expect(keys.importBackup(backup, PASSPHRASE, LOW)).rejects.toBeInstanceOf(BackupPassphraseError);
    await expect(keys.exportBackup('short', LOW)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses a backup of another app or environment', async () => {
    const prod = await machine('shop', 'prod').open();
    await prod.activeKey();
    const backup = await prod.exportBackup(PASSPHRASE, LOW);
    const dev = await machine('shop', 'dev').open();
    await expect(dev.importBackup(backup, PASSPHRASE, LOW)).rejects.toBeInstanceOf(KeyStateError);
  });
});

function contents(): BackupContents {
  const manifest: KeyManifest = {
    ...emptyManifest('shop', 'dev'),
    revision: 1,
    versions: [{ id: 'k1', createdAt: '2026-01-01T00:00:00.000Z', state: 'active', localOnly: true, wrapped: [{ provider: 'keyring', wrappingKeyRef: 'keyring:cachevault/root-key', ciphertext: 'AAAA' }] }],
  };
  return { manifest, keys: [{ id: 'k1', material: Buffer.alloc(32, 0x22) }] };
}

/** A copy of `bytes` with header byte `at` set to `value` (the header is the AEAD's associated data). */
function withHeaderByte(bytes: Buffer, at: number, value: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = value;
  return copy;
}

describe('key backup cost and format', () => {
  it('seals with scrypt N = 2^17, r = 8, p = 1 by default, records the parameters, and opens again', async () => {
    const started = Date.now();
    const bytes = await sealBackup(contents(), PASSPHRASE);
    expect(inspectBackup(bytes)).toEqual({ format: 2, kdf: 'scrypt', scrypt: { log2N: 17, r: 8, p: 1 } });
    const opened = await openBackup(bytes, PASSPHRASE);
    expect(opened.keys[0]!.material).toEqual(Buffer.alloc(32, 0x22));
    // Two derivations at 128 MiB each: this is the cost a guesser pays per try, times two.
    expect(Date.now() - started).toBeGreaterThan(100);
  });

  it('refuses to seal below N = 2^17 without the test-only option', async () => {
    await expect(sealBackup(contents(), PASSPHRASE, { log2N: 15 })).rejects.toThrow(/log2N must be an integer from 17/);
    await expect(sealBackup(contents(), PASSPHRASE, { log2N: 19 })).rejects.toThrow(InvalidArgumentError);
  });

  it('refuses the test-only low cost outside a test environment, on seal and on open', async () => {
    const low = await sealBackup(contents(), PASSPHRASE, { ...LOW, log2N: 10 });
    const saved = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await expect(sealBackup(contents(), PASSPHRASE, { ...LOW, log2N: 10 })).rejects.toThrow(/test suites only/);
      await expect(openBackup(low, PASSPHRASE, LOW)).rejects.toThrow(/test suites only/);
    } finally {
      process.env.NODE_ENV = saved;
    }
  });

  it('refuses to open a backup below the floor unless told to, and names the flag', async () => {
    const low = await sealBackup(contents(), PASSPHRASE, { ...LOW, log2N: 10 });
    const error = await openBackup(low, PASSPHRASE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupFormatError);
    expect((error as BackupFormatError).message).toMatch(/N = 2\^10, r = 8, below the floor of N = 2\^17/);
    // Even with the legacy flag, nothing below the old format's 2^15 is accepted.
    await expect(openBackup(low, PASSPHRASE, { allowWeakKdf: true })).rejects.toThrow(/below the floor/);
  });

  it('refuses absurd scrypt parameters before deriving anything (no gigabyte allocation, no minutes of work)', async () => {
    const bytes = await sealBackup(contents(), PASSPHRASE, { ...LOW, log2N: 10 });
    for (const [at, value, what] of [
      [6, 30, 'N = 2^30'],
      [6, 19, 'N = 2^19'],
      [7, 255, 'r = 255'],
      [8, 200, 'p = 200'],
      [8, 0, 'p = 0'],
      [7, 16, 'r = 16 with N = 2^18 would be 512 MiB'],
    ] as const) {
      const crafted = at === 7 && value === 16 ? withHeaderByte(withHeaderByte(bytes, 6, 18), 7, 16) : withHeaderByte(bytes, at, value);
      const started = Date.now();
      const error = await openBackup(crafted, PASSPHRASE, { allowWeakKdf: true, ...LOW }).catch((e: unknown) => e);
      expect([what, error]).toEqual([what, expect.any(BackupFormatError)]);
      expect((error as Error).message).toMatch(/beyond what cachevault accepts/);
      expect(Date.now() - started).toBeLessThan(50);
    }
  });

  it('a lowered cost in the header breaks the tag: the parameters are authenticated', async () => {
    const bytes = await sealBackup(contents(), PASSPHRASE, { ...LOW, log2N: 11 });
    await expect(openBackup(withHeaderByte(bytes, 6, 10), PASSPHRASE, LOW)).rejects.toBeInstanceOf(BackupPassphraseError);
  });

  it('imports a format-1 backup (N = 2^15) only with allowWeakKdf, and then gets its keys', async () => {
    const legacy = readFileSync(FORMAT1_FIXTURE);
    expect(inspectBackup(legacy)).toEqual({ format: 1, kdf: 'scrypt', scrypt: { log2N: 15, r: 8, p: 1 } });
    const refused = await openBackup(legacy, PASSPHRASE).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BackupFormatError);
    expect((refused as BackupFormatError).message).toMatch(/from an older cachevault/);
    expect((refused as BackupFormatError).hint).toMatch(/--allow-weak-kdf/);
    const opened = await openBackup(legacy, PASSPHRASE, { allowWeakKdf: true });
    expect(opened.manifest.app).toBe('shop');
    expect(opened.keys).toEqual([{ id: 'k1', material: Buffer.alloc(32, 0x11) }]);

    const keys = await machine().open();
    await expect(keys.importBackup(legacy, PASSPHRASE)).rejects.toBeInstanceOf(BackupFormatError);
    await expect(keys.importBackup(legacy, PASSPHRASE, { allowWeakKdf: true })).resolves.toEqual({ imported: ['k1'], activeKeyId: 'k1' });
    expect((await keys.keyById('k1')).material).toEqual(Buffer.alloc(32, 0x11));
  });

  it('refuses a format it does not know and a truncated file', async () => {
    const bytes = await sealBackup(contents(), PASSPHRASE, { ...LOW, log2N: 10 });
    await expect(openBackup(withHeaderByte(bytes, 4, 3), PASSPHRASE, LOW)).rejects.toThrow(/format 3/);
    await expect(openBackup(bytes.subarray(0, 40), PASSPHRASE, LOW)).rejects.toBeInstanceOf(BackupFormatError);
    await expect(openBackup(withHeaderByte(bytes, 5, 9), PASSPHRASE, LOW)).rejects.toThrow(/key derivation 9/);
  });
});

describe('backup passphrases and recovery codes', () => {
  it('refuses passphrases shorter than 16 characters or with fewer than 8 distinct ones, saying why', () => {
    expect(() => checkBackupPassphrase('fifteen chars!!')).toThrow(/at least 16 characters \(this one has 15\)/);
    expect(() => checkBackupPassphrase('abababababababababababab')).toThrow(/at least 8 different characters/);
    expect(() => checkBackupPassphrase('🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑')).toThrow(/this one has 15/); // code points, not UTF-16 units
    expect(() => checkBackupPassphrase(PASSPHRASE)).not.toThrow();
  });

  it('generates recovery codes of 160 random bits in groups of four, never twice the same', () => {
    const codes = Array.from({ length: 50 }, () => generateRecoveryCode());
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$/);
    expect(new Set(codes).size).toBe(50);
    // Every position varies: the code is not a fixed prefix plus a counter.
    for (let i = 0; i < 39; i++) if (codes[0]![i] !== '-') expect(new Set(codes.map((c) => c[i])).size).toBeGreaterThan(1);
  });

  it('seals under a recovery code without scrypt, and opens with the code however it is typed', async () => {
    const code = generateRecoveryCode();
    const bytes = await sealBackup(contents(), code, { secret: 'recovery-code' });
    expect(inspectBackup(bytes)).toEqual({ format: 2, kdf: 'recovery-code' });
    const typed = code.toLowerCase().replace(/-/g, ' ').replace(/1/g, 'l').replace(/0/g, 'o');
    expect((await openBackup(bytes, typed)).keys[0]!.material).toEqual(Buffer.alloc(32, 0x22));
  });

  it('a wrong recovery code and a passphrase given for a code are distinct, clear errors', async () => {
    const bytes = await sealBackup(contents(), generateRecoveryCode(), { secret: 'recovery-code' });
    const wrong = await openBackup(bytes, generateRecoveryCode()).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(BackupPassphraseError);
    expect((wrong as BackupPassphraseError).hint).toMatch(/sealed under a recovery code/);
    await expect(openBackup(bytes, PASSPHRASE)).rejects.toThrow(/not a cachevault recovery code/);
    await expect(sealBackup(contents(), PASSPHRASE, { secret: 'recovery-code' })).rejects.toThrow(/not a cachevault recovery code/);
  });
});

describe('key checks on import', () => {
  it('refuses a backup whose key does not match the key-check value its manifest records, and imports nothing', async () => {
    const sealed = contents();
    const manifest = { ...sealed.manifest, versions: sealed.manifest.versions.map((v) => ({ ...v, check: keyCheckValue(Buffer.alloc(32, 0x44)) })) };
    const bytes = await sealBackup({ manifest, keys: sealed.keys }, PASSPHRASE, LOW);
    const m = machine();
    const keys = await m.open();
    await expect(keys.importBackup(bytes, PASSPHRASE, LOW)).rejects.toThrow(/does not match its key-check value/);
    expect(m.store.saves).toBe(0);
    const good = await sealBackup({ manifest: { ...manifest, versions: manifest.versions.map((v) => ({ ...v, check: keyCheckValue(Buffer.alloc(32, 0x22)) })) }, keys: contents().keys }, PASSPHRASE, LOW);
    await expect(keys.importBackup(good, PASSPHRASE, LOW)).resolves.toMatchObject({ imported: ['k1'] });
  });
});
