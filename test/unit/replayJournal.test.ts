import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ReplayJournal } from '../../client/backends/file/replayJournal';
import { FileBackend } from '../../client/backends/fileBackend';
import type { StoredEntry } from '../../client/types';

const entry = (key: string, text: string): StoredEntry => ({ namespace: 'ns', key, value: new Uint8Array(Buffer.from(text)), keyId: 'k2', createdAt: 5, expiresAt: null });

describe('ReplayJournal', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-journal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('keeps one op per id, oldest first, and an op put again moves to the end', () => {
    const j = new ReplayJournal(join(dir, 'replay.db'), 1_000);
    j.put('a', { kind: 'set', entry: entry('a', 'one') }, 10);
    j.put('b', { kind: 'delete', namespace: 'ns', key: 'b' }, 10);
    j.put('a', { kind: 'set', entry: entry('a', 'two') }, 10);
    j.put('c', { kind: 'clear', namespace: undefined }, 10);
    const { ops } = j.load();
    expect(ops.map((q) => q.id)).toEqual(['b', 'a', 'c']);
    expect(ops[1]!.op).toEqual({ kind: 'set', entry: entry('a', 'two') });
    expect(ops[2]!.op).toEqual({ kind: 'clear', namespace: undefined });
    j.close();
  });

  test('drops the oldest ops past the bound and counts them until acknowledged', () => {
    const path = join(dir, 'replay.db');
    const j = new ReplayJournal(path, 1_000);
    for (let i = 0; i < 5; i++) j.put(`k${i}`, { kind: 'delete', namespace: 'ns', key: `k${i}` }, 2);
    j.close();
    const again = new ReplayJournal(path, 1_000);
    expect(again.load()).toMatchObject({ dropped: 3, ops: [{ id: 'k3' }, { id: 'k4' }] });
    again.acknowledgeDropped();
    expect(again.load().dropped).toBe(0);
    again.close();
  });

  test('removing a replayed op leaves a newer op of the same id in place', () => {
    const j = new ReplayJournal(join(dir, 'replay.db'), 1_000);
    const { seq } = j.put('a', { kind: 'set', entry: entry('a', 'old') }, 10);
    j.put('a', { kind: 'set', entry: entry('a', 'new') }, 10);
    j.remove([{ id: 'a', seq }]);
    expect(j.load().ops.map((q) => q.op)).toEqual([{ kind: 'set', entry: entry('a', 'new') }]);
    j.forgetNamespace('ns');
    expect(j.load().ops).toEqual([]);
    j.close();
  });

  test('is created owner-only', () => {
    const path = join(dir, 'replay.db');
    new ReplayJournal(path, 1_000).close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test('refuses a symlink in its place and leaves the target untouched', () => {
    const target = join(dir, 'elsewhere');
    writeFileSync(target, 'not yours');
    symlinkSync(target, join(dir, 'replay.db'));
    expect(() => new ReplayJournal(join(dir, 'replay.db'), 1_000)).toThrow(/symbolic link/);
    expect(statSync(target).size).toBe('not yours'.length);
  });

  test('refuses a foreign database without writing to it', () => {
    const path = join(dir, 'replay.db');
    const db = new Database(path);
    db.exec('CREATE TABLE mine (x)');
    db.close();
    const before = statSync(path).mtimeMs;
    expect(() => new ReplayJournal(path, 1_000)).toThrow(expect.objectContaining({ code: 'FILE_CACHE_FOREIGN_DB' }));
    expect(statSync(path).mtimeMs).toBe(before);
  });

  test('the file tier opens it beside its database, once', async () => {
    const file = new FileBackend({ dir });
    expect(file.openReplayStore()).toBe(file.openReplayStore());
    expect(statSync(join(dir, 'v1', 'replay.db')).isFile()).toBe(true);
    await file.close();
  });
});
