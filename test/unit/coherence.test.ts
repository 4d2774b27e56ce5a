import { Coherence, type CoherenceOptions, type LocalInvalidation } from '../../client/backends/hybrid/coherence';
import { keyHash } from '../../client/backends/hybrid/invalidationLog';
import { silentLogger } from '../../client/logger';
import { MemoryLog } from '../support/memoryInvalidationLog';

const CAP = 60_000;

function instance(log: MemoryLog, clock: { now: number }, extra: Partial<CoherenceOptions> = {}) {
  const applied: LocalInvalidation[] = [];
  let drops = 0;
  const c = new Coherence({
    store: log,
    capMs: CAP,
    clock: () => clock.now,
    logger: silentLogger,
    applyLocally: async (inv) => void applied.push(inv),
    dropLocalCopies: async () => void (drops += 1),
    ...extra,
  });
  return { c, applied, drops: () => drops };
}

describe('Coherence (invalidations across instances through a shared log)', () => {
  let clock: { now: number };
  let log: MemoryLog;
  beforeEach(() => {
    clock = { now: 1_000_000 };
    log = new MemoryLog(2);
  });

  test('a key one instance changed is unverified on another from the poll that brings it, and its known copy is deleted there', async () => {
    const a = instance(log, clock);
    const b = instance(log, clock);
    await b.c.tick(); // caught up: no longer starting
    b.c.noteCopy('ns', 'k');
    const markedAt = clock.now;
    expect(b.c.limit('ns', 'k', markedAt)).toBe(Infinity);

    a.c.recordKeys('ns', ['k']);
    clock.now += 10;
    await a.c.tick();
    expect(b.c.limit('ns', 'k', markedAt)).toBe(Infinity); // not polled yet
    clock.now += 200;
    await b.c.tick();
    expect(b.c.limit('ns', 'k', markedAt)).toBe(-Infinity);
    expect(b.c.limit('ns', 'other', markedAt)).toBe(Infinity);
    expect(b.applied).toEqual([{ keys: new Map([['ns', ['k']]]), clears: [] }]);
  });

  test('a copy re-read just after an invalidation is fresh only until the settle window ends, and then for good', async () => {
    const a = instance(log, clock);
    const b = instance(log, clock, { settleMs: 1_000 });
    await b.c.tick();
    a.c.recordKeys('ns', ['k']);
    await a.c.tick();
    clock.now += 1;
    await b.c.tick();
    const appliedAt = clock.now;
    clock.now += 300;
    expect(b.c.limit('ns', 'k', clock.now)).toBe(appliedAt + 1_000);
    expect(b.c.limit('ns', 'k', appliedAt + 1_000)).toBe(Infinity);
  });

  test('an instance skips its own records', async () => {
    const a = instance(log, clock);
    await a.c.tick();
    a.c.recordKeys('ns', ['k']);
    const markedAt = clock.now;
    clock.now += 200;
    await a.c.tick();
    expect(log.appends).toBe(1);
    expect(a.c.limit('ns', 'k', markedAt)).toBe(Infinity);
    expect(a.applied).toEqual([]);
  });

  test('nothing is written in a window with nothing to publish, and one record carries every key of a window', async () => {
    const a = instance(log, clock);
    await a.c.tick();
    await a.c.tick();
    expect(log.appends).toBe(0);
    a.c.recordKeys('ns', ['k1', 'k2']);
    a.c.recordKeys('ns', ['k1']);
    a.c.recordClear('other');
    await a.c.tick();
    expect(log.appends).toBe(1);
    const record = log.records.flat()[0]!;
    expect([...record.hashes].sort()).toEqual([keyHash('ns', 'k1'), keyHash('ns', 'k2')].sort());
    expect(record.clearedNamespaces).toEqual(['other']);
  });

  test('a cleared namespace makes every older copy in it unverified and is cleared locally', async () => {
    const a = instance(log, clock);
    const b = instance(log, clock);
    await b.c.tick();
    const markedAt = clock.now;
    a.c.recordClear('ns');
    a.c.recordClear(undefined);
    await a.c.tick();
    clock.now += 1;
    await b.c.tick();
    expect(b.c.limit('ns', 'any', markedAt)).toBe(-Infinity);
    expect(b.applied).toEqual([{ keys: new Map(), clears: ['ns', undefined] }]);
  });

  test('a restarted instance treats its older copies as unverified until it has read one cap of the log', async () => {
    const a = instance(log, clock);
    a.c.recordKeys('ns', ['k']);
    await a.c.tick();
    const oldCopy = clock.now - 5_000;
    clock.now += 1_000;
    const restarted = instance(log, clock);
    expect(restarted.c.status).toBe('starting');
    expect(restarted.c.limit('ns', 'untouched', oldCopy)).toBe(-Infinity);
    await restarted.c.tick();
    expect(restarted.c.status).toBe('ok');
    expect(restarted.c.limit('ns', 'untouched', oldCopy)).toBe(Infinity);
    // The record published before the restart was read back.
    expect(restarted.c.limit('ns', 'k', oldCopy)).toBe(-Infinity);
  });

  test('an unreadable log degrades to the TTL cap and says so in stats and health, then recovers', async () => {
    const a = instance(log, clock);
    const b = instance(log, clock);
    await b.c.tick();
    const markedAt = clock.now;
    log.down = true;
    clock.now += 200;
    await b.c.tick();
    expect(b.c.stats()).toMatchObject({ coherence: 'degraded', coherencePollFailures: 1 });
    expect(b.c.healthStep()).toMatchObject({ name: 'coherence', ok: false, detail: expect.stringContaining('coherence degraded') });
    expect(b.c.limit('ns', 'k', markedAt)).toBe(Infinity); // the cap alone decides

    log.down = false;
    a.c.recordKeys('ns', ['k']);
    await a.c.tick();
    clock.now += 5_000; // within the retention: caught up, not reset
    await b.c.tick();
    expect(b.c.stats()).toMatchObject({ coherence: 'ok', coherenceResets: 0 });
    expect(b.c.limit('ns', 'k', markedAt)).toBe(-Infinity);
    expect(b.drops()).toBe(0);
  });

  test('a publish that fails is retried with the next window and reported meanwhile', async () => {
    const a = instance(log, clock);
    a.c.recordKeys('ns', ['k']);
    log.appendDown = true;
    await a.c.tick();
    expect(a.c.status).toBe('degraded');
    expect(a.c.healthStep().detail).toContain('publishing invalidations fails');
    log.appendDown = false;
    clock.now += 200;
    await a.c.tick();
    expect(log.records.flat().map((r) => r.hashes)).toEqual([[keyHash('ns', 'k')]]);
    expect(a.c.status).toBe('ok');
  });

  test('after a partition longer than the retention every older copy is unverified and local copies are dropped', async () => {
    const b = instance(log, clock, { retentionMs: CAP + 2_000 });
    await b.c.tick();
    const markedAt = clock.now;
    log.down = true;
    clock.now += CAP + 5_000;
    await b.c.tick();
    expect(b.drops()).toBe(0); // still partitioned: the cap rules
    log.down = false;
    await b.c.tick();
    expect(b.drops()).toBe(1);
    expect(b.c.stats()).toMatchObject({ coherence: 'ok', coherenceResets: 1 });
    expect(b.c.limit('ns', 'k', markedAt)).toBe(-Infinity);
    expect(b.c.limit('ns', 'k', clock.now + 1)).toBe(Infinity);
  });

  test('a record this version cannot read makes every older copy unverified', async () => {
    const b = instance(log, clock);
    await b.c.tick();
    const markedAt = clock.now;
    log.records[0]!.push({ id: `${clock.now}#other#0`, at: clock.now, instanceId: 'other', hashes: [], clearedNamespaces: [], clearedAll: false, unreadable: 'format 2' });
    clock.now += 1;
    await b.c.tick();
    expect(b.c.limit('ns', 'k', markedAt)).toBe(-Infinity);
    expect(b.c.stats()).toMatchObject({ coherenceUnreadable: 1 });
  });

  test('a record that landed late (slow write, skewed clock) within the lookback is still applied, once', async () => {
    const b = instance(log, clock, { windowMs: 200 });
    await b.c.tick();
    const markedAt = clock.now;
    // Stamped 150 ms before the poll that had already passed it.
    log.records[1]!.push({ id: `${clock.now - 150}#late#0`, at: clock.now - 150, instanceId: 'late', hashes: [keyHash('ns', 'k')], clearedNamespaces: [], clearedAll: false });
    clock.now += 200;
    await b.c.tick();
    await b.c.tick();
    expect(b.c.limit('ns', 'k', markedAt)).toBe(-Infinity);
    expect(b.c.stats()).toMatchObject({ coherenceApplied: 1 });
  });

  test('a retention shorter than the cap plus the windows is refused', () => {
    expect(() => instance(log, clock, { retentionMs: CAP })).toThrow(/retentionMs/);
  });

  test('invalidations older than a cap are forgotten, and with none left no key is hashed', async () => {
    const a = instance(log, clock);
    const b = instance(log, clock);
    await b.c.tick();
    a.c.recordKeys('ns', ['k']);
    await a.c.tick();
    await b.c.tick();
    const markedAt = clock.now - 1;
    expect(b.c.limit('ns', 'k', markedAt)).toBe(-Infinity);
    clock.now += CAP + 2_000;
    await b.c.tick();
    // A copy marked before the invalidation is past its cap anyway; the record is gone.
    expect(b.c.limit('ns', 'k', markedAt)).toBe(Infinity);
  });
});
