import { describePlan, newCheckpoint, type Checkpoint, type CheckpointStore, type NewCheckpointFields } from './checkpoint';
import { MigrationInProgressError, PlanMismatchError } from './errors';

/**
 * How a resumable run (a migration, a re-encryption sweep) begins against what its state
 * directory holds: it resumes a running checkpoint of the same plan, reports one already
 * complete, or keeps the old state aside and starts afresh. Both kinds share this, so they
 * cannot drift in what "resume" means.
 */
export type RunStart<C extends object> =
  /** A running checkpoint of this plan, picked up where it stopped. */
  | { readonly state: 'resumed'; readonly checkpoint: Checkpoint<C> }
  /** The recorded run of this plan already finished; nothing to do (only with `resume`). */
  | { readonly state: 'complete'; readonly checkpoint: Checkpoint<C> }
  /** A new checkpoint, saved; any earlier state was kept aside. */
  | { readonly state: 'started'; readonly checkpoint: Checkpoint<C> };

export interface StartRunOptions<C extends object> {
  readonly store: CheckpointStore<C>;
  /** The state directory, for error messages. */
  readonly stateDir: string;
  readonly kind: Checkpoint<C>['kind'];
  readonly planHash: string;
  /** Continue a recorded run of the same plan rather than start over. */
  readonly resume: boolean;
  /**
   * A running checkpoint met without `resume`: `refuse` it (another run may own it; the
   * migrator), or keep it aside and `start-over` (a sweep, which is idempotent).
   */
  readonly whenRunningWithoutResume: 'refuse' | 'start-over';
  /** With `resume`, a complete run of the same plan is reported as such instead of run again. */
  readonly reportComplete: boolean;
  /** Fields of the new checkpoint when starting afresh (computed only then). */
  readonly fresh: () => Promise<NewCheckpointFields<C>>;
  /** Keeps state beside the checkpoint (a journal) aside too, under the same suffix. */
  readonly archiveAlso?: (suffix: string) => Promise<void>;
}

export async function startRun<C extends object>(options: StartRunOptions<C>): Promise<RunStart<C>> {
  const { store, resume } = options;
  const existing = await store.load();
  const samePlan = (cp: Checkpoint<C>) => {
    if (cp.planHash !== options.planHash || cp.kind !== options.kind) {
      throw new PlanMismatchError(options.stateDir, options.planHash, cp.planHash, describePlan(cp.plan));
    }
  };
  if (existing !== undefined && resume) {
    // Resuming is only ever into the same plan, whatever state the recorded run is in.
    if (existing.status === 'running') {
      samePlan(existing);
      return { state: 'resumed', checkpoint: existing };
    }
    if (existing.status === 'complete' && options.reportComplete) {
      samePlan(existing);
      return { state: 'complete', checkpoint: existing };
    }
  }
  if (existing !== undefined) {
    if (existing.status === 'running' && !resume && options.whenRunningWithoutResume === 'refuse') throw new MigrationInProgressError(options.stateDir);
    // A finished, rolled-back or abandoned run's state is kept beside the new one, never overwritten.
    const suffix = `${existing.status}-${existing.updatedAt}`;
    await options.archiveAlso?.(suffix);
    await store.archive(suffix);
  }
  const checkpoint = newCheckpoint(await options.fresh());
  await store.save(checkpoint);
  return { state: 'started', checkpoint };
}
