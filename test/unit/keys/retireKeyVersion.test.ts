import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend } from '../../../client/backends/memoryBackend';
import { AeadEncryption } from '../../../client/crypto/aeadEncryption';
import { KeyStateError, KeyVersionInUseError } from '../../../client/keys/errors';
import { KeyManager } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { retireDrainedVersions, retireKeyVersion } from '../../../client/keys/retireKeyVersion';
import { reencryptInPlace } from '../../../client/migrate/reencrypt';
import { ManualClock } from '../../contract/backendContract';
import { FakeKeyring, MemoryManifestStore } from './fakes';

describe('retireKeyVersion', () => {
  let clock: ManualClock;
  let keys: KeyManager;
  let encryption: AeadEncryption;
  let backend: MemoryBackend & { scans: number };
  let stateDir: string;

  async function put(key: string, expiresAt: number | null): Promise<void> {
    const identity = { namespace: 'app', key, expiresAt };
    const sealed = await encryption.seal(Buffer.from(`value of ${key}`), identity);
    await backend.set({ ...identity, value: sealed.bytes, keyId: sealed.keyId, createdAt: clock.now });
  }

  beforeEach(async () => {
    clock = new ManualClock(1_800_000_000_000);
    stateDir = mkdtempSync(join(tmpdir(), 'cv-retire-'));
    keys = await KeyManager.open({ providers: [new KeyringKeyProvider({ entryFactory: new FakeKeyring().factory })], store: new MemoryManifestStore(), app: 'shop', environment: 'dev', clock: clock.read });
    encryption = new AeadEncryption({ keys });
    const scanned = new MemoryBackend({ clock: clock.read }) as MemoryBackend & { scans: number };
    scanned.scans = 0;
    const scan = scanned.scan.bind(scanned);
    scanned.scan = (options) => {
      scanned.scans += 1;
      return scan(options);
    };
    backend = scanned;
    // Seven live entries and one expiring soon under k1, then a rotation to k2 and two entries under k2.
    for (let i = 0; i < 7; i++) await put(`old-${i}`, null);
    await put('expiring', clock.now + 1_000);
    await keys.rotate();
    for (let i = 0; i < 2; i++) await put(`new-${i}`, null);
  });
  afterEach(async () => {
    await keys.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('refuses while live entries are sealed under the version, naming how many and the sweep to run, and changes nothing', async () => {
    const attempt = retireKeyVersion({ keys, backend, keyId: 'k1', pageSize: 3 });
    await expect(attempt).rejects.toThrow(KeyVersionInUseError);
    await expect(attempt).rejects.toMatchObject({
      entries: 8,
      message: 'Key version k1 still seals 8 live entries in memory; retiring it now would make them unreadable.',
      hint: expect.stringContaining('`cachevault encryption rotate`'),
    });
    expect(keys.status().versions.find((v) => v.id === 'k1')?.state).toBe('decrypt-only');
    expect(await backend.get('app', 'old-3')).toBeDefined();
  });

  it('retires the version once the re-encryption sweep has moved every live entry, and expired ones do not hold it back', async () => {
    clock.advance(2_000);
    await reencryptInPlace({ backend, open: encryption, seal: encryption, shouldRewrite: (e) => keys.isSealedUnder(e.keyId, 'k1'), stateDir, clock: clock.read, description: 'rotate to k2' });
    // The sweep leaves the expired entry as it was, still under k1.
    expect((await backend.scan({ includeExpired: true, pageSize: 100 })).entries.filter((e) => keys.isSealedUnder(e.keyId, 'k1')).map((e) => e.key)).toEqual(['expiring']);

    const result = await retireKeyVersion({ keys, backend, keyId: 'k1', pageSize: 3 });
    expect(result).toEqual({ keyId: 'k1', scanned: 9, keyIdMismatches: 0, mismatchSamples: [] });
    expect(keys.status().versions.map((v) => [v.id, v.state])).toEqual([['k1', 'retired'], ['k2', 'active']]);
  });

  it('refuses the active, a retired and an unknown version before reading the cache', async () => {
    backend.scans = 0;
    await expect(retireKeyVersion({ keys, backend, keyId: 'k2' })).rejects.toThrow(/k2 is active; only decrypt-only versions can be retired/);
    await expect(retireKeyVersion({ keys, backend, keyId: 'k9' })).rejects.toThrow(KeyStateError);
    await keys.retire('k1');
    await expect(retireKeyVersion({ keys, backend, keyId: 'k1' })).rejects.toThrow(/k1 is retired/);
    expect(backend.scans).toBe(0);
  });

  it('retireDrainedVersions keeps a version that still seals entries and retires the drained ones, with one scan for all', async () => {
    await keys.rotate();
    for (let i = 0; i < 3; i++) await put(`newest-${i}`, null);
    // k1 still seals the old entries; k2's two entries are moved to k3.
    clock.advance(2_000);
    await reencryptInPlace({ backend, open: encryption, seal: encryption, shouldRewrite: (e) => keys.isSealedUnder(e.keyId, 'k2'), stateDir, clock: clock.read, description: 'drain k2' });
    backend.scans = 0;
    const result = await retireDrainedVersions({ keys, backend, pageSize: 100 });
    expect(result.retired).toEqual(['k2']);
    expect(result.inUse.map((e) => [e.keyId, e.entries])).toEqual([['k1', 7]]);
    expect(result.inUse[0]).toBeInstanceOf(KeyVersionInUseError);
    expect(backend.scans).toBe(1);
    expect(keys.status().versions.map((v) => [v.id, v.state])).toEqual([['k1', 'decrypt-only'], ['k2', 'retired'], ['k3', 'active']]);
  });

  it('retireDrainedVersions reads nothing when no decrypt-only version is named', async () => {
    backend.scans = 0;
    expect(await retireDrainedVersions({ keys, backend, only: ['k2'] })).toEqual({ retired: [], inUse: [], keyIdMismatches: 0, mismatchSamples: [] });
    expect(backend.scans).toBe(0);
  });
});
