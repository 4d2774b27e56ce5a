import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createCache } from '../../client/createCache';
import { ConfigError } from '../../client/errors';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'cv-create-'));

describe('createCache', () => {
  test('builds an encrypted file cache from options, with the env key provider', async () => {
    const dir = emptyDir();
    const key = randomBytes(32);
    const vault = await createCache({
      cwd: dir,
      env: {},
      options: { backend: 'file', file: { dir: join(dir, 'cache') }, keys: { providers: ['env'] }, logging: { level: 'silent' } },
      keyProviderDeps: { env: { CACHEVAULT_KEY: key.toString('base64') } },
    });
    try {
      await vault.cache.set('greeting', { text: 'hello' });
      expect(await vault.cache.get('greeting')).toEqual({ text: 'hello' });
      const stored = await vault.backend.get('default', 'greeting');
      expect(stored!.keyId).toBe(`${vault.keys?.status().activeKeyId}:${vault.keys?.manifestId}`);
      expect(Buffer.from(stored!.value).includes(Buffer.from('hello'))).toBe(false);
      expect(vault.keys?.status().activeKeyId).toMatch(/^k\d+$/);
      expect(vault.backend.name).toBe('file');
    } finally {
      await vault.close();
    }
    expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8')).toContain('key');
  });

  test('with encryption disabled, values are stored in clear framing and no key manager exists', async () => {
    const vault = await createCache({ cwd: emptyDir(), env: {}, options: { backend: 'memory', encryption: { enabled: false }, audit: { enabled: false }, logging: { level: 'silent' } } });
    await vault.cache.set('k', 'plain');
    expect((await vault.backend.get('default', 'k'))!.keyId).toBe('none');
    expect(vault.keys).toBeUndefined();
    await vault.close();
  });

  test('a backend that fails to close still lets close() zero the encryption and key material, then reports the failure', async () => {
    const dir = emptyDir();
    const vault = await createCache({
      cwd: dir,
      env: {},
      options: { backend: 'memory', file: { dir: join(dir, 'cache') }, keys: { providers: ['env'] }, logging: { level: 'silent' } },
      keyProviderDeps: { env: { CACHEVAULT_KEY: randomBytes(32).toString('base64') } },
    });
    jest.spyOn(vault.backend, 'close').mockRejectedValueOnce(new Error('disk gone'));
    const encryptionClosed = jest.spyOn(vault.encryption as { close(): void }, 'close');
    const keysClosed = jest.spyOn(vault.keys!, 'close');
    await expect(vault.close()).rejects.toThrow('disk gone');
    expect(encryptionClosed).toHaveBeenCalled();
    expect(keysClosed).toHaveBeenCalled();
  });

  test('invalid configuration fails before anything starts', async () => {
    await expect(createCache({ cwd: emptyDir(), env: { CACHEVAULT_BACKEND: 'redis' } })).rejects.toBeInstanceOf(ConfigError);
  });
});
