import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import type { CacheBackend } from '../../client/backends/cacheBackend';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { NoEncryption } from '../../client/crypto/noEncryption';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import { CacheMigrator } from '../../client/migrate/cacheMigrator';
import { CheckpointStore } from '../../client/migrate/checkpoint';
import { MigrationInProgressError, MigrationWriteError, PlanMismatchError } from '../../client/migrate/errors';
import type { MigrationProgress } from '../../client/migrate/types';
import type { EncryptionProvider } from '../../client/crypto/encryptionProvider';
import type { StoredEntry, WriteResult } from '../../client/types';
import { ManualClock } from '../contract/backendContract';
import { CountingBackend } from '../support/countingBackend';

const ns = 'app';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cv-migrate-'));
}

async function seal(provider: EncryptionProvider, key: string, value: string, expiresAt: number | null, createdAt: number, namespace = ns): Promise<StoredEntry> {
  const sealed = await provider.seal(Buffer.from(value), { namespace, key, expiresAt });
  return { namespace, key, expiresAt, value: sealed.bytes, keyId: sealed.keyId, createdAt };
}

async function fill(backend: CacheBackend, provider: EncryptionProvider, count: number, clock: ManualClock, prefix = 'k'): Promise<void> {
  const entries: StoredEntry[] = [];
  for (let i = 0; i < count; i++) entries.push(await seal(provider, `${prefix}${i}`, `value-${prefix}${i}`, clock.now + 3_600_000, clock.now));
  await backend.setMany(entries);
}

async function snapshot(backend: CacheBackend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of backend.entries()) out.set(`${e.namespace}/${e.key}`, `${e.keyId}|${e.expiresAt}|${e.createdAt}|${Buffer.from(e.value).toString('base64')}`);
  return out;
}

async function plaintexts(backend: CacheBackend, provider: EncryptionProvider): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of backend.entries()) out.set(`${e.namespace}/${e.key}`, Buffer.from(await provider.open(e.value, e)).toString());
  return out;
}

/** A destination that fails the Nth setMany, as a crash mid-run would. */
class FailingDestination extends MemoryBackend {
  calls = 0;
  constructor(private readonly failAt: number) {
    super({ maxEntries: 100_000 });
  }
  override async setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    this.calls += 1;
    if (this.calls === this.failAt) throw new Error('simulated crash during write');
    return super.setMany(entries);
  }
}

let dir: string;
let clock: ManualClock;
const plain = new NoEncryption();

beforeEach(() => {
  dir = tempDir();
  clock = new ManualClock(1_800_000_000_000);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('CacheMigrator', () => {
  test('copies every live entry byte for byte and skips expired ones', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 250, clock);
    await source.set(await seal(plain, 'old', 'stale', clock.now + 1000, clock.now));
    clock.advance(2000);

    const report = await new CacheMigrator({ source, destination, stateDir: join(dir, 'state'), clock: clock.read, batchSize: 40 }).run();

    expect(report.counts).toMatchObject({ entries: 250, skippedExpired: 1, failed: 0 });
    const src = await snapshot(source);
    const dst = await snapshot(destination);
    expect(dst.size).toBe(250);
    for (const [id, value] of dst) expect(src.get(id)).toBe(value);
    expect(await destination.get(ns, 'old')).toBeUndefined();
  });

  test('a new run after a finished one keeps the finished checkpoint and journal beside the new ones', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 30, clock);
    const stateDir = join(dir, 'state');
    await new CacheMigrator({ source, destination: new MemoryBackend({ clock: clock.read }), stateDir, clock: clock.read, batchSize: 10 }).run();
    const finished = readFileSync(join(stateDir, 'checkpoint.json'), 'utf8');
    const finishedJournal = readFileSync(join(stateDir, 'journal.jsonl'), 'utf8');
    clock.advance(1000);

    await new CacheMigrator({ source, destination: new MemoryBackend({ clock: clock.read }), stateDir, clock: clock.read, batchSize: 10 }).run();

    const suffix = `complete-${(JSON.parse(finished) as { updatedAt: number }).updatedAt}`;
    expect(readdirSync(stateDir)).toEqual(expect.arrayContaining(['checkpoint.json', `checkpoint.json.${suffix}`, 'journal.jsonl', `journal.jsonl.${suffix}`]));
    expect(readFileSync(join(stateDir, `checkpoint.json.${suffix}`), 'utf8')).toBe(finished);
    expect(readFileSync(join(stateDir, `journal.jsonl.${suffix}`), 'utf8')).toBe(finishedJournal);
    expect(readFileSync(join(stateDir, 'checkpoint.json'), 'utf8')).not.toBe(finished);
  });

  test('re-encrypts under a different key on the way, keeping identity and plaintext', async () => {
    const oldKeys = new AeadEncryption({ keys: new StaticKeySource([{ id: 'old1', material: randomBytes(32) }]) });
    const newKeys = new AeadEncryption({ keys: new StaticKeySource([{ id: 'new1', material: randomBytes(32) }]) });
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, oldKeys, 120, clock);

    const migrator = new CacheMigrator({ source, destination, transcode: { open: oldKeys, seal: newKeys }, stateDir: dir, clock: clock.read, batchSize: 50 });
    const report = await migrator.run();

    expect(report.counts.entries).toBe(120);
    for await (const e of destination.entries()) expect(e.keyId).toBe('new1');
    expect(await plaintexts(destination, newKeys)).toEqual(await plaintexts(source, oldKeys));
    const one = (await destination.get(ns, 'k7'))!;
    await expect(oldKeys.open(one.value, one)).rejects.toThrow();
    expect((await migrator.validate()).exact).toBe(true);
  });

  test('an entry that fails to open is counted as failed with its reason and the run goes on', async () => {
    const keys = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]) });
    const other = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]) });
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, keys, 30, clock);
    await source.set(await seal(other, 'foreign', 'sealed under another k1', null, clock.now));
    const good = (await source.get(ns, 'k3'))!;
    const tampered = Buffer.from(good.value);
    tampered[tampered.length - 1]! ^= 1;
    await source.set({ ...good, key: 'tampered', value: tampered });

    const report = await new CacheMigrator({ source, destination, transcode: { open: keys, seal: keys }, stateDir: dir, clock: clock.read }).run();

    expect(report.counts).toMatchObject({ entries: 30, failed: 2 });
    expect(report.counts.failuresByReason).toEqual({ INTEGRITY_FAILED: 2 });
    expect(report.failures.map((f) => f.key).sort()).toEqual(['foreign', 'tampered']);
    expect(await destination.has(ns, 'tampered')).toBe(false);
  });

  test('the dry run reports entries, bytes, failures and write units, and writes nothing anywhere', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 20, clock);
    await source.set({ namespace: ns, key: 'big', value: Buffer.alloc(5000), expiresAt: null, keyId: 'none', createdAt: clock.now });
    await source.set(await seal(plain, 'gone', 'x', clock.now + 10, clock.now));
    clock.advance(100);
    await destination.set(await seal(plain, 'existing', 'keep me', null, clock.now));
    const before = await snapshot(destination);
    const stateDir = join(dir, 'never-created');

    const plan = await new CacheMigrator({ source, destination, stateDir, clock: clock.read, maxEntryBytes: 4096 }).plan();

    expect(plan).toMatchObject({ entries: 20, skippedExpired: 1, unmigratable: 1, unmigratableByReason: { 'too-large': 1 } });
    expect(plan.failures[0]).toMatchObject({ key: 'big', reason: 'too-large' });
    expect(plan.bytes).toBeGreaterThan(20 * 'value-k0'.length);
    expect(plan.estimatedWriteUnits).toBeUndefined();
    expect(plan.estimatedSeconds).toBeGreaterThan(0);
    expect(await snapshot(destination)).toEqual(before);
    expect(() => readdirSync(stateDir)).toThrow();
  });

  test('the dry run estimates DynamoDB write units per started KB, chunks counted', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    const shared = new MemoryBackend({ clock: clock.read });
    Object.defineProperty(shared, 'capabilities', { value: { ...shared.capabilities, shared: true } });
    await source.set({ namespace: ns, key: 'small', value: Buffer.alloc(500), expiresAt: null, keyId: 'none', createdAt: 0 });
    await source.set({ namespace: ns, key: 'two-kb', value: Buffer.alloc(1500), expiresAt: null, keyId: 'none', createdAt: 0 });
    await source.set({ namespace: ns, key: 'chunked', value: Buffer.alloc(2500), expiresAt: null, keyId: 'none', createdAt: 0 });

    const plan = await new CacheMigrator({ source, destination: shared, stateDir: dir, clock: clock.read, dynamoDbChunkBytes: 2000 }).plan();

    // small: one item under 1 KB; two-kb: one item of ~1.6 KB; chunked: a manifest item plus chunks of 2000 and 500 bytes.
    expect(plan.estimatedWriteUnits).toBe(1 + 2 + (1 + 3 + 1));
  });

  test('progress events carry entries, bytes, rate and ETA against the expected total', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 100, clock);
    let totalBytes = 0;
    for await (const e of source.entries()) totalBytes += e.value.byteLength;
    const write = destination.setMany.bind(destination);
    // Each batch write takes one (manual) second.
    jest.spyOn(destination, 'setMany').mockImplementation(async (entries) => {
      clock.advance(1000);
      return write(entries);
    });
    const events: MigrationProgress[] = [];

    await new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read, batchSize: 25, pipelineDepth: 1 }).run({
      expectedEntries: 100,
      onProgress: (p) => events.push(p),
    });

    expect(events.map((e) => e.entriesDone)).toEqual([25, 50, 75, 100]);
    expect(events[0]).toMatchObject({ phase: 'copy', totalEntries: 100, entriesPerSecond: 25, etaSeconds: 3, elapsedMs: 1000 });
    expect(events[3]).toMatchObject({ entriesDone: 100, bytesDone: totalBytes, etaSeconds: 0, skippedExpired: 0, failed: 0 });
    expect(events[3]!.bytesPerSecond).toBeCloseTo(totalBytes / 4);
  });

  test('a run that crashes mid-way resumes to the same result, nothing lost, nothing doubled', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 230, clock);
    const reference = new MemoryBackend({ clock: clock.read });
    const expected = await new CacheMigrator({ source, destination: reference, stateDir: join(dir, 'ref'), clock: clock.read, batchSize: 20 }).run();

    const destination = new FailingDestination(4);
    await destination.set(await seal(plain, 'k5', 'older value', null, 1));
    const stateDir = join(dir, 'state');
    const first = new CacheMigrator({ source, destination, stateDir, clock: clock.read, batchSize: 20 });
    await expect(first.run()).rejects.toThrow('simulated crash');
    await expect(first.run()).rejects.toThrow(MigrationInProgressError);

    const resumed = await new CacheMigrator({ source, destination, stateDir, clock: clock.read, batchSize: 20 }).run({ resume: true });

    expect(resumed.resumed).toBe(true);
    expect(resumed.counts).toEqual(expected.counts);
    expect(await snapshot(destination)).toEqual(await snapshot(reference));
    const journal = readFileSync(join(stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; before: unknown });
    expect(journal).toHaveLength(230);
    expect(new Set(journal.map((r) => r.key)).size).toBe(230);
    expect(journal.find((r) => r.key === 'k5')!.before).not.toBeNull();
  });

  test('resuming records each key once in the journal even when the crash came after the write', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 60, clock);
    const destination = new MemoryBackend({ clock: clock.read });
    // The memory backend scans most recently written first, so k59 is in the first batch.
    const original = await seal(plain, 'k59', 'before migration', null, 5);
    await destination.set(original);
    const stateDir = join(dir, 'state');
    // The checkpoint save after the first batch fails: the batch is written and journaled, but not recorded.
    const migrator = new CacheMigrator({ source, destination, stateDir, clock: clock.read, batchSize: 30 });
    const realSave = CheckpointStore.prototype.save;
    const save = jest.spyOn(CheckpointStore.prototype, 'save');
    save.mockImplementationOnce(function (this: CheckpointStore, cp) {
      return realSave.call(this, cp);
    });
    save.mockRejectedValueOnce(new Error('killed before checkpoint'));
    await expect(migrator.run()).rejects.toThrow('killed before checkpoint');
    save.mockRestore();
    expect(Buffer.from((await destination.get(ns, 'k59'))!.value).toString()).not.toContain('before migration');

    await migrator.run({ resume: true });
    const records = readFileSync(join(stateDir, 'journal.jsonl'), 'utf8').trim().split('\n');
    expect(records).toHaveLength(60);

    await migrator.rollback();
    expect(await destination.get(ns, 'k59')).toEqual(original);
    expect((await snapshot(destination)).size).toBe(1);
  });

  test('batches in flight together are committed in order: a slow first batch and a failed second leave the checkpoint after the first', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 100, clock);
    const destination = new MemoryBackend({ clock: clock.read });
    const write = destination.setMany.bind(destination);
    let calls = 0;
    const spy = jest.spyOn(destination, 'setMany').mockImplementation(async (entries) => {
      const call = ++calls;
      if (call === 1) await new Promise((r) => setTimeout(r, 50));
      if (call === 2) throw new Error('second batch failed');
      return write(entries);
    });
    const stateDir = join(dir, 'state');
    const migrator = new CacheMigrator({ source, destination, stateDir, clock: clock.read, batchSize: 10, pipelineDepth: 4 });

    await expect(migrator.run()).rejects.toThrow('second batch failed');
    const checkpoint = (await new CheckpointStore(stateDir).load())!;
    expect(checkpoint.segments[0]).toMatchObject({ batches: 1, cursor: '10' });
    expect(checkpoint.counts.entries).toBe(10);

    spy.mockRestore();
    const report = await migrator.run({ resume: true });
    expect(report.counts.entries).toBe(100);
    expect((await migrator.validate()).exact).toBe(true);
  });

  test('a checkpoint from a different plan is refused with a clear error', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 50, clock);
    const destination = new FailingDestination(2);
    await expect(new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read, batchSize: 10, destinationDescription: 'file:/a' }).run()).rejects.toThrow();

    const other = new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read, batchSize: 10, destinationDescription: 'file:/b' });
    const err = await other.run({ resume: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlanMismatchError);
    expect((err as PlanMismatchError).message).toContain('memory -> file:/a');
    expect((err as PlanMismatchError).hint).toMatch(/same --from, --to/);
    await expect(new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read, batchSize: 20, destinationDescription: 'file:/a' }).run({ resume: true })).rejects.toThrow(PlanMismatchError);
  });

  test('resuming a finished run does nothing and reports the same counts', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 10, clock);
    const migrator = new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read });
    const first = await migrator.run();
    const again = await migrator.run({ resume: true });
    expect(again.counts).toEqual(first.counts);
    expect(again.batchesWritten).toBe(0);
    await expect(new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read, batchSize: 7 }).run({ resume: true })).rejects.toThrow(PlanMismatchError);
  });

  test('rollback restores overwritten entries and removes created ones', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 45, clock);
    await destination.set(await seal(plain, 'k3', 'destination had this', null, 1));
    await destination.set(await seal(plain, 'unrelated', 'untouched', null, 1));
    await destination.set(await seal(plain, 'k3', 'in another namespace', null, 1, 'other'));
    const before = await snapshot(destination);
    const migrator = new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read, batchSize: 10 });
    await migrator.run();
    expect((await snapshot(destination)).size).toBe(47);

    const report = await migrator.rollback();

    expect(report).toEqual({ restored: 1, removed: 44, journalRecords: 45 });
    expect(await snapshot(destination)).toEqual(before);
    expect(await migrator.rollback()).toEqual(report);
    expect(await snapshot(destination)).toEqual(before);
  });

  test('an empty destination is journaled as absent without being read, and still rolls back', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 50, clock);
    const reads = jest.spyOn(destination, 'getMany');
    const migrator = new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read, batchSize: 10 });

    await migrator.run();

    expect(reads).not.toHaveBeenCalled();
    const journal = readFileSync(join(dir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { before: unknown });
    expect(journal).toHaveLength(50);
    expect(journal.every((r) => r.before === null)).toBe(true);
    expect(await migrator.rollback()).toEqual({ restored: 0, removed: 50, journalRecords: 50 });
    expect((await snapshot(destination)).size).toBe(0);
  });

  test('a rollback interrupted by a failing destination can simply be run again', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 60, clock);
    await destination.set(await seal(plain, 'k1', 'destination had this', null, 1));
    const before = await snapshot(destination);
    const migrator = new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read, batchSize: 10 });
    await migrator.run();
    const deleteMany = jest.spyOn(destination, 'deleteMany').mockRejectedValueOnce(new Error('destination unreachable'));

    await expect(migrator.rollback()).rejects.toThrow('destination unreachable');
    deleteMany.mockRestore();
    expect((await snapshot(destination)).size).toBeGreaterThan(1);

    expect(await migrator.rollback()).toEqual({ restored: 1, removed: 59, journalRecords: 60 });
    expect(await snapshot(destination)).toEqual(before);
  });

  test('validation reports missing, different and extra entries', async () => {
    const keys = new AeadEncryption({ keys: new StaticKeySource([{ id: 'a1', material: randomBytes(32) }]) });
    const source = new MemoryBackend({ clock: clock.read });
    const destination = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 20, clock);
    const migrator = new CacheMigrator({ source, destination, transcode: { open: plain, seal: keys }, stateDir: dir, clock: clock.read });
    await migrator.run();
    expect(await migrator.validate()).toMatchObject({ ok: true, exact: true, matched: 20, sourceEntries: 20, destinationEntries: 20 });

    await destination.delete(ns, 'k1');
    await destination.set(await seal(keys, 'k2', 'changed', clock.now + 3_600_000, clock.now));
    const k3 = (await destination.get(ns, 'k3'))!;
    await destination.set(await seal(keys, 'k3', 'value-k3', k3.expiresAt! + 1, clock.now));
    await destination.set(await seal(keys, 'stray', 'x', null, clock.now));

    const report = await migrator.validate();

    expect(report).toMatchObject({ ok: false, exact: false, matched: 17, missing: 1, different: 2, extra: 1 });
    expect(report.samples.missing).toEqual([{ namespace: ns, key: 'k1' }]);
    expect(report.samples.different).toEqual(
      expect.arrayContaining([
        { namespace: ns, key: 'k2', what: 'value' },
        { namespace: ns, key: 'k3', what: 'expiresAt' },
      ]),
    );
    expect(report.samples.extra).toEqual([{ namespace: ns, key: 'stray' }]);
  });

  test('a destination write that reached only some tiers stops the run instead of counting it done', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 5, clock);
    const destination = new MemoryBackend({ clock: clock.read });
    jest.spyOn(destination, 'setMany').mockResolvedValue({ written: 5, degraded: [{ tier: 'dynamodb', reason: 'breaker open' }] });
    await expect(new CacheMigrator({ source, destination, stateDir: dir, clock: clock.read }).run()).rejects.toThrow(MigrationWriteError);
  });

  test('migrates from a memory cache to a file cache and back', async () => {
    const fileDir = join(dir, 'file');
    const file = new FileBackend({ dir: fileDir, clock: clock.read });
    const source = new MemoryBackend({ clock: clock.read });
    const back = new MemoryBackend({ clock: clock.read });
    try {
      await fill(source, plain, 300, clock);
      const there = await new CacheMigrator({ source, destination: file, stateDir: join(dir, 's1'), clock: clock.read, batchSize: 64 }).run();
      const home = await new CacheMigrator({ source: file, destination: back, stateDir: join(dir, 's2'), clock: clock.read, batchSize: 64 }).run();
      expect(there.counts.entries).toBe(300);
      expect(home.counts.entries).toBe(300);
      expect(await snapshot(back)).toEqual(await snapshot(source));
    } finally {
      await file.close();
    }
  });

  test('migrates into a hybrid cache and rolls it back', async () => {
    const source = new MemoryBackend({ clock: clock.read });
    await fill(source, plain, 120, clock);
    const hybrid = new HybridBackend({
      clock: clock.read,
      tiers: [
        { name: 'memory', backend: new MemoryBackend({ clock: clock.read }) },
        { name: 'file', backend: new FileBackend({ dir: join(dir, 'hybrid-file'), clock: clock.read }) },
      ],
    });
    try {
      await hybrid.set(await seal(plain, 'k9', 'hybrid had this', null, 3));
      const before = await snapshot(hybrid);
      const migrator = new CacheMigrator({ source, destination: hybrid, stateDir: join(dir, 'state'), clock: clock.read, batchSize: 32 });
      expect((await migrator.run()).counts.entries).toBe(120);
      expect(await migrator.validate()).toMatchObject({ exact: true, matched: 120 });
      expect(await migrator.rollback()).toMatchObject({ restored: 1, removed: 119 });
      expect(await snapshot(hybrid)).toEqual(before);
    } finally {
      await hybrid.close();
    }
  });

  test('rejects the same backend as source and destination, and bad sizes', () => {
    const backend = new MemoryBackend();
    expect(() => new CacheMigrator({ source: backend, destination: backend, stateDir: dir })).toThrow(/same backend/);
    expect(() => new CacheMigrator({ source: backend, destination: new MemoryBackend(), stateDir: dir, batchSize: 0 })).toThrow(/batchSize/);
  });
});

describe('CacheMigrator.run with an abort signal', () => {
  test('stops after the batches in flight, checkpoints them, and a resume ends exactly like an uninterrupted run', async () => {
    const source = new CountingBackend({ clock: clock.read });
    await fill(source, plain, 230, clock);

    const referenceDestination = new CountingBackend({ clock: clock.read });
    const reference = await new CacheMigrator({ source, destination: referenceDestination, stateDir: join(dir, 'reference'), clock: clock.read, batchSize: 20 }).run();
    const referenceScans = source.scans;
    expect(reference.stopped).toBe(false);

    source.scans = 0;
    const destination = new CountingBackend({ clock: clock.read });
    const stateDir = join(dir, 'state');
    const migrator = () => new CacheMigrator({ source, destination, stateDir, clock: clock.read, batchSize: 20 });
    const controller = new AbortController();
    const first = await migrator().run({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.entriesDone >= 60) controller.abort();
      },
    });

    expect(first.stopped).toBe(true);
    expect(first.counts.entries).toBeGreaterThanOrEqual(60);
    expect(first.counts.entries).toBeLessThan(230);
    // The batches in flight at the abort were written and checkpointed: nothing is ahead of the counts.
    expect(destination.written).toBe(first.counts.entries);
    const checkpoint = await new CheckpointStore(stateDir).load();
    expect(checkpoint?.status).toBe('running');
    expect(checkpoint?.counts.entries).toBe(first.counts.entries);

    const second = await migrator().run({ resume: true });
    expect(second).toMatchObject({ stopped: false, resumed: true });
    expect(second.counts).toEqual(reference.counts);
    // No page read twice and no entry written twice.
    expect(source.scans).toBe(referenceScans);
    expect(destination.written).toBe(referenceDestination.written);
    expect(await snapshot(destination)).toEqual(await snapshot(referenceDestination));
  });

  test('a signal aborted before the run starts reads nothing and leaves a checkpoint to resume from', async () => {
    const source = new CountingBackend({ clock: clock.read });
    await fill(source, plain, 50, clock);
    const destination = new MemoryBackend({ clock: clock.read });
    const stateDir = join(dir, 'state');
    const migrator = () => new CacheMigrator({ source, destination, stateDir, clock: clock.read, batchSize: 20 });

    const stopped = await migrator().run({ signal: AbortSignal.abort() });
    expect(stopped).toMatchObject({ stopped: true, batchesWritten: 0, counts: { entries: 0 } });
    expect(source.scans).toBe(0);

    const finished = await migrator().run({ resume: true });
    expect(finished).toMatchObject({ stopped: false, counts: { entries: 50 } });
    expect((await snapshot(destination)).size).toBe(50);
  });
});
