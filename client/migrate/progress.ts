import type { Clock } from '../types';
import type { MigrationPhase, MigrationProgress, ProgressListener } from './types';

/** The running totals a progress event is computed from. */
export interface ProgressCounts {
  readonly entriesDone: number;
  readonly bytesDone: number;
  readonly skippedExpired: number;
  readonly failed: number;
  readonly entriesSeen: number;
}

/** Totals of a pass that starts from nothing (a dry run, a validation, a rollback). */
export const NO_PROGRESS: ProgressCounts = Object.freeze({ entriesDone: 0, bytesDone: 0, skippedExpired: 0, failed: 0, entriesSeen: 0 });

/**
 * Turns running totals into progress events with rate and ETA. Rates cover only this call, so a
 * resumed run's rate is not inflated by entries an earlier run copied.
 */
export class ProgressTracker {
  private readonly startedAt: number;
  private readonly baseline: ProgressCounts;

  constructor(
    private readonly phase: MigrationPhase,
    private readonly clock: Clock,
    private readonly listener: ProgressListener | undefined,
    private readonly totalEntries: number | undefined,
    /** Totals already reached before this call (a resumed run's checkpoint). @default NO_PROGRESS */
    baseline: ProgressCounts = NO_PROGRESS,
  ) {
    this.startedAt = clock();
    this.baseline = { ...baseline };
  }

  elapsedMs(): number {
    return Math.max(0, this.clock() - this.startedAt);
  }

  report(counts: ProgressCounts): MigrationProgress {
    const elapsedMs = this.elapsedMs();
    const seconds = elapsedMs / 1000;
    const seenNow = counts.entriesSeen - this.baseline.entriesSeen;
    const entriesPerSecond = seconds > 0 ? (counts.entriesDone - this.baseline.entriesDone) / seconds : 0;
    const seenPerSecond = seconds > 0 ? seenNow / seconds : 0;
    const bytesPerSecond = seconds > 0 ? (counts.bytesDone - this.baseline.bytesDone) / seconds : 0;
    const etaSeconds =
      this.totalEntries !== undefined && seenPerSecond > 0 ? Math.max(0, this.totalEntries - counts.entriesSeen) / seenPerSecond : undefined;
    const progress: MigrationProgress = {
      phase: this.phase,
      ...counts,
      totalEntries: this.totalEntries,
      entriesPerSecond,
      bytesPerSecond,
      etaSeconds,
      elapsedMs,
    };
    this.listener?.(progress);
    return progress;
  }
}
