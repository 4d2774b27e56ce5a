import type {
  BackendCapabilities,
  BackendStats,
  EntryPage,
  HealthReport,
  ScanOptions,
  StoredEntry,
  WriteResult,
} from '../types';

/**
 * The one interface every storage tier implements. Backends store opaque bytes: serialization,
 * compression and encryption happen above them, in the CacheManager, exactly once.
 *
 * Every read checks the entry's absolute `expiresAt`; an expired entry is a miss.
 */
export interface CacheBackend {
  /** Short name used in stats, logs and errors (`memory`, `file`, `dynamodb`, `hybrid`). */
  readonly name: string;
  readonly capabilities: BackendCapabilities;

  get(namespace: string, key: string): Promise<StoredEntry | undefined>;
  set(entry: StoredEntry): Promise<WriteResult>;
  /** Resolves `true` if an entry was removed. */
  delete(namespace: string, key: string): Promise<boolean>;
  has(namespace: string, key: string): Promise<boolean>;
  /** Removes every entry of `namespace`, or of every namespace when omitted. */
  clear(namespace?: string): Promise<void>;

  /** Results are in the order of `keys`; a miss is `undefined`. */
  getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]>;
  setMany(entries: readonly StoredEntry[]): Promise<WriteResult>;
  /** Resolves the number of entries removed. */
  deleteMany(namespace: string, keys: readonly string[]): Promise<number>;

  /** One page of entries; resume with the returned cursor. */
  scan(options?: ScanOptions): Promise<EntryPage>;
  /** Every live entry, page by page (for migration and sweeps). */
  entries(options?: Omit<ScanOptions, 'cursor'>): AsyncIterableIterator<StoredEntry>;

  stats(): BackendStats;
  healthCheck(options?: HealthCheckOptions): Promise<HealthReport>;
  close(): Promise<void>;
}

export interface HealthCheckOptions {
  /**
   * Check without writing: the canary write/read/delete round trip becomes a read of an absent
   * canary (`cachevault status` and `health` must change no byte of the cache). @default false
   */
  readonly readOnly?: boolean;
}
