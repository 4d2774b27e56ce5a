import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import type { MigrationReport } from '../../client/migrate/types';
import type { StoredEntry } from '../../client/types';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { openSpec } from '../support/migrateWorker';

const ROOT = resolve(__dirname, '../..');
const WORKER = join(ROOT, 'test/support/migrateWorker.ts');

interface WorkerRun {
  readonly killed: boolean;
  readonly report: MigrationReport | undefined;
}

/**
 * Runs the worker; when `killAfterLines` is set, SIGKILLs it after that many progress lines plus a
 * random few milliseconds, so kills land before, during and after journal appends, batch writes
 * and checkpoint saves.
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
      if (signal === 'SIGKILL') resolvePromise({ killed: true, report });
      else if (code === 0) resolvePromise({ killed: false, report });
      else reject(new Error(`worker exited with ${code}: ${stderr}`));
    });
  });
}

/** Every entry of a cache; with `provider`, values decrypted, so two re-encryptions of one cache compare equal. */
async function contents(spec: string, provider?: AeadEncryption): Promise<Map<string, string>> {
  const backend = await openSpec(spec);
  const out = new Map<string, string>();
  try {
    for await (const e of backend.entries()) {
      const value = provider === undefined ? e.value : await provider.open(e.value, e);
      out.set(`${e.namespace}/${e.key}`, `${e.keyId}|${e.expiresAt}|${e.createdAt}|${Buffer.from(value).toString('base64')}`);
    }
  } finally {
    await backend.close();
  }
  return out;
}

describe('a migration killed at random points', () => {
  const sourceKey = randomBytes(32);
  const destinationKey = randomBytes(32);
  const sourceEnc = new AeadEncryption({ keys: new StaticKeySource([{ id: 'src1', material: sourceKey }]) });
  const destinationEnc = new AeadEncryption({ keys: new StaticKeySource([{ id: 'dst1', material: destinationKey }]) });
  const env = { ...process.env, MIGRATE_TEST_SOURCE_KEY: sourceKey.toString('hex'), MIGRATE_TEST_DESTINATION_KEY: destinationKey.toString('hex') };
  const killedTable = useDynamoTestTable('cv-kill');
  const referenceTable = useDynamoTestTable('cv-kill-ref');
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-migrate-kill-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function seedSource(spec: string, entries: number): Promise<void> {
    const source = await openSpec(spec);
    const now = Date.now();
    const batch: StoredEntry[] = [];
    for (let i = 0; i < entries; i++) {
      const namespace = i % 3 === 0 ? 'sessions' : 'pages';
      const key = `key-${i}`;
      // Mostly small values, some large enough to spill to blob files or be chunked in DynamoDB.
      const value = randomBytes(i % 97 === 0 ? 400_000 : 200 + (i % 700));
      const expiresAt = i % 50 === 0 ? now - 1000 : i % 2 === 0 ? null : now + 86_400_000;
      const sealed = await sourceEnc.seal(value, { namespace, key, expiresAt });
      batch.push({ namespace, key, expiresAt, value: sealed.bytes, keyId: sealed.keyId, createdAt: now - i });
    }
    await source.setMany(batch);
    await source.close();
  }

  /** The destination already holds entries: two the migration overwrites, one it leaves alone. */
  async function seedDestination(spec: string): Promise<void> {
    const destination = await openSpec(spec);
    for (const [namespace, key] of [['pages', 'key-1'], ['sessions', 'key-3'], ['pages', 'unrelated']] as const) {
      const sealed = await destinationEnc.seal(Buffer.from(`older ${key}`), { namespace, key, expiresAt: null });
      await destination.set({ namespace, key, expiresAt: null, value: sealed.bytes, keyId: sealed.keyId, createdAt: 7 });
    }
    await destination.close();
  }

  const cases = [
    { name: 'file to file', entries: 1500, destination: () => `file:${join(dir, 'killed')}`, reference: () => `file:${join(dir, 'reference')}` },
    {
      name: 'file to DynamoDB Local',
      entries: 800,
      destination: () => `dynamodb:${killedTable.tableName}?endpoint=${killedTable.endpoint}&maxAttempts=3`,
      reference: () => `dynamodb:${referenceTable.tableName}?endpoint=${referenceTable.endpoint}&maxAttempts=3`,
    },
  ];

  test.each(cases)('$name: resuming after each SIGKILL ends exactly like an uninterrupted run, and rolls back to the start', async (c) => {
    const run = randomBytes(3).toString('hex');
    const source = `file:${join(dir, `source-${run}`)}`;
    const expired = Math.ceil(c.entries / 50);
    await seedSource(source, c.entries);
    await seedDestination(c.destination());
    await seedDestination(c.reference());
    const before = await contents(c.destination());

    const reference = await runWorker([source, c.reference(), join(dir, `reference-state-${run}`), 'fresh'], env);
    expect(reference.report!.counts).toMatchObject({ entries: c.entries - expired, skippedExpired: expired, failed: 0 });

    const stateDir = join(dir, `killed-state-${run}`);
    const args = [source, c.destination(), stateDir];
    let kills = 0;
    let attempt = await runWorker([...args, 'fresh'], env, randomInt(1, 6));
    while (attempt.killed && kills < 12) {
      kills += 1;
      attempt = await runWorker([...args, 'resume'], env, kills < 5 ? randomInt(1, 10) : undefined);
    }
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(attempt.killed).toBe(false);
    expect(attempt.report!.resumed).toBe(true);
    expect(attempt.report!.counts).toEqual(reference.report!.counts);
    expect(await contents(c.destination(), destinationEnc)).toEqual(await contents(c.reference(), destinationEnc));

    const journal = readFileSync(join(stateDir, 'journal.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ns: string; key: string; before: unknown });
    const ids = journal.map((r) => `${r.ns}/${r.key}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(reference.report!.counts.entries);
    expect(journal.filter((r) => r.before !== null).map((r) => r.key).sort()).toEqual(['key-1', 'key-3']);

    const rolledBack = await runWorker([...args, 'rollback'], env);
    expect(rolledBack.report).toMatchObject({ restored: 2, removed: c.entries - expired - 2 });
    expect(await contents(c.destination())).toEqual(before);
  }, 300_000);
});
