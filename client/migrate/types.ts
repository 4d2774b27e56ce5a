/** Progress events and reports of the migrator and the re-encryption sweep (stable for `--json`). */

/** Which long operation a progress event belongs to. */
export type MigrationPhase = 'plan' | 'copy' | 'validate' | 'rollback' | 'reencrypt';

/** Emitted after each batch. Counts include work done by earlier, interrupted runs. */
export interface MigrationProgress {
  readonly phase: MigrationPhase;
  /** Entries written (copy, reencrypt), compared (validate) or restored (rollback). */
  readonly entriesDone: number;
  /** Stored bytes of those entries, as read from the source. */
  readonly bytesDone: number;
  /** Entries skipped because they had expired. */
  readonly skippedExpired: number;
  /** Entries that could not be migrated (failed to open, too large). */
  readonly failed: number;
  /** Entries looked at so far (done + skipped + failed, and for sweeps those left as they were). */
  readonly entriesSeen: number;
  /** Expected total entries, from a dry run or the source's own count; undefined if unknown. */
  readonly totalEntries: number | undefined;
  /** Entries per second over this run (not counting earlier interrupted runs). */
  readonly entriesPerSecond: number;
  readonly bytesPerSecond: number;
  /** Seconds left at the current rate; undefined when the total or the rate is unknown. */
  readonly etaSeconds: number | undefined;
  readonly elapsedMs: number;
}

export type ProgressListener = (progress: MigrationProgress) => void;

/** One entry that could not be migrated, and why. */
export interface EntryFailure {
  readonly namespace: string;
  readonly key: string;
  /** `too-large`, or the error code of the failed open (`INTEGRITY_FAILED`, `KEY_UNAVAILABLE`, ...). */
  readonly reason: string;
  readonly message: string;
}

/** Counts kept in the checkpoint, so a resumed run reports the same totals as an uninterrupted one. */
export interface MigrationCounts {
  /** Entries written to the destination. */
  entries: number;
  /** Stored bytes of the written entries, as read from the source. */
  bytes: number;
  skippedExpired: number;
  failed: number;
  /** Failures by reason code. */
  failuresByReason: Record<string, number>;
}

export interface MigrationReport {
  /**
   * The run's `signal` aborted before the copy reached the end: the checkpoint is left `running`
   * and covers every batch written; `run({ resume: true })` continues from it.
   */
  readonly stopped: boolean;
  readonly planHash: string;
  readonly source: string;
  readonly destination: string;
  readonly counts: MigrationCounts;
  /** Up to `maxFailureSamples` failed entries with their reasons. */
  readonly failures: readonly EntryFailure[];
  /** Whether this call continued an interrupted run. */
  readonly resumed: boolean;
  /** Batches written by this call (0 when resuming a finished run). */
  readonly batchesWritten: number;
  readonly elapsedMs: number;
}

export interface MigrationPlan {
  readonly planHash: string;
  readonly source: string;
  readonly destination: string;
  /** Live entries that would be copied (failures excluded). */
  readonly entries: number;
  readonly bytes: number;
  readonly skippedExpired: number;
  /** Entries that cannot be migrated, by reason code, and samples of them. */
  readonly unmigratable: number;
  readonly unmigratableByReason: Record<string, number>;
  readonly failures: readonly EntryFailure[];
  readonly largestEntryBytes: number;
  /**
   * Write capacity units the copy consumes when the destination is DynamoDB: 1 WCU per started
   * KB per item, chunked entries counted per chunk. Undefined for other destinations.
   */
  readonly estimatedWriteUnits: number | undefined;
  /** Rough duration at `estimateEntriesPerSecond`; see `estimateBasis`. */
  readonly estimatedSeconds: number;
  readonly estimateBasis: string;
}

export interface ValidationMismatch {
  readonly namespace: string;
  readonly key: string;
  /** `value` (decrypted checksums differ), `expiresAt`, or `unreadable` (destination copy fails to open). */
  readonly what: 'value' | 'expiresAt' | 'unreadable';
}

export interface ValidationReport {
  /** No entry missing or different (entries only in the destination are reported in `extra`). */
  readonly ok: boolean;
  /** `ok` and nothing extra: the destination holds exactly the source's live entries. */
  readonly exact: boolean;
  readonly sourceEntries: number;
  readonly destinationEntries: number;
  readonly matched: number;
  /** Source entries that fail to open themselves (reported by the copy as failed; not comparable). */
  readonly sourceUnreadable: number;
  readonly missing: number;
  readonly different: number;
  readonly extra: number;
  /** Up to `maxFailureSamples` of each kind. */
  readonly samples: {
    readonly missing: readonly { namespace: string; key: string }[];
    readonly different: readonly ValidationMismatch[];
    readonly extra: readonly { namespace: string; key: string }[];
  };
}

export interface RollbackReport {
  /** Overwritten entries put back as they were. */
  readonly restored: number;
  /** Entries the migration created, removed. */
  readonly removed: number;
  readonly journalRecords: number;
}
