import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditKeysFrom, auditKeysFromKeyManager } from '../../../client/audit/auditKeys';
import { AuditLog } from '../../../client/audit/auditLog';
import { KeyManager } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';
import { FakeKeyring, MemoryManifestStore, fakeKms } from '../keys/fakes';

describe('audit keys from the key hierarchy', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-audit-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('with a local root key: one root subkey, named by a public id, the same on every call and never the root key itself', async () => {
    const keyring = new FakeKeyring();
    const keys = await KeyManager.open({ providers: [new KeyringKeyProvider({ entryFactory: keyring.factory })], store: new MemoryManifestStore(), app: 'shop', environment: 'dev' });
    const source = auditKeysFromKeyManager(keys, { localRoot: true });
    const a = (await source.current())!;
    const b = (await source.current())!;
    expect(a.id).toMatch(/^root:[0-9a-f]{16}$/);
    expect(b).toEqual(a);
    const root = Buffer.from(keyring.entries.values().next().value as Uint8Array);
    expect(a.key.equals(root)).toBe(false);
    expect((await source.byId(a.id))!.key).toEqual(a.key);
    // Another machine's root key: its id is not ours, so its records cannot be checked here.
    expect(await source.byId('root:0123456789abcdef')).toBeUndefined();
    expect(await source.byId('local-abc')).toBeUndefined();
  });

  it('with KMS only: a subkey of the active data key, recorded by version, and older versions stay checkable until retired', async () => {
    const kms = fakeKms();
    const keys = await KeyManager.open({ providers: [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client })], store: new MemoryManifestStore(), app: 'shop', environment: 'dev' });
    const source = auditKeysFromKeyManager(keys, { localRoot: false });
    expect(await source.current()).toBeUndefined(); // no version yet: nothing to key with (and nothing created)
    const k1 = await keys.activeKey();
    const first = (await source.current())!;
    expect(first.id).toBe('k1');
    expect(first.key.equals(k1.material)).toBe(false);
    await keys.rotate();
    const second = (await source.current())!;
    expect(second.id).toBe('k2');
    expect(second.key.equals(first.key)).toBe(false);
    expect((await source.byId('k1'))!.key).toEqual(first.key);
    await keys.retire('k1');
    await expect(source.byId('k1')).rejects.toThrow(/retired/);
  });

  it('a log keyed by data keys stays verified after the version that keyed its first records is retired', async () => {
    const kms = fakeKms();
    const path = join(dir, 'audit.jsonl');
    const audit = new AuditLog({ path });
    const keys = await KeyManager.open({ providers: [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client })], store: new MemoryManifestStore(), app: 'shop', environment: 'dev', audit });
    audit.attach({ keys: auditKeysFromKeyManager(keys, { localRoot: false }) });
    await keys.activeKey();
    await audit.flush();
    await keys.rotate();
    await audit.flush();
    await keys.retire('k1');
    await audit.close();
    const kids = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { kid: string }).kid);
    expect(kids[0]).toBe('k1');
    expect(kids[kids.length - 1]).toBe('k2');
    expect(await audit.verify()).toMatchObject({ ok: true, status: 'verified', records: kids.length, macVerified: kids.filter((k) => k === 'k2').length });
  });

  it('falls back to the active data key when the root key is out of reach, and with neither reports why (the log then writes the record without a MAC)', async () => {
    const material = Buffer.alloc(32, 9);
    const hierarchy = {
      app: 'shop',
      environment: 'dev',
      active: 'k4' as string | undefined,
      activeVersionId() {
        return this.active;
      },
      keyById: async (id: string) => ({ id, material }),
      deriveRootSubkey: async (): Promise<Buffer> => {
        throw new Error('keyring unavailable');
      },
    };
    const source = auditKeysFrom(hierarchy);
    expect((await source.current())!.id).toBe('k4');
    hierarchy.active = undefined;
    await expect(source.current()).rejects.toThrow(/keyring unavailable/);
  });
});

