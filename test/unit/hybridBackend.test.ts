import { MemoryBackend, type MemoryBackendOptions } from '../../client/backends/memoryBackend';
import { HybridBackend, type HybridBackendOptions } from '../../client/backends/hybridBackend';
import { TierUnavailableError } from '../../client/backends/hybrid/errors';
import { CacheManager } from '../../client/core/cacheManager';
import type { BackendCapabilities, EntryPage, ScanOptions, StoredEntry, WriteResult } from '../../client/types';
import { ManualClock, runBackendContract } from '../contract/backendContract';

/** A memory backend that claims to be shared (stands in for DynamoDB) and can be made to fail or hang. */
class FlakySharedBackend extends MemoryBackend {
  override readonly capabilities: BackendCapabilities = { scanSegments: 1, maxBatchWrite: 25, persistent: true, shared: true };
  mode: 'up' | 'down' | 'hang' = 'up';
  /** Calls that reached storage (refused ones by an open breaker never get here). */
  calls = 0;

  constructor(options: MemoryBackendOptions = {}) {
    super(options);
  }

  private async gate(): Promise<void> {
    this.calls += 1;
    if (this.mode === 'down') throw new Error('connect ECONNREFUSED 127.0.0.1:8000');
    if (this.mode === 'hang') await new Promise(() => undefined);
  }

  /** When set, reads take their answer and then wait for it before returning (a slow response in flight). */
  holdReads: Promise<void> | undefined;

  protected override async _get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    await this.gate();
    const found = await super._get(namespace, key);
    await this.holdReads;
    return found;
  }
  protected override async _getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    await this.gate();
    const found = await super._getMany(namespace, keys);
    await this.holdReads;
    return found;
  }
  /** When set, the next write reaching storage waits for it first (a slow request in flight); then it is cleared. */
  holdNextWrite: Promise<void> | undefined;

  protected override async _setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    await this.gate();
    const hold = this.holdNextWrite;
    this.holdNextWrite = undefined;
    await hold;
    return super._setMany(entries);
  }
  protected override async _deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    await this.gate();
    return super._deleteMany(namespace, keys);
  }
  protected override async _clear(namespace: string | undefined): Promise<void> {
    await this.gate();
    return super._clear(namespace);
  }
  protected override async _scan(options: ScanOptions): Promise<EntryPage> {
    await this.gate();
    return super._scan(options);
  }
}

runBackendContract('hybrid (memory + shared memory)', ({ clock }) =>
  new HybridBackend({
    clock,
    tiers: [
      { name: 'memory', backend: new MemoryBackend({ clock, maxBytes: 256 * 1024 * 1024 }) },
      { name: 'shared', backend: new FlakySharedBackend({ clock, maxBytes: 256 * 1024 * 1024 }) },
    ],
  }),
);

describe('HybridBackend', () => {
  const NS = 'app';
  const CAP = 60_000;
  let clock: ManualClock;
  let l0: MemoryBackend;
  let l1: MemoryBackend;
  let l2: FlakySharedBackend;

  const entry = (key: string, value: string, over: Partial<StoredEntry> = {}): StoredEntry => ({
    namespace: NS,
    key,
    value: Buffer.from(value),
    expiresAt: clock.now + 3_600_000,
    keyId: 'k1',
    createdAt: clock.now,
    ...over,
  });
  const text = (e: StoredEntry | undefined) => (e ? Buffer.from(e.value).toString() : undefined);

  const hybrid = (over: Partial<HybridBackendOptions> = {}) =>
    new HybridBackend({
      clock: clock.read,
      localTtlCapMs: CAP,
      staleIfErrorMs: 120_000,
      breakerFailureThreshold: 3,
      breakerResetMs: 10_000,
      tierTimeoutMs: 50,
      tiers: [
        { name: 'memory', backend: l0 },
        { name: 'file', backend: l1 },
        { name: 'shared', backend: l2 },
      ],
      ...over,
    });

  beforeEach(() => {
    clock = new ManualClock();
    l0 = new MemoryBackend({ clock: clock.read });
    l1 = new MemoryBackend({ clock: clock.read });
    l2 = new FlakySharedBackend({ clock: clock.read });
  });

  describe('reads and promotion', () => {
    test('a hit in the shared tier is promoted into every tier above it, with its original expiresAt', async () => {
      const cache = hybrid();
      const original = entry('a', 'shared-value', { expiresAt: clock.now + 5_000 });
      await l2.set(original);
      const got = await cache.get(NS, 'a');
      expect(text(got)).toBe('shared-value');
      expect(got!.expiresAt).toBe(original.expiresAt);
      expect((await l0.get(NS, 'a'))!.expiresAt).toBe(original.expiresAt);
      expect((await l1.get(NS, 'a'))!.expiresAt).toBe(original.expiresAt);
      expect(cache.stats().extra!.promotions).toBe(2);
    });

    test('a promoted copy never outlives the entry expiresAt', async () => {
      const cache = hybrid();
      await l2.set(entry('a', 'v', { expiresAt: clock.now + 5_000 }));
      await cache.get(NS, 'a');
      clock.advance(5_000);
      expect(await cache.get(NS, 'a')).toBeUndefined();
      expect(await l0.get(NS, 'a')).toBeUndefined();
    });

    test('a hit in the middle tier is promoted only into the tiers above it', async () => {
      const cache = hybrid();
      await l1.set(entry('a', 'file-value'));
      l2.calls = 0;
      expect(text(await cache.get(NS, 'a'))).toBe('file-value');
      expect(text(await l0.get(NS, 'a'))).toBe('file-value');
      expect(l2.calls).toBe(0);
    });

    test('a fresh hit in the memory tier does not touch the tiers below', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'v'));
      l2.calls = 0;
      const l1Before = l1.stats().hits + l1.stats().misses;
      expect(text(await cache.get(NS, 'a'))).toBe('v');
      expect(l2.calls).toBe(0);
      expect(l1.stats().hits + l1.stats().misses).toBe(l1Before);
      expect(cache.stats().tiers!.memory!.hits).toBe(1);
    });

    test('a read-through answered before a delete does not put the deleted value back into the local tiers', async () => {
      const cache = hybrid();
      await l2.set(entry('a', 'v1'));
      let answer!: () => void;
      l2.holdReads = new Promise((resolve) => (answer = resolve));
      const reading = cache.get(NS, 'a');
      await new Promise((resolve) => setImmediate(resolve));
      l2.holdReads = undefined;
      await cache.delete(NS, 'a');
      answer();
      await reading;
      expect(await cache.get(NS, 'a')).toBeUndefined();
      expect(await l0.get(NS, 'a')).toBeUndefined();
    });

    test('a read-through answered before a newer set does not overwrite the new value in the local tiers', async () => {
      const cache = hybrid();
      await l2.set(entry('a', 'v1'));
      let answer!: () => void;
      l2.holdReads = new Promise((resolve) => (answer = resolve));
      const reading = cache.getMany(NS, ['a']);
      await new Promise((resolve) => setImmediate(resolve));
      l2.holdReads = undefined;
      await cache.set(entry('a', 'v2'));
      answer();
      await reading;
      expect(text(await cache.get(NS, 'a'))).toBe('v2');
      expect(text(await l1.get(NS, 'a'))).toBe('v2');
    });

    test('a read-through answered before a clear of its namespace does not bring the cleared value back', async () => {
      const cache = hybrid();
      await l2.set(entry('a', 'v1'));
      let answer!: () => void;
      l2.holdReads = new Promise((resolve) => (answer = resolve));
      const reading = cache.get(NS, 'a');
      await new Promise((resolve) => setImmediate(resolve));
      l2.holdReads = undefined;
      await cache.clear(NS);
      answer();
      await reading;
      expect(await cache.get(NS, 'a')).toBeUndefined();
    });

    test('a read-through overlapping a delete skips promotion even when the bounded record of that delete was evicted', async () => {
      const cache = hybrid({ freshnessIndexSize: 1 });
      await l2.set(entry('a', 'v1'));
      let answer!: () => void;
      l2.holdReads = new Promise((resolve) => (answer = resolve));
      const reading = cache.get(NS, 'a');
      await new Promise((resolve) => setImmediate(resolve));
      l2.holdReads = undefined;
      await cache.delete(NS, 'a');
      await cache.set(entry('b', 'pushes the record of a out'));
      answer();
      await reading;
      expect(await l0.get(NS, 'a')).toBeUndefined();
    });

    test('getMany finds each key in whichever tier has it and answers in order', async () => {
      const cache = hybrid();
      await l0.set(entry('a', 'from-memory'));
      await l1.set(entry('b', 'from-file'));
      await l2.set(entry('c', 'from-shared'));
      const got = await cache.getMany(NS, ['c', 'missing', 'b', 'a']);
      expect(got.map(text)).toEqual(['from-shared', undefined, 'from-file', 'from-memory']);
      expect(text(await l0.get(NS, 'c'))).toBe('from-shared');
      expect(text(await l0.get(NS, 'b'))).toBe('from-file');
    });
  });

  describe('local TTL cap', () => {
    test('a local copy is served until the cap, then re-read from the shared tier', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'old'));
      await l2.set(entry('a', 'changed-by-another-machine'));
      clock.advance(CAP - 1);
      expect(text(await cache.get(NS, 'a'))).toBe('old');
      clock.advance(1);
      expect(text(await cache.get(NS, 'a'))).toBe('changed-by-another-machine');
      expect(text(await l0.get(NS, 'a'))).toBe('changed-by-another-machine');
      expect(cache.stats().extra!.revalidations).toBeGreaterThanOrEqual(1);
    });

    test('a refreshed copy gets a new cap, measured from when it was re-read', async () => {
      const cache = hybrid();
      await l2.set(entry('a', 'v1'));
      clock.advance(CAP * 3);
      await cache.get(NS, 'a');
      await l2.set(entry('a', 'v2'));
      clock.advance(CAP - 1);
      expect(text(await cache.get(NS, 'a'))).toBe('v1');
      clock.advance(1);
      expect(text(await cache.get(NS, 'a'))).toBe('v2');
    });

    test('a copy promoted from a local tier keeps that copy deadline instead of a new cap', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'v1'));
      await l0.delete(NS, 'a');
      clock.advance(CAP / 2);
      expect(text(await cache.get(NS, 'a'))).toBe('v1');
      await l2.set(entry('a', 'v2'));
      clock.advance(CAP / 2);
      expect(text(await cache.get(NS, 'a'))).toBe('v2');
    });

    test('an entry deleted on the shared tier by another machine disappears locally after the cap', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'v'));
      await l2.delete(NS, 'a');
      clock.advance(CAP);
      expect(await cache.get(NS, 'a')).toBeUndefined();
      expect(await l0.get(NS, 'a')).toBeUndefined();
      expect(await l1.get(NS, 'a')).toBeUndefined();
      expect(cache.stats().extra!.sharedEvictions).toBe(1);
    });

    test('after a restart, a local copy of unknown age is treated as made when the entry was created', async () => {
      await l1.set(entry('a', 'old-copy', { createdAt: clock.now - CAP }));
      await l2.set(entry('a', 'current', { createdAt: clock.now - CAP }));
      const restarted = hybrid();
      expect(text(await restarted.get(NS, 'a'))).toBe('current');
    });

    test('a failing middle tier does not stop the shared tier from deciding', async () => {
      const brokenFile = new FlakySharedBackend({ clock: clock.read });
      Object.assign(brokenFile, { capabilities: { ...brokenFile.capabilities, shared: false } });
      const tiers = [
        { name: 'memory', backend: l0 },
        { name: 'file', backend: brokenFile },
        { name: 'shared', backend: l2 },
      ];
      const cache = hybrid({ tiers });
      await cache.setMany([entry('deleted-elsewhere', 'v'), entry('kept', 'v')]);
      await l2.delete(NS, 'deleted-elsewhere');
      brokenFile.mode = 'down';
      clock.advance(CAP);
      expect(await cache.get(NS, 'deleted-elsewhere')).toBeUndefined();
      expect(await l0.get(NS, 'deleted-elsewhere')).toBeUndefined();
      const strict = hybrid({ tiers, strict: true });
      expect(text(await strict.get(NS, 'kept'))).toBe('v');
    });

    test('without a shared tier there is no cap: local tiers are authoritative', async () => {
      const cache = hybrid({ tiers: [{ name: 'memory', backend: l0 }, { name: 'file', backend: l1 }] });
      await cache.set(entry('a', 'v'));
      clock.advance(CAP * 10);
      expect(text(await cache.get(NS, 'a'))).toBe('v');
    });
  });

  describe('writes', () => {
    test('set writes through every tier; delete and clear reach every tier', async () => {
      const cache = hybrid();
      const result = await cache.setMany([entry('a', '1'), entry('b', '2')]);
      expect(result).toEqual({ written: 2 });
      for (const tier of [l0, l1, l2]) expect(text(await tier.get(NS, 'a'))).toBe('1');
      expect(await cache.delete(NS, 'a')).toBe(true);
      for (const tier of [l0, l1, l2]) expect(await tier.get(NS, 'a')).toBeUndefined();
      await cache.clear(NS);
      for (const tier of [l0, l1, l2]) expect(await tier.get(NS, 'b')).toBeUndefined();
    });

    test('entries under a local-only key never reach the shared tier, and the skip is reported', async () => {
      const cache = hybrid({ isLocalOnly: (e) => e.keyId === 'local-root' });
      const result = await cache.setMany([entry('mine', 'secret', { keyId: 'local-root' }), entry('ours', 'shared')]);
      expect(result.written).toBe(2);
      expect(result.degraded).toEqual([expect.objectContaining({ tier: 'shared' })]);
      expect(await l2.get(NS, 'mine')).toBeUndefined();
      expect(text(await l2.get(NS, 'ours'))).toBe('shared');
      expect(text(await l1.get(NS, 'mine'))).toBe('secret');
      clock.advance(CAP * 2);
      expect(text(await cache.get(NS, 'mine'))).toBe('secret');
      expect(cache.stats().extra!.localOnlyWrites).toBe(1);
    });

    test('a local tier that missed a write re-checks its old copy instead of serving it', async () => {
      const failingFile = new FlakySharedBackend({ clock: clock.read });
      Object.assign(failingFile, { capabilities: { ...failingFile.capabilities, shared: false } });
      const cache = hybrid({ tiers: [{ name: 'file', backend: failingFile }, { name: 'shared', backend: l2 }] });
      await cache.set(entry('a', 'v1'));
      failingFile.mode = 'down';
      const result = await cache.set(entry('a', 'v2'));
      expect(result.degraded).toEqual([expect.objectContaining({ tier: 'file' })]);
      failingFile.mode = 'up';
      expect(text(await cache.get(NS, 'a'))).toBe('v2');
    });
  });

  describe('shared tier outage', () => {
    test('reads serve local copies, writes are kept locally and reported, and nothing throws', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'v'));
      l2.mode = 'down';
      clock.advance(CAP + 1_000);
      expect(text(await cache.get(NS, 'a'))).toBe('v');
      expect(await cache.get(NS, 'never-cached')).toBeUndefined();
      const result = await cache.set(entry('b', 'written-during-outage'));
      expect(result.written).toBe(1);
      expect(result.degraded).toEqual([expect.objectContaining({ tier: 'shared' })]);
      expect(text(await cache.get(NS, 'b'))).toBe('written-during-outage');
      await expect(cache.delete(NS, 'b')).resolves.toBe(true);
      await expect(cache.clear(NS)).resolves.toBeUndefined();
      const stats = cache.stats();
      expect(stats.extra!.staleServed).toBe(1);
      expect(stats.extra!.degradedWrites).toBe(1);
      expect(stats.tiers!.shared!.errors).toBeGreaterThanOrEqual(3);
    });

    test('a stale local copy is served only within staleIfErrorMs past its cap', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'v'));
      l2.mode = 'down';
      clock.advance(CAP + 120_000 - 1);
      expect(text(await cache.get(NS, 'a'))).toBe('v');
      clock.advance(1);
      expect(await cache.get(NS, 'a')).toBeUndefined();
      expect(cache.stats().extra!.staleRefused).toBe(1);
    });

    test('writes made during an outage are replayed to the shared tier once it answers again', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'v1'));
      l2.mode = 'down';
      await cache.set(entry('a', 'v2'));
      await cache.set(entry('b', 'new'));
      expect(cache.stats().extra!.pendingReplays).toBe(2);
      clock.advance(CAP * 10);
      // Past the cap, the pending local write is still the newest version there is.
      expect(text(await cache.get(NS, 'a'))).toBe('v2');
      l2.mode = 'up';
      await cache.get(NS, 'unrelated');
      await cache.flushPending();
      expect(text(await l2.get(NS, 'a'))).toBe('v2');
      expect(text(await l2.get(NS, 'b'))).toBe('new');
      expect(cache.stats().extra).toMatchObject({ pendingReplays: 0, replayed: 2 });
    });

    test('a delete made during an outage is replayed, and the shared copy is not served meanwhile', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'v'));
      l2.mode = 'down';
      expect(await cache.delete(NS, 'a')).toBe(true);
      l2.mode = 'up';
      expect(await cache.get(NS, 'a')).toBeUndefined();
      await cache.flushPending();
      expect(await l2.get(NS, 'a')).toBeUndefined();
      expect(cache.stats().extra!.pendingReplays).toBe(0);
    });

    test('a write made while a replay is under way is not overwritten on the shared tier by the older replayed value', async () => {
      const cache = hybrid();
      l2.mode = 'down';
      await cache.set(entry('a', 'v1'));
      l2.mode = 'up';
      let answer!: () => void;
      l2.holdNextWrite = new Promise((resolve) => (answer = resolve));
      const flushing = cache.flushPending();
      await new Promise((resolve) => setImmediate(resolve));
      const writing = cache.set(entry('a', 'v2'));
      await new Promise((resolve) => setImmediate(resolve));
      answer();
      await Promise.all([flushing, writing]);
      expect(text(await l2.get(NS, 'a'))).toBe('v2');
      expect(text(await cache.get(NS, 'a'))).toBe('v2');
    });

    test('a delete made while a replay is under way is not undone on the shared tier by the replayed write', async () => {
      const cache = hybrid();
      l2.mode = 'down';
      await cache.set(entry('a', 'v1'));
      l2.mode = 'up';
      let answer!: () => void;
      l2.holdNextWrite = new Promise((resolve) => (answer = resolve));
      const flushing = cache.flushPending();
      await new Promise((resolve) => setImmediate(resolve));
      const deleting = cache.delete(NS, 'a');
      await new Promise((resolve) => setImmediate(resolve));
      answer();
      await Promise.all([flushing, deleting]);
      expect(await l2.get(NS, 'a')).toBeUndefined();
    });

    test('a replay waits for a write already under way, so the older replayed value cannot land after it', async () => {
      const cache = hybrid();
      l2.mode = 'down';
      await cache.set(entry('a', 'v1'));
      l2.mode = 'up';
      let releaseWrite!: () => void;
      l2.holdNextWrite = new Promise((resolve) => (releaseWrite = resolve));
      const writing = cache.set(entry('a', 'v2'));
      await new Promise((resolve) => setImmediate(resolve));
      let releaseReplay!: () => void;
      l2.holdNextWrite = new Promise((resolve) => (releaseReplay = resolve));
      const flushing = cache.flushPending();
      await new Promise((resolve) => setImmediate(resolve));
      releaseWrite();
      await writing;
      releaseReplay();
      await flushing;
      expect(text(await l2.get(NS, 'a'))).toBe('v2');
    });

    test('the replay queue is bounded and counts what it drops', async () => {
      const cache = hybrid({ maxPendingReplays: 2 });
      l2.mode = 'down';
      for (const key of ['a', 'b', 'c']) await cache.set(entry(key, 'v'));
      expect(cache.stats().extra).toMatchObject({ pendingReplays: 2, replayDropped: 1 });
      l2.mode = 'up';
      // Three failures opened the breaker: nothing is replayed until it lets a probe through.
      expect(await cache.flushPending()).toEqual({ replayed: 0, pending: 2 });
      clock.advance(10_000);
      expect(await cache.flushPending()).toEqual({ replayed: 2, pending: 0 });
      expect(await l2.get(NS, 'a')).toBeUndefined();
      expect(text(await l2.get(NS, 'c'))).toBe('v');
    });

    test('clearing a namespace drops its pending writes', async () => {
      const cache = hybrid();
      l2.mode = 'down';
      await cache.set(entry('a', 'v'));
      await cache.clear(NS);
      l2.mode = 'up';
      await cache.flushPending();
      expect(await l2.get(NS, 'a')).toBeUndefined();
    });

    test('a clear the shared tier missed is replayed, before the writes that followed it', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'v'));
      await cache.set(entry('b', 'v'));
      l2.mode = 'down';
      await cache.clear(NS);
      await cache.set(entry('c', 'after'));
      expect(cache.stats().extra!.pendingReplays).toBe(2);
      l2.mode = 'up';
      expect(await cache.flushPending()).toEqual({ replayed: 2, pending: 0 });
      expect(await l2.get(NS, 'a')).toBeUndefined();
      expect(await l2.get(NS, 'b')).toBeUndefined();
      expect(text(await l2.get(NS, 'c'))).toBe('after');
    });

    test('the breaker opens after the threshold, stops calling the shared tier, then half-opens and closes', async () => {
      const cache = hybrid();
      l2.mode = 'down';
      for (let i = 0; i < 3; i++) await cache.get(NS, `k${i}`);
      expect(cache.stats().tiers!.shared!.extra!.breaker).toBe('open');
      const callsWhenOpen = l2.calls;
      for (let i = 0; i < 10; i++) await cache.get(NS, `k${i}`);
      await cache.set(entry('x', 'y'));
      expect(l2.calls).toBe(callsWhenOpen);
      expect(cache.stats().tiers!.shared!.extra!.skipped).toBe(11);

      clock.advance(10_000);
      expect(cache.stats().tiers!.shared!.extra!.breaker).toBe('half-open');
      l2.mode = 'up';
      await l2.set(entry('back', 'online'));
      expect(text(await cache.get(NS, 'back'))).toBe('online');
      expect(cache.stats().tiers!.shared!.extra!.breaker).toBe('closed');
      expect(cache.stats().extra!['breaker.shared']).toBe('closed');
    });

    test('a failed probe keeps the breaker open for another reset period', async () => {
      const cache = hybrid();
      l2.mode = 'down';
      for (let i = 0; i < 3; i++) await cache.get(NS, 'k');
      clock.advance(10_000);
      await cache.get(NS, 'k');
      expect(cache.stats().tiers!.shared!.extra!.breaker).toBe('open');
      expect(cache.stats().tiers!.shared!.extra!.breakerOpens).toBe(2);
    });

    test('a shared tier that hangs is cut off by the tier timeout and counted', async () => {
      const cache = hybrid();
      await cache.set(entry('a', 'v'));
      l2.mode = 'hang';
      clock.advance(CAP);
      expect(text(await cache.get(NS, 'a'))).toBe('v');
      const shared = cache.stats().tiers!.shared!;
      expect(shared.extra!.timeouts).toBe(1);
    });

    test('strict mode throws a TierUnavailableError instead of degrading', async () => {
      const cache = hybrid({ strict: true });
      await cache.set(entry('a', 'v'));
      l2.mode = 'down';
      clock.advance(CAP);
      await expect(cache.get(NS, 'a')).rejects.toBeInstanceOf(TierUnavailableError);
      await expect(cache.set(entry('b', 'v'))).rejects.toMatchObject({ code: 'TIER_UNAVAILABLE', tier: 'shared' });
    });

    test('in strict mode, a write the shared tier refused is not served from the local tiers as if it had succeeded', async () => {
      const cache = hybrid({ strict: true });
      await cache.set(entry('a', 'v1'));
      l2.mode = 'down';
      await expect(cache.set(entry('a', 'v2'))).rejects.toBeInstanceOf(TierUnavailableError);
      await expect(cache.get(NS, 'a')).rejects.toBeInstanceOf(TierUnavailableError);
      l2.mode = 'up';
      expect(text(await cache.get(NS, 'a'))).toBe('v1');
    });

    test('a write that no tier takes fails', async () => {
      l2.mode = 'down';
      const cache = hybrid({ tiers: [{ name: 'shared', backend: l2 }] });
      await expect(cache.set(entry('a', 'v'))).rejects.toThrow(/shared/);
    });

    test('scans come from the last tier, and fail loudly when it is down', async () => {
      const cache = hybrid();
      await l2.setMany([entry('only-shared-1', 'x'), entry('only-shared-2', 'y')]);
      await l0.set(entry('only-memory', 'z'));
      const keys: string[] = [];
      for await (const e of cache.entries({ namespace: NS })) keys.push(e.key);
      expect(keys.sort()).toEqual(['only-shared-1', 'only-shared-2']);
      l2.mode = 'down';
      await expect(cache.scan({ namespace: NS })).rejects.toBeInstanceOf(TierUnavailableError);
    });

    test('the health check reports each tier and the failing one', async () => {
      const cache = hybrid();
      l2.mode = 'down';
      const report = await cache.healthCheck();
      expect(report.healthy).toBe(false);
      const tierSteps = report.checks.filter((c) => c.name.startsWith('tier:'));
      expect(tierSteps.map((c) => [c.name, c.ok])).toEqual([
        ['tier:memory', true],
        ['tier:file', true],
        ['tier:shared', false],
      ]);
    });

    test('stats report hits, misses, errors, latency and breaker state per tier', async () => {
      const cache = hybrid();
      await l2.set(entry('a', 'v'));
      await cache.get(NS, 'a');
      await cache.get(NS, 'nope');
      const tiers = cache.stats().tiers!;
      expect(tiers.memory).toMatchObject({ hits: 0, misses: 2 });
      expect(tiers.shared).toMatchObject({ hits: 1, misses: 1, errors: 0 });
      expect(tiers.shared!.extra).toMatchObject({ breaker: 'closed', calls: 2 });
      expect(typeof tiers.shared!.extra!.latencyMsAvg).toBe('number');
    });
  });

  describe('under a CacheManager', () => {
    test('values survive a shared-tier outage and degraded writes are counted by the manager', async () => {
      const manager = new CacheManager({ backend: hybrid(), clock: clock.read, namespace: NS });
      await manager.set('user:1', { name: 'Ada' });
      l2.mode = 'down';
      clock.advance(CAP + 1);
      expect(await manager.get('user:1')).toEqual({ name: 'Ada' });
      const result = await manager.set('user:2', { name: 'Grace' });
      expect(result.degraded?.[0]?.tier).toBe('shared');
      expect(await manager.get('user:2')).toEqual({ name: 'Grace' });
      expect(manager.stats().degradedWrites).toBe(1);
      expect(manager.stats().decryptFailures).toBe(0);
    });
  });

  test('rejects bad options with a clear error', () => {
    expect(() => new HybridBackend({ tiers: [] })).toThrow(/at least one tier/);
    expect(() => new HybridBackend({ tiers: [{ name: 'a', backend: l0 }, { name: 'a', backend: l1 }] })).toThrow(/unique/);
    expect(() => hybrid({ localTtlCapMs: 0 })).toThrow(/localTtlCapMs/);
  });
});
