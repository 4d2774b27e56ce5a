import { BackendError, InvalidArgumentError } from '../errors';
import type {
  BackendCapabilities,
  BackendStats,
  EntryPage,
  HealthCheckStep,
  ScanOptions,
  StoredEntry,
  TierFailure,
  WriteResult,
} from '../types';
import { describeError } from '../describeError';
import { errorCode, isCacheEventSource, type CacheEventSink } from '../events/cacheEvents';
import { nonNegativeOption, positiveOption } from './backendOptions';
import { BaseBackend, type BaseBackendOptions } from './baseBackend';
import type { CacheBackend, HealthCheckOptions } from './cacheBackend';
import type { BreakerState } from './hybrid/circuitBreaker';
import { Coherence, forgetsCachedNamespaces, type CoherenceOptions, type LocalInvalidation } from './hybrid/coherence';
import { TierUnavailableError } from './hybrid/errors';
import { FreshnessIndex } from './hybrid/freshnessIndex';
import { MutationLog } from './hybrid/mutationLog';
import { ReplayQueue } from './hybrid/replayQueue';
import { providesReplayStore, type QueuedOp, type ReplayStore } from './hybrid/replayStore';
import { Tier, type TierOutcome } from './hybrid/tier';

export interface HybridTierSpec {
  /** Name in stats, logs and `WriteResult.degraded` (`memory`, `file`, `dynamodb`). Unique. */
  readonly name: string;
  readonly backend: CacheBackend;
  /**
   * Timeout for one call to this tier.
   * @default `tierTimeoutMs` for persistent tiers; none for in-process tiers, which cannot hang
   */
  readonly timeoutMs?: number;
}

export interface HybridBackendOptions extends BaseBackendOptions {
  /** Tiers from fastest to the shared, authoritative one (e.g. memory, file, dynamodb). */
  readonly tiers: readonly HybridTierSpec[];
  /**
   * Longest a local copy of shared data is served before it is re-checked against the shared
   * tier, so changes made by other machines show up. Never extends an entry's own expiry.
   * @default 60000
   */
  readonly localTtlCapMs?: number;
  /**
   * How long past its local cap a local copy may still be served while the shared tier is
   * failing (0: never serve a copy past its cap).
   * @default 300000
   */
  readonly staleIfErrorMs?: number;
  /** Timeout for one call to one persistent tier. @default 1000 */
  readonly tierTimeoutMs?: number;
  /** Consecutive failures of a tier that open its circuit breaker. @default 5 */
  readonly breakerFailureThreshold?: number;
  /** How long an open breaker skips its tier before letting one probe through. @default 30000 */
  readonly breakerResetMs?: number;
  /**
   * Throw `TierUnavailableError` when a tier fails instead of degrading to the other tiers.
   * @default false
   */
  readonly strict?: boolean;
  /**
   * Entries that must never reach a shared tier (sealed under a key only this machine has, so
   * other machines could not read them anyway). They are written to local tiers only, and the
   * skip is reported in `WriteResult.degraded`.
   * @default () => false
   */
  readonly isLocalOnly?: (entry: StoredEntry) => boolean;
  /** Local copies whose cap deadline is tracked in memory (older ones fall back to `createdAt + cap`). @default 100000 */
  readonly freshnessIndexSize?: number;
  /**
   * Writes, deletes and clears the shared tier missed during an outage, kept (latest per key) to
   * be replayed when it answers again; past this many the oldest are dropped, counted
   * (`replayDropped`) and logged.
   * @default 10000
   */
  readonly maxPendingReplays?: number;
  /**
   * Keep the replay queue on disk so it survives a restart: in the first local persistent tier
   * that offers it (the file tier's `replay.db`). `false` keeps it in memory only.
   * @default true when a local tier can keep it and there is a shared tier
   */
  readonly durableReplays?: boolean;
  /**
   * Coherent local tiers across instances: sets, deletes and clears are published to an
   * invalidation log on the shared store, and other instances drop their local copies within
   * about two windows (client/backends/hybrid/coherence.ts, docs/coherence.md). Needs a shared tier.
   * @default none: local copies live by `localTtlCapMs` alone
   */
  readonly coherence?: HybridCoherenceOptions;
}

/** The coherence settings a caller chooses; the hybrid supplies its cap, clock, logger and local tiers. */
export type HybridCoherenceOptions = Omit<CoherenceOptions, 'capMs' | 'clock' | 'logger' | 'applyLocally' | 'dropLocalCopies'>;

/** A local copy past its cap, kept in case the shared tier cannot be asked. */
interface StaleCopy {
  readonly entry: StoredEntry;
  readonly freshUntil: number;
  readonly tiers: number[];
}

/** One tier's part of a write-through: the entries it was given and its answer (none when given nothing). */
interface TierWrite {
  readonly tier: Tier;
  readonly list: readonly StoredEntry[];
  readonly outcome: TierOutcome<WriteResult> | undefined;
}

interface WriteSettlement {
  readonly reached: Set<StoredEntry>;
  readonly degraded: TierFailure[];
  /** Indexes of local tiers the write did not reach. */
  readonly failedLocal: number[];
  firstFailure: { tier: string; outcome: TierOutcome<unknown> & { ok: false } } | undefined;
}

/** One key of a read-through, as the walk down the tiers learns about it. */
interface KeyRead {
  readonly key: string;
  /** The answer: a fresh copy, or a stale one served because the shared tier could not be asked. */
  found?: StoredEntry;
  /** Index of the tier that had the fresh copy (-1: none); tiers above it get it promoted. */
  source: number;
  /** Until when the promoted copies are fresh. */
  deadline: number;
  /** The newest copy found past its cap, and the tiers holding it. */
  stale?: StaleCopy;
  /** A deciding tier failed after the stale copy was found, so nobody denied it. */
  staleUnverified: boolean;
}

/**
 * Tiers behind one backend: reads go down the tiers and promote a hit into the tiers above it,
 * writes go through every tier, and a failing tier degrades the answer instead of failing it.
 *
 * Local tiers in front of a shared one hold copies of shared data. They store the entry exactly
 * as written (same bytes, same absolute `expiresAt`, which the envelope authenticates); the
 * local TTL cap is a separate per-copy deadline kept by {@link FreshnessIndex}. A copy past its
 * cap is re-checked against the shared tier: a hit there replaces it, a miss there removes it
 * (another machine deleted it), and a failure there serves it for up to `staleIfErrorMs` more.
 *
 * `WriteResult.written` counts entries stored in at least one tier; tiers that did not take
 * them (an outage, or a local-only entry kept off the shared tier) are listed in `degraded`.
 * Writes, deletes and clears a shared tier missed are queued and replayed when it answers
 * again; with a file tier the queue is kept on disk and outlives the process (ReplayQueue).
 * Each tier has a timeout and a circuit breaker; see docs/backends.md for the whole contract.
 * Scans come from the last tier, which holds everything.
 */
export class HybridBackend extends BaseBackend {
  readonly name = 'hybrid';
  /** Hits and misses are reported here, per key read, with the tier that answered (see attachEvents). */
  readonly reportsReads = true;
  readonly capabilities: BackendCapabilities;
  private readonly tiers: readonly Tier[];
  private readonly freshness: FreshnessIndex;
  private readonly mutations: MutationLog;
  private readonly replay: ReplayQueue;
  private replaying: Promise<{ replayed: number; pending: number }> | undefined;
  /** Sets, deletes and clears under way; a replay starts only after they finish. */
  private readonly writesInFlight = new Set<Promise<unknown>>();
  private readonly staleIfErrorMs: number;
  private readonly strict: boolean;
  private readonly isLocalOnly: (entry: StoredEntry) => boolean;
  private readonly hasSharedTier: boolean;
  /** Cross-instance invalidation, when configured (and a shared tier exists). */
  private readonly coherence: Coherence | undefined;
  private readonly extra = {
    promotions: 0,
    revalidations: 0,
    staleServed: 0,
    staleRefused: 0,
    sharedEvictions: 0,
    degradedWrites: 0,
    localOnlyWrites: 0,
    tierFailures: 0,
    replayed: 0,
    replayStoreFailures: 0,
    coherenceDropped: 0,
  };

  constructor(options: HybridBackendOptions) {
    super(options);
    const specs = options.tiers;
    if (!Array.isArray(specs) || specs.length === 0) {
      throw new InvalidArgumentError('A hybrid backend needs at least one tier.', {
        hint: 'Pass tiers from fastest to shared, e.g. [{ name: "memory", backend }, { name: "dynamodb", backend }].',
      });
    }
    const names = new Set<string>();
    for (const spec of specs) {
      if (names.has(spec.name)) throw new InvalidArgumentError(`Hybrid tier names must be unique; "${spec.name}" appears twice.`);
      names.add(spec.name);
    }
    const capMs = positiveOption('HybridBackend', 'localTtlCapMs', options.localTtlCapMs, 60_000, 'duration');
    this.staleIfErrorMs = nonNegativeOption('HybridBackend', 'staleIfErrorMs', options.staleIfErrorMs, 300_000, 'duration');
    const tierTimeoutMs = positiveOption('HybridBackend', 'tierTimeoutMs', options.tierTimeoutMs, 1_000, 'duration');
    const failureThreshold = positiveOption('HybridBackend', 'breakerFailureThreshold', options.breakerFailureThreshold, 5);
    const resetMs = positiveOption('HybridBackend', 'breakerResetMs', options.breakerResetMs, 30_000, 'duration');
    this.strict = options.strict ?? false;
    this.isLocalOnly = options.isLocalOnly ?? (() => false);
    const indexSize = positiveOption('HybridBackend', 'freshnessIndexSize', options.freshnessIndexSize, 100_000);
    this.freshness = new FreshnessIndex(capMs, indexSize);
    this.mutations = new MutationLog(indexSize);
    const lastShared = specs.map((s) => s.backend.capabilities.shared).lastIndexOf(true);
    this.hasSharedTier = lastShared >= 0;
    this.replay = new ReplayQueue(
      positiveOption('HybridBackend', 'maxPendingReplays', options.maxPendingReplays, 10_000),
      this.hasSharedTier && options.durableReplays !== false ? this.openReplayStore(specs) : undefined,
      (operation, err) => {
        this.extra.replayStoreFailures += 1;
        this.logger.warn({ backend: this.name, operation, error: describeError(err) }, 'replay journal failed; this pending write is kept in memory only');
      },
      (count) => {
        if (this.events.wants.replayDropped) this.events.emit('replayDropped', { type: 'replayDropped', count, total: this.replay.dropped });
        this.logger.warn(
          { backend: this.name, dropped: count, total: this.replay.dropped },
          'replay queue full (maxPendingReplays): the oldest writes the shared tier missed were dropped and will not be replayed',
        );
      },
      (op) => {
        if (!this.events.wants.replayQueued) return;
        const namespace = op.kind === 'set' ? op.entry.namespace : op.namespace;
        this.events.emit('replayQueued', { type: 'replayQueued', kind: op.kind, namespace, pending: this.replay.size });
      },
    );
    if (this.replay.droppedEarlier > 0) {
      this.logger.warn(
        { backend: this.name, dropped: this.replay.droppedEarlier },
        'an earlier run dropped writes the shared tier missed (replay queue full); the shared tier may hold older values for them',
      );
    }
    if (this.replay.size > 0) this.logger.info({ backend: this.name, pending: this.replay.size }, 'writes the shared tier missed before the last exit will be replayed when it answers');
    this.tiers = specs.map(
      (spec, index) =>
        new Tier({
          name: spec.name,
          backend: spec.backend,
          index,
          cachesShared: index < lastShared && !spec.backend.capabilities.shared,
          timeoutMs: spec.timeoutMs ?? (spec.backend.capabilities.persistent || spec.backend.capabilities.shared ? tierTimeoutMs : undefined),
          failureThreshold,
          resetMs,
          clock: this.clock,
          onStateChange: (tier, from, to) => this.breakerChanged(tier, from, to),
          onAnswer: (tier) => {
            // Replays never throw (tier calls report failures as outcomes); the catch is a backstop.
            if (tier.shared && this.replay.size > 0 && this.replaying === undefined) this.flushPending().catch(() => undefined);
          },
        }),
    );
    const caps = specs.map((s) => s.backend.capabilities);
    this.capabilities = {
      scanSegments: caps[caps.length - 1]!.scanSegments,
      maxBatchWrite: Math.min(...caps.map((c) => c.maxBatchWrite)),
      persistent: caps.some((c) => c.persistent),
      shared: this.hasSharedTier,
    };
    if (options.coherence !== undefined) {
      if (!this.hasSharedTier) {
        throw new InvalidArgumentError('Coherence needs a shared tier: local tiers alone have nothing to be coherent with.', {
          hint: 'Add a DynamoDB tier, or leave coherence off.',
        });
      }
      this.coherence = new Coherence({
        ...options.coherence,
        capMs,
        clock: this.clock,
        logger: this.logger,
        applyLocally: (invalidation) => this.invalidateLocally(invalidation),
        dropLocalCopies: () => this.dropSharedCopies(),
      });
      this.coherence.start();
    }
  }

  /** The first local persistent tier's replay store, or undefined (logged) when none can be opened. */
  private openReplayStore(specs: readonly HybridTierSpec[]): ReplayStore | undefined {
    const spec = specs.find((s) => !s.backend.capabilities.shared && s.backend.capabilities.persistent && providesReplayStore(s.backend));
    if (spec === undefined || !providesReplayStore(spec.backend)) return undefined;
    try {
      return spec.backend.openReplayStore();
    } catch (err) {
      // A pending write must not stop the cache from starting; it is still replayed from memory.
      this.logger.warn({ backend: this.name, tier: spec.name, error: describeError(err) }, 'cannot open the replay journal; writes the shared tier misses are kept in memory only');
      return undefined;
    }
  }

  /**
   * Reports to `sink`: per key read one `hit` (with the tier that answered) or `miss`, breaker
   * changes, replays, tier failures and per-tier timings; each tier's backend reports its
   * expired reads under the tier's name.
   */
  override attachEvents(sink: CacheEventSink): void {
    super.attachEvents(sink);
    for (const tier of this.tiers) {
      tier.events = this.events;
      if (isCacheEventSource(tier.backend)) tier.backend.attachEvents(sink, tier.name);
    }
  }

  /** The tiers' names, fastest first. */
  get tierNames(): string[] {
    return this.tiers.map((t) => t.name);
  }

  /**
   * The last tier, which every instance reads (the shared one, or the most durable local one):
   * where state that must be the same for all instances, such as tag versions, is kept.
   */
  get sharedTier(): CacheBackend {
    return this.tiers[this.tiers.length - 1]!.backend;
  }

  // ---- reads --------------------------------------------------------------------------------

  /** The hot path: a fresh hit in the first tier returns without the bookkeeping of a read-through. */
  protected async _get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    const first = this.tiers[0]!;
    let outcome: TierOutcome<StoredEntry | undefined>;
    if (first.direct) {
      // An in-process first tier is awaited directly: call()'s extra promise layer would be a
      // third of a memory hit's cost.
      const started = first.begin();
      try {
        outcome = { ok: true, value: await first.backend.get(namespace, key) };
        first.succeeded(started);
      } catch (err) {
        outcome = first.failed(started, true, err);
      }
    } else {
      outcome = await first.call('get', (b) => b.get(namespace, key));
    }
    if (outcome.ok && outcome.value !== undefined && this.clock() < this.freshUntil(first, outcome.value)) {
      first.counters.hits += 1;
      if (this.events.wants.hit) this.reportHit(namespace, key, first);
      return outcome.value;
    }
    const firstAnswer: TierOutcome<(StoredEntry | undefined)[]> = outcome.ok ? { ok: true, value: [outcome.value] } : outcome;
    return (await this.readThrough(namespace, [key], firstAnswer))[0];
  }

  protected override async _getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    return this.readThrough(namespace, keys, undefined);
  }

  /** Until when a tier's copy may be served without asking the shared tier (Infinity if the cap does not apply). */
  private freshUntil(tier: Tier, entry: StoredEntry): number {
    if (!tier.cachesShared || this.isLocalOnly(entry)) return Infinity;
    // A write the shared tier has not seen yet: the local copy is the newest there is.
    if (this.replay.pendingKind(entry.namespace, entry.key) === 'set') return Infinity;
    const until = this.freshness.freshUntil(tier.index, entry);
    if (this.coherence === undefined) return until;
    // Another instance changed the key (or cleared its namespace) after this copy was made.
    return Math.min(until, this.coherence.limit(entry.namespace, entry.key, this.freshness.markedAt(tier.index, entry)));
  }

  /** Records fresh local copies: their deadline, and (for coherence) that this instance holds them. */
  private markFresh(namespace: string, key: string, tiers: readonly number[], deadline: number, markedAt: number): void {
    this.freshness.mark(namespace, key, tiers, deadline, markedAt);
    if (tiers.length > 0) this.coherence?.noteCopy(namespace, key);
  }

  /**
   * Goes down the tiers for `keys`, promotes hits, re-checks capped copies, serves stale ones
   * only when the shared tier cannot answer. `firstAnswer` is tier 0's answer when already asked.
   */
  private async readThrough(
    namespace: string,
    keys: readonly string[],
    firstAnswer: TierOutcome<(StoredEntry | undefined)[]> | undefined,
  ): Promise<(StoredEntry | undefined)[]> {
    const since = this.mutations.now();
    const now = this.clock();
    const reads: KeyRead[] = keys.map((key) => ({ key, source: -1, deadline: 0, staleUnverified: false }));
    const { unanswered, failedFor } = await this.walkTiers(namespace, reads, firstAnswer, now);
    const { evict, degraded } = this.settleUnanswered(unanswered, failedFor.length > 0, now);
    if (this.strict && degraded) {
      const first = failedFor[0]!;
      throw new TierUnavailableError(first.tier, first.kind, `A read could not be answered honestly: the ${first.tier} tier is unavailable (${first.error.message}).`, {
        cause: first.error,
      });
    }
    if (reads.some((r) => r.source > 0)) await this.promote(namespace, reads, since, now);
    if (evict.length > 0) await this.dropStaleCopies(namespace, evict);
    if (this.events.wants.hit || this.events.wants.miss) this.reportReads(namespace, reads);
    return reads.map((r) => r.found);
  }

  /** Out of `_get`, so the hot path keeps only the flag check. */
  private reportHit(namespace: string, key: string, tier: Tier): void {
    this.events.emit('hit', { type: 'hit', namespace, key, tier: tier.name, stale: false });
  }

  private reportReads(namespace: string, reads: readonly KeyRead[]): void {
    for (const r of reads) {
      if (r.found === undefined) {
        if (this.events.wants.miss) this.events.emit('miss', { type: 'miss', namespace, key: r.key });
      } else if (this.events.wants.hit) {
        // A stale copy is named by the fastest tier that held it (the one it was read from).
        const stale = r.source < 0;
        const tier = this.tiers[stale ? r.stale!.tiers[0]! : r.source]!;
        this.events.emit('hit', { type: 'hit', namespace, key: r.key, tier: tier.name, stale });
      }
    }
  }

  /**
   * Asks each tier in turn for the keys no tier has answered yet. A fresh copy answers its key;
   * a copy past its cap is kept aside as a stale copy and the walk goes on to the shared tier.
   * Returns the reads still unanswered and the failures of tiers whose answer decides a read.
   */
  private async walkTiers(
    namespace: string,
    reads: KeyRead[],
    firstAnswer: TierOutcome<(StoredEntry | undefined)[]> | undefined,
    now: number,
  ): Promise<{ unanswered: KeyRead[]; failedFor: (TierOutcome<unknown> & { ok: false; tier: string })[] }> {
    const failedFor: (TierOutcome<unknown> & { ok: false; tier: string })[] = [];
    let pending = reads;
    for (const tier of this.tiers) {
      if (pending.length === 0) break;
      const ask = pending.map((r) => r.key);
      const outcome =
        tier.index === 0 && firstAnswer !== undefined
          ? firstAnswer
          : await tier.call('get', (b) => (ask.length === 1 ? b.get(namespace, ask[0]!).then((e) => [e]) : b.getMany(namespace, ask)));
      if (!outcome.ok) {
        this.tierFailed(tier, 'get', outcome);
        // Only an authoritative tier's silence makes the answer doubtful; a failing local tier
        // just means one copy fewer to look at.
        if (tier.shared || !this.hasSharedTier) {
          failedFor.push({ ...outcome, tier: tier.name });
          for (const r of pending) if (r.stale) r.staleUnverified = true;
        }
        continue;
      }
      const next: KeyRead[] = [];
      outcome.value.forEach((entry, j) => {
        const read = pending[j]!;
        if (this.answers(tier, namespace, read, entry, now)) return;
        next.push(read);
      });
      pending = next;
    }
    return { unanswered: pending, failedFor };
  }

  /** Records `entry` from `tier` on `read`; true when it answers the read (a fresh copy). */
  private answers(tier: Tier, namespace: string, read: KeyRead, entry: StoredEntry | undefined, now: number): boolean {
    // A shared copy of a key deleted here during an outage is the deleted value: not an answer.
    if (entry === undefined || (tier.shared && this.replay.pendingKind(namespace, entry.key) === 'delete')) {
      tier.counters.misses += 1;
      return false;
    }
    tier.counters.hits += 1;
    const until = this.freshUntil(tier, entry);
    if (until !== Infinity && now >= until) {
      this.extra.revalidations += 1;
      if (read.stale) read.stale.tiers.push(tier.index);
      else read.stale = { entry, freshUntil: until, tiers: [tier.index] };
      return false;
    }
    read.deadline = until !== Infinity ? until : this.freshness.deadlineFrom(now, entry);
    read.found = entry;
    read.source = tier.index;
    return true;
  }

  /**
   * The stale-copy decision for reads no tier answered fresh: a stale copy the shared tier has
   * denied is evicted; one it could not confirm is served within `staleIfErrorMs` (unless
   * strict); otherwise the read is a miss, degraded when a deciding tier failed.
   */
  private settleUnanswered(unanswered: readonly KeyRead[], anyDecidingTierFailed: boolean, now: number): { evict: KeyRead[]; degraded: boolean } {
    const evict: KeyRead[] = [];
    let degraded = false;
    for (const read of unanswered) {
      const copy = read.stale;
      if (copy && !read.staleUnverified) {
        // The shared tier answered and does not have it: deleted or cleared by another machine.
        evict.push(read);
        continue;
      }
      if (copy && now < copy.freshUntil + this.staleIfErrorMs && !this.strict) {
        read.found = copy.entry;
        this.extra.staleServed += 1;
        continue;
      }
      if (copy) this.extra.staleRefused += 1;
      if (anyDecidingTierFailed) degraded = true;
    }
    return { evict, degraded };
  }

  /**
   * Copies each hit into the tiers above the one that had it, except hits of keys written,
   * deleted or cleared while the read was under way (since `since`): those answers may be
   * older than the local tiers now are.
   */
  private async promote(namespace: string, reads: readonly KeyRead[], since: number, readAt: number): Promise<void> {
    const writes = this.tiers.map(() => [] as KeyRead[]);
    for (const read of reads) {
      if (read.source > 0 && this.mutations.changedSince(since, namespace, read.key)) continue;
      for (let t = 0; t < read.source; t++) writes[t]!.push(read);
    }
    await Promise.all(
      writes.map(async (promoted, t) => {
        if (promoted.length === 0) return;
        const tier = this.tiers[t]!;
        const outcome = await tier.call('promote', (b) => b.setMany(promoted.map((r) => r.found!)));
        if (!outcome.ok) {
          this.tierFailed(tier, 'promote', outcome);
          return;
        }
        this.extra.promotions += promoted.length;
        if (tier.cachesShared) for (const r of promoted) this.markFresh(namespace, r.key, [t], r.deadline, readAt);
      }),
    );
  }

  private async dropStaleCopies(namespace: string, evict: readonly KeyRead[]): Promise<void> {
    this.extra.sharedEvictions += evict.length;
    await Promise.all(
      this.tiers.map(async (tier) => {
        const drop = evict.filter((r) => r.stale!.tiers.includes(tier.index)).map((r) => r.key);
        if (drop.length === 0) return;
        const outcome = await tier.call('evict', (b) => b.deleteMany(namespace, drop));
        if (!outcome.ok) this.tierFailed(tier, 'evict', outcome);
      }),
    );
    for (const r of evict) this.freshness.forget(namespace, r.key);
  }

  // ---- writes -------------------------------------------------------------------------------

  protected async _setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    await this.afterReplay();
    return this.asWrite(this.setThrough(entries));
  }

  private async setThrough(entries: readonly StoredEntry[]): Promise<WriteResult> {
    const now = this.clock();
    const localOnly = this.hasSharedTier ? entries.filter((e) => this.isLocalOnly(e)) : [];
    const sharable = localOnly.length === 0 ? entries : entries.filter((e) => !this.isLocalOnly(e));
    const writes = await Promise.all(
      this.tiers.map(async (tier): Promise<TierWrite> => {
        const list = tier.backend.capabilities.shared ? sharable : entries;
        if (list.length === 0) return { tier, list, outcome: undefined };
        return { tier, list, outcome: await tier.call('set', (b) => b.setMany(list)) };
      }),
    );
    // Stamped once every tier has answered: a read-through that began before now must not promote these keys.
    for (const e of entries) this.mutations.keysChanged(e.namespace, [e.key]);
    // Other instances drop their copies (an entry kept off the shared tier is nobody else's business).
    if (this.coherence !== undefined) for (const e of sharable) this.coherence.recordKeys(e.namespace, [e.key]);
    const { reached, degraded, failedLocal, firstFailure } = this.settleWrites(writes, now);
    // A local tier that missed this write may still hold the previous version: make it re-check.
    if (failedLocal.length > 0) for (const e of entries) this.freshness.mark(e.namespace, e.key, failedLocal, -Infinity);
    if (this.strict && firstFailure) {
      // The caller is told the write failed: local tiers that took it must not serve it as fresh.
      const local = this.tiers.filter((t) => t.cachesShared).map((t) => t.index);
      for (const e of entries) this.freshness.mark(e.namespace, e.key, local, -Infinity);
      throw this.unavailable(firstFailure.tier, firstFailure.outcome, 'write');
    }
    if (reached.size < entries.length && firstFailure && reached.size === 0) {
      throw new BackendError('hybrid', `No tier took the write: ${degraded.map((d) => `${d.tier} (${d.reason})`).join('; ')}.`, {
        cause: firstFailure.outcome.error,
        hint: 'Every tier failed; check the local cache directory and the shared tier (`cachevault health`).',
      });
    }
    if (localOnly.length > 0) {
      this.extra.localOnlyWrites += localOnly.length;
      for (const tier of this.tiers.filter((t) => t.backend.capabilities.shared)) {
        degraded.push({ tier: tier.name, reason: `${localOnly.length} entr${localOnly.length === 1 ? 'y' : 'ies'} sealed under a local-only key kept off the shared tier` });
      }
    }
    if (degraded.length > 0) this.extra.degradedWrites += 1;
    return degraded.length > 0 ? { written: reached.size, degraded } : { written: reached.size };
  }

  /**
   * What each tier's answer to a write means: entries that reached some tier, the degradations
   * to report, local tiers that missed it, the first failure; shared-tier failures are queued for
   * replay (unless strict) and successes settle earlier replays and refresh local deadlines.
   */
  private settleWrites(writes: readonly TierWrite[], now: number): WriteSettlement {
    const settled: WriteSettlement = { reached: new Set<StoredEntry>(), degraded: [], failedLocal: [], firstFailure: undefined };
    for (const { tier, list, outcome } of writes) {
      if (outcome === undefined) continue;
      if (!outcome.ok) {
        this.tierFailed(tier, 'set', outcome);
        settled.firstFailure ??= { tier: tier.name, outcome };
        settled.degraded.push({ tier: tier.name, reason: `${outcome.kind}: ${outcome.error.message}` });
        if (!tier.backend.capabilities.shared) settled.failedLocal.push(tier.index);
        else if (!this.strict) for (const e of list) this.replay.recordSet(e);
        continue;
      }
      for (const e of list) settled.reached.add(e);
      if (tier.shared) for (const e of list) this.replay.settleKey(e.namespace, e.key);
      for (const d of outcome.value.degraded ?? []) settled.degraded.push({ tier: `${tier.name}/${d.tier}`, reason: d.reason });
      if (tier.cachesShared) for (const e of list) this.markFresh(e.namespace, e.key, [tier.index], this.freshness.deadlineFrom(now, e), now);
    }
    return settled;
  }

  protected async _deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    await this.afterReplay();
    return this.asWrite(this.deleteThrough(namespace, keys));
  }

  private async deleteThrough(namespace: string, keys: readonly string[]): Promise<number> {
    let results: { tier: Tier; outcome: TierOutcome<number> }[];
    try {
      results = await this.everyTier('delete', (b) => b.deleteMany(namespace, keys));
    } finally {
      this.mutations.keysChanged(namespace, keys);
      this.coherence?.recordKeys(namespace, keys);
    }
    for (const key of keys) this.freshness.forget(namespace, key);
    for (const { tier, outcome } of results) {
      if (!tier.shared) continue;
      for (const key of keys) {
        if (outcome.ok) this.replay.settleKey(namespace, key);
        else this.replay.recordDelete(namespace, key);
      }
    }
    const failedLocal = results.filter((r) => !r.outcome.ok && !r.tier.backend.capabilities.shared).map((r) => r.tier.index);
    if (failedLocal.length > 0) for (const key of keys) this.freshness.mark(namespace, key, failedLocal, -Infinity);
    return Math.max(0, ...results.map((r) => (r.outcome.ok ? r.outcome.value : 0)));
  }

  protected async _clear(namespace: string | undefined): Promise<void> {
    await this.afterReplay();
    return this.asWrite(this.clearThrough(namespace));
  }

  private async clearThrough(namespace: string | undefined): Promise<void> {
    // Pending writes of a cleared namespace must not come back on replay, whatever happens below.
    this.replay.forgetNamespace(namespace);
    let results: { tier: Tier; outcome: TierOutcome<void> }[];
    try {
      results = await this.everyTier('clear', (b) => b.clear(namespace));
    } finally {
      this.mutations.namespaceCleared(namespace);
      this.coherence?.recordClear(namespace);
    }
    this.freshness.forgetNamespace(namespace);
    // A shared tier that missed the clear still holds the namespace: clear it there on replay.
    if (results.some((r) => r.tier.shared && !r.outcome.ok)) this.replay.recordClear(namespace);
  }

  /**
   * Runs an operation on every tier at once. A failing tier is logged and counted; the call
   * fails only if every tier failed, or (strict) if any did.
   */
  private async everyTier<T>(operation: string, fn: (b: CacheBackend) => Promise<T>): Promise<{ tier: Tier; outcome: TierOutcome<T> }[]> {
    const results = await Promise.all(this.tiers.map(async (tier) => ({ tier, outcome: await tier.call(operation, fn) })));
    const failed = results.filter((r) => !r.outcome.ok);
    for (const r of failed) if (!r.outcome.ok) this.tierFailed(r.tier, operation, r.outcome);
    const first = failed[0];
    if (first && !first.outcome.ok && (this.strict || failed.length === results.length)) {
      throw this.unavailable(first.tier.name, first.outcome, operation);
    }
    return results;
  }

  /**
   * Sends the writes and deletes the shared tier missed to it again. Runs by itself as soon as
   * a shared tier answers after a failure; call it to wait for that (e.g. before shutting down).
   * Resolves how many ops were replayed and how many are still pending.
   */
  flushPending(): Promise<{ replayed: number; pending: number }> {
    this.replaying ??= this.replayNow().finally(() => {
      this.replaying = undefined;
    });
    return this.replaying;
  }

  /**
   * Waits out a replay in flight: it sends a snapshot of older writes, which would land on the
   * shared tier after (and over) a newer write or delete of the same key sent meanwhile.
   */
  private async afterReplay(): Promise<void> {
    while (this.replaying !== undefined) await this.replaying;
  }

  /** Tracks a write so that a replay can wait for it (see `replayNow`). */
  private asWrite<T>(write: Promise<T>): Promise<T> {
    this.writesInFlight.add(write);
    const forget = () => void this.writesInFlight.delete(write);
    write.then(forget, forget);
    return write;
  }

  private async replayNow(): Promise<{ replayed: number; pending: number }> {
    // A write already under way may land on the shared tier before the replay's older copy of
    // the same key: wait for it (it settles that key's pending op) before taking the snapshot.
    while (this.writesInFlight.size > 0) await Promise.allSettled([...this.writesInFlight]);
    const ops: QueuedOp[] = this.replay.snapshot();
    if (ops.length === 0) return { replayed: 0, pending: 0 };
    const now = this.clock();
    const sets = ops.flatMap(({ op }) => (op.kind === 'set' && !this.isExpired(op.entry, now) ? [op.entry] : []));
    const deletes = new Map<string, string[]>();
    for (const { op } of ops) if (op.kind === 'delete') deletes.set(op.namespace, [...(deletes.get(op.namespace) ?? []), op.key]);
    // A queued clear dropped the ops of its namespace queued before it, so every set or delete of
    // that namespace still queued came after it: clears go first.
    const clears = ops.flatMap(({ op }) => (op.kind === 'clear' ? [op.namespace] : []));
    let ok = true;
    for (const tier of this.tiers.filter((t) => t.shared)) {
      for (const namespace of clears) {
        const outcome = await tier.call('replay', (b) => b.clear(namespace));
        if (!outcome.ok) {
          this.tierFailed(tier, 'replay', outcome);
          ok = false;
        }
      }
      if (!ok) continue;
      if (sets.length > 0) {
        const outcome = await tier.call('replay', (b) => b.setMany(sets));
        if (!outcome.ok) {
          this.tierFailed(tier, 'replay', outcome);
          ok = false;
        }
      }
      for (const [namespace, keys] of deletes) {
        const outcome = await tier.call('replay', (b) => b.deleteMany(namespace, keys));
        if (!outcome.ok) {
          this.tierFailed(tier, 'replay', outcome);
          ok = false;
        }
      }
    }
    if (!ok) return { replayed: 0, pending: this.replay.size };
    this.replay.settle(ops);
    // The shared tier changed only now: tell the other instances again.
    if (this.coherence !== undefined) {
      for (const namespace of clears) this.coherence.recordClear(namespace);
      for (const e of sets) this.coherence.recordKeys(e.namespace, [e.key]);
      for (const [namespace, keys] of deletes) this.coherence.recordKeys(namespace, keys);
    }
    for (const e of sets) {
      const localTiers = this.tiers.filter((t) => t.cachesShared).map((t) => t.index);
      this.markFresh(e.namespace, e.key, localTiers, this.freshness.deadlineFrom(now, e), now);
    }
    const replayed = clears.length + sets.length + [...deletes.values()].reduce((n, keys) => n + keys.length, 0);
    this.extra.replayed += replayed;
    if (this.events.wants.replayed) this.events.emit('replayed', { type: 'replayed', count: replayed, pending: this.replay.size });
    this.logger.info({ backend: this.name, replayed }, 'replayed writes the shared tier missed during an outage');
    return { replayed, pending: this.replay.size };
  }

  // ---- coherence: what other instances changed ----------------------------------------------

  /**
   * With coherence: publishes this instance's changes and applies the other instances' now,
   * instead of at the next window (before a handoff, or in tests). Nothing to do without it.
   */
  async syncCoherence(): Promise<void> {
    await this.coherence?.sync();
  }

  /**
   * Removes from the local tiers what another instance deleted, overwrote or cleared. A key with
   * a write of ours the shared tier has not seen yet keeps its copy: ours is the newer one.
   */
  private async invalidateLocally({ keys, clears }: LocalInvalidation): Promise<void> {
    const local = this.tiers.filter((t) => t.cachesShared);
    // A shared tier's cached namespace generation would serve the cleared entries for a while more.
    for (const tier of this.tiers) {
      if (tier.shared && forgetsCachedNamespaces(tier.backend)) for (const namespace of clears) tier.backend.forgetCachedNamespace(namespace);
    }
    const doomed = new Map<string, string[]>();
    for (const [namespace, list] of keys) {
      const drop = list.filter((key) => this.replay.pendingKind(namespace, key) !== 'set');
      if (drop.length > 0) doomed.set(namespace, drop);
    }
    try {
      await Promise.all(
        local.map(async (tier) => {
          for (const namespace of clears) {
            const outcome = await tier.call('invalidate', (b) => b.clear(namespace));
            if (!outcome.ok) this.tierFailed(tier, 'invalidate', outcome);
          }
          for (const [namespace, drop] of doomed) {
            const outcome = await tier.call('invalidate', (b) => b.deleteMany(namespace, drop));
            if (!outcome.ok) this.tierFailed(tier, 'invalidate', outcome);
          }
        }),
      );
    } finally {
      // A read-through that began before this must not put the old answer back.
      for (const namespace of clears) {
        this.mutations.namespaceCleared(namespace);
        this.freshness.forgetNamespace(namespace);
      }
      for (const [namespace, drop] of doomed) {
        this.mutations.keysChanged(namespace, drop);
        for (const key of drop) this.freshness.forget(namespace, key);
      }
    }
  }

  /**
   * After a partition longer than the invalidation log's retention: drops every local copy of
   * shared data (entries kept off the shared tier, and writes still waiting for it, stay).
   */
  private async dropSharedCopies(): Promise<void> {
    for (const tier of this.tiers.filter((t) => t.cachesShared)) {
      const doomed = new Map<string, string[]>();
      try {
        for await (const e of tier.backend.entries()) {
          if (this.isLocalOnly(e) || this.replay.pendingKind(e.namespace, e.key) === 'set') continue;
          const list = doomed.get(e.namespace);
          if (list) list.push(e.key);
          else doomed.set(e.namespace, [e.key]);
        }
      } catch (err) {
        this.logger.warn({ backend: this.name, tier: tier.name, error: describeError(err) }, 'coherence: cannot list local copies to drop; they will be re-checked on their next hit');
        continue;
      }
      for (const [namespace, keys] of doomed) {
        for (let i = 0; i < keys.length; i += 1_000) {
          const outcome = await tier.call('drop', (b) => b.deleteMany(namespace, keys.slice(i, i + 1_000)));
          if (!outcome.ok) this.tierFailed(tier, 'drop', outcome);
        }
      }
      this.extra.coherenceDropped += [...doomed.values()].reduce((n, k) => n + k.length, 0);
    }
    this.mutations.namespaceCleared(undefined);
  }

  // ---- scans, health, stats, close -------------------------------------------------------------

  protected async _scan(options: ScanOptions): Promise<EntryPage> {
    const last = this.tiers[this.tiers.length - 1]!;
    const outcome = await last.call('scan', (b) => b.scan(options));
    if (!outcome.ok) {
      this.tierFailed(last, 'scan', outcome);
      throw this.unavailable(last.name, outcome, 'scan');
    }
    return outcome.value;
  }

  protected override async _healthSteps(options: HealthCheckOptions = {}): Promise<HealthCheckStep[]> {
    const steps = await Promise.all(
      this.tiers.map(async (tier): Promise<HealthCheckStep> => {
        const breaker = tier.breaker.state;
        const outcome = await tier.call('healthCheck', (b) => b.healthCheck(options), { bypassBreaker: true });
        if (!outcome.ok) return { name: `tier:${tier.name}`, ok: false, detail: `breaker ${breaker}; ${outcome.error.message}` };
        const failing = outcome.value.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? 'failed'}`);
        return {
          name: `tier:${tier.name}`,
          ok: outcome.value.healthy,
          latencyMs: outcome.value.latencyMs,
          detail: [`breaker ${breaker}`, ...failing].join('; '),
        };
      }),
    );
    if (this.coherence !== undefined) steps.push(this.coherence.healthStep());
    return steps;
  }

  /**
   * Tiers drop expired entries before the hybrid sees them, so `expired` is the largest count of
   * any tier (a read of an expired entry usually finds it expired in several tiers at once).
   */
  override stats(): BackendStats {
    const own = super.stats();
    const tierExpired = Math.max(0, ...Object.values(own.tiers ?? {}).map((t) => t.expired));
    return { ...own, expired: own.expired + tierExpired };
  }

  protected override _statsExtra(): Pick<BackendStats, 'extra' | 'tiers'> {
    const tiers: Record<string, BackendStats> = {};
    for (const tier of this.tiers) tiers[tier.name] = tier.stats();
    const breakers = Object.fromEntries(this.tiers.map((t) => [`breaker.${t.name}`, t.breaker.state]));
    return { tiers, extra: {
        ...this.extra,
        pendingReplays: this.replay.size,
        replayDropped: this.replay.dropped,
        replayDroppedEarlier: this.replay.droppedEarlier,
        replayDurable: this.replay.durable,
        ...breakers,
        ...this.coherence?.stats(),
      },
    };
  }

  protected async _close(): Promise<void> {
    // Let a replay already under way finish rather than fail against closing tiers.
    await this.replaying;
    // Publishes what this instance changed in its last window, then stops polling.
    await this.coherence?.close();
    const results = await Promise.allSettled(this.tiers.map((t) => t.backend.close()));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ tier: this.tiers[i]!.name, reason: r.reason as unknown }] : []));
    if (failed.length > 0) {
      throw new BackendError('hybrid', `Closing tier(s) ${failed.map((f) => f.tier).join(', ')} failed: ${failed.map((f) => describeError(f.reason)).join('; ')}.`, {
        cause: failed[0]!.reason,
      });
    }
  }

  // ---- failure handling ------------------------------------------------------------------------

  private tierFailed(tier: Tier, operation: string, outcome: TierOutcome<unknown> & { ok: false }): void {
    this.extra.tierFailures += 1;
    if (this.events.wants.error) {
      this.events.emit('error', { type: 'error', operation, tier: tier.name, code: errorCode(outcome.error), message: describeError(outcome.error) });
    }
    // Skips behind an open breaker are expected and frequent during an outage: keep them quiet.
    const log = outcome.kind === 'breaker-open' ? this.logger.debug : this.logger.warn;
    log.call(this.logger, { backend: this.name, tier: tier.name, operation, kind: outcome.kind, error: describeError(outcome.error) }, 'cache tier unavailable; degrading to the other tiers');
  }

  private unavailable(tier: string, outcome: TierOutcome<unknown> & { ok: false }, operation: string): TierUnavailableError {
    if (outcome.error instanceof TierUnavailableError) return outcome.error;
    return new TierUnavailableError(tier, outcome.kind, `The ${tier} tier failed during ${operation}: ${outcome.error.message}`, { cause: outcome.error });
  }

  private breakerChanged(tier: string, from: BreakerState, to: BreakerState): void {
    const fields = { backend: this.name, tier, from, to };
    const type = to === 'open' ? 'breakerOpen' : to === 'closed' ? 'breakerClose' : 'breakerHalfOpen';
    if (this.events.wants[type]) this.events.emit(type, { type, tier });
    if (to === 'open') this.logger.warn(fields, 'circuit breaker opened: skipping the tier until it is probed again');
    else if (to === 'closed') this.logger.info(fields, 'circuit breaker closed: the tier answered again');
    else this.logger.info(fields, 'circuit breaker half-open: probing the tier');
  }
}
