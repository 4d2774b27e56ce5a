import { promises as fs, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_VERSION, CheckpointStore, planHash, type Checkpoint, type PlanDescription } from '../../client/migrate/checkpoint';
import { MigrationLockedError, MigrationStateError } from '../../client/migrate/errors';
import { StateLock } from '../../client/migrate/stateLock';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { Journal } from '../../client/migrate/journal';

const plan: PlanDescription = { kind: 'migrate', source: 'file:/a', destination: 'dynamodb:t?region=us-east-1', options: { batchSize: 100 } };

function checkpoint(cursor: string): Checkpoint {
  return {
    version: CHECKPOINT_VERSION,
    kind: 'migrate',
    planHash: planHash(plan),
    plan,
    status: 'running',
    totalSegments: 1,
    segments: [{ segment: 0, cursor, batches: 1, done: false }],
    counts: { entries: 1, bytes: 1, skippedExpired: 0, failed: 0, failuresByReason: {} },
    failures: [],
    startedAt: 1,
    updatedAt: 2,
  };
}

describe('migration state files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-state-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('the plan hash changes with any field and not with key order', () => {
    const reordered: PlanDescription = { options: { batchSize: 100 }, destination: plan.destination, source: plan.source, kind: 'migrate' };
    expect(planHash(reordered)).toBe(planHash(plan));
    expect(planHash({ ...plan, options: { batchSize: 101 } })).not.toBe(planHash(plan));
    expect(planHash({ ...plan, source: 'file:/b' })).not.toBe(planHash(plan));
  });

  test('a checkpoint save that fails at the rename leaves the previous checkpoint and no temp file', async () => {
    const store = new CheckpointStore(dir);
    store.ensureDir();
    await store.save(checkpoint('first'));
    const rename = jest.spyOn(fs, 'rename').mockRejectedValueOnce(Object.assign(new Error('EIO'), { code: 'EIO' }));
    await expect(store.save(checkpoint('second'))).rejects.toThrow('EIO');
    rename.mockRestore();
    expect((await store.load())!.segments[0]!.cursor).toBe('first');
    expect(readdirSync(dir)).toEqual(['checkpoint.json']);
    await store.save(checkpoint('third'));
    expect((await store.load())!.segments[0]!.cursor).toBe('third');
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
  });

  test('a checkpoint from another format version or damaged by hand is refused with the path', async () => {
    const store = new CheckpointStore(dir);
    writeFileSync(store.path, JSON.stringify({ ...checkpoint('x'), version: 99 }));
    await expect(store.load()).rejects.toThrow(/format version 99/);
    writeFileSync(store.path, '{"version": 1, trunc');
    const err = await store.load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationStateError);
    expect((err as Error).message).toContain(store.path);
  });

  test('the journal drops a torn last line left by a kill mid-append', async () => {
    const journal = new Journal(dir);
    await journal.reset();
    await journal.append([{ seg: 0, seq: 0, ns: 'a', key: 'k1', before: null }]);
    appendFileSync(journal.path, '{"seg":0,"seq":1,"ns":"a","key":"k2","bef');
    await journal.repairTail();
    expect(readFileSync(journal.path, 'utf8')).toBe('{"seg":0,"seq":0,"ns":"a","key":"k1","before":null}\n');
    const records = [];
    for await (const r of journal.records()) records.push(r);
    expect(records).toHaveLength(1);
  });

  test('keys journaled for batches the checkpoint does not count are the in-flight set', async () => {
    const journal = new Journal(dir);
    await journal.reset();
    await journal.append([
      { seg: 0, seq: 0, ns: 'a', key: 'done', before: null },
      { seg: 1, seq: 0, ns: 'a', key: 'other-segment', before: null },
    ]);
    await journal.append([{ seg: 0, seq: 1, ns: 'a', key: 'pending', before: null }]);
    const keys = await journal.inFlightKeys([
      { segment: 0, cursor: 'c', batches: 1, done: false },
      { segment: 1, cursor: undefined, batches: 0, done: false },
    ]);
    expect([...keys].map((k) => k.split('\u0000')[1]).sort()).toEqual(['other-segment', 'pending']);
  });

  test('a state directory is held by one process at a time; a lock left by a dead process is taken over', async () => {
    const held = await StateLock.acquire(dir);
    const err = await StateLock.acquire(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationLockedError);
    expect((err as MigrationLockedError).message).toContain(`process ${process.pid}`);
    expect((err as MigrationLockedError).hint).toContain(join(dir, 'lock'));
    await held.release();

    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: deadPid, host: hostname(), since: 1 }));
    const taken = await StateLock.acquire(dir);
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid });
    await taken.release();
    expect(readdirSync(dir)).toEqual([]);

    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: deadPid, host: 'another-machine', since: 1 }));
    await expect(StateLock.acquire(dir)).rejects.toThrow(/in use by process \d+ on another-machine/);
  });
});
