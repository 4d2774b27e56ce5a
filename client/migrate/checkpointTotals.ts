import { MigrationStateError } from './errors';
import type { Checkpoint } from './checkpoint';
import type { ReencryptCounts } from './reencrypt';
import type { MigrationCounts } from './types';

/** A checkpoint of either kind, told apart by `kind` (each kind keeps its own counts). */
export type AnyCheckpoint = (Checkpoint<MigrationCounts> & { readonly kind: 'migrate' }) | (Checkpoint<ReencryptCounts> & { readonly kind: 'reencrypt' });

/** Progress of a run in the same three numbers whatever its kind, for jobs and dashboards. */
export interface RunTotals {
  /** Entries the run has looked at (expired and failed ones included). */
  readonly seen: number;
  /** Entries it wrote: copied, or rewritten under another key. */
  readonly written: number;
  readonly failed: number;
}

export function checkpointTotals(checkpoint: AnyCheckpoint | undefined): RunTotals {
  if (!checkpoint) return { seen: 0, written: 0, failed: 0 };
  if (checkpoint.kind === 'reencrypt') {
    const c = checkpoint.counts;
    return { seen: c.scanned + c.skippedExpired, written: c.rewritten, failed: c.failed };
  }
  const c = checkpoint.counts;
  return { seen: c.entries + c.skippedExpired + c.failed, written: c.entries, failed: c.failed };
}

const COUNT_FIELDS = {
  migrate: ['entries', 'bytes', 'skippedExpired', 'failed'],
  reencrypt: ['scanned', 'rewritten', 'unchanged', 'skippedExpired', 'skippedChanged', 'failed'],
} as const;

/**
 * Narrows a checkpoint read from outside the run (a file, or an event that carries it between
 * Lambda invocations) to one of the two kinds, checking that its counts are numbers.
 */
export function asAnyCheckpoint(checkpoint: Checkpoint<object>, where: string): AnyCheckpoint {
  if (typeof checkpoint !== 'object' || checkpoint === null || typeof checkpoint.counts !== 'object' || checkpoint.counts === null) {
    throw new MigrationStateError(where, 'it is not a checkpoint object');
  }
  const kind = checkpoint.kind;
  if (kind !== 'migrate' && kind !== 'reencrypt') throw new MigrationStateError(where, `its kind ${JSON.stringify(kind)} is neither migrate nor reencrypt`);
  const counts = checkpoint.counts as Record<string, unknown>;
  const bad = COUNT_FIELDS[kind].filter((f) => typeof counts[f] !== 'number' || !Number.isFinite(counts[f]));
  if (bad.length > 0) throw new MigrationStateError(where, `its ${kind} counts lack ${bad.join(', ')}`);
  return checkpoint as AnyCheckpoint;
}
