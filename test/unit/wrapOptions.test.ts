import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager, type CacheManagerOptions } from '../../client/core/cacheManager';
import { LoaderTimeoutError } from '../../client/core/errors';
import type { HeldLease, StampedeLease } from '../../client/core/stampedeLease';
import { InvalidArgumentError } from '../../client/errors';
import type { EntryRef } from '../../client/types';
import { ManualClock } from '../contract/backendContract';

function setup(overrides: Partial<CacheManagerOptions> = {}) {
  const clock = new ManualClock();
  const backend = new MemoryBackend({ clock: clock.read });
  const cache = new CacheManager({ backend, clock: clock.read, ...overrides });
  return { clock, backend, cache };
}

/** A promise the test settles by hand, so a loader is exactly as slow as the test says. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A loader that counts its calls and returns what `next` holds (or throws it, for an Error). */
function loader<T>(first: T) {
  const state = { calls: 0, next: first as T | Error, gate: undefined as Promise<unknown> | undefined };
  const fn = async (): Promise<T> => {
    state.calls += 1;
    if (state.gate) await state.gate;
    if (state.next instanceof Error) throw state.next;
    return state.next;
  };
  return { state, fn };
}

/** An in-process stand-in for the DynamoDB lease, shared by several managers ("instances"). */
class SharedLease implements StampedeLease {
  private readonly held = new Set<string>();
  acquired = 0;
  refused = 0;
  acquire(ref: EntryRef): Promise<HeldLease> {
    const id = `${ref.namespace}/${ref.key}`;
    if (this.held.has(id)) {
      this.refused += 1;
      return Promise.resolve({ acquired: false, release: async () => {} });
    }
    this.held.add(id);
    this.acquired += 1;
    return Promise.resolve({ acquired: true, release: async () => void this.held.delete(id) });
  }
  async waitFor<T>(_ref: EntryRef, lookup: () => Promise<{ found: boolean; value: T | undefined }>) {
    const found = await lookup();
    return found.found ? found : undefined;
  }
}

describe('wrap: ttlMs computed from the value', () => {
  test('a ttlMs function sets each entry’s expiry from the value the loader returned', async () => {
    const { cache, clock } = setup();
    const ttlMs = (v: { ttl: number }) => v.ttl;
    await cache.wrap('short', async () => ({ ttl: 1_000 }), { ttlMs });
    await cache.wrap('long', async () => ({ ttl: 60_000 }), { ttlMs });
    expect((await cache.lookup('short')).expiresAt).toBe(clock.now + 1_000);
    expect((await cache.lookup('long')).expiresAt).toBe(clock.now + 60_000);
    clock.advance(1_000);
    expect(await cache.get('short')).toBeUndefined();
    expect(await cache.get('long')).toEqual({ ttl: 60_000 });
  });

  test('the ttlMs function and shouldCache get the loader’s value type, written inline', async () => {
    const { cache, clock } = setup();
    const got = await cache.wrap('typed', async () => ({ rows: 3, final: true }), {
      ttlMs: (report) => (report.final ? 60_000 : 1_000),
      shouldCache: (report) => report.rows > 0,
    });
    expect(got.rows).toBe(3);
    expect((await cache.lookup('typed')).expiresAt).toBe(clock.now + 60_000);
  });

  test('a ttlMs function returning null caches the value without expiry', async () => {
    const { cache } = setup();
    await cache.wrap('forever', async () => 'v', { ttlMs: () => null });
    expect((await cache.lookup('forever')).expiresAt).toBeNull();
  });

  test('a ttlMs function returning zero or a non-number makes wrap throw InvalidArgumentError', async () => {
    const { cache } = setup();
    await expect(cache.wrap('zero', async () => 'v', { ttlMs: () => 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(cache.wrap('nan', async () => 'v', { ttlMs: () => Number.NaN })).rejects.toThrow(/ttlMs\(value\) returned NaN/);
    expect(await cache.has('zero')).toBe(false);
  });
});

describe('wrap: shouldCache', () => {
  test('a value shouldCache refuses is returned but not cached, so the next wrap calls the loader again', async () => {
    const { cache } = setup();
    const { state, fn } = loader({ partial: true });
    const shouldCache = (v: { partial: boolean }) => !v.partial;
    expect(await cache.wrap('r', fn, { shouldCache })).toEqual({ partial: true });
    expect(await cache.has('r')).toBe(false);
    state.next = { partial: false };
    expect(await cache.wrap('r', fn, { shouldCache })).toEqual({ partial: false });
    expect(await cache.wrap('r', fn, { shouldCache })).toEqual({ partial: false });
    expect(state.calls).toBe(2);
  });
});

describe('wrap: refresh-ahead', () => {
  test('a hit within refreshAheadMs of expiry is served at once and refreshed in the background', async () => {
    const { cache, clock } = setup();
    const { state, fn } = loader('v1');
    const options = { ttlMs: 10_000, refreshAheadMs: 2_000 };
    await cache.wrap('k', fn, options);
    clock.advance(8_500);
    state.next = 'v2';
    const gate = deferred<void>();
    state.gate = gate.promise;
    // The refresh is still waiting on its loader, yet the hit is answered.
    expect(await cache.wrap('k', fn, options)).toBe('v1');
    expect(state.calls).toBe(2);
    gate.resolve();
    await cache.whenIdle();
    expect(await cache.get('k')).toBe('v2');
    expect((await cache.lookup('k')).expiresAt).toBe(clock.now + 10_000);
    expect(cache.stats().refreshes).toBe(1);
  });

  test('a hit further from expiry than refreshAheadMs does not refresh', async () => {
    const { cache, clock } = setup();
    const { state, fn } = loader('v1');
    await cache.wrap('k', fn, { ttlMs: 10_000, refreshAheadMs: 2_000 });
    clock.advance(7_999);
    await cache.wrap('k', fn, { ttlMs: 10_000, refreshAheadMs: 2_000 });
    await cache.whenIdle();
    expect(state.calls).toBe(1);
  });

  test('two concurrent hits near expiry start one refresh (one loader call)', async () => {
    const { cache, clock } = setup();
    const { state, fn } = loader('v1');
    const options = { ttlMs: 10_000, refreshAheadMs: 2_000 };
    await cache.wrap('k', fn, options);
    clock.advance(9_000);
    const gate = deferred<void>();
    state.gate = gate.promise;
    state.next = 'v2';
    expect(await Promise.all([cache.wrap('k', fn, options), cache.wrap('k', fn, options), cache.namespace('default').wrap('k', fn, options)])).toEqual(['v1', 'v1', 'v1']);
    gate.resolve();
    await cache.whenIdle();
    expect(state.calls).toBe(2);
  });

  test('with a lease, hits near expiry on two instances refresh once; without it each instance refreshes', async () => {
    for (const withLease of [true, false]) {
      const clock = new ManualClock();
      const backend = new MemoryBackend({ clock: clock.read });
      const lease = new SharedLease();
      const instance = () => new CacheManager({ backend, clock: clock.read, lease: withLease ? lease : undefined });
      const [a, b] = [instance(), instance()];
      const { state, fn } = loader('v1');
      const options = { ttlMs: 10_000, refreshAheadMs: 2_000 };
      await a.wrap('k', fn, options);
      clock.advance(9_000);
      const gate = deferred<void>();
      state.gate = gate.promise;
      state.next = 'v2';
      expect(await Promise.all([a.wrap('k', fn, options), b.wrap('k', fn, options)])).toEqual(['v1', 'v1']);
      gate.resolve();
      await Promise.all([a.whenIdle(), b.whenIdle()]);
      expect(state.calls).toBe(withLease ? 2 : 3);
      expect(await b.get('k')).toBe('v2');
    }
  });

  test('an instance that gets the lease after another refreshed does not refresh again', async () => {
    const clock = new ManualClock();
    const backend = new MemoryBackend({ clock: clock.read });
    const lease = new SharedLease();
    const a = new CacheManager({ backend, clock: clock.read, lease });
    // b's lease requests wait for the test, so a refreshes while b is still asking.
    const bGate = deferred<void>();
    const bLease: StampedeLease = {
      acquire: async (ref) => {
        await bGate.promise;
        return lease.acquire(ref);
      },
      waitFor: (ref, lookup) => lease.waitFor(ref, lookup),
    };
    const b = new CacheManager({ backend, clock: clock.read, lease: bLease });
    const { state, fn } = loader('v1');
    const options = { ttlMs: 10_000, refreshAheadMs: 2_000 };
    await a.wrap('k', fn, options);
    clock.advance(9_000);
    state.next = 'v2';
    expect(await b.wrap('k', fn, options)).toBe('v1');
    expect(await a.wrap('k', fn, options)).toBe('v1');
    await a.whenIdle();
    expect(state.calls).toBe(2);
    bGate.resolve();
    await b.whenIdle();
    expect(state.calls).toBe(2);
    expect(lease.acquired).toBe(3); // the first load, a's refresh, b's late check
    expect(b.stats().refreshes).toBe(0);
  });

  test('a failed refresh keeps serving the cached value, is counted, and is retried after a second, not on every hit', async () => {
    const { cache, clock } = setup();
    const { state, fn } = loader('v1');
    const options = { ttlMs: 10_000, refreshAheadMs: 2_000 };
    await cache.wrap('k', fn, options);
    clock.advance(8_500);
    state.next = new Error('origin down');
    expect(await cache.wrap('k', fn, options)).toBe('v1');
    await cache.whenIdle();
    expect(await cache.get('k')).toBe('v1');
    expect(cache.stats().errors).toBe(1);
    // Hits in the next second start no refresh of a failing loader; after it, one more try.
    for (let i = 0; i < 5; i++) expect(await cache.wrap('k', fn, options)).toBe('v1');
    await cache.whenIdle();
    expect(state.calls).toBe(2);
    clock.advance(1_000);
    state.next = 'v2';
    await cache.wrap('k', fn, options);
    await cache.whenIdle();
    expect(state.calls).toBe(3);
    expect(cache.stats().refreshes).toBe(2);
    expect(await cache.get('k')).toBe('v2');
  });
});

describe('wrap: grace and timeouts', () => {
  afterEach(() => jest.useRealTimers());

  test('past expiry but within graceMs, a failing loader serves the stale value', async () => {
    const { cache, clock } = setup();
    const { state, fn } = loader('v1');
    const options = { ttlMs: 1_000, graceMs: 5_000 };
    await cache.wrap('k', fn, options);
    clock.advance(3_000);
    state.next = new Error('origin down');
    expect(await cache.wrap('k', fn, options)).toBe('v1');
    expect(cache.stats().staleServed).toBe(1);
    expect(state.calls).toBe(2);
  });

  test('plain get treats an entry past its expiry as a miss, though it is kept for grace', async () => {
    const { cache, clock, backend } = setup();
    await cache.wrap('k', async () => 'v1', { ttlMs: 1_000, graceMs: 5_000 });
    expect((await cache.lookup('k')).expiresAt).toBe(clock.now + 1_000);
    expect((await backend.get('default', 'k'))!.expiresAt).toBe(clock.now + 6_000);
    clock.advance(1_000);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.has('k')).toBe(false);
    expect(await cache.getMany(['k'])).toEqual([undefined]);
    expect(await backend.get('default', 'k')).toBeDefined();
  });

  test('past graceMs the loader’s failure is thrown', async () => {
    const { cache, clock } = setup();
    const { state, fn } = loader('v1');
    await cache.wrap('k', fn, { ttlMs: 1_000, graceMs: 5_000 });
    clock.advance(6_000);
    state.next = new Error('origin down');
    await expect(cache.wrap('k', fn, { ttlMs: 1_000, graceMs: 5_000 })).rejects.toThrow('origin down');
  });

  test('a call with a shorter graceMs than the writer’s serves stale only within its own grace', async () => {
    const { cache, clock } = setup();
    const { state, fn } = loader('v1');
    await cache.wrap('k', fn, { ttlMs: 1_000, graceMs: 10_000 });
    clock.advance(4_000);
    state.next = new Error('origin down');
    await expect(cache.wrap('k', fn, { graceMs: 2_000 })).rejects.toThrow('origin down');
    expect(await cache.wrap('k', fn, { graceMs: 5_000 })).toBe('v1');
  });

  test('a loader slower than softTimeoutMs serves the stale value, and its result is cached when it lands', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { cache, clock } = setup();
    const { state, fn } = loader('v1');
    const options = { ttlMs: 1_000, graceMs: 5_000, softTimeoutMs: 200 };
    await cache.wrap('k', fn, options);
    clock.advance(2_000);
    const gate = deferred<void>();
    state.gate = gate.promise;
    state.next = 'v2';
    const answer = cache.wrap('k', fn, options);
    await jest.advanceTimersByTimeAsync(199);
    let settled = false;
    void answer.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(await answer).toBe('v1');
    expect(cache.stats().staleServed).toBe(1);
    gate.resolve();
    await cache.whenIdle();
    expect(await cache.get('k')).toBe('v2');
  });

  test('a loader that answers within softTimeoutMs is served, not the stale value', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { cache, clock } = setup();
    await cache.wrap('k', async () => 'v1', { ttlMs: 1_000, graceMs: 5_000 });
    clock.advance(2_000);
    expect(await cache.wrap('k', async () => 'v2', { ttlMs: 1_000, graceMs: 5_000, softTimeoutMs: 200 })).toBe('v2');
    expect(cache.stats().staleServed).toBe(0);
  });

  test('with nothing stale, a loader slower than hardTimeoutMs throws LoaderTimeoutError, and still fills the cache', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { cache } = setup();
    const { state, fn } = loader('late');
    const gate = deferred<void>();
    state.gate = gate.promise;
    const answer = cache.wrap('k', fn, { hardTimeoutMs: 500 });
    const failed = expect(answer).rejects.toThrow(LoaderTimeoutError);
    await jest.advanceTimersByTimeAsync(500);
    await failed;
    gate.resolve();
    await cache.whenIdle();
    expect(await cache.get('k')).toBe('late');
  });

  test('with a stale value and no softTimeoutMs, hardTimeoutMs serves the stale value', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { cache, clock } = setup();
    const { state, fn } = loader('v1');
    await cache.wrap('k', fn, { ttlMs: 1_000, graceMs: 5_000 });
    clock.advance(1_500);
    state.gate = new Promise(() => {});
    const answer = cache.wrap('k', fn, { ttlMs: 1_000, graceMs: 5_000, hardTimeoutMs: 300 });
    await jest.advanceTimersByTimeAsync(300);
    expect(await answer).toBe('v1');
  });

  test('softTimeoutMs without graceMs, or not shorter than hardTimeoutMs, is refused', async () => {
    const { cache } = setup();
    await expect(cache.wrap('k', async () => 1, { softTimeoutMs: 100 })).rejects.toThrow(/softTimeoutMs needs graceMs/);
    await expect(cache.wrap('k', async () => 1, { graceMs: 1_000, softTimeoutMs: 500, hardTimeoutMs: 500 })).rejects.toThrow(/must be shorter than hardTimeoutMs/);
    await expect(cache.wrap('k', async () => 1, { graceMs: -1 })).rejects.toThrow(/graceMs must be a non-negative number/);
  });
});

describe('wrap: negative caching', () => {
  test('with negativeTtlMs, a null result is cached for that long: the loader is not called again within it', async () => {
    const { cache, clock } = setup();
    const { state, fn } = loader<string | null>(null);
    const options = { ttlMs: 60_000, negativeTtlMs: 1_000 };
    expect(await cache.wrap('user:404', fn, options)).toBeNull();
    clock.advance(999);
    expect(await cache.wrap('user:404', fn, options)).toBeNull();
    expect(state.calls).toBe(1);
    clock.advance(1);
    state.next = 'found now';
    expect(await cache.wrap('user:404', fn, options)).toBe('found now');
    expect(state.calls).toBe(2);
    expect((await cache.lookup('user:404')).expiresAt).toBe(clock.now + 60_000);
  });

  test('an undefined result is cached as an absence too, and wrap returns undefined for it', async () => {
    const { cache } = setup();
    const { state, fn } = loader<string | undefined>(undefined);
    expect(await cache.wrap('k', fn, { negativeTtlMs: 1_000 })).toBeUndefined();
    expect(await cache.wrap('k', fn, { negativeTtlMs: 1_000 })).toBeUndefined();
    expect(state.calls).toBe(1);
  });

  test('get, lookup and has read a negatively cached key as a miss', async () => {
    const { cache } = setup();
    await cache.wrap('k', async () => null, { negativeTtlMs: 1_000 });
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.lookup('k')).toMatchObject({ found: false });
    expect(await cache.has('k')).toBe(false);
  });

  test('without negativeTtlMs a null result is cached like any value', async () => {
    const { cache, clock } = setup();
    await cache.wrap('k', async () => null, { ttlMs: 5_000 });
    expect(await cache.lookup('k')).toEqual({ found: true, value: null, expiresAt: clock.now + 5_000 });
  });
});

describe('wrap: option checks', () => {
  test('an unknown option names the allowed ones', async () => {
    const { cache } = setup();
    await expect(cache.wrap('k', async () => 1, { graceMS: 1 } as never)).rejects.toThrow(/unknown option "graceMS"; allowed: .*graceMs.*negativeTtlMs.*tags/);
  });

  test('a non-function shouldCache is refused before the loader runs', async () => {
    const { cache } = setup();
    const { state, fn } = loader(1);
    await expect(cache.wrap('k', fn, { shouldCache: true } as never)).rejects.toThrow(InvalidArgumentError);
    expect(state.calls).toBe(0);
  });
});
