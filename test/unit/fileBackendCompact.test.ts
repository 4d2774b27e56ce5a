import Database from 'better-sqlite3';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import type { StoredEntry } from '../../client/types';

const SPILL = 4096;
const MARKER = Buffer.from('PLAINTEXT-MARKER-7f3a');
let dir: string;
let backend: FileBackend;

function marked(key: string, size: number, tag: string): StoredEntry {
  const unit = Buffer.concat([MARKER, Buffer.from(`:${tag}:${key};`)]);
  const value = Buffer.concat(Array.from({ length: Math.ceil(size / unit.length) }, () => unit)).subarray(0, size);
  return { namespace: 'n', key, value, expiresAt: null, keyId: 'none', createdAt: Date.now() };
}

/** Files under the cache directory whose bytes contain `needle`. */
function filesContaining(needle: Buffer): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((name) => fs.lstatSync(join(dir, name)).isFile() && fs.readFileSync(join(dir, name)).includes(needle))
    .sort();
}

beforeEach(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'cv-compact-'));
  backend = new FileBackend({ dir, spillThresholdBytes: SPILL });
});
afterEach(async () => {
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('FileBackend.compact', () => {
  test('after values are overwritten and deleted, compact() leaves no byte of them in any file of the cache', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    // Mostly inline values (free pages are where deleted rows linger), some spilled ones.
    await backend.setMany(keys.map((k, i) => marked(k, i % 10 === 0 ? SPILL * 2 : 200 + i, 'secret')));
    const clean = (k: string): StoredEntry => ({ namespace: 'n', key: k, value: Buffer.alloc(64, 0x2e), expiresAt: null, keyId: 'k1', createdAt: Date.now() });
    await backend.setMany(keys.slice(0, 150).map(clean));
    await backend.deleteMany('n', keys.slice(150));
    expect(filesContaining(MARKER).length).toBeGreaterThan(0); // the point of compacting: deleted bytes linger
    const report = await backend.compact();
    expect(report.walTruncated).toBe(true);
    expect(report.bytesAfter).toBeLessThan(report.bytesBefore);
    expect(filesContaining(MARKER)).toEqual([]);
    expect((await backend.get('n', 'k0'))!.value).toEqual(Buffer.alloc(64, 0x2e));
    expect(backend.stats().entries).toBe(150);
  });

  test('overwritten values are zeroed as they are freed (secure_delete FAST): none is left once the WAL is checkpointed, even before compact()', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    await backend.setMany(keys.map((k, i) => marked(k, i % 3 === 0 ? 3000 : 300, 'old')));
    await backend.setMany(keys.map((k) => ({ namespace: 'n', key: k, value: Buffer.alloc(100, 2), expiresAt: null, keyId: 'k1', createdAt: Date.now() })));
    const other = new Database(join(dir, 'v1', 'cache.db'));
    other.pragma('wal_checkpoint(TRUNCATE)');
    other.close();
    expect(filesContaining(MARKER)).toEqual([]);
  });

  test('compact() reports the WAL not truncated while another connection holds an old snapshot, and a later run truncates it', async () => {
    await backend.setMany(Array.from({ length: 50 }, (_, i) => marked(`k${i}`, 300, 'x')));
    const reader = new Database(join(dir, 'v1', 'cache.db'), { readonly: true });
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM entries').get();
    try {
      await backend.deleteMany('n', Array.from({ length: 50 }, (_, i) => `k${i}`));
      expect((await backend.compact()).walTruncated).toBe(false);
    } finally {
      reader.exec('COMMIT');
      reader.close();
    }
    expect((await backend.compact()).walTruncated).toBe(true);
    expect(filesContaining(MARKER)).toEqual([]);
  });
});
