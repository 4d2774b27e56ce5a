import { CacheVaultError, type CacheVaultErrorOptions } from '../errors';

/** A migration or re-encryption sweep could not start, continue or finish. */
export class MigrationError extends CacheVaultError {
  override name = 'MigrationError';
  override readonly code: string = 'MIGRATION_FAILED';
}

/**
 * The checkpoint in the state directory belongs to a different plan (other source, destination,
 * encryption or options), so resuming from it would mix two migrations.
 */
export class PlanMismatchError extends MigrationError {
  override name = 'PlanMismatchError';
  override readonly code = 'MIGRATION_PLAN_MISMATCH';
  constructor(stateDir: string, expected: string, found: string, foundDescription: string) {
    super(`The checkpoint in ${stateDir} was written for a different plan (${foundDescription}); refusing to resume it with this one.`, {
      hint: 'Resume with the same --from, --to and options as the interrupted run, or use another state directory to start a new migration.',
      context: { stateDir, expectedPlanHash: expected, foundPlanHash: found },
    });
  }
}

/** A previous run in the state directory is unfinished and the caller did not ask to resume it. */
export class MigrationInProgressError extends MigrationError {
  override name = 'MigrationInProgressError';
  override readonly code = 'MIGRATION_IN_PROGRESS';
  constructor(stateDir: string) {
    super(`An unfinished run is recorded in ${stateDir}.`, {
      hint: 'Pass resume (--resume) to continue it, roll it back (--rollback), or use another state directory.',
      context: { stateDir },
    });
  }
}

/** Another process holds the state directory (a second copy of the same migration, or a rollback during a run). */
export class MigrationLockedError extends MigrationError {
  override name = 'MigrationLockedError';
  override readonly code = 'MIGRATION_LOCKED';
  constructor(stateDir: string, lockPath: string, pid: number | undefined, host: string | undefined) {
    super(`The state directory ${stateDir} is in use${pid === undefined ? '' : ` by process ${pid} on ${host}`}.`, {
      hint: `Wait for that run to finish. If it is gone (another machine crashed), delete ${lockPath} and resume.`,
      context: { stateDir, lockPath, pid, host },
    });
  }
}

/** Checkpoint or journal files are unreadable (not written by this version, or damaged by hand). */
export class MigrationStateError extends MigrationError {
  override name = 'MigrationStateError';
  override readonly code = 'MIGRATION_STATE_INVALID';
  constructor(path: string, reason: string, options: CacheVaultErrorOptions = {}) {
    super(`Migration state file ${path} cannot be used: ${reason}.`, {
      hint: 'Do not edit files in the state directory. If it is damaged, roll back what the journal allows and start again with a new state directory.',
      ...options,
      context: { path, ...options.context },
    });
  }
}

/** The destination did not take a whole batch (for example, a hybrid write that reached only local tiers). */
export class MigrationWriteError extends MigrationError {
  override name = 'MigrationWriteError';
  override readonly code = 'MIGRATION_WRITE_INCOMPLETE';
  constructor(destination: string, reason: string, options: CacheVaultErrorOptions = {}) {
    super(`The ${destination} destination did not take a whole batch: ${reason}.`, {
      hint: 'Fix the destination (connectivity, capacity) and run again with resume; finished batches are kept.',
      ...options,
      context: { destination, ...options.context },
    });
  }
}

/** A backend spec (`file:./dir`, `dynamodb:TABLE?region=...`, `memory:`) could not be parsed. */
export class BackendSpecError extends CacheVaultError {
  override name = 'BackendSpecError';
  override readonly code = 'BACKEND_SPEC_INVALID';
  constructor(spec: string, reason: string) {
    super(`Invalid backend spec ${JSON.stringify(redactSpec(spec))}: ${reason}.`, {
      hint: 'Use memory:, file:DIR[?durability=full], or dynamodb:TABLE[?region=REGION&endpoint=URL].',
    });
  }
}

/** Drops URL credentials (`http://user:pass@host`) from a spec before it is shown anywhere. */
export function redactSpec(spec: string): string {
  return spec.replace(/\/\/[^/@?#]*@/g, '//[redacted]@');
}
