import { EnvelopeFormatError, ForeignManifestError, IntegrityError, InvalidArgumentError, KeyUnavailableError } from '../errors';
import type { CacheBackend } from '../backends/cacheBackend';
import { describeError } from '../describeError';
import type { EncryptionProvider } from '../crypto/encryptionProvider';
import { checkWellFormed } from '../crypto/envelope';
import { CacheEventEmitter, NO_EVENTS, errorCode, isCacheEventSource, type CacheEventListener, type CacheEventName, type CacheEventSink } from '../events/cacheEvents';
import { silentLogger } from '../logger';
import type { BackendStats, Clock, EntryIdentity, HealthReport, Logger, StoredEntry, TierFailure, WriteResult } from '../types';
import { frameEntry, unframeEntry, type EntryMeta } from './entryMeta';
import { LoaderTimeoutError } from './errors';
import { msgpackSerializer, type Serializer } from './serializer';
import { SingleFlight } from './singleFlight';
import { TAG_NAMESPACE, TagVersions } from './tagVersions';
import type { ValueTransform } from './valueTransform';
import type { StampedeLease } from './stampedeLease';
import { awaitLoad, refreshDue, ttlFor, withinGrace, WRAP_OPTIONS, wrapPolicy, type StaleReason, type WrapOptions, type WrapPolicy } from './wrapPolicy';

export type { WrapOptions } from './wrapPolicy';

/** Expiry for one write: a relative TTL, an absolute time, or the manager's default. */
export type ExpiryOptions =
  | { readonly ttlMs: number | null; readonly expiresAt?: never }
  | { readonly expiresAt: number | null; readonly ttlMs?: never }
  | { readonly ttlMs?: undefined; readonly expiresAt?: undefined };

/** Options of `set`: the expiry, and tags for `invalidateTags`. */
export type SetOptions = ExpiryOptions & {
  /** Tags to record with the value; `invalidateTags` of any of them makes the entry a miss. @default none */
  readonly tags?: readonly string[];
};

export interface CacheManagerOptions {
  /** Where entries are stored. */
  readonly backend: CacheBackend;
  /** Namespace of this manager; `namespace(name)` derives others. @default 'default' */
  readonly namespace?: string;
  /** TTL for writes that name none, in milliseconds; `null` never expires. @default 3600000 (1 hour) */
  readonly defaultTtlMs?: number | null;
  /** Seals values before they reach the backend. @default new NoEncryption() (CRC-32 framing) */
  readonly encryption?: EncryptionProvider;
  /** Byte transforms between serializer and encryption. @default [compressionTransform()] */
  readonly transforms?: readonly ValueTransform[];
  /** @default msgpackr with structured-clone types */
  readonly serializer?: Serializer;
  /** Cross-instance stampede protection for `wrap`. @default none (in-process single-flight only) */
  readonly lease?: StampedeLease;
  /**
   * Hand every caller the same decoded object when a tier returns the same stored entry (memory
   * hits), instead of a fresh copy per `get`: several times faster for object values. The
   * shared object is deep-frozen, so a mutation throws a TypeError in strict-mode code (and is
   * ignored elsewhere) instead of reaching other callers: plain objects and arrays are frozen,
   * and the mutating methods of a Date, Map or Set throw. Values holding bytes (Buffer, typed
   * arrays, ArrayBuffer), which cannot be frozen, are still copied per `get`. Primitives
   * (strings, numbers...) are always shared: they are immutable.
   * @default false (each `get` returns its own, mutable copy)
   */
  readonly sharedValues?: boolean;
  /** Rethrow backend failures on reads instead of treating them as misses. @default false */
  readonly strict?: boolean;
  /** @default Date.now */
  readonly clock?: Clock;
  /** @default a silent logger */
  readonly logger?: Logger;
  /**
   * How long a tag version read from storage is trusted before it is read again: an
   * `invalidateTags` on another instance takes effect here within this window (on this instance,
   * at once). Shorter means fresher tags and more reads of the tag items. @default 1000
   */
  readonly tagVersionCacheMs?: number;
  /**
   * Lifetime of a tag's version item; an entry tagged with it that outlives the item reads as a
   * miss after it (items are written at least as long-lived as the entry that first used them).
   * @default 2592000000 (30 days)
   */
  readonly tagVersionTtlMs?: number;
  /**
   * Where tag versions are kept. @default the backend's shared tier (a hybrid's last tier: the
   * DynamoDB table, or the file tier), else the backend itself
   */
  readonly tagBackend?: CacheBackend;
}

/** Manager-level counters; the backend's own counters are under `backend`. */
export interface CacheStats {
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  /** Backend operations that failed (a read failure is also a miss). */
  errors: number;
  /** Entries that failed authentication or their checksum: tampered, corrupt or moved. */
  decryptFailures: number;
  /** Entries sealed under a key version this client does not have (not counting `foreignManifest`). */
  keyUnavailable: number;
  /**
   * Entries sealed by another deployment whose key manifest shares this store (their key id
   * names another manifest, `k1:<manifest id>`): misses by design, not integrity failures.
   */
  foreignManifest: number;
  /** Writes that reached only some tiers (a shared tier down). */
  degradedWrites: number;
  /** Reads that found an entry invalidated by `invalidateTags` (counted as misses too). */
  tagInvalidated: number;
  /** `wrap` calls that served a value past its expiry (within `graceMs`) because the loader failed or was slow. */
  staleServed: number;
  /** Background loads started by `refreshAheadMs`. */
  refreshes: number;
  bytesRead: number;
  bytesWritten: number;
  backend: BackendStats;
}

export interface Lookup<T> {
  readonly found: boolean;
  readonly value: T | undefined;
  readonly expiresAt: number | null;
}

type Counters = Omit<CacheStats, 'backend'>;

/** State shared by a manager and the namespace views derived from it. */
interface SharedState {
  readonly counters: Counters;
  readonly flights: SingleFlight<unknown>;
  readonly loggedReasons: Set<string>;
  /** Entries already verified and decoded, by object identity (see VERIFIED_REUSE_MS). */
  readonly verified: VerifiedEntries;
  /** Envelopes being opened, by entry: concurrent reads of one entry wait for one open, not one each. */
  readonly opening: WeakMap<StoredEntry, Promise<unknown>>;
  readonly events: CacheEventEmitter;
  /** Tag versions, created on first use of tags, and the manager of their items. */
  tags: TagVersions | undefined;
  tagItems?: CacheManager;
  /** Loads running after their callers were answered (refresh-ahead, loads past a soft timeout). */
  readonly background: Set<Promise<unknown>>;
  /** Refreshes left to another instance (lease held elsewhere), by flight id: until when not to ask again. */
  readonly refreshSkips: Map<string, number>;
}

/** Whether an entry's recorded tag versions are all current. */
type TagCheck = 'current' | 'invalidated' | 'unreadable';

/** What `decode` found: a Lookup, plus the entry's metadata when it carries any. */
type Opened<T> = Lookup<T> & { readonly meta?: EntryMeta };

/** What `wrap` found: a value to serve, a stale one usable within grace, or nothing. */
type WrapRead<T> =
  | { readonly kind: 'hit'; readonly value: T; readonly freshUntil: number | null }
  | { readonly kind: 'stale'; readonly value: T }
  | { readonly kind: 'miss' };

const MISS: Lookup<never> = Object.freeze({ found: false, value: undefined, expiresAt: null });

/**
 * What a successful decode (or this manager's own write) leaves behind for the next read of the
 * same entry object. Objects are kept as verified plaintext bytes and deserialized again on every
 * hit, so each caller still gets its own copy; immutable primitives (strings, numbers...) are
 * kept as they are, and with `sharedValues` one deep-frozen object is.
 */
interface VerifiedEntry {
  readonly at: number;
  readonly serializer: Serializer;
  readonly plaintext: Uint8Array | undefined;
  readonly primitive: unknown;
  /** The decoded object itself, deep-frozen, kept only with `sharedValues`. */
  readonly shared?: { readonly value: unknown };
  /** With `sharedValues`: the value cannot be frozen (it holds bytes), so it is copied per hit. */
  readonly unshareable?: boolean;
  readonly meta: EntryMeta | undefined;
}

/**
 * How long a verified entry object may be served without opening its envelope again. Tiers that
 * hand back the same stored object on every hit (the memory tier) then skip the checksum or
 * decryption on the hot path, while a change in key state (a key made unavailable) still takes
 * effect within this window.
 */
const VERIFIED_REUSE_MS = 1_000;

/**
 * Verified entries by stored-entry identity, in two generations swapped every reuse window. A
 * single WeakMap would keep each entry's decrypted plaintext for as long as the memory tier keeps
 * the entry, outside the tier's byte bound; with two generations, plaintext lives at most two
 * windows after its last decode.
 */
class VerifiedEntries {
  private current = new WeakMap<StoredEntry, VerifiedEntry>();
  private previous = new WeakMap<StoredEntry, VerifiedEntry>();
  private generationStart = Number.NEGATIVE_INFINITY;

  get(entry: StoredEntry, now: number): VerifiedEntry | undefined {
    this.rotate(now);
    return this.current.get(entry) ?? this.previous.get(entry);
  }

  set(entry: StoredEntry, now: number, verified: VerifiedEntry): void {
    this.rotate(now);
    this.current.set(entry, verified);
  }

  delete(entry: StoredEntry): void {
    this.current.delete(entry);
    this.previous.delete(entry);
  }

  private rotate(now: number): void {
    if (now - this.generationStart < VERIFIED_REUSE_MS) return;
    // A clock jump of two windows or more drops both generations.
    this.previous = now - this.generationStart < 2 * VERIFIED_REUSE_MS ? this.current : new WeakMap();
    this.current = new WeakMap();
    this.generationStart = now;
  }
}

const DEFAULT_TTL_MS = 3_600_000;
const DEFAULT_TAG_VERSION_CACHE_MS = 1_000;
const DEFAULT_TAG_VERSION_TTL_MS = 30 * 86_400_000;
const MAX_REFRESH_SKIPS = 10_000;
/** After a failed refresh-ahead, hits of that key start no refresh for this long. */
const REFRESH_RETRY_MS = 1_000;

/**
 * The API apps use. Values go serialize -> transforms -> seal on the way down and back up on the
 * way out; backends only ever see sealed bytes. A read that cannot be completed honestly
 * (corrupt, tampered, unknown key, tier down) is a miss, counted and logged, never garbage.
 */
export class CacheManager {
  readonly namespaceName: string;
  /** The storage this cache reads and writes (a hybrid backend holds the tiers). */
  readonly backend: CacheBackend;
  private readonly defaultTtlMs: number | null;
  private readonly sealer: EncryptionProvider;
  private readonly transforms: readonly ValueTransform[];
  private readonly serializer: Serializer;
  private readonly lease: StampedeLease | undefined;
  private readonly strict: boolean;
  private readonly sharedValues: boolean;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly shared: SharedState;
  /**
   * Where the manager reports hits, misses and storage-call timings itself: the cache's emitter
   * for a plain backend, nothing for one that reports them per tier (the hybrid).
   */
  private readonly readEvents: CacheEventSink;

  constructor(options: CacheManagerOptions, shared?: SharedState) {
    this.backend = options.backend;
    this.namespaceName = options.namespace ?? 'default';
    checkString(this.namespaceName, 'namespace');
    this.defaultTtlMs = options.defaultTtlMs === undefined ? DEFAULT_TTL_MS : options.defaultTtlMs;
    checkTtl(this.defaultTtlMs, 'defaultTtlMs');
    // The defaults load node:zlib (CRC-32 framing, brotli): required here, not at import time, so
    // that `import 'cachevault'` does not pay for them when createCache supplies its own.
    /* eslint-disable @typescript-eslint/no-require-imports */
    this.sealer = options.encryption ?? new (require('../crypto/noEncryption') as typeof import('../crypto/noEncryption')).NoEncryption();
    this.transforms = options.transforms ?? [(require('./compression') as typeof import('./compression')).compressionTransform()];
    /* eslint-enable @typescript-eslint/no-require-imports */
    this.serializer = options.serializer ?? msgpackSerializer;
    this.lease = options.lease;
    this.strict = options.strict ?? false;
    this.sharedValues = options.sharedValues ?? false;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.options = options;
    this.shared = shared ?? {
      counters: {
        hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0, decryptFailures: 0,
        keyUnavailable: 0, foreignManifest: 0, degradedWrites: 0, tagInvalidated: 0, staleServed: 0, refreshes: 0, bytesRead: 0, bytesWritten: 0,
      },
      flights: new SingleFlight<unknown>(),
      loggedReasons: new Set<string>(),
      verified: new VerifiedEntries(),
      opening: new WeakMap<StoredEntry, Promise<unknown>>(),
      events: new CacheEventEmitter(this.logger),
      tags: undefined,
      background: new Set<Promise<unknown>>(),
      refreshSkips: new Map<string, number>(),
    };
    if (options.tagVersionCacheMs !== undefined) checkDuration(options.tagVersionCacheMs, 'tagVersionCacheMs', 0);
    if (options.tagVersionTtlMs !== undefined) checkDuration(options.tagVersionTtlMs, 'tagVersionTtlMs', 1);
    const reportsReads = isCacheEventSource(this.backend) && (this.backend as { reportsReads?: boolean }).reportsReads === true;
    if (isCacheEventSource(this.backend)) this.backend.attachEvents(this.shared.events);
    this.readEvents = reportsReads ? NO_EVENTS : this.shared.events;
  }

  /**
   * Listens to a cache event (docs/integrations.md#events); `e` is typed per event. Listeners
   * run inside the operation that emitted: keep them cheap. A listener that throws is logged,
   * never breaks the operation. Namespace views share their listeners with this cache.
   */
  on<K extends CacheEventName>(event: K, listener: CacheEventListener<K>): this {
    this.shared.events.on(event, listener);
    return this;
  }

  /** Like `on`, for the first event only. */
  once<K extends CacheEventName>(event: K, listener: CacheEventListener<K>): this {
    this.shared.events.once(event, listener);
    return this;
  }

  off<K extends CacheEventName>(event: K, listener: CacheEventListener<K>): this {
    this.shared.events.off(event, listener);
    return this;
  }

  listenerCount(event: CacheEventName): number {
    return this.shared.events.listenerCount(event);
  }

  /** The sink this cache's parts report to (createCache attaches the key manager to it). */
  protected get eventSink(): CacheEventSink {
    return this.shared.events;
  }

  private readonly options: CacheManagerOptions;

  /** A view of the same cache under another namespace; stats are shared with this manager. */
  namespace(name: string): CacheManager {
    return new CacheManager({ ...this.options, namespace: name }, this.shared);
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    // Not async itself: readOne's frame is the only one on the hottest call of the API. The one
    // event check of the path is here; readObserved reports and times the read.
    return this.readEvents.observesReads ? this.readObserved<T, T | undefined>(key, valueOf) : this.readOne<T, T | undefined>(key, valueOf);
  }

  /** Like get, but tells a cached `undefined` apart from a miss, and returns the expiry. */
  lookup<T = unknown>(key: string): Promise<Lookup<T>> {
    return this.readEvents.observesReads ? this.readObserved<T, Lookup<T>>(key, wholeLookup) : this.readOne<T, Lookup<T>>(key, wholeLookup);
  }

  /** Reads and decodes one entry (a failed read counts and reads as a miss); `pick` shapes the result. */
  private async readOne<T, R>(key: string, pick: (found: Lookup<T>) => R): Promise<R> {
    // readOpened inlined: this is the one async frame of a memory hit.
    checkString(key, 'key');
    let entry: StoredEntry | undefined;
    try {
      entry = await this.backend.get(this.namespaceName, key);
    } catch (err) {
      this.readFailed(err);
      entry = undefined;
    }
    const decoded = this.decode<T>(entry, key);
    const judged = this.judge(key, decoded instanceof Promise ? await decoded : decoded);
    return pick(judged instanceof Promise ? await judged : judged);
  }

  /** Reads and opens one entry, without judging its metadata; a failed read is a miss. */
  private async readOpened<T>(key: string, from: CacheBackend = this.backend): Promise<Opened<T>> {
    checkString(key, 'key');
    let entry: StoredEntry | undefined;
    try {
      entry = await (this.readEvents.wants.operation ? this.observedGet(key, from) : from.get(this.namespaceName, key));
    } catch (err) {
      this.readFailed(err);
      entry = undefined;
    }
    if (this.readEvents.observesReads) this.reportRead(entry, key);
    const opened = this.decode<T>(entry, key);
    return opened instanceof Promise ? await opened : opened;
  }

  async has(key: string): Promise<boolean> {
    return (await this.lookup(key)).found;
  }

  async set<T>(key: string, value: T, options: SetOptions = {}): Promise<WriteResult> {
    checkOptions(options, 'set(key, value, options)', SET_OPTIONS);
    const expiresAt = this.expiryOf(options);
    checkString(key, 'key');
    const meta = options.tags === undefined ? undefined : { tags: await this.tagVersions().forWrite(this.namespaceName, options.tags, expiresAt) };
    return this.store(key, value, expiresAt, meta);
  }

  /**
   * Invalidates every entry written under any of `tags` in this namespace, on every instance
   * and tier: such entries read as misses from now on here, and on other instances within
   * `tagVersionCacheMs`. One write per tag; entries are not touched (they are dropped lazily).
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    await this.tagVersions().invalidate(this.namespaceName, tags);
  }

  /** Resolves when background work (refresh-ahead loads, loads that outlived a soft timeout) has settled. */
  async whenIdle(): Promise<void> {
    while (this.shared.background.size > 0) await Promise.allSettled([...this.shared.background]);
  }

  private async store(key: string, value: unknown, expiresAt: number | null, meta: EntryMeta | undefined): Promise<WriteResult> {
    const entry = await this.encode(key, value, expiresAt, meta);
    const result = await this.write('set', [entry], () => this.backend.set(entry));
    this.shared.counters.sets += 1;
    this.shared.counters.bytesWritten += entry.value.byteLength;
    return result;
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    for (const key of keys) checkString(key, 'key');
    let entries: (StoredEntry | undefined)[];
    const started = this.readEvents.wants.operation ? performance.now() : -1;
    try {
      entries = await this.backend.getMany(this.namespaceName, keys);
      if (started >= 0) this.timed('get', started, true);
    } catch (err) {
      if (started >= 0) this.timed('get', started, false);
      this.readFailed(err);
      entries = keys.map(() => undefined);
    }
    if (this.readEvents.observesReads) entries.forEach((entry, i) => this.reportRead(entry, keys[i]!));
    return Promise.all(entries.map(async (entry, i) => (await this.judge(keys[i]!, await this.decode<T>(entry, keys[i]!))).value));
  }

  async setMany<T>(items: readonly ({ readonly key: string; readonly value: T } & SetOptions)[]): Promise<WriteResult> {
    if (!Array.isArray(items)) throw new TypeError(`cache.setMany(items) takes an array of { key, value, ttlMs? }, got ${describeArg(items)}.`);
    for (const item of items) checkOptions(item, 'setMany(items): each item', SET_MANY_ITEM);
    const entries = await Promise.all(
      items.map(async (item) => {
        const expiresAt = this.expiryOf(item);
        // Items sharing tags share their reads of the tag versions (TagVersions batches them).
        const meta = item.tags === undefined ? undefined : { tags: await this.tagVersions().forWrite(this.namespaceName, item.tags, expiresAt) };
        return this.encode(item.key, item.value, expiresAt, meta);
      }),
    );
    const result = await this.write('set', entries, () => this.backend.setMany(entries));
    this.shared.counters.sets += entries.length;
    for (const entry of entries) this.shared.counters.bytesWritten += entry.value.byteLength;
    return result;
  }

  async delete(key: string): Promise<boolean> {
    checkString(key, 'key');
    const removed = await this.mutate('delete', () => this.backend.delete(this.namespaceName, key));
    if (removed) this.shared.counters.deletes += 1;
    if (this.shared.events.wants.delete) this.shared.events.emit('delete', { type: 'delete', namespace: this.namespaceName, keys: [key], removed: removed ? 1 : 0 });
    return removed;
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    for (const key of keys) checkString(key, 'key');
    const removed = await this.mutate('delete', () => this.backend.deleteMany(this.namespaceName, keys));
    this.shared.counters.deletes += removed;
    if (this.shared.events.wants.delete) this.shared.events.emit('delete', { type: 'delete', namespace: this.namespaceName, keys: [...keys], removed });
    return removed;
  }

  /** Removes every entry of this manager's namespace. */
  async clear(): Promise<void> {
    await this.mutate('clear', () => this.backend.clear(this.namespaceName));
    if (this.shared.events.wants.clear) this.shared.events.emit('clear', { type: 'clear', namespace: this.namespaceName });
  }

  /**
   * Get-or-compute. Concurrent misses on one key in this process call `fn` once; with a
   * `lease` configured, concurrent misses across machines mostly do too (the lease is short and
   * a holder that dies only delays others until it lapses). A failed `fn` is not cached.
   * Options (see WrapOptions): a TTL computed from the value, `shouldCache`, refresh-ahead,
   * grace with soft and hard timeouts, negative caching and tags.
   */
  async wrap<T>(key: string, fn: () => T | Promise<T>, options: WrapOptions<T> = {}): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`cache.wrap(key, fn, options): fn must be a function that computes the value, got ${describeArg(fn)}.`);
    checkOptions(options, 'wrap(key, fn, options)', WRAP_OPTIONS);
    const policy = wrapPolicy(options);
    const read = await this.readForWrap<T>(key, policy);
    if (read.kind === 'hit') {
      if (refreshDue(policy, read.freshUntil, this.clock())) this.refreshAhead(key, fn, policy, read.freshUntil!);
      return read.value;
    }
    const load = this.shared.flights.run(flightIdOf(this.namespaceName, key), () => this.load(key, fn, policy)) as Promise<T>;
    const stale = read.kind === 'stale' ? { value: read.value } : undefined;
    try {
      return await awaitLoad(load, stale, policy, (reason, err) => this.servedStale(load, reason, err));
    } catch (err) {
      // The loader keeps running past hardTimeoutMs; its value is still cached when it lands.
      if (err instanceof LoaderTimeoutError) this.inBackground(load, 'a wrap loader that outlived hardTimeoutMs failed');
      throw err;
    }
  }

  /** The load behind a wrap miss: the lease dance (when there is a lease), then compute and store. */
  private async load<T>(key: string, fn: () => T | Promise<T>, policy: WrapPolicy<T>): Promise<T> {
    const lease = policy.useLease ? this.lease : undefined;
    if (!lease) return this.compute(key, fn, policy);
    const ref = { namespace: this.namespaceName, key };
    const held = await lease.acquire(ref);
    if (!held.acquired) {
      const filled = await lease.waitFor(ref, () => this.wrapHit<T>(key, policy));
      if (filled?.found) return filled.value as T;
    } else {
      // Another machine may have stored the value between our miss and our lease.
      const late = await this.wrapHit<T>(key, policy);
      if (late.found) {
        await held.release();
        return late.value as T;
      }
    }
    try {
      return await this.compute(key, fn, policy);
    } finally {
      await held.release();
    }
  }

  /**
   * Starts one background load for a hit close to its expiry. One per key in this process (its
   * own single-flight id, so a refresh never answers a miss); across instances the lease decides,
   * and an instance that does not get it leaves the refresh to the holder: it does not ask
   * again for the copy it hit (`freshUntil`), whose local copy may lag the refreshed one.
   */
  private refreshAhead<T>(key: string, fn: () => T | Promise<T>, policy: WrapPolicy<T>, freshUntil: number): void {
    const id = `refresh\u0000${flightIdOf(this.namespaceName, key)}`;
    if (this.shared.flights.has(id)) return;
    const skips = this.shared.refreshSkips;
    const skipUntil = skips.get(id);
    if (skipUntil !== undefined) {
      if (this.clock() < skipUntil) return;
      skips.delete(id);
    }
    const skipUntilTime = (until: number) => {
      if (skips.size >= MAX_REFRESH_SKIPS) skips.delete(skips.keys().next().value!);
      skips.set(id, until);
    };
    const leftToOthers = () => skipUntilTime(freshUntil);
    const refresh = this.shared.flights.run(id, async () => {
      const lease = policy.useLease ? this.lease : undefined;
      const held = lease ? await lease.acquire({ namespace: this.namespaceName, key }) : undefined;
      if (held !== undefined && !held.acquired) return leftToOthers();
      try {
        // Another instance may have refreshed it since our hit (it held the lease before us): ask
        // the shared tier, since a local tier may still hold the copy we hit.
        if (held !== undefined) {
          const now = await this.readForWrap<T>(key, policy, sharedTierOf(this.backend));
          if (now.kind === 'hit' && !refreshDue(policy, now.freshUntil, this.clock())) return leftToOthers();
        }
        this.shared.counters.refreshes += 1;
        try {
          await this.compute(key, fn, policy);
        } catch (err) {
          // A failing loader is retried after a pause, not on every hit of the window.
          skipUntilTime(this.clock() + REFRESH_RETRY_MS);
          throw err;
        }
      } finally {
        await held?.release();
      }
    });
    this.inBackground(refresh, 'refresh-ahead failed; the cached value is served until it expires');
  }

  /** A stale value was served: count it, and keep the load that was given up on as background work. */
  private servedStale(load: Promise<unknown>, reason: StaleReason, err: unknown): void {
    this.shared.counters.staleServed += 1;
    const fields = err === undefined ? { reason } : { reason, error: describeError(err) };
    this.logOnce(`stale:${reason}`, fields, 'wrap served a value past its expiry (within graceMs)');
    if (reason === 'loader-slow') this.inBackground(load, 'a wrap loader that outlived its soft timeout failed');
  }

  private inBackground(work: Promise<unknown>, failure: string): void {
    const tracked = work.then(
      () => undefined,
      (err: unknown) => {
        this.shared.counters.errors += 1;
        this.logOnce(`background:${failure}`, { error: describeError(err) }, failure);
      },
    );
    this.shared.background.add(tracked);
    void tracked.finally(() => this.shared.background.delete(tracked));
  }

  /**
   * Reads `key` for wrap: a fresh hit (negatively cached absences included), a value past its
   * logical expiry still within this call's grace, or a miss. Counts hits and misses as `get` does.
   */
  private async readForWrap<T>(key: string, policy: WrapPolicy<T>, from: CacheBackend = this.backend): Promise<WrapRead<T>> {
    const opened = await this.readOpened<T>(key, from);
    if (!opened.found) {
      this.countMiss();
      return { kind: 'miss' };
    }
    const meta = opened.meta;
    if (meta === undefined) {
      this.countHit();
      return { kind: 'hit', value: opened.value as T, freshUntil: opened.expiresAt };
    }
    const check = meta.tags === undefined ? 'current' : await this.checkTags(meta.tags);
    if (check !== 'current') {
      const newer = check === 'invalidated' ? this.afterInvalidation(key, from !== this.backend, (shared) => this.readForWrap<T>(key, policy, shared)) : undefined;
      if (newer !== undefined) return newer;
      this.countMiss();
      return { kind: 'miss' };
    }
    const freshUntil = meta.freshUntil !== undefined ? meta.freshUntil : opened.expiresAt;
    const now = this.clock();
    if (freshUntil === null || freshUntil > now) {
      this.countHit();
      return { kind: 'hit', value: opened.value as T, freshUntil };
    }
    this.countMiss();
    return !meta.negative && withinGrace(policy, freshUntil, now) ? { kind: 'stale', value: opened.value as T } : { kind: 'miss' };
  }

  /** What a lease waiter or late check accepts: a fresh hit only. */
  private async wrapHit<T>(key: string, policy: WrapPolicy<T>): Promise<{ found: boolean; value: T | undefined }> {
    const read = await this.readForWrap<T>(key, policy);
    return read.kind === 'hit' ? { found: true, value: read.value } : { found: false, value: undefined };
  }

  stats(): CacheStats {
    const counters = this.shared.counters;
    const tagItems = this.shared.tagItems?.stats();
    if (tagItems === undefined) return { ...counters, backend: this.backend.stats() };
    // Tag items that fail their seal or need an unavailable key are this cache's integrity problems too.
    return {
      ...counters,
      decryptFailures: counters.decryptFailures + tagItems.decryptFailures,
      keyUnavailable: counters.keyUnavailable + tagItems.keyUnavailable,
      foreignManifest: counters.foreignManifest + tagItems.foreignManifest,
      backend: this.backend.stats(),
    };
  }

  healthCheck(): Promise<HealthReport> {
    return this.backend.healthCheck();
  }

  /** Closes the backend and drops key material. */
  async close(): Promise<void> {
    try {
      await this.backend.close();
    } finally {
      // Key material is dropped even when the backend fails to close.
      await this.sealer.close?.();
    }
  }

  // ---- the data path -----------------------------------------------------------------------

  /**
   * Calls the loader and stores its value under the policy. Tag versions are taken before the
   * loader runs: an invalidation that lands while it runs then leaves the value a miss, instead
   * of letting a value computed from old data carry the new versions.
   */
  private async compute<T>(key: string, fn: () => T | Promise<T>, policy: WrapPolicy<T>): Promise<T> {
    let tags: [string, string][] | undefined;
    let cacheable = true;
    if (policy.tags !== undefined && policy.tags.length > 0) {
      try {
        tags = await this.tagVersions().forWrite(this.namespaceName, policy.tags, this.clock());
      } catch (err) {
        // Without the tags' versions the value could not be invalidated: serve it, do not cache it.
        cacheable = false;
        this.shared.counters.errors += 1;
        this.logOnce('wrap-tags-failed', { error: describeError(err) }, 'wrap could not read tag versions; the computed value is not cached');
      }
    }
    const value = await fn();
    if (!cacheable || (policy.shouldCache !== undefined && !policy.shouldCache(value))) return value;
    let expiresAt: number | null;
    let meta: { freshUntil?: number | null; negative?: boolean; tags?: [string, string][] } | undefined;
    if ((value === null || value === undefined) && policy.negativeTtlMs !== undefined) {
      expiresAt = this.clock() + policy.negativeTtlMs;
      meta = { negative: true };
    } else {
      const ttl = ttlFor(policy, value);
      const freshUntil = this.expiryOf(ttl !== undefined ? { ttlMs: ttl } : policy.expiresAt !== undefined ? { expiresAt: policy.expiresAt } : {});
      expiresAt = freshUntil;
      if (policy.graceMs > 0 && freshUntil !== null) {
        // Kept in storage past its logical expiry so a later wrap can serve it when the loader fails.
        expiresAt = freshUntil + policy.graceMs;
        meta = { freshUntil };
      }
    }
    if (tags !== undefined) meta = { ...meta, tags };
    try {
      await this.store(key, value, expiresAt, meta);
    } catch (err) {
      // The caller asked for a value, and has one; a failed cache write must not take it away.
      this.shared.counters.errors += 1;
      this.logOnce('wrap-set-failed', { error: describeError(err) }, 'wrap could not store the computed value');
    }
    return value;
  }

  private async encode(key: string, value: unknown, expiresAt: number | null, meta: EntryMeta | undefined): Promise<StoredEntry> {
    checkString(key, 'key');
    const identity: EntryIdentity = { namespace: this.namespaceName, key, expiresAt };
    const payload = this.serializer.serialize(value);
    let bytes = frameEntry(payload, meta);
    for (const transform of this.transforms) bytes = await transform.encode(bytes, identity);
    const sealed = await this.sealer.seal(bytes, identity);
    const entry: StoredEntry = { ...identity, value: sealed.bytes, keyId: sealed.keyId, createdAt: this.clock() };
    this.rememberWritten(entry, payload, meta);
    return entry;
  }

  /**
   * Records an entry this manager has just sealed as verified, with the plaintext it sealed: a
   * tier that keeps the entry object itself (the memory tier) then serves the first reads after
   * the write without opening the envelope, as it serves reads after a decode. The entry was made
   * here, so there is nothing to verify; storage that hands back any other object (another
   * process's write, a file or DynamoDB read) gets no such shortcut.
   */
  private rememberWritten(entry: StoredEntry, payload: Uint8Array, meta: EntryMeta | undefined): void {
    const now = this.clock();
    let plaintext: Uint8Array | undefined;
    let primitive: unknown;
    try {
      // Kept as the reader would decode it, never the caller's own object (which it may mutate).
      const decoded = this.serializer === msgpackSerializer && isPrimitiveBytes(payload) ? this.serializer.deserialize(payload) : OBJECT;
      if (decoded === OBJECT || !isPrimitive(decoded)) plaintext = payload.slice();
      else primitive = decoded;
    } catch {
      return; // read it back the long way
    }
    this.shared.verified.set(entry, now, { at: now, serializer: this.serializer, plaintext, primitive, meta });
  }

  /**
   * Synchronous on the hot path (an entry verified moments ago), so a memory hit costs no extra
   * promise. `key` is the key the caller asked for: the entry is verified against it and this
   * manager's namespace, never against the names the stored entry carries, so storage that hands
   * back another key's (authentic) entry produces a miss, not that key's value. Counts failures
   * (and the bytes of successes); hits and misses are counted by `judge` or `readForWrap`.
   */
  private decode<T>(entry: StoredEntry | undefined, key: string): Opened<T> | Promise<Opened<T>> {
    const counters = this.shared.counters;
    const now = this.clock();
    if (entry === undefined || (entry.expiresAt !== null && entry.expiresAt <= now)) return MISS;
    // A verified object is reused only for the identity it was verified for.
    const verified = entry.key === key && entry.namespace === this.namespaceName ? this.shared.verified.get(entry, now) : undefined;
    if (verified !== undefined && now - verified.at < VERIFIED_REUSE_MS && verified.serializer === this.serializer) {
      try {
        let value: T;
        if (verified.shared !== undefined) value = verified.shared.value as T;
        else if (verified.plaintext === undefined) value = verified.primitive as T;
        else {
          value = this.serializer.deserialize(verified.plaintext) as T;
          // An entry this manager wrote: share its first decoded copy from now on (same window).
          if (this.sharedValues && verified.unshareable !== true) {
            this.shared.verified.set(entry, now, deepFreeze(value) ? { ...verified, shared: { value } } : { ...verified, unshareable: true });
          }
        }
        counters.bytesRead += entry.value.byteLength;
        return verified.meta === undefined ? { found: true, value, expiresAt: entry.expiresAt } : { found: true, value, expiresAt: entry.expiresAt, meta: verified.meta };
      } catch {
        this.shared.verified.delete(entry); // decode it the long way, which counts and logs the failure
      }
    }
    const opening = this.shared.opening.get(entry);
    // Decoded again once the open under way settles: a verified hit then (each caller still gets
    // its own copy), or, if it failed, an open of this read's own, counted as before.
    if (opening !== undefined) return opening.then(() => this.decode<T>(entry, key));
    const opened = this.decodeSealed<T>(entry, key, now);
    const settled = opened.then(() => this.shared.opening.delete(entry));
    this.shared.opening.set(entry, settled);
    return opened;
  }

  private async decodeSealed<T>(entry: StoredEntry, key: string, now: number): Promise<Opened<T>> {
    const counters = this.shared.counters;
    const identity: EntryIdentity = { namespace: this.namespaceName, key, expiresAt: entry.expiresAt };
    try {
      let bytes = await this.sealer.open(entry.value, identity);
      for (let i = this.transforms.length - 1; i >= 0; i--) bytes = await this.transforms[i]!.decode(bytes, identity);
      const { meta, payload } = unframeEntry(bytes);
      const value = this.serializer.deserialize(payload) as T;
      const primitive = isPrimitive(value);
      const frozen = this.sharedValues && !primitive && deepFreeze(value);
      this.shared.verified.set(entry, now, {
        at: now,
        serializer: this.serializer,
        plaintext: primitive ? undefined : payload,
        primitive: primitive ? value : undefined,
        shared: frozen ? { value } : undefined,
        unshareable: this.sharedValues && !primitive && !frozen,
        meta,
      });
      counters.bytesRead += entry.value.byteLength;
      return meta === undefined ? { found: true, value, expiresAt: entry.expiresAt } : { found: true, value, expiresAt: entry.expiresAt, meta };
    } catch (err) {
      const events = this.shared.events;
      if (err instanceof ForeignManifestError) {
        counters.foreignManifest += 1;
        this.logOnce(`foreign:${err.manifestId}`, { keyId: err.keyId, manifestId: err.manifestId }, "entry sealed by another deployment's key manifest treated as a miss");
      } else if (err instanceof KeyUnavailableError) {
        counters.keyUnavailable += 1;
        if (events.wants.keyUnavailable) events.emit('keyUnavailable', { type: 'keyUnavailable', namespace: this.namespaceName, key, keyId: err.keyId });
        this.logOnce(`key:${err.keyId ?? '?'}`, { keyId: err.keyId, reason: err.message }, 'entry sealed under an unavailable key treated as a miss');
      } else if (err instanceof IntegrityError || err instanceof EnvelopeFormatError) {
        counters.decryptFailures += 1;
        if (events.wants.decryptFailure) events.emit('decryptFailure', { type: 'decryptFailure', namespace: this.namespaceName, key, code: err.code });
        this.logOnce(`integrity:${err.code}`, { namespace: entry.namespace, reason: err.message }, 'tampered or corrupt entry treated as a miss');
      } else {
        // The serializer rejected bytes that passed authentication: a bug or a foreign writer.
        counters.decryptFailures += 1;
        if (events.wants.decryptFailure) events.emit('decryptFailure', { type: 'decryptFailure', namespace: this.namespaceName, key, code: 'UNDECODABLE' });
        this.logOnce('decode', { namespace: entry.namespace, reason: describeError(err) }, 'undecodable entry treated as a miss');
      }
      return MISS;
    }
  }

  /**
   * What `get`, `lookup` and `getMany` see of an opened entry, counted as a hit or a miss: past
   * its logical expiry (kept only for wrap's grace), a cached absence, or written under a tag
   * since invalidated, it is a miss. Synchronous unless tag versions must be read.
   */
  private judge<T>(key: string, opened: Opened<T>, fromShared = false): Lookup<T> | Promise<Lookup<T>> {
    if (!opened.found) {
      this.countMiss();
      return MISS;
    }
    const meta = opened.meta;
    if (meta === undefined) {
      this.countHit();
      return opened;
    }
    const expiresAt = meta.freshUntil !== undefined ? meta.freshUntil : opened.expiresAt;
    if (meta.negative === true || (expiresAt !== null && expiresAt <= this.clock())) {
      this.countMiss();
      return MISS;
    }
    const found: Lookup<T> = { found: true, value: opened.value, expiresAt };
    const settle = (check: TagCheck): Lookup<T> | Promise<Lookup<T>> => {
      if (check === 'current') {
        this.countHit();
        return found;
      }
      if (check === 'invalidated') {
        const newer = this.afterInvalidation(key, fromShared, async (shared) => this.judge(key, await this.readOpened<T>(key, shared), true));
        if (newer !== undefined) return newer;
      }
      this.countMiss();
      return MISS;
    };
    if (meta.tags === undefined) return settle('current');
    const check = this.checkTags(meta.tags);
    return check instanceof Promise ? check.then(settle) : settle(check);
  }

  /**
   * An entry was found invalidated by a tag. When it came from a composite backend, the copy may
   * be a local tier's while the shared tier already holds a newer value (written by another
   * instance since): `reread` reads and judges the shared tier's. Otherwise every copy is stale and
   * is deleted (best effort: a failure leaves it to expire, it reads as a miss meanwhile).
   * Returns undefined when the caller should report a miss.
   */
  private afterInvalidation<R>(key: string, fromShared: boolean, reread: (shared: CacheBackend) => Promise<R>): Promise<R> | undefined {
    this.shared.counters.tagInvalidated += 1;
    const shared = sharedTierOf(this.backend);
    if (!fromShared && shared !== this.backend) return reread(shared);
    this.backend.delete(this.namespaceName, key).catch(() => undefined);
    return undefined;
  }

  /** Whether recorded tag versions are current; versions that cannot be read are `unreadable` (a miss: fail closed). */
  private checkTags(recorded: readonly (readonly [string, string])[]): TagCheck | Promise<TagCheck> {
    let current: boolean | Promise<boolean>;
    try {
      current = this.tagVersions().isCurrent(this.namespaceName, recorded);
    } catch (err) {
      current = Promise.reject(err);
    }
    if (typeof current === 'boolean') return current ? 'current' : 'invalidated';
    return current.then(
      (ok): TagCheck => (ok ? 'current' : 'invalidated'),
      (err: unknown): TagCheck => {
        this.shared.counters.errors += 1;
        this.logOnce(`tags:${describeError(err)}`, { error: describeError(err) }, 'tag versions could not be read; tagged entries read as misses');
        return 'unreadable';
      },
    );
  }

  /** The tag versions, kept with the backend's shared tier (built on first use of tags). */
  private tagVersions(): TagVersions {
    if (this.shared.tags !== undefined) return this.shared.tags;
    const options = this.options;
    const tagBackend = options.tagBackend ?? sharedTierOf(this.backend);
    // Tag items are sealed like entries, in a manager of their own: their reads are not the app's hits and misses.
    const items = new CacheManager({
      backend: tagBackend,
      namespace: TAG_NAMESPACE,
      encryption: this.sealer,
      transforms: [],
      serializer: msgpackSerializer,
      defaultTtlMs: null,
      strict: true,
      clock: this.clock,
      logger: this.logger,
    });
    this.shared.tagItems = items;
    this.shared.tags = new TagVersions({
      store: items,
      clock: this.clock,
      cacheMs: options.tagVersionCacheMs ?? DEFAULT_TAG_VERSION_CACHE_MS,
      itemTtlMs: options.tagVersionTtlMs ?? DEFAULT_TAG_VERSION_TTL_MS,
    });
    return this.shared.tags;
  }

  private async write(operation: string, entries: readonly StoredEntry[], fn: () => Promise<WriteResult>): Promise<WriteResult> {
    const result = await this.mutate(operation, fn);
    const events = this.shared.events;
    if (result.degraded && result.degraded.length > 0) {
      this.shared.counters.degradedWrites += 1;
      if (events.wants.degradedWrite) events.emit('degradedWrite', { type: 'degradedWrite', namespace: this.namespaceName, entries: entries.length, degraded: result.degraded });
      this.logOnce(`degraded:${result.degraded.map((d: TierFailure) => d.tier).join(',')}`, { degraded: result.degraded }, 'write reached only some tiers');
    }
    if (events.wants.set) {
      for (const e of entries) events.emit('set', { type: 'set', namespace: e.namespace, key: e.key, bytes: e.value.byteLength, expiresAt: e.expiresAt });
    }
    return result;
  }

  /** A backend write, delete or clear: failures counted and reported, timed for a plain backend. */
  private async mutate<R>(operation: string, fn: () => Promise<R>): Promise<R> {
    const started = this.readEvents.wants.operation ? performance.now() : -1;
    try {
      const result = await fn();
      if (started >= 0) this.timed(operation, started, true);
      return result;
    } catch (err) {
      if (started >= 0) this.timed(operation, started, false);
      this.shared.counters.errors += 1;
      this.emitError(operation, err);
      throw err;
    }
  }

  // ---- events the manager reports ------------------------------------------------------------

  /** readOne while someone listens to reads of a plain backend: timed, and reported as a hit or a miss. */
  private async readObserved<T, R>(key: string, pick: (found: Lookup<T>) => R): Promise<R> {
    checkString(key, 'key');
    let entry: StoredEntry | undefined;
    try {
      // No extra promise layer unless calls are timed.
      entry = await (this.readEvents.wants.operation ? this.observedGet(key, this.backend) : this.backend.get(this.namespaceName, key));
    } catch (err) {
      this.readFailed(err);
      entry = undefined;
    }
    this.reportRead(entry, key);
    const decoded = this.decode<T>(entry, key);
    const judged = this.judge(key, decoded instanceof Promise ? await decoded : decoded);
    return pick(judged instanceof Promise ? await judged : judged);
  }

  /** One backend read, timed when someone listens to `operation`. */
  private async observedGet(key: string, from: CacheBackend): Promise<StoredEntry | undefined> {
    const started = this.readEvents.wants.operation ? performance.now() : -1;
    let entry: StoredEntry | undefined;
    try {
      entry = await from.get(this.namespaceName, key);
    } catch (err) {
      if (started >= 0) this.timed('get', started, false);
      throw err;
    }
    if (started >= 0) this.timed('get', started, true);
    return entry;
  }

  /**
   * A plain backend's answer as a hit or a miss (and an expiry), decided as decode() decides it.
   * Like a hybrid tier's, a hit is the storage's answer: an entry that then fails to open, or
   * was written under a tag since invalidated, is still a miss for the caller and in stats.
   */
  private reportRead(entry: StoredEntry | undefined, key: string): void {
    const events = this.readEvents;
    if (entry !== undefined && (entry.expiresAt === null || entry.expiresAt > this.clock())) {
      if (events.wants.hit) events.emit('hit', { type: 'hit', namespace: this.namespaceName, key, tier: this.backend.name, stale: false });
      return;
    }
    if (entry !== undefined && events.wants.expire) events.emit('expire', { type: 'expire', namespace: this.namespaceName, key, tier: this.backend.name });
    if (events.wants.miss) events.emit('miss', { type: 'miss', namespace: this.namespaceName, key });
  }

  private timed(operation: string, started: number, ok: boolean): void {
    this.readEvents.emit('operation', { type: 'operation', tier: this.backend.name, operation, durationMs: performance.now() - started, ok });
  }

  private emitError(operation: string, err: unknown): void {
    const events = this.shared.events;
    if (events.wants.error) events.emit('error', { type: 'error', operation, tier: undefined, code: errorCode(err), message: describeError(err) });
  }

  /** Every hit and miss of `get`, `lookup`, `getMany` and `wrap` is counted here (and only here). */
  private countHit(): void {
    this.shared.counters.hits += 1;
  }

  private countMiss(): void {
    this.shared.counters.misses += 1;
  }

  private readFailed(err: unknown): void {
    this.shared.counters.errors += 1;
    this.emitError('get', err);
    if (this.strict || err instanceof InvalidArgumentError) throw err;
    this.logOnce(`read:${describeError(err)}`, { error: describeError(err) }, 'cache read failed; treated as a miss');
  }

  private expiryOf(options: ExpiryOptions): number | null {
    if (options.expiresAt !== undefined) {
      // Negative expiries are refused: format 1 envelopes encoded "never" as -1, so storage
      // could have turned such an entry into one that never expires.
      if (options.expiresAt !== null && (!Number.isFinite(options.expiresAt) || options.expiresAt < 0)) {
        throw new InvalidArgumentError(`expiresAt must be non-negative epoch milliseconds or null, got ${options.expiresAt}.`, {
          hint: 'Pass null for an entry that never expires.',
        });
      }
      return options.expiresAt;
    }
    const ttl = options.ttlMs !== undefined ? options.ttlMs : this.defaultTtlMs;
    checkTtl(ttl, 'ttlMs');
    return ttl === null ? null : this.clock() + ttl;
  }

  /** The first occurrence of each reason at warn; repeats at debug, so a bad entry cannot flood logs. */
  private logOnce(reason: string, fields: object, msg: string): void {
    if (this.shared.loggedReasons.has(reason)) {
      this.logger.debug(fields, msg);
      return;
    }
    if (this.shared.loggedReasons.size < 1000) this.shared.loggedReasons.add(reason);
    this.logger.warn(fields, msg);
  }
}

function flightIdOf(namespace: string, key: string): string {
  return `${namespace}\u0000${key}`;
}

/**
 * The tier every instance shares, where tag versions must live for an invalidation to reach all
 * of them: a composite backend names it (`sharedTier`); any other backend is its own.
 */
function sharedTierOf(backend: CacheBackend): CacheBackend {
  const tier = (backend as Partial<{ readonly sharedTier: CacheBackend }>).sharedTier;
  return tier ?? backend;
}

function checkDuration(ms: number, field: string, min: 0 | 1): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < min) {
    throw new InvalidArgumentError(`${field} must be a ${min === 0 ? 'non-negative' : 'positive'} number of milliseconds, got ${String(ms)}.`, {
      hint: 'Durations are in milliseconds: one second is 1000.',
    });
  }
}

function isPrimitive(value: unknown): boolean {
  return value === null || (typeof value !== 'object' && typeof value !== 'function');
}

/** Stands for "an object" where rememberWritten did not decode the payload to find out. */
const OBJECT = Symbol('object');

/**
 * Whether msgpack bytes may hold a primitive, judged from the first byte without decoding:
 * fixint, fixstr, nil/false/true, floats, ints and str8-32 (msgpackr's record references share
 * the fixint range, so the caller decodes to be sure). Anything else (maps, arrays, extensions)
 * counts as an object: kept as bytes and decoded per hit, which is always correct.
 */
function isPrimitiveBytes(bytes: Uint8Array): boolean {
  const b = bytes[0];
  if (b === undefined) return false;
  return b <= 0x7f || (b >= 0xa0 && b <= 0xbf) || (b >= 0xc0 && b <= 0xc3) || (b >= 0xca && b <= 0xd3) || (b >= 0xd9 && b <= 0xdb) || b >= 0xe0;
}

function readOnlyMethod(name: string): () => never {
  return () => {
    throw new TypeError(`Cannot call ${name}() on a cached value shared by sharedValues: it is read-only. Copy it first (structuredClone) to change it.`);
  };
}

const READ_ONLY_METHODS: readonly [new (...args: never[]) => object, readonly string[]][] = [
  [Date, Object.getOwnPropertyNames(Date.prototype).filter((n) => n.startsWith('set'))],
  [Map, ['set', 'delete', 'clear']],
  [Set, ['add', 'delete', 'clear']],
];

/**
 * Deep-freezes a decoded value so one caller's mutation cannot reach another through
 * `sharedValues`: objects and arrays are frozen; Dates, Maps and Sets, whose contents freezing
 * does not protect, get their mutating methods shadowed by ones that throw. Returns false (and
 * the value must then not be shared) when it holds something that cannot be made read-only:
 * bytes (Buffer, typed arrays, ArrayBuffer, DataView), or an object of another kind.
 */
function deepFreeze(root: unknown): boolean {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  const pending: object[] = [];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) continue;
    const obj = value as object;
    if (seen.has(obj)) continue;
    seen.add(obj);
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && obj instanceof SharedArrayBuffer)) return false;
    const proto: unknown = Object.getPrototypeOf(obj);
    if (!(proto === Object.prototype || proto === null || Array.isArray(obj) || obj instanceof Date || obj instanceof Map || obj instanceof Set || obj instanceof Error || obj instanceof RegExp)) return false;
    if (obj instanceof Map) for (const [k, v] of obj) stack.push(k, v);
    else if (obj instanceof Set) for (const v of obj) stack.push(v);
    for (const k of Reflect.ownKeys(obj)) {
      const d = Object.getOwnPropertyDescriptor(obj, k);
      if (d !== undefined && 'value' in d) stack.push(d.value);
    }
    pending.push(obj);
  }
  // Frozen only once the whole graph is known to be freezable: a refused value stays untouched.
  for (const obj of pending) {
    for (const [type, methods] of READ_ONLY_METHODS) {
      if (obj instanceof type) for (const name of methods) Object.defineProperty(obj, name, { value: readOnlyMethod(name), enumerable: false });
    }
    Object.freeze(obj);
  }
  return true;
}

function valueOf<T>(found: Lookup<T>): T | undefined {
  return found.value;
}

function wholeLookup<T>(found: Lookup<T>): Lookup<T> {
  return found;
}

const EXPIRY_OPTIONS = ['ttlMs', 'expiresAt'] as const;
const SET_OPTIONS = [...EXPIRY_OPTIONS, 'tags'] as const;
const SET_MANY_ITEM = ['key', 'value', ...SET_OPTIONS] as const;

/**
 * Option objects are checked at run time too: JavaScript callers (and `as any`) can pass a bare
 * TTL number or a misspelt field, which would otherwise be ignored and cache with the default TTL.
 */
function checkOptions(options: unknown, call: string, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    const example = typeof options === 'number' ? ` To give a TTL, pass { ttlMs: ${options} }.` : '';
    throw new TypeError(`cache.${call}: options must be an object such as { ttlMs: 60000 }, got ${describeArg(options)}.${example}`);
  }
  const unknown = Object.keys(options).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new TypeError(`cache.${call}: unknown option${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => `"${k}"`).join(', ')}; allowed: ${allowed.join(', ')}.`);
  }
}

function describeArg(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' || typeof v === 'boolean') return `the ${typeof v} ${String(v)}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 40))}`;
  return `a ${typeof v}`;
}

/** Namespaces and keys must be well-formed Unicode (no lone surrogates); non-strings are left to the backend's check. */
function checkString(value: string, field: 'namespace' | 'key'): void {
  if (typeof value === 'string') checkWellFormed(value, field);
}

function checkTtl(ttl: number | null, field: string): void {
  if (ttl !== null && (!Number.isFinite(ttl) || ttl <= 0)) {
    throw new InvalidArgumentError(`${field} must be a positive number of milliseconds or null (no expiry), got ${ttl}.`, {
      hint: 'TTLs are in milliseconds: one minute is 60000.',
    });
  }
}
