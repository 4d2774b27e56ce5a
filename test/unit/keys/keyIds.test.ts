import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MemoryBackend } from '../../../client/backends/memoryBackend';
import { CacheManager } from '../../../client/core/cacheManager';
import { createCache } from '../../../client/createCache';
import { AeadEncryption } from '../../../client/crypto/aeadEncryption';
import { readHeader } from '../../../client/crypto/envelope';
import { ForeignManifestError } from '../../../client/errors';
import { acceptedManifestIds, keyIdOwner, manifestId, parseKeyId, qualifyKeyId, sealedUnderOlderVersion } from '../../../client/keys/keyIds';
import { KeyManager } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import type { KeyManifest } from '../../../client/keys/keyManifest';
import type { DataKeySource } from '../../../client/keys/keyProvider';
import { retireKeyVersion } from '../../../client/keys/retireKeyVersion';
import { ManualClock } from '../../contract/backendContract';
import { FakeKeyring, MemoryManifestStore } from './fakes';

const CHECK_A = Buffer.alloc(32, 1).toString('base64');
const CHECK_B = Buffer.alloc(32, 2).toString('base64');

function manifest(versions: { id: string; check?: string; state?: 'active' | 'decrypt-only' | 'retired' }[], app = 'shop', environment = 'dev'): KeyManifest {
  return {
    format: 'cachevault-key-manifest',
    formatVersion: 2,
    app,
    environment,
    revision: versions.length,
    versions: versions.map((v) => ({ id: v.id, createdAt: '2026-12-07T00:00:00.000Z', state: v.state ?? 'active', localOnly: true, wrapped: [], ...(v.check ? { check: v.check } : {}) })),
  };
}

describe('key ids unique across manifests', () => {
  it('a manifest id is 16 hex digits from its lowest version, the same after rotations and retirements', () => {
    const one = manifest([{ id: 'k1', check: CHECK_A }]);
    const id = manifestId(one)!;
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    const later = manifest([{ id: 'k1', check: CHECK_A, state: 'retired' }, { id: 'k2', check: CHECK_B, state: 'decrypt-only' }, { id: 'k3', check: CHECK_B }]);
    expect(manifestId(later)).toBe(id);
    expect(manifestId({ ...later, versions: [...later.versions].reverse() })).toBe(id);
    expect(manifestId(manifest([]))).toBeUndefined();
  });

  it('two manifests of the same app and environment created in the same millisecond get different ids (their keys differ)', () => {
    expect(manifestId(manifest([{ id: 'k1', check: CHECK_A }]))).not.toBe(manifestId(manifest([{ id: 'k1', check: CHECK_B }])));
    expect(manifestId(manifest([{ id: 'k1', check: CHECK_A }], 'shop', 'prod'))).not.toBe(manifestId(manifest([{ id: 'k1', check: CHECK_A }], 'shop', 'dev')));
  });

  it('a legacy manifest keeps accepting the id it had before its versions got key-check values', () => {
    const legacy = manifest([{ id: 'k1' }]);
    const sealed = manifest([{ id: 'k1', check: CHECK_A }]);
    expect(acceptedManifestIds(sealed)).toEqual([manifestId(sealed), manifestId(legacy)]);
    expect(acceptedManifestIds(legacy)).toEqual([manifestId(legacy)]);
  });

  it('parses qualified and plain version ids and nothing else', () => {
    expect(parseKeyId('k12:0123456789abcdef')).toEqual({ versionId: 'k12', manifestId: '0123456789abcdef' });
    expect(parseKeyId('k1')).toEqual({ versionId: 'k1' });
    for (const other of ['none', 'local-a1b2c3d4e5f6', 'k0', 'k1:', 'k1:0123', 'k1:0123456789ABCDEF', 'x1:0123456789abcdef', 'k1:0123456789abcdef:0']) {
      expect(parseKeyId(other)).toBeUndefined();
    }
    expect(qualifyKeyId('k3', '0123456789abcdef')).toBe('k3:0123456789abcdef');
  });

  it('tells own, foreign and other key ids apart, and the rotation sweep skips foreign entries', () => {
    const mine = ['aaaaaaaaaaaaaaaa'];
    expect(keyIdOwner('k1:aaaaaaaaaaaaaaaa', mine)).toEqual({ kind: 'own', versionId: 'k1' });
    expect(keyIdOwner('k1', mine)).toEqual({ kind: 'own', versionId: 'k1' });
    expect(keyIdOwner('k1:bbbbbbbbbbbbbbbb', mine)).toEqual({ kind: 'foreign', versionId: 'k1', manifestId: 'bbbbbbbbbbbbbbbb' });
    expect(keyIdOwner('local-a1b2c3d4e5f6', mine)).toEqual({ kind: 'other' });
    expect(sealedUnderOlderVersion('k1:aaaaaaaaaaaaaaaa', mine, 'k2')).toBe(true);
    expect(sealedUnderOlderVersion('k1', mine, 'k2')).toBe(true);
    expect(sealedUnderOlderVersion('k2:aaaaaaaaaaaaaaaa', mine, 'k2')).toBe(false);
    expect(sealedUnderOlderVersion('k2', mine, 'k2')).toBe(false);
    expect(sealedUnderOlderVersion('k1:bbbbbbbbbbbbbbbb', mine, 'k2')).toBe(false);
    expect(sealedUnderOlderVersion('none', mine, 'k2')).toBe(false);
    expect(sealedUnderOlderVersion('local-a1b2c3d4e5f6', mine, 'k2')).toBe(true);
    expect(sealedUnderOlderVersion('k1:aaaaaaaaaaaaaaaa', mine, 'k3', ['k1'])).toBe(true);
    expect(sealedUnderOlderVersion('k2:aaaaaaaaaaaaaaaa', mine, 'k3', ['k1'])).toBe(false);
  });
});

/** Two deployments (own keyring, own manifest) over one store. */
function twoDeployments() {
  const clock = new ManualClock();
  const backend = new MemoryBackend({ clock: clock.read });
  const deployment = async () => {
    const keys = await KeyManager.open({
      providers: [new KeyringKeyProvider({ entryFactory: new FakeKeyring().factory })],
      store: new MemoryManifestStore(),
      app: 'shop',
      environment: 'dev',
      clock: clock.read,
    });
    return { keys, cache: new CacheManager({ backend, encryption: new AeadEncryption({ keys }), clock: clock.read, defaultTtlMs: null }) };
  };
  return { backend, deployment };
}

/** What a client before this change sealed with: the plain version id in the envelope. */
function plainIds(keys: KeyManager): DataKeySource {
  return {
    activeKey: async () => {
      const key = await keys.activeKey();
      return { id: key.id, material: key.material };
    },
    keyById: (id) => keys.keyById(id),
  };
}

describe('KeyManager with another manifest sharing the store', () => {
  it("reads its own entries and counts the other's as foreignManifest misses, without a reload or a new key version", async () => {
    const { deployment } = twoDeployments();
    const a = await deployment();
    const b = await deployment();
    await a.cache.set('from-a', 'a');
    await b.cache.set('from-b', 'b');
    expect(a.keys.manifestId).not.toBe(b.keys.manifestId);
    const reloads = a.keys.stats().manifestReloads;

    await expect(a.cache.get('from-a')).resolves.toBe('a');
    await expect(a.cache.get('from-b')).resolves.toBeUndefined();
    await expect(a.cache.get('from-b')).resolves.toBeUndefined();
    expect(a.cache.stats()).toMatchObject({ hits: 1, misses: 2, foreignManifest: 2, decryptFailures: 0, keyUnavailable: 0 });
    expect(a.keys.stats().manifestReloads).toBe(reloads);
    expect(a.keys.status().versions.map((v) => v.id)).toEqual(['k1']);
    await expect(b.cache.get('from-b')).resolves.toBe('b');
    await expect(b.cache.get('from-a')).resolves.toBeUndefined();
    expect(b.cache.stats()).toMatchObject({ foreignManifest: 1, decryptFailures: 0 });
  });

  it('names the other manifest in a ForeignManifestError with its own code', async () => {
    const { deployment } = twoDeployments();
    const a = await deployment();
    const b = await deployment();
    await a.keys.activeKey();
    const foreign = (await b.keys.activeKey()).entryKeyId!;
    const error = await a.keys.keyById(foreign).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForeignManifestError);
    expect(error).toMatchObject({ code: 'FOREIGN_MANIFEST', keyId: foreign, manifestId: b.keys.manifestId, context: { ownManifestId: a.keys.manifestId } });
  });

  it('an entry sealed under the plain k1 of an older client still reads in the manifest that wrote it; another manifest cannot tell it apart (an integrity failure)', async () => {
    const { backend, deployment } = twoDeployments();
    const a = await deployment();
    const old = new CacheManager({ backend, encryption: new AeadEncryption({ keys: plainIds(a.keys) }), defaultTtlMs: null });
    await old.set('legacy', { n: 1 });
    const stored = await backend.get('default', 'legacy');
    expect(stored!.keyId).toBe('k1');
    expect(readHeader(stored!.value).keyId).toBe('k1');
    await expect(a.cache.get('legacy')).resolves.toEqual({ n: 1 });

    const b = await deployment();
    await b.cache.set('own', 1);
    await expect(b.cache.get('legacy')).resolves.toBeUndefined();
    expect(b.cache.stats()).toMatchObject({ decryptFailures: 1, foreignManifest: 0 });
  });

  it('retireKeyVersion counts entries under the plain and the qualified id, and not another manifest’s k1', async () => {
    const { backend, deployment } = twoDeployments();
    const a = await deployment();
    const b = await deployment();
    const old = new CacheManager({ backend, encryption: new AeadEncryption({ keys: plainIds(a.keys) }), defaultTtlMs: null });
    await old.set('plain', 1);
    await a.cache.set('qualified', 2);
    await b.cache.set('theirs', 3);
    await a.keys.rotate();
    await expect(retireKeyVersion({ keys: a.keys, backend, keyId: 'k1' })).rejects.toMatchObject({ code: 'KEY_VERSION_IN_USE', entries: 2 });
    await backend.delete('default', 'plain');
    await backend.delete('default', 'qualified');
    await expect(retireKeyVersion({ keys: a.keys, backend, keyId: 'k1' })).resolves.toMatchObject({ keyId: 'k1', scanned: 1 });
  });
});

const FIXTURE = resolve(__dirname, '../../fixtures/key-ids/plain-k1');
/** The fixture's env root key (a test key, published with the fixture). */
const FIXTURE_ENV_KEY = 'b5eEg1xBMkG8uMUQ93vqqDgkOlsfyNkUGpsQ2RJVhkg=';

function copyFixture(): string {
  const dir = fs.mkdtempSync(join(tmpdir(), 'cv-plain-k1-'));
  fs.cpSync(FIXTURE, dir, { recursive: true });
  const walk = (path: string): void => {
    const st = fs.lstatSync(path);
    fs.chmodSync(path, st.isDirectory() ? 0o700 : 0o600);
    if (st.isDirectory()) for (const child of fs.readdirSync(path)) walk(join(path, child));
  };
  walk(dir);
  return dir;
}

describe('the plain-k1 fixture (a file cache and manifest written before key ids named their manifest)', () => {
  const open = (dir: string, key = FIXTURE_ENV_KEY) =>
    createCache({
      cwd: dir,
      env: {},
      options: { backend: 'file', file: { dir: join(dir, 'cache') }, keys: { providers: ['env'] }, logging: { level: 'silent' } },
      keyProviderDeps: { env: { CACHEVAULT_KEY: key } },
    });

  it('reads every entry with the manifest that wrote it, and new writes carry the qualified id', async () => {
    const dir = copyFixture();
    const vault = await open(dir);
    try {
      expect((await vault.backend.get('default', 'object'))!.keyId).toBe('k1');
      await expect(vault.cache.get('object')).resolves.toEqual({ n: 1, s: 'plain k1' });
      await expect(vault.cache.get('text')).resolves.toBe('written before key ids named their manifest');
      await vault.cache.set('new', 'after');
      expect((await vault.backend.get('default', 'new'))!.keyId).toBe(`k1:${vault.keys!.manifestId}`);
      await expect(vault.cache.get('new')).resolves.toBe('after');
      expect(vault.cache.stats()).toMatchObject({ hits: 3, decryptFailures: 0, keyUnavailable: 0, foreignManifest: 0 });
    } finally {
      await vault.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second deployment over the same cache directory reads its own entries; the fixture’s new entry is a foreignManifest miss', async () => {
    const dir = copyFixture();
    const first = await open(dir);
    await first.cache.set('qualified', 'from the fixture deployment');
    await first.close();
    const other = join(dir, 'other');
    fs.mkdirSync(other, { mode: 0o700 });
    const second = await createCache({
      cwd: other,
      env: {},
      options: { backend: 'file', file: { dir: join(dir, 'cache') }, keys: { providers: ['env'], manifest: { store: 'file', path: join(other, 'keys.manifest.json') } }, logging: { level: 'silent' } },
      keyProviderDeps: { env: { CACHEVAULT_KEY: randomBytes(32).toString('base64') } },
    });
    try {
      await second.cache.set('mine', 'second');
      await expect(second.cache.get('mine')).resolves.toBe('second');
      await expect(second.cache.get('qualified')).resolves.toBeUndefined();
      expect(second.cache.stats()).toMatchObject({ foreignManifest: 1, decryptFailures: 0 });
    } finally {
      await second.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
