import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { APPLICATION_ID } from '../../client/backends/file/sqliteIndex';
import { cliWorkspace, uniqueTableName, type CliWorkspace } from './cliRunner';

describe('cachevault prune, gc, repair, reinit (built CLI)', () => {
  let ws: CliWorkspace;
  beforeAll(async () => {
    ws = cliWorkspace({ tableName: uniqueTableName('cli-maint') });
    expect((await ws.run(['table', 'create'])).code).toBe(0);
  });
  afterAll(async () => {
    await ws.run(['table', 'delete', '--yes']);
    ws.remove();
  });

  it('prune removes expired entries of the file tier and leaves live ones', async () => {
    const fileOnly = { CACHEVAULT_BACKEND: 'file' };
    await ws.run(['set', 'short', '1', '--ttl', '1'], { env: fileOnly });
    await ws.run(['set', 'long', '2', '--ttl', '600000'], { env: fileOnly });
    await new Promise((r) => setTimeout(r, 20)); // let the 1 ms TTL pass on the wall clock the subprocess uses
    const { code, body } = await ws.json<{ tier: string; expired: number; orphanedBlobs: number; tempFiles: number }>(['prune'], { env: fileOnly });
    expect(code).toBe(0);
    expect(body).toMatchObject({ tier: 'file', expired: 1, orphanedBlobs: 0, tempFiles: 0 });
    expect((await ws.json<{ value: unknown }>(['get', 'long'], { env: fileOnly })).body.value).toBe(2);
  });

  it('prune on a configuration without a file tier is a usage error pointing at gc', async () => {
    const { code, stderr } = await ws.run(['prune'], { env: { CACHEVAULT_BACKEND: 'dynamodb' } });
    expect(code).toBe(2);
    expect(stderr).toContain('cachevault gc');
  });

  it('gc scans the DynamoDB table and reports what it reclaimed', async () => {
    await ws.run(['set', 'g1', '1']);
    const { code, body } = await ws.json<{ tier: string; scanned: number; orphanedChunks: number; expired: number }>(['gc']);
    expect(code).toBe(0);
    expect(body.tier).toBe('dynamodb');
    expect(body.scanned).toBeGreaterThanOrEqual(1);
    expect(body.orphanedChunks).toBe(0);
  });

  it('repair checks the SQLite file, removes orphaned blobs and confirms the table', async () => {
    const layout = join(ws.env.CACHEVAULT_FILE_DIR!, 'v1');
    // What a crash leaves: a blob no index row points at, and a temp file of a write in flight.
    mkdirSync(join(layout, 'blobs', 'ff'), { recursive: true });
    const orphan = join(layout, 'blobs', 'ff', 'ffffffffffffffffffffffffffffffff');
    const temp = join(layout, 'tmp', 'interrupted.tmp');
    writeFileSync(orphan, 'orphan');
    writeFileSync(temp, 'half');
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(orphan, anHourAgo, anHourAgo);
    utimesSync(temp, anHourAgo, anHourAgo);
    const { code, body } = await ws.json<{ ok: boolean; file: { ok: boolean; integrityProblems: string[]; orphanedBlobs: number; tempFiles: number }; dynamodb: { remainingProblems: string[] } }>(['repair']);
    expect(code).toBe(0);
    expect(body.ok).toBe(true);
    expect(body.file).toMatchObject({ ok: true, integrityProblems: [], orphanedBlobs: 1, tempFiles: 1 });
    expect(existsSync(temp)).toBe(false);
    expect(body.dynamodb.remainingProblems).toEqual([]);
    expect(existsSync(orphan)).toBe(false);
  });

  it('reinit --yes wipes the file tier and recreates the table empty', async () => {
    await ws.run(['set', 'doomed', '1']);
    const { code, body } = await ws.json<{ reinitialized: string[] }>(['reinit', '--yes']);
    expect(code).toBe(0);
    expect(body.reinitialized).toEqual(['file', 'dynamodb']);
    expect((await ws.run(['get', 'doomed'])).code).toBe(1);
    expect((await ws.run(['table', 'validate'])).code).toBe(0);
  });

  it('a file cache of an older schema that cannot be migrated is refused naming reinit, which sets it aside and starts empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-cli-oldschema-'));
    try {
      mkdirSync(join(dir, 'v1'), { mode: 0o700 });
      const dbPath = join(dir, 'v1', 'cache.db');
      const db = new Database(dbPath);
      db.exec('CREATE TABLE entries (id INTEGER PRIMARY KEY, namespace TEXT, key TEXT, accessed_at INTEGER NOT NULL)');
      db.pragma('user_version = 1');
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.close();
      chmodSync(dbPath, 0o600);
      const env = { CACHEVAULT_BACKEND: 'file', CACHEVAULT_FILE_DIR: dir };
      const refused = await ws.run(['get', 'anything'], { env });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('cachevault reinit --tier file');
      const { code, body } = await ws.json<{ reinitialized: string[] }>(['reinit', '--tier', 'file', '--yes'], { env });
      expect(code).toBe(0);
      expect(body.reinitialized).toEqual(['file']);
      expect(readdirSync(join(dir, 'v1')).filter((n) => n.startsWith('cache.db.schema-1-set-aside-'))).toHaveLength(1);
      expect((await ws.run(['set', 'fresh', '1'], { env })).code).toBe(0);
      expect((await ws.json<{ value: unknown }>(['get', 'fresh'], { env })).body.value).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reinit without --yes and without a terminal changes nothing', async () => {
    await ws.run(['set', 'kept', '1']);
    const { code, stderr } = await ws.run(['reinit']);
    expect(code).toBe(1);
    expect(stderr).toContain('not confirmed');
    expect((await ws.run(['get', 'kept'])).code).toBe(0);
  });
});
