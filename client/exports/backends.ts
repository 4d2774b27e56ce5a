/**
 * `cachevault/backends`: the storage tiers as classes, for apps that assemble a CacheManager by
 * hand. `createCache` builds them from configuration without this entry. The file tier loads
 * SQLite (better-sqlite3) when a FileBackend is constructed, not when this entry is imported.
 */
export type { CacheBackend } from '../backends/cacheBackend';
export { BaseBackend, type BaseBackendOptions } from '../backends/baseBackend';
export { MemoryBackend, type MemoryBackendOptions } from '../backends/memoryBackend';
export { FileBackend, type CompactReport, type FileBackendOptions, type PruneReport, type RepairReport } from '../backends/fileBackend';
export { FileCacheBusyError, ForeignDatabaseError } from '../backends/file/errors';
export { HybridBackend, type HybridBackendOptions, type HybridTierSpec } from '../backends/hybridBackend';
export type { BreakerState } from '../backends/hybrid/circuitBreaker';
export { TierUnavailableError, TierTimeoutError, BackendStartError, type TierFailureKind } from '../backends/hybrid/errors';
export { createBackend, type BackendFactoryDeps, type CreatedBackend } from '../backends/backendFactory';
export type { StampedeLease, HeldLease } from '../core/stampedeLease';
// Types of the DynamoDB tier; its classes are values in `cachevault/dynamodb` (they load the AWS SDK).
export type { DynamoDBBackend, DynamoDBBackendOptions, DynamoGcReport } from '../backends/dynamodbBackend';
export type { DynamoDBLease, DynamoDBLeaseOptions, LeaseStats } from '../dynamodb/dynamodbLease';
