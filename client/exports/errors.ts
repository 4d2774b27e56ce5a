/**
 * Every error class an app may meet (AuditLogError, of the audit log, is in `cachevault/audit`), for `instanceof` checks and `code` switches. Re-exported
 * by the root entry; nothing here loads more than the class definitions.
 */
export * from '../errors';
export { MissingDependencyError } from '../optionalDependency';
export { FileCacheBusyError, ForeignDatabaseError } from '../backends/file/errors';
export { UnsafePathError } from '../fs/errors';
export { ValueTooLargeError, LoaderTimeoutError } from '../core/errors';
export { EncryptionClosedError } from '../crypto/errors';
export {
  KeyProviderError,
  KeyProviderFailure,
  NoKeyProviderError,
  ManifestError,
  KeyStateError,
  KeyVersionInUseError,
  BackupPassphraseError,
  BackupFormatError,
  RotationStepError,
  type ProviderAttempt,
} from '../keys/errors';
export {
  DynamoDBError,
  TableNotFoundError,
  DynamoDBAccessDeniedError,
  DynamoDBThrottledError,
  UnprocessedBatchError,
  TableSchemaMismatchError,
  DynamoDbLocalError,
  EndpointUnreachableError,
  EndpointTimeoutError,
  AwsCredentialsMissingError,
  AwsRegionMissingError,
} from '../dynamodb/errors';
export { TierUnavailableError, TierTimeoutError, BackendStartError, type TierFailureKind } from '../backends/hybrid/errors';
export {
  MigrationError,
  PlanMismatchError,
  MigrationInProgressError,
  MigrationStateError,
  MigrationWriteError,
  BackendSpecError,
} from '../migrate/errors';
