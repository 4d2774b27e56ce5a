/** `cachevault/migrate`: moving a cache between backends and re-encrypting it in place. */
export { CacheMigrator, type CacheMigratorOptions, type RunOptions as MigrationRunOptions } from '../migrate/cacheMigrator';
export { reencryptInPlace, type ReencryptOptions, type ReencryptReport, type ReencryptCounts } from '../migrate/reencrypt';
export { parseBackendSpec, describeSpec, type BackendSpec } from '../migrate/backendSpec';
export type { Transcode } from '../migrate/entryTranscoder';
export type * from '../migrate/types';
export {
  MigrationError,
  PlanMismatchError,
  MigrationInProgressError,
  MigrationStateError,
  MigrationWriteError,
  BackendSpecError,
} from '../migrate/errors';
