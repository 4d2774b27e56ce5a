import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import { compressionTransform } from '../../client/core/compression';
import { CacheManager } from '../../client/core/cacheManager';
import type { Serializer } from '../../client/core/serializer';

/**
 * Limits are symmetric: what `set` accepts, `get` reads back. A value whose serialized form is
 * larger than the decompression cap would compress, store, and then miss on every read (it
 * cannot be inflated past the cap): `set` refuses it instead, with a typed error.
 */
// Bytes in, bytes out: lets a test hand a large zero-filled (lazily mapped) buffer to the manager without copying it.
const passThrough: Serializer = { serialize: (v) => v as Uint8Array, deserialize: (b) => Buffer.from(b) };
let dir: string;
let manager: CacheManager | undefined;

beforeEach(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'cv-sec-size-'));
});
afterEach(async () => {
  await manager?.close();
  manager = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('oversized values', () => {
  test('a 270 MB compressible value is refused at set with VALUE_TOO_LARGE, not stored to miss forever', async () => {
    const backend = new FileBackend({ dir });
    manager = new CacheManager({ backend, serializer: passThrough });
    const err = (await manager.set('big', Buffer.alloc(270 * 1024 * 1024)).catch((e: unknown) => e)) as { code?: string; message: string; hint?: string };
    expect(err.code).toBe('VALUE_TOO_LARGE');
    expect(err.message).toMatch(/283115520 bytes/);
    expect(err.message).toMatch(/268435456/);
    expect(err.hint).toMatch(/maxDecompressedBytes/);
    expect(backend.stats().entries).toBe(0);
  });

  test('with a 1 MiB cap, a 2 MiB compressible value is refused and a value of exactly the cap reads back', async () => {
    manager = new CacheManager({ backend: new FileBackend({ dir }), serializer: passThrough, transforms: [compressionTransform({ maxDecompressedBytes: 1024 * 1024 })] });
    await expect(manager.set('over', Buffer.alloc(2 * 1024 * 1024, 1))).rejects.toMatchObject({ code: 'VALUE_TOO_LARGE' });
    await manager.set('at', Buffer.alloc(1024 * 1024, 1));
    expect(((await manager.get('at')) as Buffer).byteLength).toBe(1024 * 1024);
    expect(await manager.get('over')).toBeUndefined();
  });

  test('setMany refuses a batch holding one oversized value and stores none of it', async () => {
    const backend = new FileBackend({ dir });
    manager = new CacheManager({ backend, serializer: passThrough, transforms: [compressionTransform({ maxDecompressedBytes: 64 * 1024 })] });
    await expect(manager.setMany([{ key: 'ok', value: Buffer.alloc(10) }, { key: 'over', value: Buffer.alloc(128 * 1024) }])).rejects.toMatchObject({ code: 'VALUE_TOO_LARGE' });
    expect(backend.stats().entries).toBe(0);
  });
});
