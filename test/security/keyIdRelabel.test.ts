/**
 * A writer of the file tier relabels the clear `key_id` column of rows. The key id that counts
 * is the one in each entry's authenticated envelope header, so relabelling hides no entry from
 * `keys retire` (which would then destroy a key still in use) and none from the sweeps.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import { layoutOf } from '../../client/backends/file/layout';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { readHeader } from '../../client/crypto/envelope';
import { NoEncryption } from '../../client/crypto/noEncryption';
import { entriesByKeyId } from '../../client/keys/entriesByKeyId';
import { KeyVersionInUseError } from '../../client/keys/errors';
import { KeyManager } from '../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../client/keys/keyringKeyProvider';
import { retireDrainedVersions, retireKeyVersion } from '../../client/keys/retireKeyVersion';
import { reencryptInPlace } from '../../client/migrate/reencrypt';
import { FakeKeyring, MemoryManifestStore } from '../unit/keys/fakes';

describe('authenticated metadata: relabelled key ids', () => {
  let root: string;
  let dir: string;
  let keys: KeyManager;
  let encryption: AeadEncryption;
  let backend: FileBackend;

  /** What someone with write access to cache.db does: rewrites the clear key_id of rows. */
  async function relabel(where: string, keyId: string): Promise<void> {
    await backend.close();
    const db = new Database(layoutOf(dir).dbPath);
    db.prepare(`UPDATE entries SET key_id = ? WHERE ${where}`).run(keyId);
    db.close();
    backend = new FileBackend({ dir });
  }

  async function put(key: string, provider: AeadEncryption | NoEncryption = encryption): Promise<void> {
    const identity = { namespace: 'app', key, expiresAt: null };
    const sealed = await provider.seal(Buffer.from(`value of ${key}`), identity);
    await backend.set({ ...identity, value: sealed.bytes, keyId: sealed.keyId, createdAt: Date.now() });
  }

  async function read(key: string): Promise<string> {
    const entry = await backend.get('app', key);
    if (!entry) throw new Error(`${key} is gone`);
    return Buffer.from(await encryption.open(entry.value, entry)).toString();
  }

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'cv-sec-keyid-'));
    dir = join(root, 'cache');
    keys = await KeyManager.open({ providers: [new KeyringKeyProvider({ entryFactory: new FakeKeyring().factory })], store: new MemoryManifestStore(), app: 'shop', environment: 'dev' });
    encryption = new AeadEncryption({ keys });
    backend = new FileBackend({ dir });
    await put('old'); // under k1
    await keys.rotate(); // k2 active, k1 decrypt-only
    await put('new');
  });
  afterEach(async () => {
    await backend.close();
    await keys.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('keys retire refuses to drop k1 when its entry is relabelled k2, and the entry stays readable', async () => {
    await relabel("key = 'old'", keys.entryKeyId('k2'));
    await expect(retireKeyVersion({ keys, backend, keyId: 'k1' })).rejects.toThrow(KeyVersionInUseError);
    expect(keys.status().versions.find((v) => v.id === 'k1')?.state).toBe('decrypt-only');
    expect(await read('old')).toBe('value of old');
  });

  it('retiring every drained version after a rotation keeps k1 when its entry is relabelled, and reports the relabel', async () => {
    await relabel("key = 'old'", keys.entryKeyId('k2'));
    const outcome = await retireDrainedVersions({ keys, backend });
    expect(outcome.retired).toEqual([]);
    expect(outcome.inUse.map((e) => e.keyId)).toEqual(['k1']);
    expect(outcome.keyIdMismatches).toBe(1);
    expect(outcome.mismatchSamples[0]).toMatchObject({ key: 'old', storedKeyId: keys.entryKeyId('k2'), headerKeyId: keys.entryKeyId('k1') });
  });

  it('a rotation sweep still rewrites an entry relabelled with the new key id', async () => {
    await relabel("key = 'old'", keys.entryKeyId('k2'));
    const report = await reencryptInPlace({ backend, open: encryption, seal: encryption, shouldRewrite: (e) => keys.isSealedUnder(e.keyId, 'k1'), stateDir: join(root, 'sweep'), description: 'rotate to k2' });
    expect(report.counts).toMatchObject({ rewritten: 1, keyIdMismatches: 1, keyIdsBefore: { [keys.entryKeyId('k1')]: 1, [keys.entryKeyId('k2')]: 1 }, keyIdsAfter: { [keys.entryKeyId('k2')]: 2 } });
    const entry = await backend.get('app', 'old');
    expect(readHeader(entry!.value).keyId).toBe(keys.entryKeyId('k2'));
    expect(await read('old')).toBe('value of old');
    // Now nothing is under k1, and it can go.
    expect((await retireDrainedVersions({ keys, backend })).retired).toEqual(['k1']);
  });

  it('an unencrypted entry relabelled as encrypted is still counted as unencrypted', async () => {
    await put('plain', new NoEncryption());
    await relabel("key = 'plain'", keys.entryKeyId('k2'));
    const counted = await entriesByKeyId(backend);
    expect(counted.byKeyId).toEqual({ [keys.entryKeyId('k1')]: 1, [keys.entryKeyId('k2')]: 1, none: 1 });
    expect(counted.mismatched).toBe(1);
  });

  it('an encrypted entry relabelled as unencrypted is not taken for plaintext by the enable sweep', async () => {
    await relabel("key = 'new'", 'none');
    const report = await reencryptInPlace({ backend, open: encryption, seal: encryption, shouldRewrite: (e) => e.keyId === 'none', stateDir: join(root, 'enable'), description: 'enable encryption' });
    expect(report.counts).toMatchObject({ rewritten: 0, failed: 0, keyIdsBefore: { [keys.entryKeyId('k1')]: 1, [keys.entryKeyId('k2')]: 1 } });
  });
});
