import { EnvelopeFormatError, ForeignManifestError, IntegrityError, InvalidArgumentError, KeyUnavailableError } from '../errors';
import type { CacheBackend } from '../backends/cacheBackend';
import { describeError } from '../describeError';
import type { EncryptionProvider } from '../crypto/encryptionProvider';
import { checkWellFormed } from '../crypto/envelope';
import { silentLogger } from '../logger';
import type { BackendStats, Clock, EntryIdentity, HealthReport, Logger, StoredEntry, TierFailure, WriteResult } from '../types';
import { msgpackSerializer, type Serializer } from './serializer';
import { SingleFlight } from './singleFlight';
import type { ValueTransform } from './valueTransform';
import type { StampedeLease } from './stampedeLease';

/** Expiry for one write: a relative TTL, an absolute time, or the manager's default. */
export type ExpiryOptions =
  | { readonly ttlMs: number | null; readonly expiresAt?: never }
  | { readonly expiresAt: number | null; readonly ttlMs?: never }
  | { readonly ttlMs?: undefined; readonly expiresAt?: undefined };

export type WrapOptions = ExpiryOptions & {
  /** Ask the cross-instance lease (if configured) so one machine computes. @default true */
  readonly useLease?: boolean;
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
   * hits), instead of a fresh copy per `get`. Several times faster for object values; callers
   * must then treat cached objects as read-only, since a mutation is seen by every later hit
   * within the reuse window. Primitives (strings, numbers...) are always shared: they are
   * immutable. @default false (each `get` returns its own copy)
   */
  readonly sharedValues?: boolean;
  /** Rethrow backend failures on reads instead of treating them as misses. @default false */
  readonly strict?: boolean;
  /** @default Date.now */
  readonly clock?: Clock;
  /** @default a silent logger */
  readonly logger?: Logger;
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
}

/**
 * What a successful decode leaves behind for the next read of the same entry object. Objects
 * are kept as verified plaintext bytes and deserialized again on every hit, so each caller still
 * gets its own copy; immutable primitives (strings, numbers...) are kept as they are.
 */
interface VerifiedEntry {
  readonly at: number;
  readonly serializer: Serializer;
  readonly plaintext: Uint8Array | undefined;
  readonly primitive: unknown;
  /** The decoded object itself, kept only with `sharedValues`. */
  readonly shared?: { readonly value: unknown };
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
        keyUnavailable: 0, foreignManifest: 0, degradedWrites: 0, bytesRead: 0, bytesWritten: 0,
      },
      flights: new SingleFlight<unknown>(),
      loggedReasons: new Set<string>(),
      verified: new VerifiedEntries(),
    };
  }

  private readonly options: CacheManagerOptions;

  /** A view of the same cache under another namespace; stats are shared with this manager. */
  namespace(name: string): CacheManager {
    return new CacheManager({ ...this.options, namespace: name }, this.shared);
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    // Not async itself: readOne's frame is the only one on the hottest call of the API.
    return this.readOne<T, T | undefined>(key, valueOf);
  }

  /** Like get, but tells a cached `undefined` apart from a miss, and returns the expiry. */
  lookup<T = unknown>(key: string): Promise<Lookup<T>> {
    return this.readOne<T, Lookup<T>>(key, wholeLookup);
  }

  /** Reads and decodes one entry (a failed read counts and reads as a miss); `pick` shapes the result. */
  private async readOne<T, R>(key: string, pick: (found: Lookup<T>) => R): Promise<R> {
    checkString(key, 'key');
    let entry: StoredEntry | undefined;
    try {
      entry = await this.backend.get(this.namespaceName, key);
    } catch (err) {
      this.readFailed(err);
      entry = undefined;
    }
    const found = this.decode<T>(entry, key);
    return pick(found instanceof Promise ? await found : found);
  }

  async has(key: string): Promise<boolean> {
    return (await this.lookup(key)).found;
  }

  async set<T>(key: string, value: T, options: ExpiryOptions = {}): Promise<WriteResult> {
    checkOptions(options, 'set(key, value, options)', EXPIRY_OPTIONS);
    const entry = await this.encode(key, value, this.expiryOf(options));
    const result = await this.write(() => this.backend.set(entry));
    this.shared.counters.sets += 1;
    this.shared.counters.bytesWritten += entry.value.byteLength;
    return result;
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    for (const key of keys) checkString(key, 'key');
    let entries: (StoredEntry | undefined)[];
    try {
      entries = await this.backend.getMany(this.namespaceName, keys);
    } catch (err) {
      this.readFailed(err);
      entries = keys.map(() => undefined);
    }
    return Promise.all(entries.map(async (entry, i) => (await this.decode<T>(entry, keys[i]!)).value));
  }

  async setMany<T>(items: readonly ({ readonly key: string; readonly value: T } & ExpiryOptions)[]): Promise<WriteResult> {
    if (!Array.isArray(items)) throw new TypeError(`cache.setMany(items) takes an array of { key, value, ttlMs? }, got ${describeArg(items)}.`);
    for (const item of items) checkOptions(item, 'setMany(items): each item', SET_MANY_ITEM);
    const entries = await Promise.all(items.map((item) => this.encode(item.key, item.value, this.expiryOf(item))));
    const result = await this.write(() => this.backend.setMany(entries));
    this.shared.counters.sets += entries.length;
    for (const entry of entries) this.shared.counters.bytesWritten += entry.value.byteLength;
    return result;
  }

  async delete(key: string): Promise<boolean> {
    checkString(key, 'key');
    const removed = await this.backend.delete(this.namespaceName, key);
    if (removed) this.shared.counters.deletes += 1;
    return removed;
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    for (const key of keys) checkString(key, 'key');
    const removed = await this.backend.deleteMany(this.namespaceName, keys);
    this.shared.counters.deletes += removed;
    return removed;
  }

  /** Removes every entry of this manager's namespace. */
  async clear(): Promise<void> {
    await this.backend.clear(this.namespaceName);
  }

  /**
   * Get-or-compute. Concurrent misses on one key in this process call `fn` once; with a
   * `lease` configured, concurrent misses across machines mostly do too (the lease is short and
   * a holder that dies only delays others until it lapses). A failed `fn` is not cached.
   */
  async wrap<T>(key: string, fn: () => T | Promise<T>, options: WrapOptions = {}): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`cache.wrap(key, fn, options): fn must be a function that computes the value, got ${describeArg(fn)}.`);
    checkOptions(options, 'wrap(key, fn, options)', WRAP_OPTIONS);
    const cached = await this.lookup<T>(key);
    if (cached.found) return cached.value as T;
    const flightId = `${this.namespaceName}\u0000${key}`;
    return this.shared.flights.run(flightId, async () => {
      const lease = options.useLease === false ? undefined : this.lease;
      if (!lease) return this.compute(key, fn, options);
      const ref = { namespace: this.namespaceName, key };
      const held = await lease.acquire(ref);
      if (!held.acquired) {
        const filled = await lease.waitFor(ref, () => this.lookup<T>(key));
        if (filled?.found) return filled.value as T;
      } else {
        // Another machine may have stored the value between our miss and our lease.
        const late = await this.lookup<T>(key);
        if (late.found) {
          await held.release();
          return late.value as T;
        }
      }
      try {
        return await this.compute(key, fn, options);
      } finally {
        await held.release();
      }
    }) as Promise<T>;
  }

  stats(): CacheStats {
    return { ...this.shared.counters, backend: this.backend.stats() };
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

  private async compute<T>(key: string, fn: () => T | Promise<T>, options: ExpiryOptions): Promise<T> {
    const value = await fn();
    try {
      await this.set(key, value, options);
    } catch (err) {
      // The caller asked for a value, and has one; a failed cache write must not take it away.
      this.shared.counters.errors += 1;
      this.logOnce('wrap-set-failed', { error: describeError(err) }, 'wrap could not store the computed value');
    }
    return value;
  }

  private async encode(key: string, value: unknown, expiresAt: number | null): Promise<StoredEntry> {
    checkString(key, 'key');
    const identity: EntryIdentity = { namespace: this.namespaceName, key, expiresAt };
    let bytes = this.serializer.serialize(value);
    for (const transform of this.transforms) bytes = await transform.encode(bytes, identity);
    const sealed = await this.sealer.seal(bytes, identity);
    return { ...identity, value: sealed.bytes, keyId: sealed.keyId, createdAt: this.clock() };
  }

  /**
   * Synchronous on the hot path (an entry verified moments ago), so a memory hit costs no extra
   * promise. `key` is the key the caller asked for: the entry is verified against it and this
   * manager's namespace, never against the names the stored entry carries, so storage that hands
   * back another key's (authentic) entry produces a miss, not that key's value.
   */
  private decode<T>(entry: StoredEntry | undefined, key: string): Lookup<T> | Promise<Lookup<T>> {
    const counters = this.shared.counters;
    const now = this.clock();
    if (entry === undefined || (entry.expiresAt !== null && entry.expiresAt <= now)) {
      counters.misses += 1;
      return { found: false, value: undefined, expiresAt: null };
    }
    // A verified object is reused only for the identity it was verified for.
    const verified = entry.key === key && entry.namespace === this.namespaceName ? this.shared.verified.get(entry, now) : undefined;
    if (verified !== undefined && now - verified.at < VERIFIED_REUSE_MS && verified.serializer === this.serializer) {
      try {
        const value = (
          verified.shared !== undefined ? verified.shared.value
          : verified.plaintext === undefined ? verified.primitive
          : this.serializer.deserialize(verified.plaintext)
        ) as T;
        counters.hits += 1;
        counters.bytesRead += entry.value.byteLength;
        return { found: true, value, expiresAt: entry.expiresAt };
      } catch {
        this.shared.verified.delete(entry); // decode it the long way, which counts and logs the failure
      }
    }
    return this.decodeSealed<T>(entry, key, now);
  }

  private async decodeSealed<T>(entry: StoredEntry, key: string, now: number): Promise<Lookup<T>> {
    const counters = this.shared.counters;
    const identity: EntryIdentity = { namespace: this.namespaceName, key, expiresAt: entry.expiresAt };
    try {
      let bytes = await this.sealer.open(entry.value, identity);
      for (let i = this.transforms.length - 1; i >= 0; i--) bytes = await this.transforms[i]!.decode(bytes, identity);
      const value = this.serializer.deserialize(bytes) as T;
      const primitive = value === null || (typeof value !== 'object' && typeof value !== 'function');
      this.shared.verified.set(entry, now, {
        at: now,
        serializer: this.serializer,
        plaintext: primitive ? undefined : bytes,
        primitive: primitive ? value : undefined,
        shared: this.sharedValues && !primitive ? { value } : undefined,
      });
      counters.hits += 1;
      counters.bytesRead += entry.value.byteLength;
      return { found: true, value, expiresAt: entry.expiresAt };
    } catch (err) {
      counters.misses += 1;
      if (err instanceof ForeignManifestError) {
        counters.foreignManifest += 1;
        this.logOnce(`foreign:${err.manifestId}`, { keyId: err.keyId, manifestId: err.manifestId }, "entry sealed by another deployment's key manifest treated as a miss");
      } else if (err instanceof KeyUnavailableError) {
        counters.keyUnavailable += 1;
        this.logOnce(`key:${err.keyId ?? '?'}`, { keyId: err.keyId, reason: err.message }, 'entry sealed under an unavailable key treated as a miss');
      } else if (err instanceof IntegrityError || err instanceof EnvelopeFormatError) {
        counters.decryptFailures += 1;
        this.logOnce(`integrity:${err.code}`, { namespace: entry.namespace, reason: err.message }, 'tampered or corrupt entry treated as a miss');
      } else {
        // The serializer rejected bytes that passed authentication: a bug or a foreign writer.
        counters.decryptFailures += 1;
        this.logOnce('decode', { namespace: entry.namespace, reason: describeError(err) }, 'undecodable entry treated as a miss');
      }
      return { found: false, value: undefined, expiresAt: null };
    }
  }

  private async write(fn: () => Promise<WriteResult>): Promise<WriteResult> {
    try {
      const result = await fn();
      if (result.degraded && result.degraded.length > 0) {
        this.shared.counters.degradedWrites += 1;
        this.logOnce(`degraded:${result.degraded.map((d: TierFailure) => d.tier).join(',')}`, { degraded: result.degraded }, 'write reached only some tiers');
      }
      return result;
    } catch (err) {
      this.shared.counters.errors += 1;
      throw err;
    }
  }

  private readFailed(err: unknown): void {
    this.shared.counters.errors += 1;
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

function valueOf<T>(found: Lookup<T>): T | undefined {
  return found.value;
}

function wholeLookup<T>(found: Lookup<T>): Lookup<T> {
  return found;
}

const EXPIRY_OPTIONS = ['ttlMs', 'expiresAt'] as const;
const WRAP_OPTIONS = [...EXPIRY_OPTIONS, 'useLease'] as const;
const SET_MANY_ITEM = ['key', 'value', ...EXPIRY_OPTIONS] as const;

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
