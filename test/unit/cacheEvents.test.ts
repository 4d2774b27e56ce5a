import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import { createCache } from '../../client/createCache';
import { CacheEventEmitter, type CacheEvent, type CacheEventMap, type CacheEventName } from '../../client/events/cacheEvents';
import { KeyManager } from '../../client/keys/keyManager';
import { KmsKeyProvider } from '../../client/keys/kmsKeyProvider';
import { KeyringKeyProvider } from '../../client/keys/keyringKeyProvider';
import { ManualClock } from '../contract/backendContract';
import { CollectingLogger, FakeKeyring, MemoryManifestStore, awsError, fakeKms } from './keys/fakes';
import { SharedMemoryBackend } from '../support/sharedMemoryBackend';

/** Records every event of the given names, in order. */
function record(target: { on<K extends CacheEventName>(name: K, fn: (e: CacheEventMap[K]) => unknown): unknown }, names: readonly CacheEventName[]): CacheEvent[] {
  const seen: CacheEvent[] = [];
  for (const name of names) target.on(name, (e) => void seen.push(e));
  return seen;
}

describe('cache events on a single backend', () => {
  let clock: ManualClock;
  let cache: CacheManager;
  beforeEach(() => {
    clock = new ManualClock(1_700_000_000_000);
    cache = new CacheManager({ backend: new MemoryBackend({ clock: clock.read }), clock: clock.read });
  });

  it('a read of a live entry emits one hit naming the backend, a read of an absent key one miss', async () => {
    const seen = record(cache, ['hit', 'miss']);
    await cache.set('a', { n: 1 });
    expect(await cache.get('a')).toEqual({ n: 1 });
    expect(await cache.get('a')).toEqual({ n: 1 }); // the verified-entry fast path reports too
    expect(await cache.get('b')).toBeUndefined();
    expect(seen).toEqual([
      { type: 'hit', namespace: 'default', key: 'a', tier: 'memory', stale: false },
      { type: 'hit', namespace: 'default', key: 'a', tier: 'memory', stale: false },
      { type: 'miss', namespace: 'default', key: 'b' },
    ]);
  });

  it('getMany reports one hit or miss per key, in the order asked', async () => {
    await cache.set('a', 1);
    const seen = record(cache, ['hit', 'miss']);
    expect(await cache.getMany(['b', 'a'])).toEqual([undefined, 1]);
    expect(seen).toEqual([
      { type: 'miss', namespace: 'default', key: 'b' },
      { type: 'hit', namespace: 'default', key: 'a', tier: 'memory', stale: false },
    ]);
  });

  it('wrap reports its read as a miss, then the set, then a hit on the next call', async () => {
    const seen = record(cache, ['hit', 'miss', 'set']);
    expect(await cache.wrap('w', () => 'computed')).toBe('computed');
    expect(await cache.wrap('w', () => 'again')).toBe('computed');
    expect(seen.map((e) => e.type)).toEqual(['miss', 'set', 'hit']);
  });

  it('set, setMany, delete, deleteMany and clear each report what they did', async () => {
    const seen = record(cache, ['set', 'delete', 'clear']);
    await cache.set('a', 'x', { ttlMs: 1_000 });
    await cache.setMany([{ key: 'b', value: 1, expiresAt: null }, { key: 'c', value: 2 }]);
    await cache.delete('a');
    await cache.delete('a');
    await cache.deleteMany(['b', 'c', 'nope']);
    await cache.clear();
    expect(seen).toEqual([
      { type: 'set', namespace: 'default', key: 'a', bytes: expect.any(Number), expiresAt: clock.now + 1_000 },
      { type: 'set', namespace: 'default', key: 'b', bytes: expect.any(Number), expiresAt: null },
      { type: 'set', namespace: 'default', key: 'c', bytes: expect.any(Number), expiresAt: clock.now + 3_600_000 },
      { type: 'delete', namespace: 'default', keys: ['a'], removed: 1 },
      { type: 'delete', namespace: 'default', keys: ['a'], removed: 0 },
      { type: 'delete', namespace: 'default', keys: ['b', 'c', 'nope'], removed: 2 },
      { type: 'clear', namespace: 'default' },
    ]);
    expect((seen[0] as CacheEventMap['set']).bytes).toBeGreaterThan(0);
  });

  it('an entry read after its expiry emits expire (with the tier) and then a miss', async () => {
    await cache.set('a', 'x', { ttlMs: 1_000 });
    const seen = record(cache, ['expire', 'miss', 'hit']);
    clock.advance(1_000);
    expect(await cache.get('a')).toBeUndefined();
    expect(seen).toEqual([
      { type: 'expire', namespace: 'default', key: 'a', tier: 'memory' },
      { type: 'miss', namespace: 'default', key: 'a' },
    ]);
    expect(cache.stats().misses).toBe(1);
  });

  it('a tampered entry emits a hit, then decryptFailure with the error code, and reads as a miss', async () => {
    await cache.set('a', 'x');
    const stored = (await cache.backend.get('default', 'a'))!;
    // Stored back as a new entry object, as any other writer's would be: the manager's own
    // just-written entry object is served from its verified plaintext within the reuse window.
    const value = Uint8Array.from(stored.value);
    value[value.length - 1]! ^= 0xff;
    await cache.backend.set({ ...stored, value });
    const seen = record(cache, ['hit', 'decryptFailure', 'miss']);
    expect(await cache.get('a')).toBeUndefined();
    expect(seen).toEqual([
      { type: 'hit', namespace: 'default', key: 'a', tier: 'memory', stale: false },
      { type: 'decryptFailure', namespace: 'default', key: 'a', code: expect.stringMatching(/^[A-Z_]+$/) },
    ]);
    expect(cache.stats().decryptFailures).toBe(1);
  });

  it('an entry sealed under a key this client does not hold emits keyUnavailable with the key id', async () => {
    const backend = new MemoryBackend();
    const writer = new CacheManager({ backend, encryption: new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]) }) });
    await writer.set('a', 'secret');
    const reader = new CacheManager({ backend, encryption: new AeadEncryption({ keys: new StaticKeySource([{ id: 'k2', material: randomBytes(32) }]) }) });
    const seen = record(reader, ['keyUnavailable']);
    expect(await reader.get('a')).toBeUndefined();
    expect(seen).toEqual([{ type: 'keyUnavailable', namespace: 'default', key: 'a', keyId: 'k1' }]);
  });

  it('storage calls are timed per operation only while someone listens to operation', async () => {
    const seen = record(cache, ['operation']);
    await cache.set('a', 1);
    await cache.get('a');
    await cache.getMany(['a', 'b']);
    await cache.delete('a');
    await cache.clear();
    expect(seen.map((e) => e.type === 'operation' && [e.tier, e.operation, e.ok])).toEqual([
      ['memory', 'set', true],
      ['memory', 'get', true],
      ['memory', 'get', true],
      ['memory', 'delete', true],
      ['memory', 'clear', true],
    ]);
    for (const e of seen) expect((e as CacheEventMap['operation']).durationMs).toBeGreaterThanOrEqual(0);
  });

  it('a backend failure on a read emits error with its code and a miss; the caller gets undefined', async () => {
    jest.spyOn(cache.backend, 'get').mockRejectedValueOnce(Object.assign(new Error('disk on fire'), { code: 'EIO' }));
    const seen = record(cache, ['error', 'miss']);
    expect(await cache.get('a')).toBeUndefined();
    expect(seen).toEqual([
      { type: 'error', operation: 'get', tier: undefined, code: 'EIO', message: expect.stringContaining('disk on fire') },
      { type: 'miss', namespace: 'default', key: 'a' },
    ]);
  });

  it('once listens to one event, off removes a listener, listenerCount counts them', async () => {
    const once: string[] = [];
    const always: string[] = [];
    const onHit = (e: CacheEventMap['hit']) => void always.push(e.key);
    cache.once('hit', (e) => void once.push(e.key)).on('hit', onHit);
    expect(cache.listenerCount('hit')).toBe(2);
    await cache.set('a', 1);
    await cache.get('a');
    await cache.get('a');
    expect(once).toEqual(['a']);
    expect(always).toEqual(['a', 'a']);
    cache.off('hit', onHit);
    expect(cache.listenerCount('hit')).toBe(0);
    await cache.get('a');
    expect(always).toEqual(['a', 'a']);
  });

  it('namespace views share the listeners of the cache they come from', async () => {
    const seen = record(cache, ['set']);
    await cache.namespace('other').set('a', 1);
    expect(seen).toEqual([{ type: 'set', namespace: 'other', key: 'a', bytes: expect.any(Number), expiresAt: expect.any(Number) }]);
  });

  it('a listener that throws or rejects never breaks the operation, and is logged at warn once per event name', async () => {
    const logger = new CollectingLogger();
    const c = new CacheManager({ backend: new MemoryBackend(), logger });
    const after: string[] = [];
    c.on('hit', () => {
      throw new Error('listener bug');
    });
    c.on('hit', (e) => void after.push(e.key));
    c.on('set', async () => {
      throw new Error('async listener bug');
    });
    await c.set('a', 1);
    expect(await c.get('a')).toBe(1);
    expect(await c.get('a')).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(after).toEqual(['a', 'a']);
    const warned = logger.at('warn').filter((l) => /event listener threw/.test(l.msg ?? ''));
    expect(warned.map((l) => l.obj)).toEqual([
      { event: 'set', error: 'Error: async listener bug' },
      { event: 'hit', error: 'Error: listener bug' },
    ]);
    expect(logger.at('debug').filter((l) => /event listener threw/.test(l.msg ?? ''))).toHaveLength(1);
  });

  it('a listener removed by another during an emit still gets that event and none after it', () => {
    const emitter = new CacheEventEmitter(new CollectingLogger());
    const calls: string[] = [];
    const second = () => void calls.push('second');
    emitter.on('miss', () => {
      calls.push('first');
      emitter.off('miss', second);
    });
    emitter.on('miss', second);
    emitter.emit('miss', { type: 'miss', namespace: 'n', key: 'k' });
    emitter.emit('miss', { type: 'miss', namespace: 'n', key: 'k' });
    // Listener arrays are replaced, not mutated: the first emit still ran the second listener.
    expect(calls).toEqual(['first', 'second', 'first']);
    expect(emitter.wants.miss).toBe(true);
  });

  it('refuses an unknown event name and a listener that is not a function', () => {
    expect(() => cache.on('hits' as CacheEventName, () => undefined)).toThrow(/Unknown cache event "hits"/);
    expect(() => cache.on('hit', 'log' as unknown as () => void)).toThrow(TypeError);
  });

  it('payloads are typed per event', () => {
    cache.on('hit', (e) => e.tier.toUpperCase());
    cache.on('keyProviderCall', (e) => e.durationMs.toFixed());
    // @ts-expect-error a miss names no tier
    cache.on('miss', (e) => e.tier);
    const describe = (e: CacheEvent): string => (e.type === 'breakerOpen' ? e.tier : e.type);
    expect(describe({ type: 'breakerOpen', tier: 'dynamodb' })).toBe('dynamodb');
  });
});

describe('cache events through a hybrid backend', () => {
  const CAP = 60_000;
  let clock: ManualClock;
  let l0: MemoryBackend;
  let l1: SharedMemoryBackend;
  let cache: CacheManager;
  beforeEach(() => {
    clock = new ManualClock(1_700_000_000_000);
    l0 = new MemoryBackend({ clock: clock.read });
    l1 = new SharedMemoryBackend({ clock: clock.read });
    const backend = new HybridBackend({
      clock: clock.read,
      localTtlCapMs: CAP,
      breakerFailureThreshold: 2,
      breakerResetMs: 10_000,
      durableReplays: false,
      maxPendingReplays: 2,
      tiers: [
        { name: 'memory', backend: l0 },
        { name: 'shared', backend: l1 },
      ],
    });
    cache = new CacheManager({ backend, clock: clock.read });
  });

  it('each read emits exactly one hit naming the tier that answered, or one miss', async () => {
    const seen = record(cache, ['hit', 'miss']);
    await cache.set('a', 1);
    await cache.get('a');
    await l0.clear();
    await cache.get('a'); // from the shared tier, promoted
    await cache.get('a'); // from memory again
    await cache.get('nope');
    expect(seen.map((e) => (e.type === 'hit' ? `hit:${e.tier}` : e.type))).toEqual(['hit:memory', 'hit:shared', 'hit:memory', 'miss']);
  });

  it('a local copy past its cap served while the shared tier is down is a stale hit from the local tier', async () => {
    await cache.set('a', 1);
    l1.down = true;
    clock.advance(CAP + 1);
    const seen = record(cache, ['hit', 'error']);
    expect(await cache.get('a')).toBe(1);
    expect(seen).toEqual([
      { type: 'error', operation: 'get', tier: 'shared', code: 'BACKEND_ERROR', message: expect.stringContaining('ECONNREFUSED') },
      { type: 'hit', namespace: 'default', key: 'a', tier: 'memory', stale: true },
    ]);
  });

  it('an outage emits degraded writes, queued replays, breaker open, half-open and close, and the replay', async () => {
    const seen = record(cache, ['degradedWrite', 'replayQueued', 'replayDropped', 'breakerOpen', 'breakerHalfOpen', 'breakerClose', 'replayed']);
    l1.down = true;
    await cache.set('a', 1);
    await cache.set('b', 2);
    await cache.set('c', 3); // the breaker is open by now: skipped, still queued; the queue holds 2
    expect(seen.filter((e) => e.type === 'degradedWrite')).toHaveLength(3);
    expect(seen.filter((e) => e.type === 'replayQueued').map((e) => (e as CacheEventMap['replayQueued']).kind)).toEqual(['set', 'set', 'set']);
    expect(seen.filter((e) => e.type === 'replayDropped')).toEqual([{ type: 'replayDropped', count: 1, total: 1 }]);
    expect(seen.filter((e) => e.type === 'breakerOpen')).toEqual([{ type: 'breakerOpen', tier: 'shared' }]);
    l1.down = false;
    clock.advance(10_000);
    await cache.set('d', 4); // the probe: it succeeds, closes the breaker and starts the replay
    await (cache.backend as HybridBackend).flushPending();
    expect(seen.filter((e) => e.type.startsWith('breaker')).map((e) => e.type)).toEqual(['breakerOpen', 'breakerHalfOpen', 'breakerClose']);
    expect(seen.filter((e) => e.type === 'replayed')).toEqual([{ type: 'replayed', count: 2, pending: 0 }]);
    const degraded = seen.find((e) => e.type === 'degradedWrite') as CacheEventMap['degradedWrite'];
    expect(degraded).toEqual({ type: 'degradedWrite', namespace: 'default', entries: 1, degraded: [{ tier: 'shared', reason: expect.stringContaining('ECONNREFUSED') }] });
  });

  it('tier calls are timed per tier and operation, and an expired copy is reported by the tier holding it', async () => {
    const ops = record(cache, ['operation', 'expire']);
    await cache.set('a', 1, { ttlMs: 1_000 });
    await cache.get('a');
    clock.advance(1_000);
    await cache.get('a');
    const calls = ops.filter((e) => e.type === 'operation').map((e) => `${(e as CacheEventMap['operation']).tier}:${(e as CacheEventMap['operation']).operation}`);
    expect(calls).toEqual(['memory:set', 'shared:set', 'memory:get', 'memory:get', 'shared:get']);
    expect(ops.filter((e) => e.type === 'expire')).toEqual([
      { type: 'expire', namespace: 'default', key: 'a', tier: 'memory' },
      { type: 'expire', namespace: 'default', key: 'a', tier: 'shared' },
    ]);
  });

  it('a backend given to two caches reports to both', async () => {
    const other = new CacheManager({ backend: cache.backend, clock: clock.read });
    const first = record(cache, ['hit']);
    const second = record(other, ['hit']);
    await cache.set('a', 1);
    await other.get('a');
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
  });
});

describe('key events', () => {
  function keyManager() {
    const kms = fakeKms();
    const keyring = new FakeKeyring();
    const providers = [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client }), new KeyringKeyProvider({ entryFactory: keyring.factory })];
    const open = () => KeyManager.open({ providers, store: new MemoryManifestStore(), app: 'shop', environment: 'dev', logger: new CollectingLogger() });
    return { kms, open };
  }

  it('a rotation emits keyRotation, and every provider call is reported with its outcome and duration', async () => {
    const { open } = keyManager();
    const keys = await open();
    const events = new CacheEventEmitter(new CollectingLogger());
    keys.attachEvents(events);
    const seen = record(events, ['keyRotation', 'keyProviderCall']);
    await keys.activeKey(); // creates k1: KMS generate, keyring wrap
    await keys.activeKey(); // cached: no call
    await keys.rotate();
    expect(seen.map((e) => (e.type === 'keyProviderCall' ? `${e.provider}:${e.operation}:${e.ok}` : `${e.type}:${(e as CacheEventMap['keyRotation']).from}->${(e as CacheEventMap['keyRotation']).to}`))).toEqual([
      'kms:generate:true',
      'keyring:wrap:true',
      'kms:generate:true',
      'keyring:wrap:true',
      'keyRotation:k1->k2',
    ]);
    await keys.close();
  });

  it('a KMS outage emits the failed call with its failure class and one fallback', async () => {
    const { kms, open } = keyManager();
    kms.failWith(awsError('ThrottlingException'));
    const keys = await open();
    const events = new CacheEventEmitter(new CollectingLogger());
    keys.attachEvents(events);
    const seen = record(events, ['fallback', 'keyProviderCall']);
    await keys.activeKey();
    await keys.rotate();
    expect(seen.slice(0, 3)).toEqual([
      { type: 'keyProviderCall', provider: 'kms', operation: 'generate', ok: false, durationMs: expect.any(Number), failure: 'throttled' },
      { type: 'fallback', provider: 'kms', failure: 'throttled', fallbackTo: 'keyring' },
      { type: 'keyProviderCall', provider: 'keyring', operation: 'generate', ok: true, durationMs: expect.any(Number), failure: undefined },
    ]);
    expect(seen.filter((e) => e.type === 'fallback')).toHaveLength(1);
    await keys.close();
  });

  it('createCache reports the key manager of the cache on the cache itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-events-'));
    const cache = await createCache({
      cwd: dir,
      env: { HOME: dir, XDG_CACHE_HOME: join(dir, 'xdg') },
      backend: 'memory',
      file: { dir: join(dir, 'cache') },
      keys: { providers: ['env'] },
      audit: { enabled: false },
      logging: { level: 'silent' },
      keyProviderDeps: { env: { CACHEVAULT_KEY: randomBytes(32).toString('base64') } },
    });
    try {
      const seen = record(cache, ['keyRotation', 'keyProviderCall']);
      await cache.keyManager!.rotate();
      expect(seen.map((e) => e.type)).toEqual(['keyProviderCall', 'keyRotation']);
      expect(seen[1]).toEqual({ type: 'keyRotation', from: 'k1', to: 'k2', reason: 'rotate' });
    } finally {
      await cache.close();
    }
  });
});
