/**
 * The example in docs/integrations.md, run: cache-manager v7 over a Keyv store that is
 * cachevault, with `wrap`. The value is stored sealed in cachevault's file tier.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCache } from 'cache-manager';
import Keyv from 'keyv';
import { afterAll, describe, expect, it } from 'vitest';
import { FileBackend } from '../../client/backends/fileBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { KeyvCacheVaultStore } from '../../client/integrations/keyvStore';
import { StaticKeySource } from '../../client/keys/staticKeySource';

const dir = mkdtempSync(join(tmpdir(), 'cv-cache-manager-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const path = join(root, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('cache-manager v7 with cachevault as its Keyv store', () => {
  it('wrap computes once, serves the cached value after, and the bytes on disk are sealed', async () => {
    const vault = new CacheManager({
      backend: new FileBackend({ dir }),
      encryption: new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]) }),
    });
    const cache = createCache({ stores: [new Keyv({ store: new KeyvCacheVaultStore({ cache: vault }) })] });
    let calls = 0;
    const load = async () => {
      calls += 1;
      return { user: 'ada', secret: 'plaintext-marker-4f1c' };
    };
    expect(await cache.wrap('user:42', load, 60_000)).toEqual({ user: 'ada', secret: 'plaintext-marker-4f1c' });
    expect(await cache.wrap('user:42', load, 60_000)).toEqual({ user: 'ada', secret: 'plaintext-marker-4f1c' });
    expect(calls).toBe(1);
    expect(await cache.get('user:42')).toEqual({ user: 'ada', secret: 'plaintext-marker-4f1c' });
    for (const file of filesUnder(dir)) expect(readFileSync(file).includes('plaintext-marker-4f1c')).toBe(false);
    await cache.del('user:42');
    expect(await cache.get('user:42')).toBeUndefined();
    await cache.disconnect();
    await vault.close();
  });
});
