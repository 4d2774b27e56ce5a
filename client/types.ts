/**
 * Types shared across the client. Backends see only {@link StoredEntry}: opaque bytes plus the
 * few clear fields storage needs (expiry for TTL and pruning, key id for rotation sweeps).
 */

/** Returns the current time in epoch milliseconds. Injected so tests control the clock. */
export type Clock = () => number;

/** Where one entry lives. Namespaces partition a cache; keys are arbitrary strings. */
export interface EntryRef {
  readonly namespace: string;
  readonly key: string;
}

/** The identity an entry is bound to; encryption authenticates it as associated data. */
export interface EntryIdentity extends EntryRef {
  /** Absolute expiry in epoch milliseconds; `null` never expires. */
  readonly expiresAt: number | null;
}

/** What a backend stores for one entry. `value` is opaque to storage. */
export interface StoredEntry extends EntryIdentity {
  readonly value: Uint8Array;
  /**
   * The key version that sealed `value` (`'none'` when unencrypted). Kept in clear so a
   * re-encryption sweep can find entries under old keys without decrypting them.
   */
  readonly keyId: string;
  /** When the entry was written, epoch milliseconds. */
  readonly createdAt: number;
}

/** Outcome of a write. A write resolves only once the tier's configured durability is met. */
export interface WriteResult {
  /** Entries written to every tier the write was meant for. */
  readonly written: number;
  /** Tiers that did not take the write, and why (a hybrid write during a shared-tier outage). */
  readonly degraded?: readonly TierFailure[];
}

export interface TierFailure {
  readonly tier: string;
  readonly reason: string;
}

/** Options for walking a backend's entries (migration, sweeps). */
export interface ScanOptions {
  /** Only this namespace; all namespaces when omitted. */
  readonly namespace?: string;
  /** Resume after the page that returned this cursor. */
  readonly cursor?: string;
  /** Entries per page (a hint; backends may return fewer). @default 500 */
  readonly pageSize?: number;
  /** Parallel scan segment (0-based), for backends whose `capabilities.scanSegments` > 1. */
  readonly segment?: number;
  readonly totalSegments?: number;
  /** Include entries whose `expiresAt` has passed. @default false */
  readonly includeExpired?: boolean;
}

/** One page of a scan; `cursor` resumes after it, `undefined` means the scan is complete. */
export interface EntryPage {
  readonly entries: readonly StoredEntry[];
  readonly cursor: string | undefined;
}

/** Counters every backend keeps; `tiers` is filled by composite backends. */
export interface BackendStats {
  readonly backend: string;
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  errors: number;
  /** Reads that found an entry past its `expiresAt` (counted as misses too). */
  expired: number;
  /** Entries found corrupt, truncated or missing parts (counted as misses too). */
  corrupt: number;
  evictions: number;
  bytesRead: number;
  bytesWritten: number;
  /** Entries and bytes stored, where the backend knows them cheaply. */
  entries?: number;
  bytes?: number;
  /** Backend-specific gauges (breaker state, spilled blobs, ...). */
  extra?: Record<string, number | string | boolean>;
  /** Per-tier stats of a composite backend. */
  tiers?: Record<string, BackendStats>;
}

export interface HealthCheckStep {
  readonly name: string;
  readonly ok: boolean;
  readonly latencyMs?: number;
  readonly detail?: string;
}

export interface HealthReport {
  readonly backend: string;
  readonly healthy: boolean;
  readonly latencyMs: number;
  readonly checks: readonly HealthCheckStep[];
}

/** What a backend can do beyond the contract, so callers (the migrator) can plan. */
export interface BackendCapabilities {
  /** Parallel scan segments the backend supports efficiently (1 = sequential only). */
  readonly scanSegments: number;
  /** Largest batch a single round trip takes (DynamoDB: 25 writes). */
  readonly maxBatchWrite: number;
  /** Whether entries survive the process (false for memory). */
  readonly persistent: boolean;
  /** Whether other machines see the same entries (true for DynamoDB). */
  readonly shared: boolean;
}

/** Structured logger seam; pino satisfies it. Never pass key material or values. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: Record<string, unknown>): Logger;
}
