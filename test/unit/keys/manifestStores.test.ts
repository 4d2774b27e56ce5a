import fs, { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import 'aws-sdk-client-mock-jest';
import { ManifestError } from '../../../client/keys/errors';
import { FileManifestStore, defaultManifestPath } from '../../../client/keys/fileManifestStore';
import { emptyManifest, withNewActive, type KeyManifest } from '../../../client/keys/keyManifest';
import { KeyManager } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { SecretsManagerManifestStore } from '../../../client/keys/secretsManagerManifestStore';
import { FakeKeyring, awsError, fakeSecretsManager } from './fakes';

function sampleManifest(): KeyManifest {
  return withNewActive(emptyManifest('shop', 'dev'), {
    id: 'k1',
    createdAt: '2026-01-01T00:00:00.000Z',
    state: 'active',
    localOnly: true,
    wrapped: [{ provider: 'keyring', wrappingKeyRef: 'keyring:cachevault/root-key#0011223344556677', ciphertext: 'AQIDBA==' }],
  });
}

describe('FileManifestStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-manifest-'));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the manifest beside the cache directory, not inside it', () => {
    expect(defaultManifestPath('/var/app/.cachevault/cache')).toBe('/var/app/.cachevault/keys.manifest.json');
  });

  it('round-trips a manifest, written with mode 0600 and no temp file left behind', async () => {
    const store = new FileManifestStore(join(dir, 'sub', 'keys.manifest.json'));
    await expect(store.load()).resolves.toBeUndefined();
    await store.save(sampleManifest());
    await expect(store.load()).resolves.toEqual(sampleManifest());
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['keys.manifest.json']);
  });

  it('leaves the previous manifest intact and no temp file when the rename fails', async () => {
    const store = new FileManifestStore(join(dir, 'keys.manifest.json'));
    await store.save(sampleManifest());
    const before = readFileSync(store.path, 'utf8');
    jest.spyOn(fs, 'renameSync').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
    const next = withNewActive(sampleManifest(), { ...sampleManifest().versions[0]!, id: 'k2' });
    await expect(store.save(next)).rejects.toThrow(/Could not write the key manifest .* ENOSPC.*/);
    expect(readFileSync(store.path, 'utf8')).toBe(before);
    expect(readdirSync(dir)).toEqual(['keys.manifest.json']);
  });

  it('two processes creating the first key at once end up with one k1, not two', async () => {
    const keyring = new FakeKeyring();
    const path = join(dir, 'keys.manifest.json');
    const open = () =>
      KeyManager.open({ providers: [new KeyringKeyProvider({ entryFactory: keyring.factory })], store: new FileManifestStore(path), app: 'shop', environment: 'dev' });
    const [a, b, c] = await Promise.all([open(), open(), open()]);
    const keys = await Promise.all([a.activeKey(), b.activeKey(), c.activeKey()]);
    expect(keys.map((k) => k.id)).toEqual(['k1', 'k1', 'k1']);
    expect(keys[1]!.material).toEqual(keys[0]!.material);
    expect(keys[2]!.material).toEqual(keys[0]!.material);
    expect(readdirSync(dir)).toEqual(['keys.manifest.json']);
  });

  it('two processes rotating at once make two new versions, neither lost', async () => {
    const keyring = new FakeKeyring();
    const path = join(dir, 'keys.manifest.json');
    const open = () =>
      KeyManager.open({ providers: [new KeyringKeyProvider({ entryFactory: keyring.factory })], store: new FileManifestStore(path), app: 'shop', environment: 'dev' });
    const [a, b] = await Promise.all([open(), open()]);
    await a.activeKey();
    const results = await Promise.all([a.rotate(), b.rotate()]);
    expect(results.map((r) => r.current).sort()).toEqual(['k2', 'k3']);
    const manifest = await new FileManifestStore(path).load();
    expect(manifest!.versions.map((v) => [v.id, v.state])).toEqual([
      ['k1', 'decrypt-only'],
      ['k2', 'decrypt-only'],
      ['k3', 'active'],
    ]);
  });

  it('reports a damaged or foreign manifest with a typed error instead of using it', async () => {
    const path = join(dir, 'keys.manifest.json');
    const store = new FileManifestStore(path);
    writeFileSync(path, '{"format":"cachevault-key-manifest"');
    await expect(store.load()).rejects.toThrow(/is not valid JSON/);
    writeFileSync(path, JSON.stringify({ ...sampleManifest(), versions: [{ id: 'k1', plaintext: 'x' }] }));
    await expect(store.load()).rejects.toBeInstanceOf(ManifestError);
    writeFileSync(path, JSON.stringify({ ...sampleManifest(), formatVersion: 3 }));
    await expect(store.load()).rejects.toThrow(/written by a newer cachevault/);
    const twoActive = { ...sampleManifest(), versions: [sampleManifest().versions[0], { ...sampleManifest().versions[0], id: 'k2' }] };
    writeFileSync(path, JSON.stringify(twoActive));
    await expect(store.load()).rejects.toThrow(/2 active key versions/);
  });
});

describe('SecretsManagerManifestStore', () => {
  it('reads nothing from a missing secret or the stack placeholder, then saves and reads AWSCURRENT', async () => {
    const sm = fakeSecretsManager();
    const store = new SecretsManagerManifestStore({ secretId: sm.secretId, client: sm.client });
    await expect(store.load()).resolves.toBeUndefined();
    await sm.client.send(new PutSecretValueCommand({ SecretId: sm.secretId, SecretString: '{}' }));
    await expect(store.load()).resolves.toBeUndefined();
    await store.save(sampleManifest());
    await expect(store.load()).resolves.toEqual(sampleManifest());
    expect(sm.mock).toHaveReceivedCommandWith(PutSecretValueCommand, { SecretId: sm.secretId });
    expect(store.shared).toBe(true);
  });

  it('names the missing secretsmanager: permission and the secret on AccessDenied', async () => {
    const sm = fakeSecretsManager();
    sm.mock.on(GetSecretValueCommand).rejects(awsError('AccessDeniedException'));
    const store = new SecretsManagerManifestStore({ secretId: sm.secretId, client: sm.client });
    const error = (await store.load().catch((e: unknown) => e)) as ManifestError;
    expect(error.message).toBe(`Secrets Manager denied secretsmanager:GetSecretValue on ${sm.secretId}.`);
    expect(error.hint).toMatch(/Grant secretsmanager:GetSecretValue/);
  });

  it("names the secret's KMS key problem on DecryptionFailure", async () => {
    const sm = fakeSecretsManager();
    sm.mock.on(GetSecretValueCommand).rejects(awsError('DecryptionFailure'));
    const store = new SecretsManagerManifestStore({ secretId: sm.secretId, client: sm.client });
    await expect(store.load()).rejects.toMatchObject({ hint: "Grant kms:Decrypt on the secret's KMS key to this role." });
  });
});
