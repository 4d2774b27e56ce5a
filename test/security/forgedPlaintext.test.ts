/**
 * A writer of the file tier (or the table) plants an unencrypted (`none`) entry in a cache that
 * is configured encrypted. A `none` envelope carries only a checksum, so serving it would serve
 * the forger's value: it must be a counted miss, whatever its clear key id column says.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import { loadConfig } from '../../client/config/loadConfig';
import { createCache, type CacheVault } from '../../client/createCache';
import type { StoredEntry } from '../../client/types';

describe('forged plaintext', () => {
  let root: string;
  const key = randomBytes(32).toString('base64');

  function open(dir: string, encrypted: boolean): Promise<CacheVault> {
    return createCache({
      cwd: root,
      env: {},
      options: {
        backend: 'file',
        file: { dir },
        encryption: { enabled: encrypted },
        keys: { providers: ['env'], manifest: { path: join(dir, '..', `${encrypted ? 'enc' : 'plain'}.manifest.json`) } },
        audit: { enabled: false },
        logging: { level: 'silent' },
      },
      keyProviderDeps: { env: { CACHEVAULT_KEY: key } },
    });
  }

  /** The attacker's value, framed as the library frames unencrypted entries (made with an unencrypted cache of their own). */
  async function forge(name: string, value: unknown): Promise<StoredEntry> {
    const vault = await open(join(root, 'attacker'), false);
    try {
      await vault.cache.set(name, value, { expiresAt: null });
      const entry = await vault.backend.get('default', name);
      if (!entry) throw new Error('forging failed');
      return entry;
    } finally {
      await vault.close();
    }
  }

  /** Writes `entry` into the victim's file tier the way anyone with write access to it can. */
  async function plant(entry: StoredEntry): Promise<void> {
    const backend = new FileBackend({ dir: join(root, 'victim') });
    try {
      await backend.set(entry);
    } finally {
      await backend.close();
    }
  }

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cv-sec-forged-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('the default configuration refuses unencrypted reads', () => {
    expect(loadConfig({ env: {}, cwd: root }).config.encryption.allowUnencryptedReads).toBe(false);
  });

  it('a planted unencrypted entry in a cache encrypted from its first write is a counted miss', async () => {
    const victim = await open(join(root, 'victim'), true);
    await victim.cache.set('price', 100);
    await victim.close();
    await plant(await forge('price', 1));

    const reopened = await open(join(root, 'victim'), true);
    try {
      expect(await reopened.cache.get('price')).toBeUndefined();
      expect(reopened.cache.stats()).toMatchObject({ misses: 1, decryptFailures: 1 });
    } finally {
      await reopened.close();
    }
  });

  it('a planted unencrypted entry whose clear key id names the active key is still a counted miss', async () => {
    const victim = await open(join(root, 'victim'), true);
    await victim.cache.set('other', 'x');
    const activeKeyId = victim.keys!.status().activeKeyId!;
    await victim.close();
    await plant({ ...(await forge('role', 'admin')), keyId: activeKeyId });

    const reopened = await open(join(root, 'victim'), true);
    try {
      expect(await reopened.cache.get('role')).toBeUndefined();
      expect(reopened.cache.stats().decryptFailures).toBe(1);
    } finally {
      await reopened.close();
    }
  });
});
