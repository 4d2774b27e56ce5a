import type { CacheBackend } from '../backends/cacheBackend';
import { InvalidArgumentError } from '../errors';
import { silentLogger } from '../logger';
import { TableSchema } from '../schema/tableSchema';
import type { Clock, Logger, StoredEntry } from '../types';
import { CheckpointStore, describePlan, planHash, type Checkpoint, type PlanDescription } from './checkpoint';
import { prepareEntry, type Transcode } from './entryTranscoder';
import { MigrationError, MigrationWriteError, PlanMismatchError } from './errors';
import { fromJournalState, Journal, refId, toJournalState, type JournalRecord } from './journal';
import { dryRun } from './plan';
import { ProgressTracker, type ProgressCounts } from './progress';
import { startRun } from './runStart';
import { scanSegments } from './segmentScan';
import { StateLock } from './stateLock';
import type { EntryFailure, MigrationCounts, MigrationPlan, MigrationReport, ProgressListener, RollbackReport, ValidationReport } from './types';
import { byNamespace, validateCopy } from './validate';

export interface CacheMigratorOptions {
  readonly source: CacheBackend;
  readonly destination: CacheBackend;
  /**
   * Re-encrypt on the way: each entry is opened with `open` (the source's provider) and sealed
   * with `seal` (the destination's), identity unchanged. Omit when both sides share one
   * encryption: the stored bytes are then copied as they are.
   */
  readonly transcode?: Transcode;
  /** Directory for the checkpoint and the rollback journal (created owner-only). */
  readonly stateDir: string;
  /** Entries per scan page and per destination write. @default 100 */
  readonly batchSize?: number;
  /** Parallel scan segments, capped by what the source supports. @default source.capabilities.scanSegments */
  readonly concurrency?: number;
  /** @default Date.now */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * How the source and destination are described in the plan hash and reports (the CLI passes
   * `describeSpec`). Must not contain secrets. @default the backend's name
   */
  readonly sourceDescription?: string;
  /** @default the backend's name */
  readonly destinationDescription?: string;
  /**
   * Batches of one scan segment in flight at once (read, journal and write overlap; they are
   * still committed in order). @default 4
   */
  readonly pipelineDepth?: number;
  /** Entries whose stored value exceeds this are reported as `too-large`, not copied. @default Infinity */
  readonly maxEntryBytes?: number;
  /** Failed or mismatched entries kept as samples in reports. @default 100 */
  readonly maxFailureSamples?: number;
  /** DynamoDB chunk size, for the dry run's write-unit estimate. @default 358400 (350 KiB) */
  readonly dynamoDbChunkBytes?: number;
  /** Copy rate the dry run's time estimate assumes. @default a rough rate per destination type */
  readonly estimateEntriesPerSecond?: number;
}

export interface RunOptions {
  /** Continue the unfinished run recorded in the state directory (starts fresh if there is none). */
  readonly resume?: boolean;
  readonly onProgress?: ProgressListener;
  /** Entries expected (from a dry run), for the ETA. @default the source's own count, if it keeps one */
  readonly expectedEntries?: number;
  /**
   * Stops the copy early: no new page is read once it aborts; batches in flight are written and
   * checkpointed, and the run resolves with `stopped: true`. `run({ resume: true })` later
   * continues from exactly there. @default never stops early
   */
  readonly signal?: AbortSignal;
}

export interface PhaseOptions {
  readonly onProgress?: ProgressListener;
}

const emptyCounts = (): MigrationCounts => ({ entries: 0, bytes: 0, skippedExpired: 0, failed: 0, failuresByReason: {} });

/** The result of one page, applied to the checkpoint together with the cursor that follows it. */
interface BatchOutcome {
  readonly entries: number;
  readonly bytes: number;
  readonly skippedExpired: number;
  readonly failures: readonly EntryFailure[];
}

/**
 * Copies a cache from any backend to any other through the CacheBackend interface only,
 * optionally re-encrypting. The copy streams the source page by page (one loop per scan segment),
 * journals what each batch will overwrite, writes the batch with `setMany`, then records the
 * batch in an atomically replaced checkpoint. A run killed at any point resumes to the same
 * result as an uninterrupted one: writes are idempotent upserts, the counts move with the cursor,
 * and the journal records each key's earlier state once.
 */
export class CacheMigrator {
  private readonly source: CacheBackend;
  private readonly destination: CacheBackend;
  private readonly transcode: Transcode | undefined;
  private readonly stateDir: string;
  private readonly batchSize: number;
  private readonly pipelineDepth: number;
  private readonly totalSegments: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxEntryBytes: number;
  private readonly maxFailureSamples: number;
  private readonly options: CacheMigratorOptions;
  /** What the plan hash covers (source, destination, options), in words. */
  readonly description: PlanDescription;
  readonly planHash: string;

  constructor(options: CacheMigratorOptions) {
    if (options.source === options.destination) {
      throw new InvalidArgumentError('Source and destination are the same backend.', {
        hint: 'To re-encrypt a cache in place use reencryptInPlace (cachevault encryption rotate|enable|disable).',
      });
    }
    if (typeof options.stateDir !== 'string' || options.stateDir.length === 0) {
      throw new InvalidArgumentError('CacheMigrator needs a stateDir for its checkpoint and journal.');
    }
    const batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`batchSize must be a positive integer, got ${batchSize}.`);
    const concurrency = options.concurrency ?? options.source.capabilities.scanSegments;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError(`concurrency must be a positive integer, got ${concurrency}.`);
    this.options = options;
    this.source = options.source;
    this.destination = options.destination;
    this.transcode = options.transcode;
    this.stateDir = options.stateDir;
    this.batchSize = batchSize;
    this.pipelineDepth = options.pipelineDepth ?? 4;
    if (!Number.isInteger(this.pipelineDepth) || this.pipelineDepth < 1) {
      throw new InvalidArgumentError(`pipelineDepth must be a positive integer, got ${this.pipelineDepth}.`);
    }
    this.totalSegments = Math.max(1, Math.min(concurrency, options.source.capabilities.scanSegments));
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.maxEntryBytes = options.maxEntryBytes ?? Infinity;
    this.maxFailureSamples = options.maxFailureSamples ?? 100;
    this.description = {
      kind: 'migrate',
      source: options.sourceDescription ?? options.source.name,
      destination: options.destinationDescription ?? options.destination.name,
      options: {
        batchSize,
        totalSegments: this.totalSegments,
        openWith: options.transcode?.open.algorithm ?? null,
        sealWith: options.transcode?.seal.algorithm ?? null,
        maxEntryBytes: Number.isFinite(this.maxEntryBytes) ? this.maxEntryBytes : null,
      },
    };
    this.planHash = planHash(this.description);
  }

  /** The dry run: what a copy would do, reading the source only. Writes nothing, not even state. */
  async plan(options: PhaseOptions = {}): Promise<MigrationPlan> {
    return dryRun({
      source: this.source,
      destination: this.destination,
      transcode: this.transcode,
      totalSegments: this.totalSegments,
      batchSize: this.batchSize,
      clock: this.clock,
      maxEntryBytes: this.maxEntryBytes,
      maxFailureSamples: this.maxFailureSamples,
      dynamoDbChunkBytes: this.options.dynamoDbChunkBytes ?? TableSchema.defaultChunkBytes,
      estimateEntriesPerSecond: this.options.estimateEntriesPerSecond,
      pipelineDepth: this.pipelineDepth,
      planHash: this.planHash,
      sourceDescription: this.description.source,
      destinationDescription: this.description.destination,
      onProgress: options.onProgress,
    });
  }

  /** Copies (or resumes copying) every live source entry to the destination. */
  async run(options: RunOptions = {}): Promise<MigrationReport> {
    new CheckpointStore(this.stateDir).ensureDir();
    const lock = await StateLock.acquire(this.stateDir);
    try {
      return await this.runLocked(options);
    } finally {
      await lock.release();
    }
  }

  private async runLocked(options: RunOptions): Promise<MigrationReport> {
    const store = new CheckpointStore(this.stateDir);
    const journal = new Journal(this.stateDir);
    const start = await startRun({
      store,
      stateDir: this.stateDir,
      kind: 'migrate',
      planHash: this.planHash,
      resume: options.resume === true,
      whenRunningWithoutResume: 'refuse',
      reportComplete: true,
      archiveAlso: (suffix) => journal.archive(suffix),
      fresh: async () => {
        await journal.reset();
        return {
          destinationEmptyAtStart: await this.isDestinationEmpty(),
          kind: 'migrate',
          planHash: this.planHash,
          plan: this.description,
          totalSegments: this.totalSegments,
          counts: emptyCounts(),
          now: this.clock(),
        };
      },
    });
    const { checkpoint } = start;
    if (start.state === 'complete') return this.report(checkpoint, { resumed: true, batchesWritten: 0, elapsedMs: 0, stopped: false });
    const resumed = start.state === 'resumed';
    let inFlight = new Set<string>();
    if (resumed) {
      await journal.repairTail();
      inFlight = await journal.inFlightKeys(checkpoint.segments);
      this.logger.info({ stateDir: this.stateDir, inFlight: inFlight.size }, 'resuming migration');
    }

    const counts = checkpoint.counts;
    const progressCounts = (): ProgressCounts => ({
      entriesDone: counts.entries,
      bytesDone: counts.bytes,
      skippedExpired: counts.skippedExpired,
      failed: counts.failed,
      entriesSeen: counts.entries + counts.skippedExpired + counts.failed,
    });
    const tracker = new ProgressTracker('copy', this.clock, options.onProgress, options.expectedEntries ?? this.source.stats().entries, progressCounts());
    let batchesWritten = 0;

    const { complete } = await scanSegments<BatchOutcome>({
      backend: this.source,
      signal: options.signal,
      segments: checkpoint.segments,
      totalSegments: checkpoint.totalSegments,
      pageSize: this.batchSize,
      includeExpired: true,
      pipelineDepth: this.pipelineDepth,
      onPage: (segment, page, seq) => this.copyPage(journal, segment.segment, seq, page.entries, inFlight, checkpoint.destinationEmptyAtStart === true),
      onCommit: (_segment, outcome) => {
        this.recordBatch(checkpoint, outcome);
        batchesWritten += 1;
        const saved = store.save(checkpoint);
        tracker.report(progressCounts());
        return saved;
      },
    });

    const done = { resumed, batchesWritten, elapsedMs: tracker.elapsedMs() };
    if (!complete) {
      // Every committed batch is already in the checkpoint, which stays `running` for a resume.
      this.logger.info({ stateDir: this.stateDir, entries: counts.entries }, 'migration stopped early; resume continues it');
      return this.report(checkpoint, { ...done, stopped: true });
    }
    checkpoint.status = 'complete';
    checkpoint.updatedAt = this.clock();
    await store.save(checkpoint);
    if (counts.failed > 0) {
      this.logger.warn({ failed: counts.failed, byReason: counts.failuresByReason }, 'some entries could not be migrated');
    }
    return this.report(checkpoint, { ...done, stopped: false });
  }

  /**
   * One page of the source: entries transcoded for the destination (expired ones skipped,
   * unreadable ones recorded as failures), journalled, then written. A write the destination
   * only partly took fails the batch, so the checkpoint never claims it.
   */
  private async copyPage(
    journal: Journal,
    segment: number,
    seq: number,
    entries: readonly StoredEntry[],
    inFlight: Set<string>,
    destinationEmptyAtStart: boolean,
  ): Promise<BatchOutcome> {
    const now = this.clock();
    const writes: StoredEntry[] = [];
    const failures: EntryFailure[] = [];
    let skippedExpired = 0;
    let bytes = 0;
    for (const entry of entries) {
      const prepared = await prepareEntry(entry, { transcode: this.transcode, now, maxEntryBytes: this.maxEntryBytes });
      if (prepared.kind === 'expired') skippedExpired += 1;
      else if (prepared.kind === 'failed') failures.push(prepared.failure);
      else {
        writes.push(prepared.entry);
        bytes += entry.value.byteLength;
      }
    }
    if (writes.length > 0) {
      await journal.append(await this.journalRecords(segment, seq, writes, inFlight, destinationEmptyAtStart));
      const result = await this.destination.setMany(writes);
      if ((result.degraded?.length ?? 0) > 0 || result.written < writes.length) {
        const reason = result.degraded?.map((d) => `${d.tier}: ${d.reason}`).join('; ') ?? `${result.written} of ${writes.length} entries written`;
        throw new MigrationWriteError(this.description.destination, reason);
      }
    }
    return { entries: writes.length, bytes, skippedExpired, failures };
  }

  /** Adds a committed batch to the checkpoint's counts (failure samples up to the bound). */
  private recordBatch(checkpoint: Checkpoint, outcome: BatchOutcome): void {
    const counts = checkpoint.counts;
    counts.entries += outcome.entries;
    counts.bytes += outcome.bytes;
    counts.skippedExpired += outcome.skippedExpired;
    counts.failed += outcome.failures.length;
    for (const failure of outcome.failures) {
      counts.failuresByReason[failure.reason] = (counts.failuresByReason[failure.reason] ?? 0) + 1;
      if (checkpoint.failures.length < this.maxFailureSamples) checkpoint.failures.push(failure);
    }
    checkpoint.updatedAt = this.clock();
  }

  /** Compares source and destination entry by entry (decrypted checksums); writes nothing. */
  async validate(options: PhaseOptions = {}): Promise<ValidationReport> {
    return validateCopy({
      source: this.source,
      destination: this.destination,
      transcode: this.transcode,
      totalSegments: this.totalSegments,
      destinationSegments: Math.max(1, this.destination.capabilities.scanSegments),
      batchSize: this.batchSize,
      clock: this.clock,
      maxFailureSamples: this.maxFailureSamples,
      pipelineDepth: this.pipelineDepth,
      onProgress: options.onProgress,
    });
  }

  /**
   * Restores the destination to its state before the run (finished or interrupted) from the
   * journal: overwritten entries get their earlier bytes back, entries the run created are
   * deleted. Idempotent: running it again gives the same result. Expired entries that were
   * overwritten are not brought back (they were already a miss).
   */
  async rollback(options: PhaseOptions = {}): Promise<RollbackReport> {
    const store = new CheckpointStore(this.stateDir);
    const nothing = () =>
      new MigrationError(`There is no migration to roll back in ${this.stateDir}.`, {
        hint: 'Point stateDir (--state-dir) at the directory the migration ran with.',
        context: { stateDir: this.stateDir },
      });
    if ((await store.load()) === undefined) throw nothing();
    const lock = await StateLock.acquire(this.stateDir);
    try {
      // Read again under the lock: a run may have finished meanwhile.
      const checkpoint = await store.load();
      if (checkpoint === undefined) throw nothing();
      return await this.rollbackLocked(store, checkpoint, options);
    } finally {
      await lock.release();
    }
  }

  private async rollbackLocked(store: CheckpointStore, checkpoint: Checkpoint, options: PhaseOptions): Promise<RollbackReport> {
    const journal = new Journal(this.stateDir);
    this.checkSamePlan(checkpoint);
    await journal.repairTail();

    let restored = 0;
    let removed = 0;
    let journalRecords = 0;
    const seen = new Set<string>();
    let pending: JournalRecord[] = [];
    const tracker = new ProgressTracker('rollback', this.clock, options.onProgress, checkpoint.counts.entries);
    // Each key appears once after de-duplication, so batches are independent and several run at once.
    const restore = async (batch: readonly JournalRecord[]) => {
      for (const [namespace, group] of byNamespace(batch.map((r) => ({ ...r, namespace: r.ns })))) {
        const puts = group.filter((r) => r.before !== null).map((r) => fromJournalState(namespace, r.key, r.before!));
        const deletes = group.filter((r) => r.before === null).map((r) => r.key);
        if (puts.length > 0) await this.destination.setMany(puts);
        if (deletes.length > 0) await this.destination.deleteMany(namespace, deletes);
        restored += puts.length;
        removed += deletes.length;
      }
      tracker.report({ entriesDone: restored + removed, bytesDone: 0, skippedExpired: 0, failed: 0, entriesSeen: journalRecords });
    };
    const running = new Set<Promise<void>>();
    let failure: unknown;
    const flush = async () => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      const task: Promise<void> = restore(batch).then(
        () => void running.delete(task),
        (err: unknown) => {
          running.delete(task);
          failure ??= err;
        },
      );
      running.add(task);
      if (running.size >= this.pipelineDepth) await Promise.race(running);
    };
    for await (const record of journal.records()) {
      if (failure !== undefined) break;
      journalRecords += 1;
      // The first record of a key is its state before the run; later ones (if any) are not.
      const id = refId(record.ns, record.key);
      if (seen.has(id)) continue;
      seen.add(id);
      pending.push(record);
      if (pending.length >= this.batchSize) await flush();
    }
    await flush();
    await Promise.all(running);
    if (failure !== undefined) throw failure;
    checkpoint.status = 'rolled-back';
    checkpoint.updatedAt = this.clock();
    await store.save(checkpoint);
    return { restored, removed, journalRecords };
  }

  /** The destination's current state of each key about to be written, minus keys already journaled. */
  private async journalRecords(
    seg: number,
    seq: number,
    writes: readonly StoredEntry[],
    inFlight: Set<string>,
    destinationEmptyAtStart: boolean,
  ): Promise<JournalRecord[]> {
    const records: JournalRecord[] = [];
    for (const [namespace, group] of byNamespace(writes)) {
      const fresh = group.filter((e) => !inFlight.has(refId(namespace, e.key)));
      if (fresh.length === 0) continue;
      // An empty destination held none of these keys: no need to read it (the common case, and on
      // DynamoDB a read per batch saved). Keys come from one source, so none is written twice.
      const current = destinationEmptyAtStart ? [] : await this.destination.getMany(namespace, fresh.map((e) => e.key));
      fresh.forEach((entry, i) => {
        const before = current[i];
        records.push({ seg, seq, ns: namespace, key: entry.key, before: before === undefined ? null : toJournalState(before) });
      });
    }
    return records;
  }

  /** Whether the destination holds no entry at all, expired ones included (reads at most a few pages). */
  private async isDestinationEmpty(): Promise<boolean> {
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await this.destination.scan({ cursor, pageSize: 100, includeExpired: true });
      if (page.entries.length > 0) return false;
      cursor = page.cursor;
      if (cursor === undefined) return true;
    }
    // Pages of nothing but non-entry items: too costly to prove empty, so read before writing.
    return false;
  }

  private checkSamePlan(checkpoint: Checkpoint): void {
    if (checkpoint.planHash !== this.planHash || checkpoint.kind !== 'migrate') {
      throw new PlanMismatchError(this.stateDir, this.planHash, checkpoint.planHash, describePlan(checkpoint.plan));
    }
  }

  private report(checkpoint: Checkpoint, run: { resumed: boolean; batchesWritten: number; elapsedMs: number; stopped: boolean }): MigrationReport {
    const { resumed, batchesWritten, elapsedMs, stopped } = run;
    return {
      stopped,
      planHash: checkpoint.planHash,
      source: checkpoint.plan.source,
      destination: checkpoint.plan.destination,
      counts: checkpoint.counts,
      failures: checkpoint.failures,
      resumed,
      batchesWritten,
      elapsedMs,
    };
  }
}
