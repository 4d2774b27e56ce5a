import { randomUUID } from 'node:crypto';
import { describeError } from '../describeError';
import { BackendClosedError, BackendError, InvalidArgumentError } from '../errors';
import type {
  BackendCapabilities,
  BackendStats,
  Clock,
  EntryPage,
  HealthCheckStep,
  HealthReport,
  Logger,
  ScanOptions,
  StoredEntry,
  WriteResult,
} from '../types';
import { silentLogger } from '../logger';
import { NO_EVENTS, combineSinks, type CacheEventSink, type CacheEventSource } from '../events/cacheEvents';
import type { CacheBackend, HealthCheckOptions } from './cacheBackend';

export interface BaseBackendOptions {
  /** Source of "now" for expiry checks. @default Date.now */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Longest key accepted, in UTF-8 bytes. @default 65536 */
  readonly maxKeyBytes?: number;
}

/** Largest namespace name; namespaces are identifiers, keys are data. */
const NAMESPACE_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * What every backend shares: argument checks, expiry on read, stats, batching defaults, the
 * health canary and close handling. A backend fills in only the protected storage methods,
 * the way Powertools' BasePersistenceLayer keeps hashing and expiry above `_getRecord`.
 */
export abstract class BaseBackend implements CacheBackend, CacheEventSource {
  abstract readonly name: string;
  abstract readonly capabilities: BackendCapabilities;

  protected readonly clock: Clock;
  protected readonly logger: Logger;
  /** Where this backend reports (expired reads here; more in subclasses). */
  protected events: CacheEventSink = NO_EVENTS;
  /** The tier name in the events this backend reports (a hybrid names its tiers). */
  private eventTier: string | undefined;
  private readonly maxKeyBytes: number;
  private readonly validNamespaces = new Set<string>();
  private closed = false;
  protected readonly counters = {
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    errors: 0,
    expired: 0,
    corrupt: 0,
    evictions: 0,
    bytesRead: 0,
    bytesWritten: 0,
  };

  protected constructor(options: BaseBackendOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.maxKeyBytes = options.maxKeyBytes ?? 65_536;
  }

  // ---- storage methods a backend implements -------------------------------------------

  /** Reads one entry as stored, expired or not; `undefined` if absent or unreadable. */
  protected abstract _get(namespace: string, key: string): Promise<StoredEntry | undefined>;
  /** Writes entries, each atomically, meeting the backend's durability before resolving. */
  protected abstract _setMany(entries: readonly StoredEntry[]): Promise<WriteResult>;
  /** Removes entries; resolves how many existed. */
  protected abstract _deleteMany(namespace: string, keys: readonly string[]): Promise<number>;
  protected abstract _clear(namespace: string | undefined): Promise<void>;
  /** One page of entries (expired ones included; the base filters them). */
  protected abstract _scan(options: ScanOptions): Promise<EntryPage>;
  protected abstract _close(): Promise<void>;

  /** Batched read; override where the store has a cheaper multi-get. */
  protected async _getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    const out: (StoredEntry | undefined)[] = [];
    for (const key of keys) out.push(await this._get(namespace, key));
    return out;
  }

  /** Extra health steps beyond the canary round trip (table status, integrity...). */
  protected async _healthSteps(_options: HealthCheckOptions = {}): Promise<HealthCheckStep[]> {
    return [];
  }

  /** Gauges for stats(): entries, bytes, backend-specific extras. */
  protected _statsExtra(): Pick<BackendStats, 'entries' | 'bytes' | 'extra' | 'tiers'> {
    return {};
  }

  // ---- the contract -------------------------------------------------------------------

  async get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    // The hottest call of every tier: the guard is inlined (no closure, no extra async frame).
    this.checkRef(namespace, key);
    if (this.closed) throw new BackendClosedError(this.name);
    let entry: StoredEntry | undefined;
    try {
      entry = await this._get(namespace, key);
    } catch (err) {
      throw this.failure(err);
    }
    return this.countRead(entry);
  }

  async has(namespace: string, key: string): Promise<boolean> {
    this.checkRef(namespace, key);
    const entry = await this.guard(() => this._get(namespace, key));
    return entry !== undefined && !this.isExpired(entry);
  }

  async set(entry: StoredEntry): Promise<WriteResult> {
    return this.setMany([entry]);
  }

  async setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    for (const entry of entries) this.checkEntry(entry);
    if (entries.length === 0) return { written: 0 };
    const result = await this.guard(() => this._setMany(entries));
    this.counters.sets += result.written;
    for (const entry of entries) this.counters.bytesWritten += entry.value.byteLength;
    return result;
  }

  async delete(namespace: string, key: string): Promise<boolean> {
    return (await this.deleteMany(namespace, [key])) > 0;
  }

  async deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    for (const key of keys) this.checkRef(namespace, key);
    if (keys.length === 0) return 0;
    const removed = await this.guard(() => this._deleteMany(namespace, keys));
    this.counters.deletes += removed;
    return removed;
  }

  async getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    for (const key of keys) this.checkRef(namespace, key);
    if (keys.length === 0) return [];
    const found = await this.guard(() => this._getMany(namespace, keys));
    return found.map((entry) => this.countRead(entry));
  }

  async clear(namespace?: string): Promise<void> {
    if (namespace !== undefined) this.checkNamespace(namespace);
    await this.guard(() => this._clear(namespace));
  }

  async scan(options: ScanOptions = {}): Promise<EntryPage> {
    if (options.namespace !== undefined) this.checkNamespace(options.namespace);
    const page = await this.guard(() => this._scan(options));
    if (options.includeExpired) return page;
    const now = this.clock();
    return { cursor: page.cursor, entries: page.entries.filter((e) => e.expiresAt === null || e.expiresAt > now) };
  }

  async *entries(options: Omit<ScanOptions, 'cursor'> = {}): AsyncIterableIterator<StoredEntry> {
    let cursor: string | undefined;
    do {
      const page = await this.scan({ ...options, cursor });
      yield* page.entries;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  stats(): BackendStats {
    return { backend: this.name, ...this.counters, ...this._statsExtra() };
  }

  /** A canary write, read and delete in a reserved namespace, plus the backend's own steps. */
  async healthCheck(options: HealthCheckOptions = {}): Promise<HealthReport> {
    const started = performance.now();
    const checks: HealthCheckStep[] = [];
    const namespace = '__health__';
    const key = `canary-${randomUUID()}`;
    const value = Buffer.from(key);
    const step = async (name: string, fn: () => Promise<string | undefined>): Promise<boolean> => {
      const t0 = performance.now();
      try {
        const problem = await fn();
        checks.push({ name, ok: problem === undefined, latencyMs: performance.now() - t0, detail: problem });
        return problem === undefined;
      } catch (err) {
        checks.push({ name, ok: false, latencyMs: performance.now() - t0, detail: describeError(err) });
        return false;
      }
    };
    const now = this.clock();
    if (options.readOnly) {
      await step('read', async () => ((await this._get(namespace, key)) === undefined ? undefined : 'a canary that was never written was found'));
    } else if (await step('write', async () => {
      await this._setMany([{ namespace, key, value, expiresAt: now + 60_000, keyId: 'none', createdAt: now }]);
      return undefined;
    })) {
      await step('read', async () => {
        const got = await this._get(namespace, key);
        return got && Buffer.from(got.value).equals(value) ? undefined : 'canary read back different bytes';
      });
      await step('delete', async () => ((await this._deleteMany(namespace, [key])) === 1 ? undefined : 'canary was not removed'));
    }
    try {
      checks.push(...(await this._healthSteps(options)));
    } catch (err) {
      checks.push({ name: 'backend', ok: false, detail: describeError(err) });
    }
    return {
      backend: this.name,
      healthy: checks.every((c) => c.ok),
      latencyMs: performance.now() - started,
      checks,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this._close();
  }

  /** Reports to `sink` as well; `tier` names this backend in events (default: its name). */
  attachEvents(sink: CacheEventSink, tier?: string): void {
    this.events = combineSinks(this.events, sink);
    if (tier !== undefined) this.eventTier = tier;
  }

  // ---- helpers for subclasses ------------------------------------------------------------

  protected isExpired(entry: StoredEntry, now = this.clock()): boolean {
    return entry.expiresAt !== null && entry.expiresAt <= now;
  }

  /** Count a corrupt entry found by the backend itself (bad blob, bad checksum). */
  protected reportCorrupt(namespace: string, key: string, reason: string): void {
    this.counters.corrupt += 1;
    this.logger.warn({ backend: this.name, namespace, keyLength: key.length, reason }, 'corrupt cache entry treated as a miss');
  }

  protected get isClosed(): boolean {
    return this.closed;
  }

  private countRead(entry: StoredEntry | undefined): StoredEntry | undefined {
    if (entry === undefined) {
      this.counters.misses += 1;
      return undefined;
    }
    if (this.isExpired(entry)) {
      this.counters.expired += 1;
      this.counters.misses += 1;
      if (this.events.wants.expire) this.reportExpired(entry);
      return undefined;
    }
    this.counters.hits += 1;
    this.counters.bytesRead += entry.value.byteLength;
    return entry;
  }

  private reportExpired(entry: StoredEntry): void {
    this.events.emit('expire', { type: 'expire', namespace: entry.namespace, key: entry.key, tier: this.eventTier ?? this.name });
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new BackendClosedError(this.name);
    try {
      return await fn();
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** Counts a failed storage call and turns unknown errors into a BackendError with the cause. */
  private failure(err: unknown): Error {
    this.counters.errors += 1;
    if (err instanceof BackendError || err instanceof InvalidArgumentError) return err;
    return new BackendError(this.name, `The ${this.name} backend failed: ${describeError(err)}`, { cause: err });
  }

  private checkNamespace(namespace: string): void {
    // Apps use a handful of namespaces: remember the valid ones instead of re-running the regex.
    if (this.validNamespaces.has(namespace)) return;
    if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace)) {
      throw new InvalidArgumentError(`Invalid namespace ${JSON.stringify(String(namespace)).slice(0, 80)}.`, {
        hint: 'Namespaces are 1-128 characters of letters, digits, ".", "_", ":" and "-".',
      });
    }
    if (this.validNamespaces.size >= 1024) this.validNamespaces.clear();
    this.validNamespaces.add(namespace);
  }

  private checkRef(namespace: string, key: string): void {
    this.checkNamespace(namespace);
    if (typeof key !== 'string') {
      throw new InvalidArgumentError(`Cache keys must be strings, got ${typeof key}.`);
    }
    // A UTF-16 code unit is at most 3 UTF-8 bytes, so short keys need no byte count.
    if (key.length * 3 > this.maxKeyBytes && Buffer.byteLength(key) > this.maxKeyBytes) {
      throw new InvalidArgumentError(`Cache key is ${Buffer.byteLength(key)} bytes; the limit is ${this.maxKeyBytes}.`, {
        hint: 'Hash long keys before caching, or raise maxKeyBytes.',
      });
    }
  }

  private checkEntry(entry: StoredEntry): void {
    this.checkRef(entry.namespace, entry.key);
    if (!(entry.value instanceof Uint8Array)) {
      throw new InvalidArgumentError('Stored values must be bytes (Uint8Array); serialize above the backend.');
    }
    if (entry.expiresAt !== null && !Number.isFinite(entry.expiresAt)) {
      throw new InvalidArgumentError(`expiresAt must be epoch milliseconds or null, got ${entry.expiresAt}.`);
    }
  }
}
