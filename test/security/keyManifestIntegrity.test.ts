/**
 * A writer of the key manifest (the file, or the secret) can cause a refusal to start and
 * nothing more: no key it chose is adopted, no retired version revived, no fresh k1 made. Each
 * attempt edits the manifest as such a writer could, then checks the refusal is typed and clear
 * and that nothing was changed (the manifest's bytes, its versions).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvKeyProvider } from '../../client/keys/envKeyProvider';
import { FileManifestStore } from '../../client/keys/fileManifestStore';
import { KeyManager } from '../../client/keys/keyManager';
import type { KeyManifest } from '../../client/keys/keyManifest';
import { LocalManifestSealer } from '../../client/keys/manifestSeal';
import { FileRevisionPinStore } from '../../client/keys/revisionPin';

const context = (keyId: string) => ({ app: 'shop', environment: 'prod', keyId });

function deployment() {
  const dir = mkdtempSync(join(tmpdir(), 'cachevault-manifest-attack-'));
  const rootKey = randomBytes(32).toString('base64');
  const manifestPath = join(dir, 'keys.manifest.json');
  const open = (key = rootKey) => {
    const env = new EnvKeyProvider({ env: { CACHEVAULT_KEY: key } });
    return KeyManager.open({
      providers: [env],
      store: new FileManifestStore(manifestPath),
      sealer: new LocalManifestSealer(env),
      revisionPins: new FileRevisionPinStore(dir, env),
      app: 'shop',
      environment: 'prod',
    });
  };
  const read = (): KeyManifest => JSON.parse(readFileSync(manifestPath, 'utf8')) as KeyManifest;
  const write = (m: unknown) => writeFileSync(manifestPath, JSON.stringify(m, null, 2));
  const pinFile = () => join(dir, readdirSync(dir).find((f) => f.startsWith('keys.revision-pin.'))!);
  const hash = () => (existsSync(manifestPath) ? createHash('sha256').update(readFileSync(manifestPath)).digest('hex') : 'absent');
  return { dir, rootKey, manifestPath, open, read, write, hash, pinFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A deployment with k1 (decrypt-only, with live data in mind), k2 active. */
async function withTwoVersions() {
  const d = deployment();
  const keys = await d.open();
  const k1 = Buffer.from((await keys.activeKey()).material);
  const atK1 = d.read();
  await keys.rotate();
  const k2 = Buffer.from((await keys.activeKey()).material);
  await keys.close();
  return { ...d, k1, k2, atK1 };
}

describe('key manifest integrity', () => {
  let d: Awaited<ReturnType<typeof withTwoVersions>>;
  beforeEach(async () => {
    d = await withTwoVersions();
  });
  afterEach(() => d.cleanup());

  it('a rolled-back manifest (an older, validly MACed revision) is refused and changes nothing', async () => {
    d.write(d.atK1);
    const before = d.hash();
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_ROLLBACK', message: expect.stringContaining('rolled back') });
    expect(d.hash()).toBe(before);
  });

  it('a running client that meets a rolled-back manifest on reload refuses it', async () => {
    const keys = await d.open();
    await keys.activeKey();
    d.write(d.atK1);
    // An unknown key id makes the client reload the manifest.
    await expect(keys.keyById('k7')).rejects.toMatchObject({ code: 'MANIFEST_ROLLBACK' });
    expect((await keys.activeKey()).id).toBe('k2');
    await keys.close();
  });

  it('a wrapping re-pointed to another key reference is refused', async () => {
    const m = d.read();
    const versions = m.versions.map((v) => (v.id === 'k2' ? { ...v, wrapped: v.wrapped.map((w) => ({ ...w, wrappingKeyRef: 'env:ATTACKER_KEY#0000000000000000' })) } : v));
    d.write({ ...m, versions });
    const before = d.hash();
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_TAMPERED' });
    expect(d.hash()).toBe(before);
  });

  it('a substituted wrapping put first in the list (a key the attacker made under the same context) is refused', async () => {
    // The attacker holds the same root key's provider access (e.g. GenerateDataKey rights) and wraps a key it knows.
    const attacker = new EnvKeyProvider({ env: { CACHEVAULT_KEY: d.rootKey } });
    const { wrapped } = await attacker.generateDataKey(context('k2'));
    const m = d.read();
    d.write({ ...m, versions: m.versions.map((v) => (v.id === 'k2' ? { ...v, wrapped: [wrapped, ...v.wrapped] } : v)) });
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_TAMPERED' });
  });

  it('a manifest whose versions were re-ordered or re-stated (k1 made active again) is refused', async () => {
    const m = d.read();
    const versions = m.versions.map((v) => ({ ...v, state: v.id === 'k1' ? 'active' : 'decrypt-only' }));
    d.write({ ...m, versions: [...versions].reverse() });
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_TAMPERED' });
  });

  it('a deleted manifest is an error, never a fresh k1', async () => {
    unlinkSync(d.manifestPath);
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_MISSING' });
    expect(existsSync(d.manifestPath)).toBe(false);
  });

  it('a blanked manifest (a valid empty one at a high revision) is an error, never a fresh k1', async () => {
    d.write({ format: 'cachevault-key-manifest', formatVersion: 2, app: 'shop', environment: 'prod', revision: 1000, versions: [] });
    const before = d.hash();
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_MISSING' });
    expect(d.hash()).toBe(before);
  });

  it('a running client whose manifest is deleted keeps its keys and creates none', async () => {
    const keys = await d.open();
    await keys.activeKey();
    unlinkSync(d.manifestPath);
    await expect(keys.rotate()).rejects.toMatchObject({ code: 'MANIFEST_MISSING' });
    expect(existsSync(d.manifestPath)).toBe(false);
    await keys.close();
  });

  it('a manifest with its MAC stripped (a downgrade to the legacy format) is refused', async () => {
    const { mac: _mac, ...m } = d.read();
    d.write({ ...m, formatVersion: 1, versions: m.versions.map(({ check: _c, ...v }) => v) });
    const before = d.hash();
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_UNSEALED', message: expect.stringContaining('downgraded') });
    expect(d.hash()).toBe(before);
  });

  it('a MAC-stripped manifest on a machine that never saw it sealed is not used until sealed explicitly', async () => {
    const { mac: _mac, ...m } = d.read();
    d.write({ ...m, formatVersion: 1, versions: m.versions.map(({ check: _c, ...v }) => v) });
    rmSync(d.pinFile());
    const before = d.hash();
    const keys = await d.open();
    await expect(keys.activeKey()).rejects.toMatchObject({ code: 'MANIFEST_UNSEALED' });
    await expect(keys.keyById('k1')).rejects.toMatchObject({ code: 'MANIFEST_UNSEALED' });
    expect(d.hash()).toBe(before);
    await keys.close();
  });

  it('a lowered revision pin does not verify, so the rollback it would allow is refused', async () => {
    const pinPath = d.pinFile();
    const pin = JSON.parse(readFileSync(pinPath, 'utf8')) as { pins: Record<string, { revision: number }> };
    for (const p of Object.values(pin.pins)) p.revision = 0;
    writeFileSync(pinPath, JSON.stringify(pin));
    d.write(d.atK1);
    await expect(d.open()).rejects.toMatchObject({ code: 'MANIFEST_TAMPERED', message: expect.stringContaining('revision pin') });
  });

  it('a manifest MACed under another root key (a wrong CACHEVAULT_KEY) is ROOT_KEY_MISMATCH and creates nothing', async () => {
    const before = d.hash();
    await expect(d.open(randomBytes(32).toString('base64'))).rejects.toMatchObject({ code: 'ROOT_KEY_MISMATCH', hint: expect.stringContaining('CACHEVAULT_KEY') });
    expect(d.hash()).toBe(before);
    expect(d.read().versions.map((v) => v.id)).toEqual(['k1', 'k2']);
  });
});
