import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { FileBackend } from '../../client/backends/fileBackend';
import type { CacheBackend } from '../../client/backends/cacheBackend';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import type { MigrationReport } from '../../client/migrate/types';
import type { StoredEntry } from '../../client/types';

const ROOT = resolve(__dirname, '../..');
const WORKER = join(ROOT, 'test/support/migrateWorker.ts');
const ENTRIES = 1500;

interface WorkerRun {
  readonly killed: boolean;
  readonly report: MigrationReport | undefined;
  readonly progressLines: number;
}

/**
 * Runs the worker; when `killAfterLines` is set, SIGKILLs it after that many progress lines plus a
 * random few milliseconds, so kills land before, during and after batch writes and checkpoint saves.
 */
function runWorker(args: string[], env: NodeJS.ProcessEnv, killAfterLines?: number): Promise<WorkerRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let lines = 0;
    let report: MigrationReport | undefined;
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = () => {
      if (killed || child.exitCode !== null) return;
      killed = true;
      child.kill('SIGKILL');
    };
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = JSON.parse(line) as { progress?: number; report?: MigrationReport };
      if (parsed.report) report = parsed.report;
      if (parsed.progress !== undefined && killAfterLines !== undefined && ++lines >= killAfterLines) setTimeout(kill, randomInt(0, 15));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolvePromise({ killed: true, report, progressLines: lines });
      else if (code === 0) resolvePromise({ killed: false, report, progressLines: lines });
      else reject(new Error(`worker exited with ${code}: ${stderr}`));
    });
  });
}

/** Decrypted contents with identity and timestamps, so two re-encryptions of one cache compare equal. */
async function contents(dir: string, provider: AeadEncryption): Promise<Map<string, string>> {
  const backend = new FileBackend({ dir });
  const out = new Map<string, string>();
  try {
    for await (const e of backend.entries()) {
      const plain = Buffer.from(await provider.open(e.value, e)).toString('base64');
      out.set(`${e.namespace}/${e.key}`, `${e.keyId}|${e.expiresAt}|${e.createdAt}|${plain}`);
    }
  } finally {
    await backend.close();
  }
  return out;
}

async function rawContents(dir: string): Promise<Map<string, string>> {
  const backend: CacheBackend = new FileBackend({ dir });
  const out = new Map<string, string>();
  try {
    for await (const e of backend.entries()) out.set(`${e.namespace}/${e.key}`, `${e.keyId}|${e.expiresAt}|${e.createdAt}|${Buffer.from(e.value).toString('base64')}`);
  } finally {
    await backend.close();
  }
  return out;
}

describe('a migration killed at random points', () => {
  let dir: string;
  const sourceKey = randomBytes(32);
  const destinationKey = randomBytes(32);
  const sourceEnc = new AeadEncryption({ keys: new StaticKeySource([{ id: 'src1', material: sourceKey }]) });
  const destinationEnc = new AeadEncryption({ keys: new StaticKeySource([{ id: 'dst1', material: destinationKey }]) });
  const env = { ...process.env, MIGRATE_TEST_SOURCE_KEY: sourceKey.toString('hex'), MIGRATE_TEST_DESTINATION_KEY: destinationKey.toString('hex') };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cv-migrate-kill-'));
    const source = new FileBackend({ dir: join(dir, 'source') });
    const now = Date.now();
    const batch: StoredEntry[] = [];
    for (let i = 0; i < ENTRIES; i++) {
      const namespace = i % 3 === 0 ? 'sessions' : 'pages';
      const key = `key-${i}`;
      // Mostly small values, some large enough to spill to blob files.
      const value = randomBytes(i % 97 === 0 ? 80_000 : 200 + (i % 700));
      const expiresAt = i % 50 === 0 ? now - 1000 : i % 2 === 0 ? null : now + 86_400_000;
      const sealed = await sourceEnc.seal(value, { namespace, key, expiresAt });
      batch.push({ namespace, key, expiresAt, value: sealed.bytes, keyId: sealed.keyId, createdAt: now - i });
    }
    await source.setMany(batch);
    await source.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('resuming after each SIGKILL ends exactly like an uninterrupted run, and rolls back to the start', async () => {
    // The destination already holds entries: two the migration overwrites, one it leaves alone.
    const killedDir = join(dir, 'killed');
    const seedDestination = async (target: string) => {
      const destination = new FileBackend({ dir: target });
      for (const [namespace, key] of [['pages', 'key-1'], ['sessions', 'key-3'], ['pages', 'unrelated']] as const) {
        const sealed = await destinationEnc.seal(Buffer.from(`older ${key}`), { namespace, key, expiresAt: null });
        await destination.set({ namespace, key, expiresAt: null, value: sealed.bytes, keyId: sealed.keyId, createdAt: 7 });
      }
      await destination.close();
    };
    await seedDestination(killedDir);
    await seedDestination(join(dir, 'reference'));
    const before = await rawContents(killedDir);

    const reference = await runWorker([join(dir, 'source'), join(dir, 'reference'), join(dir, 'reference-state'), 'fresh'], env);
    expect(reference.report!.counts).toMatchObject({ entries: ENTRIES - ENTRIES / 50, skippedExpired: ENTRIES / 50, failed: 0 });

    const args = [join(dir, 'source'), killedDir, join(dir, 'killed-state')];
    let kills = 0;
    let run = await runWorker([...args, 'fresh'], env, randomInt(1, 8));
    for (let attempt = 0; attempt < 12 && run.killed; attempt++) {
      kills += 1;
      run = await runWorker([...args, 'resume'], env, attempt < 5 ? randomInt(1, 15) : undefined);
    }
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(run.killed).toBe(false);
    expect(run.report!.resumed).toBe(true);
    expect(run.report!.counts).toEqual(reference.report!.counts);
    expect(await contents(killedDir, destinationEnc)).toEqual(await contents(join(dir, 'reference'), destinationEnc));

    const journal = readFileSync(join(dir, 'killed-state', 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ns: string; key: string; before: unknown });
    const ids = journal.map((r) => `${r.ns}/${r.key}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(reference.report!.counts.entries);
    expect(journal.filter((r) => r.before !== null).map((r) => r.key).sort()).toEqual(['key-1', 'key-3']);

    const rolledBack = await runWorker([...args, 'rollback'], env);
    expect(rolledBack.report).toMatchObject({ restored: 2, removed: ENTRIES - ENTRIES / 50 - 2 });
    expect(await rawContents(killedDir)).toEqual(before);
  });
});
