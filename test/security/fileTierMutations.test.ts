import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { FileBackend } from '../../client/backends/fileBackend';
import type { StoredEntry } from '../../client/types';

/**
 * Arbitrary changes to the rows and files of the file tier, as someone who can write the cache
 * directory would make them. Every read must give the exact value written or a counted miss,
 * never throw, hang or return other bytes, and no file outside the cache directory may change.
 */
const SPILL = 512;
let root: string;
let dir: string;
let outside: string;

/** Hash of every entry under `path`, links by their target text: proves nothing there changed. */
function snapshot(path: string): string {
  const h = createHash('sha256');
  for (const name of (fs.readdirSync(path, { recursive: true }) as string[]).sort()) {
    const full = join(path, name);
    const st = fs.lstatSync(full);
    h.update(name).update(st.isFile() ? fs.readFileSync(full) : st.isSymbolicLink() ? `link:${fs.readlinkSync(full)}` : 'dir');
  }
  return h.digest('hex');
}

function valueOf(i: number): Buffer {
  return Buffer.alloc(i % 2 === 0 ? SPILL * 2 + i : 40 + i, i + 1);
}

function entry(i: number): StoredEntry {
  return { namespace: 'n', key: `k${i}`, value: valueOf(i), expiresAt: null, keyId: 'none', createdAt: Date.now() };
}

const KEYS = 6;

type Mutation =
  | { kind: 'blob'; key: number; blob: string }
  | { kind: 'column'; key: number; column: 'size' | 'crc'; value: number }
  | { kind: 'inline'; key: number; at: number }
  | { kind: 'file'; key: number; how: 'truncate' | 'flip' | 'link-outside' | 'fifo' | 'remove' | 'dir' }
  | { kind: 'fanout'; key: number; how: 'link-outside' | 'file' };

const hostileBlob = fc.oneof(
  fc.constantFrom('../../outside/victim', '../v1/cache.db', '/etc/passwd', '', '.', '..', 'ab/../../../outside/victim', '0'.repeat(32), 'A'.repeat(32)),
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[0-9a-f]{32}$/),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('blob' as const), key: fc.nat(KEYS - 1), blob: hostileBlob }),
  fc.record({ kind: fc.constant('column' as const), key: fc.nat(KEYS - 1), column: fc.constantFrom('size' as const, 'crc' as const), value: fc.integer({ min: -1, max: 2 ** 32 }) }),
  fc.record({ kind: fc.constant('inline' as const), key: fc.nat(KEYS - 1), at: fc.nat(60) }),
  fc.record({ kind: fc.constant('file' as const), key: fc.nat(KEYS - 1), how: fc.constantFrom('truncate' as const, 'flip' as const, 'link-outside' as const, 'fifo' as const, 'remove' as const, 'dir' as const) }),
  fc.record({ kind: fc.constant('fanout' as const), key: fc.nat(KEYS - 1), how: fc.constantFrom('link-outside' as const, 'file' as const) }),
);

function blobPathOf(db: Database.Database, key: number): string | undefined {
  const name = db.prepare('SELECT blob FROM entries WHERE key = ?').pluck().get(`k${key}`) as string | null | undefined;
  return typeof name === 'string' && /^[0-9a-f]{32}$/.test(name) ? join(dir, 'v1', 'blobs', name.slice(0, 2), name) : undefined;
}

function apply(m: Mutation): void {
  const db = new Database(join(dir, 'v1', 'cache.db'));
  try {
    const path = blobPathOf(db, m.key);
    switch (m.kind) {
      case 'blob':
        db.prepare('UPDATE entries SET blob = ?, value = NULL WHERE key = ?').run(m.blob, `k${m.key}`);
        return;
      case 'column':
        db.prepare(`UPDATE entries SET ${m.column} = ? WHERE key = ?`).run(m.value, `k${m.key}`);
        return;
      case 'inline':
        db.prepare('UPDATE entries SET value = CAST(substr(value, 1, ?) AS BLOB) || X\'00\' WHERE key = ? AND value IS NOT NULL').run(m.at, `k${m.key}`);
        return;
      case 'file':
        // lstat, not exists: an earlier mutation may have made this a link to the victim, and
        // truncating or rewriting through it would be the harness, not the cache, changing it.
        if (path === undefined || fs.lstatSync(path, { throwIfNoEntry: false })?.isFile() !== true) return;
        if (m.how === 'truncate') fs.truncateSync(path, 3);
        else if (m.how === 'flip') {
          const bytes = fs.readFileSync(path);
          bytes[0] = bytes[0]! ^ 0xff;
          fs.writeFileSync(path, bytes);
        } else {
          fs.rmSync(path);
          if (m.how === 'link-outside') fs.symlinkSync(join(outside, 'victim'), path);
          if (m.how === 'fifo') execFileSync('mkfifo', [path]);
          if (m.how === 'dir') fs.mkdirSync(path);
        }
        return;
      case 'fanout': {
        if (path === undefined) return;
        const fanOut = join(path, '..');
        fs.rmSync(fanOut, { recursive: true, force: true });
        if (m.how === 'link-outside') fs.symlinkSync(outside, fanOut);
        else fs.writeFileSync(fanOut, 'not a directory');
        return;
      }
    }
  } finally {
    db.close();
  }
}

beforeEach(() => {
  root = fs.mkdtempSync(join(tmpdir(), 'cv-sec-mut-'));
  outside = join(root, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(join(outside, 'victim'), 'outside the cache');
  const old = new Date(Date.now() - 3_600_000);
  fs.utimesSync(join(outside, 'victim'), old, old);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const canMkfifo = process.platform !== 'win32';

describe('arbitrary changes to the file tier\'s rows and files', () => {
  test('reads give the exact value or a counted miss, and no file outside the cache changes (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        dir = join(root, `cache${run++}`);
        // Each run starts from an intact victim, so a failure is reported by the run that caused it.
        fs.writeFileSync(join(outside, 'victim'), 'outside the cache');
        const first = new FileBackend({ dir, spillThresholdBytes: SPILL });
        await first.setMany(Array.from({ length: KEYS }, (_, i) => entry(i)));
        await first.close();
        for (const m of mutations) if (canMkfifo || !(m.kind === 'file' && m.how === 'fifo')) apply(m);
        const before = snapshot(outside);
        const backend = new FileBackend({ dir, spillThresholdBytes: SPILL });
        try {
          let misses = 0;
          for (let i = 0; i < KEYS; i++) {
            const got = await backend.get('n', `k${i}`);
            if (got === undefined) misses += 1;
            else expect(Buffer.from(got.value).equals(valueOf(i))).toBe(true);
          }
          expect(backend.stats().misses).toBe(misses);
          await backend.set(entry(0));
          await backend.deleteMany('n', ['k1', 'k2']);
          await backend.prune();
          await backend.repair();
          await backend.clear();
        } finally {
          await backend.close();
        }
        expect(snapshot(outside)).toBe(before);
        expect(fs.readFileSync(join(outside, 'victim'), 'utf8')).toBe('outside the cache');
      }),
      { numRuns: 40 },
    );
  });

  (canMkfifo ? test : test.skip)('a FIFO in place of a blob file is a miss at once, not a read that waits forever', async () => {
    dir = join(root, 'cache');
    const backend = new FileBackend({ dir, spillThresholdBytes: SPILL });
    try {
      await backend.set(entry(0));
      const db = new Database(join(dir, 'v1', 'cache.db'));
      const path = blobPathOf(db, 0)!;
      db.close();
      fs.rmSync(path);
      execFileSync('mkfifo', [path]);
      expect(await backend.get('n', 'k0')).toBeUndefined();
      expect(backend.stats().corrupt).toBe(1);
    } finally {
      await backend.close();
    }
  }, 10_000);
});
