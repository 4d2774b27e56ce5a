import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCache } from '../../client/createCache';
import { useDynamoTestTable } from '../support/dynamoTestTable';

const table = useDynamoTestTable('cv-foreign');

/**
 * Two deployments (their own env root key and key manifest) over one DynamoDB table: both name
 * their first key version k1, and each must read its own entries and take the other's as a
 * counted foreignManifest miss, not an integrity failure.
 */
describe('two key manifests over one DynamoDB Local table', () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  const open = (root: string, key: string) =>
    createCache({
      cwd: root,
      env: {},
      options: {
        backend: 'dynamodb',
        file: { dir: join(root, 'cache') },
        dynamodb: { tableName: table.tableName, endpoint: table.endpoint },
        keys: { providers: ['env'] },
        logging: { level: 'silent' },
      },
      keyProviderDeps: { env: { CACHEVAULT_KEY: key } },
    });

  test("each reads its own entries; the other's are foreignManifest misses, with no integrity failure and no new key version", async () => {
    const [rootA, rootB] = [mkdtempSync(join(tmpdir(), 'cv-foreign-a-')), mkdtempSync(join(tmpdir(), 'cv-foreign-b-'))];
    roots.push(rootA, rootB);
    const keyA = randomBytes(32).toString('base64');
    const a = await open(rootA, keyA);
    const b = await open(rootB, randomBytes(32).toString('base64'));
    try {
      await a.cache.set('shared-slot', 'from a');
      await a.cache.set('only-a', 'a');
      await b.cache.set('only-b', 'b');
      expect(a.keys!.status().activeKeyId).toBe('k1');
      expect(b.keys!.status().activeKeyId).toBe('k1');
      expect(a.keys!.manifestId).not.toBe(b.keys!.manifestId);
      expect((await a.backend.get('default', 'only-a'))!.keyId).toBe(`k1:${a.keys!.manifestId}`);

      await expect(a.cache.get('only-a')).resolves.toBe('a');
      await expect(a.cache.get('only-b')).resolves.toBeUndefined();
      await expect(b.cache.get('only-b')).resolves.toBe('b');
      await expect(b.cache.get('only-a')).resolves.toBeUndefined();
      await expect(b.cache.get('shared-slot')).resolves.toBeUndefined();
      expect(a.cache.stats()).toMatchObject({ hits: 1, foreignManifest: 1, decryptFailures: 0, keyUnavailable: 0 });
      expect(b.cache.stats()).toMatchObject({ hits: 1, foreignManifest: 2, decryptFailures: 0, keyUnavailable: 0 });
      expect(a.keys!.status().versions.map((v) => v.id)).toEqual(['k1']);
      expect(b.keys!.status().versions.map((v) => v.id)).toEqual(['k1']);
    } finally {
      await a.close();
      await b.close();
    }

    // A restart of A (same manifest, same root key) still reads what it wrote.
    const again = await open(rootA, keyA);
    try {
      await expect(again.cache.get('shared-slot')).resolves.toBe('from a');
      await expect(again.cache.get('only-b')).resolves.toBeUndefined();
      expect(again.cache.stats()).toMatchObject({ foreignManifest: 1, decryptFailures: 0 });
    } finally {
      await again.close();
    }
  });
});
