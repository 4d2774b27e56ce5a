import { randomBytes, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { describeError } from '../../describeError';
import { InvalidArgumentError } from '../../errors';
import type { Clock, HealthCheckStep, Logger } from '../../types';
import { MAX_HASHES_PER_RECORD, keyHash, type InvalidationLogStore, type InvalidationRecord } from './invalidationLog';

/**
 * Coherent local tiers across instances, over the shared table itself (no bus, no extra server).
 * docs/coherence.md has the whole design with its costs; in short:
 *
 * **Publish.** Every set, overwrite, delete or clear that goes through the hybrid adds the key's
 * 64-bit hash (or the namespace) to a buffer. At most once per window (`windowMs`, 200 ms by
 * default) the buffer becomes one record (one PutItem) in a sharded invalidation log kept in the
 * same table: partition `#inv#<shard>`, sort key `<epoch ms>#<instance id>#<seq>`, DynamoDB TTL
 * after `retentionMs`. The first write after a quiet window is published at once; writes during
 * a busy one wait for its end. An instance writes to one shard, picked at random when it starts,
 * so writers spread evenly over the shards. Nothing is written in a window with nothing to say.
 *
 * **Poll.** Once per window every instance Queries each shard for the records published since its
 * last poll (strongly consistent; `sk > last poll - lookback`), skips its own and the ones it has
 * seen, and applies the rest: keys it holds copies of are deleted from the memory and file tiers
 * at once; every hash is remembered for `localTtlCapMs`, so a copy the index did not know of (an
 * older file copy, one made while the record was in flight) is re-checked against DynamoDB on its
 * next hit instead of being served. A cleared namespace is cleared locally the same way.
 *
 * **The bound.** A change reaches every other instance within window (batching, none when quiet)
 * + PutItem + window (polling) + Query: at most 2 x 200 ms + two round trips, 1 s at p99 (measured by
 * `npm run bench -- coherence` and test/integration/coherence.multiprocess.test.ts). The
 * first re-read after an invalidation may come from a DynamoDB replica that has not seen the
 * write yet, so for `settleMs` after applying an invalidation a copy is fresh only until the
 * settle window ends, then checked once more. (A cleared namespace also drops the DynamoDB
 * tier's cached generation.)
 *
 * **Clocks.** Records are ordered by their writers' clocks. A poll reads back `lookbackMs` (one
 * window) before its last poll, so records published up to that much late (slow PutItem, clock
 * skew) are still found; a publisher whose PutItem took longer than half of that publishes the
 * same keys again under a fresh timestamp. Clocks further apart than half a window can delay an
 * invalidation to the TTL cap, never further.
 *
 * **Degrading.** A poll that fails marks coherence degraded (stats `coherence: 'degraded'`, a
 * failing `coherence` health step): local copies then live by the TTL cap alone, as without
 * coherence. A publish that fails is retried with the next window's batch. When the log could not
 * be read for longer than `retentionMs`, records may be gone (TTL), so on reconnecting every
 * local copy made before is treated as unverified at once (never served without a re-check) and
 * the copies of shared origin are dropped from the local tiers. A restarted instance reads the
 * last `localTtlCapMs` of the log (retention must cover it) before it trusts its file copies.
 */

export interface CoherenceOptions {
  readonly store: InvalidationLogStore;
  /** Publish and poll period. @default 200 */
  readonly windowMs?: number;
  /** How long records stay in the log (DynamoDB TTL); at least `capMs`. @default 300000 */
  readonly retentionMs?: number;
  /** How far before the last poll a poll reads again, for late records. @default windowMs */
  readonly lookbackMs?: number;
  /** After an invalidation, how long a re-read copy is re-checked once more. @default 1000 */
  readonly settleMs?: number;
  /** The hybrid's local TTL cap: how long any copy may live without a re-check. */
  readonly capMs: number;
  /** Hashes remembered at most (older ones beyond it make every older copy unverified). @default 100000 */
  readonly maxTrackedHashes?: number;
  /** Keys and namespaces waiting to be published at most; beyond it they are dropped and counted. @default 100000 */
  readonly maxBuffered?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Removes remote invalidations from the local tiers (keys whose copies this instance knows of, and namespaces). */
  readonly applyLocally: (invalidation: LocalInvalidation) => Promise<void>;
  /** Drops every local copy of shared origin (after a partition longer than the retention). */
  readonly dropLocalCopies: () => Promise<void>;
}

/** Keys (by namespace) and namespaces to remove from the local tiers. */
export interface LocalInvalidation {
  readonly keys: ReadonlyMap<string, readonly string[]>;
  /** Namespaces cleared; `undefined` stands for every namespace. */
  readonly clears: readonly (string | undefined)[];
}

export type CoherenceState = 'starting' | 'ok' | 'degraded';

/** A shared tier that caches namespace generations (DynamoDBBackend) and can be told to drop one. */
export interface ForgetsCachedNamespaces {
  forgetCachedNamespace(namespace: string | undefined): void;
}

export function forgetsCachedNamespaces(backend: object): backend is ForgetsCachedNamespaces {
  return typeof (backend as Partial<ForgetsCachedNamespaces>).forgetCachedNamespace === 'function';
}

const SEP = '\u0000';
/**
 * Records stamped further ahead than this are ignored: no honest clock is that far off, and a
 * sort key from the future (or no time at all) would come back on every poll until its TTL.
 */
const FUTURE_SLACK_MS = 60_000;

export class Coherence {
  /** Random per process, so a restarted instance is a new writer and reads its old records as foreign. */
  readonly instanceId = randomBytes(9).toString('base64url');
  readonly windowMs: number;
  readonly retentionMs: number;
  private readonly lookbackMs: number;
  private readonly settleMs: number;
  private readonly capMs: number;
  private readonly maxBuffered: number;
  private readonly store: InvalidationLogStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly options: CoherenceOptions;
  private readonly shard: number;

  // Publishing.
  private bufferedHashes = new Set<string>();
  private bufferedClears = new Set<string>();
  private bufferedClearAll = false;

  // Polling.
  /** Reader-clock time of the last poll that read every shard. */
  private cursor: number;
  private lastPollOk: number;
  private readonly seen = new Map<string, number>();
  private readonly startedAt: number;
  private state: CoherenceState = 'starting';
  private pollError: string | undefined;
  private publishError: string | undefined;
  /** Copies marked before this are unverified (a reset, or hashes forgotten early). */
  private floor = -Infinity;

  // What has been invalidated, by apply time.
  /** Key hash -> when its invalidation was applied; in apply order (reads `peek`). */
  private readonly invalidated: LRUCache<string, number>;
  /** How long an applied invalidation matters: a copy marked before it is stale by the cap after that. */
  private readonly remembered: number;
  private readonly clears = new Map<string, number>();
  private clearedAllAt = -Infinity;
  /** Keys this instance holds local copies of, by hash, so an invalidation can delete them. */
  private readonly known: LRUCache<string, string>;

  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private publishTimer: NodeJS.Timeout | undefined;
  private publishing: Promise<void> | undefined;
  private lastPublishAt = -Infinity;
  private started = false;
  private closed = false;

  readonly counters = {
    published: 0,
    publishedKeys: 0,
    republished: 0,
    publishFailures: 0,
    droppedUnpublished: 0,
    polls: 0,
    pollFailures: 0,
    applied: 0,
    appliedKeys: 0,
    appliedClears: 0,
    localDeletes: 0,
    resets: 0,
    unreadable: 0,
    ignored: 0,
    readUnits: 0,
    writeUnits: 0,
  };

  constructor(options: CoherenceOptions) {
    this.options = options;
    this.store = options.store;
    this.clock = options.clock;
    this.logger = options.logger;
    this.windowMs = options.windowMs ?? 200;
    this.retentionMs = options.retentionMs ?? 300_000;
    this.lookbackMs = options.lookbackMs ?? this.windowMs;
    this.settleMs = options.settleMs ?? 1_000;
    this.capMs = options.capMs;
    this.maxBuffered = options.maxBuffered ?? 100_000;
    for (const [name, value] of Object.entries({ windowMs: this.windowMs, retentionMs: this.retentionMs, lookbackMs: this.lookbackMs, settleMs: this.settleMs })) {
      if (!Number.isInteger(value) || value <= 0) throw new InvalidArgumentError(`coherence.${name} must be a positive integer, got ${String(value)}.`);
    }
    if (this.retentionMs < this.capMs + 2 * this.windowMs + this.lookbackMs) {
      throw new InvalidArgumentError(`coherence.retentionMs (${this.retentionMs}) must be at least localTtlCapMs + 2 x windowMs + lookbackMs (${this.capMs + 2 * this.windowMs + this.lookbackMs}).`, {
        hint: 'A restarted instance reads back one TTL cap of the log to check its file copies: raise hybrid.coherence.retentionMs or lower hybrid.localTtlCapMs.',
      });
    }
    if (!Number.isInteger(this.store.shards) || this.store.shards < 1) throw new InvalidArgumentError(`coherence shards must be a positive integer, got ${this.store.shards}.`);
    this.shard = randomInt(this.store.shards);
    this.startedAt = this.clock();
    // A copy with no record of its own is at most one cap old: the last cap of the log covers it.
    this.cursor = this.startedAt - this.capMs;
    this.lastPollOk = this.startedAt;
    const remembered = this.capMs + this.settleMs;
    const max = options.maxTrackedHashes ?? 100_000;
    this.remembered = remembered;
    this.invalidated = new LRUCache<string, number>({
      max,
      dispose: (appliedAt, _hash, reason) => {
        // Forgotten while it still mattered: every copy marked before it must be re-checked.
        if (reason === 'evict' && appliedAt + remembered > this.clock()) this.floor = Math.max(this.floor, appliedAt + this.settleMs);
      },
    });
    this.known = new LRUCache<string, string>({ max });
  }

  /**
   * Starts polling once per window, and publishing as writes come (timers unref'd: they never
   * keep a process alive; `close()` stops them).
   */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    // The first poll reads back one cap of the log; start it now rather than one window later.
    this.pollNow();
  }

  /** Polls, then schedules the next poll one window after this one began (at once if it took longer). */
  private pollNow(): void {
    // Timers run on real time, whatever clock the cache was given.
    const began = performance.now();
    this.ticking = this.poll().finally(() => {
      this.ticking = undefined;
      if (this.closed) return;
      this.timer = setTimeout(() => this.pollNow(), Math.max(0, began + this.windowMs - performance.now()));
      this.timer.unref();
    });
  }

  /**
   * Publishes the buffer at most once per window: at once when the last record is a window old
   * (a write in a quiet period waits for nobody), else when the window since it ends, so a busy
   * instance still writes one record per window, and no key waits more than a window.
   */
  private schedulePublish(): void {
    if (!this.started || this.closed || this.publishTimer !== undefined || this.publishing !== undefined) return;
    const wait = Math.max(0, this.lastPublishAt + this.windowMs - performance.now());
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      this.publishing = this.publish().finally(() => {
        this.publishing = undefined;
        if (this.hasBuffered()) this.schedulePublish();
      });
    }, wait);
    this.publishTimer.unref();
  }

  private hasBuffered(): boolean {
    return this.bufferedHashes.size > 0 || this.bufferedClears.size > 0 || this.bufferedClearAll;
  }

  // ---- what the hybrid tells us ------------------------------------------------------------

  /** Keys this instance set, overwrote or deleted (through the hybrid), to publish. */
  recordKeys(namespace: string, keys: readonly string[]): void {
    for (const key of keys) {
      if (this.bufferedHashes.size >= this.maxBuffered) {
        this.counters.droppedUnpublished += 1;
        continue;
      }
      this.bufferedHashes.add(keyHash(namespace, key));
    }
    this.schedulePublish();
  }

  /** A namespace (or, `undefined`, every namespace) cleared through the hybrid, to publish. */
  recordClear(namespace: string | undefined): void {
    if (namespace === undefined) this.bufferedClearAll = true;
    else this.bufferedClears.add(namespace);
    this.schedulePublish();
  }

  /** A local tier now holds a copy of this key: an invalidation of it will delete it there. */
  noteCopy(namespace: string, key: string): void {
    this.known.set(keyHash(namespace, key), namespace + SEP + key);
  }

  /**
   * Until when a local copy marked (validated against the shared tier, or written) at `markedAt`
   * may be served as far as coherence knows: `Infinity` when nothing invalidated it, `-Infinity`
   * when an invalidation arrived after it was marked, and the end of the settle window for a
   * copy re-read just after an invalidation. Called on every local hit, so it hashes only when
   * something was invalidated recently.
   */
  limit(namespace: string, key: string, markedAt: number): number {
    if (markedAt < this.floor) return -Infinity;
    if (this.state === 'starting' && markedAt < this.startedAt) return -Infinity;
    let at = this.clearedAllAt;
    const cleared = this.clears.get(namespace);
    if (cleared !== undefined && cleared > at) at = cleared;
    if (this.invalidated.size > 0) {
      const keyAt = this.invalidated.peek(keyHash(namespace, key));
      if (keyAt !== undefined && keyAt > at) at = keyAt;
    }
    if (markedAt < at) return -Infinity;
    return markedAt < at + this.settleMs ? at + this.settleMs : Infinity;
  }

  // ---- the loop -----------------------------------------------------------------------------

  /**
   * Publishes what is buffered and applies what others published, now, after any poll or
   * publish under way (HybridBackend.syncCoherence).
   */
  async sync(): Promise<void> {
    await Promise.all([this.ticking, this.publishing]);
    if (this.publishTimer !== undefined) clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    await this.tick();
  }

  /** One window by hand (tests that do not `start()`): publish what was buffered, then poll every shard. */
  async tick(): Promise<void> {
    await this.publish();
    if (!this.closed) await this.poll();
  }

  private async publish(): Promise<void> {
    if (!this.hasBuffered()) return;
    this.lastPublishAt = performance.now();
    const hashes = [...this.bufferedHashes];
    const clears = [...this.bufferedClears];
    const clearAll = this.bufferedClearAll;
    this.bufferedHashes = new Set();
    this.bufferedClears = new Set();
    this.bufferedClearAll = false;
    for (let i = 0; i < Math.max(1, hashes.length); i += MAX_HASHES_PER_RECORD) {
      const part = hashes.slice(i, i + MAX_HASHES_PER_RECORD);
      const first = i === 0;
      const at = this.clock();
      try {
        const units = await this.store.append(this.shard, {
          at,
          instanceId: this.instanceId,
          hashes: part,
          clearedNamespaces: first ? clears : [],
          clearedAll: first && clearAll,
        });
        this.counters.published += 1;
        this.counters.publishedKeys += part.length;
        this.counters.writeUnits += units.writeUnits;
        this.publishError = undefined;
        // Readers look back only so far: a record that took longer to land than half of that
        // may have been passed over; publish its keys again under a fresh timestamp.
        if (this.clock() - at > this.lookbackMs / 2) {
          this.counters.republished += 1;
          this.requeue(part, first ? clears : [], first && clearAll);
        }
      } catch (err) {
        this.counters.publishFailures += 1;
        this.markDegraded('publish', err);
        this.requeue(part, first ? clears : [], first && clearAll);
      }
    }
  }

  private requeue(hashes: readonly string[], clears: readonly string[], clearAll: boolean): void {
    for (const h of hashes) {
      if (this.bufferedHashes.size >= this.maxBuffered) this.counters.droppedUnpublished += 1;
      else this.bufferedHashes.add(h);
    }
    for (const ns of clears) this.bufferedClears.add(ns);
    if (clearAll) this.bufferedClearAll = true;
  }

  private async poll(): Promise<void> {
    const started = this.clock();
    this.counters.polls += 1;
    // Records older than the retention may be gone already: a reader that fell that far behind
    // cannot know what it missed, and resets instead of catching up.
    const reset = started - this.cursor + this.lookbackMs > this.retentionMs;
    const from = (reset ? started : this.cursor) - this.lookbackMs;
    let results: { records: InvalidationRecord[]; readUnits: number }[];
    try {
      results = await Promise.all([...Array(this.store.shards).keys()].map((shard) => this.store.readSince(shard, from)));
    } catch (err) {
      this.counters.pollFailures += 1;
      this.markDegraded('poll', err);
      return;
    }
    if (this.closed) return;
    for (const r of results) this.counters.readUnits += r.readUnits;
    const fresh = results
      .flatMap((r) => r.records)
      .filter((rec) => {
        if (rec.at < from || rec.at > started + FUTURE_SLACK_MS) {
          this.counters.ignored += 1;
          return false;
        }
        return rec.instanceId !== this.instanceId && !this.seen.has(rec.id);
      });
    for (const rec of fresh) this.seen.set(rec.id, rec.at);
    for (const [id, at] of this.seen) if (at < from) this.seen.delete(id);
    if (reset) {
      this.floor = Math.max(this.floor, started);
      this.counters.resets += 1;
      this.logger.warn(
        { instance: this.instanceId, unreadForMs: started - this.cursor, retentionMs: this.retentionMs },
        'coherence: the invalidation log was unreadable for longer than its retention; dropping local copies of shared entries',
      );
      try {
        await this.options.dropLocalCopies();
      } catch (err) {
        // The floor already keeps every older copy from being served unverified.
        this.logger.warn({ instance: this.instanceId, error: describeError(err) }, 'coherence: dropping local copies failed; they will be re-checked on their next hit');
      }
    }
    await this.apply(fresh);
    this.cursor = started;
    this.lastPollOk = started;
    if (this.state !== 'ok') {
      if (this.state === 'degraded') this.logger.info({ instance: this.instanceId }, 'coherence: the invalidation log answers again');
      this.state = 'ok';
      this.pollError = undefined;
    }
  }

  /**
   * Forgets invalidations older than a cap (plus settle): every copy marked before them is past
   * its cap already. With none left, `limit()` stops hashing on the hot path.
   */
  private forgetOld(now: number): void {
    const old: string[] = [];
    for (const hash of this.invalidated.rkeys()) {
      const at = this.invalidated.peek(hash);
      if (at !== undefined && at + this.remembered >= now) break;
      old.push(hash);
    }
    for (const hash of old) this.invalidated.delete(hash);
    for (const [ns, at] of this.clears) if (at + this.remembered < now) this.clears.delete(ns);
  }

  private async apply(records: readonly InvalidationRecord[]): Promise<void> {
    const now = this.clock();
    this.forgetOld(now);
    if (records.length === 0) return;
    const keys = new Map<string, string[]>();
    const clears: (string | undefined)[] = [];
    for (const rec of records) {
      this.counters.applied += 1;
      if (rec.unreadable !== undefined) {
        this.counters.unreadable += 1;
        this.floor = Math.max(this.floor, now);
        this.logger.warn({ instance: this.instanceId, record: rec.id, reason: rec.unreadable }, 'coherence: an invalidation record cannot be read; every local copy will be re-checked');
        continue;
      }
      for (const h of rec.hashes) {
        this.counters.appliedKeys += 1;
        this.invalidated.delete(h);
        this.invalidated.set(h, now);
        const id = this.known.get(h);
        if (id === undefined) continue;
        this.known.delete(h);
        const sep = id.indexOf(SEP);
        const namespace = id.slice(0, sep);
        keys.set(namespace, [...(keys.get(namespace) ?? []), id.slice(sep + 1)]);
        this.counters.localDeletes += 1;
      }
      for (const ns of rec.clearedNamespaces) {
        this.counters.appliedClears += 1;
        this.clears.set(ns, now);
        clears.push(ns);
      }
      if (rec.clearedAll) {
        this.counters.appliedClears += 1;
        this.clearedAllAt = now;
        clears.push(undefined);
      }
    }
    if (keys.size === 0 && clears.length === 0) return;
    try {
      await this.options.applyLocally({ keys, clears });
    } catch (err) {
      // The hashes are remembered: the copies are re-checked on their next hit even so.
      this.logger.warn({ instance: this.instanceId, error: describeError(err) }, 'coherence: removing invalidated local copies failed; they will be re-checked on their next hit');
    }
  }

  private markDegraded(operation: 'poll' | 'publish', err: unknown): void {
    if (operation === 'publish') {
      // Other instances cannot learn of this one's writes until a publish succeeds.
      if (this.publishError === undefined) {
        this.logger.warn({ instance: this.instanceId, error: describeError(err) }, 'coherence degraded: publishing invalidations failed; other instances keep their copies up to the TTL cap until a retry succeeds');
      }
      this.publishError = describeError(err);
      return;
    }
    this.pollError = describeError(err);
    if (this.state === 'degraded') return;
    this.state = 'degraded';
    this.logger.warn(
      { instance: this.instanceId, error: describeError(err) },
      'coherence degraded: the invalidation log cannot be read; local copies fall back to the TTL cap (localTtlCapMs)',
    );
  }

  // ---- reporting ----------------------------------------------------------------------------

  /** `degraded` when the log cannot be read, or this instance's invalidations cannot be published. */
  get status(): CoherenceState {
    return this.publishError !== undefined ? 'degraded' : this.state;
  }

  stats(): Record<string, number | string | boolean> {
    const c = this.counters;
    return {
      coherence: this.status,
      coherenceInstance: this.instanceId,
      coherenceShard: this.shard,
      coherenceLagMs: Math.max(0, this.clock() - this.lastPollOk),
      coherencePendingKeys: this.bufferedHashes.size,
      coherencePublished: c.published,
      coherencePublishedKeys: c.publishedKeys,
      coherenceRepublished: c.republished,
      coherencePublishFailures: c.publishFailures,
      coherenceDroppedUnpublished: c.droppedUnpublished,
      coherencePolls: c.polls,
      coherencePollFailures: c.pollFailures,
      coherenceApplied: c.applied,
      coherenceAppliedKeys: c.appliedKeys,
      coherenceAppliedClears: c.appliedClears,
      coherenceLocalDeletes: c.localDeletes,
      coherenceResets: c.resets,
      coherenceUnreadable: c.unreadable,
      coherenceIgnored: c.ignored,
      coherenceReadUnits: round(c.readUnits),
      coherenceWriteUnits: round(c.writeUnits),
    };
  }

  healthStep(): HealthCheckStep {
    if (this.state === 'degraded') {
      return {
        name: 'coherence',
        ok: false,
        detail: `coherence degraded: the invalidation log cannot be read (${this.pollError ?? 'unknown error'}); local copies fall back to the TTL cap (${this.capMs} ms); last read ${Math.max(0, this.clock() - this.lastPollOk)} ms ago`,
      };
    }
    if (this.publishError !== undefined) {
      return {
        name: 'coherence',
        ok: false,
        detail: `coherence degraded: publishing invalidations fails (${this.publishError}); ${this.bufferedHashes.size} key(s) wait for the next window, other instances fall back to the TTL cap for them`,
      };
    }
    return { name: 'coherence', ok: true, detail: `${this.state}; window ${this.windowMs} ms, ${this.store.shards} shard(s), instance ${this.instanceId}` };
  }

  /** Stops the timers, publishes what is still buffered (best effort) and releases the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.publishTimer !== undefined) clearTimeout(this.publishTimer);
    this.timer = undefined;
    this.publishTimer = undefined;
    await Promise.all([this.ticking, this.publishing]);
    await this.publish().catch(() => undefined);
    this.store.close();
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
