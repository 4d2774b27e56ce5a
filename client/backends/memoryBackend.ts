import { LRUCache } from 'lru-cache';
import { InvalidArgumentError } from '../errors';
import type { BackendCapabilities, BackendStats, EntryPage, ScanOptions, StoredEntry, WriteResult } from '../types';
import { BaseBackend, type BaseBackendOptions } from './baseBackend';

export interface MemoryBackendOptions extends BaseBackendOptions {
  /** Most entries held; least recently used go first. @default 10000 */
  readonly maxEntries?: number;
  /** Most value bytes held (keys and overhead are counted too). @default 67108864 (64 MiB) */
  readonly maxBytes?: number;
}

/** Fixed per-entry overhead charged against maxBytes, so a flood of tiny entries is bounded too. */
const ENTRY_OVERHEAD_BYTES = 64;
const SEP = '\u0000';

/**
 * The in-process tier, on lru-cache, bounded by entries and bytes. Holds the same opaque
 * (encrypted) bytes as every other tier; entries are shared by reference, never copied.
 */
export class MemoryBackend extends BaseBackend {
  readonly name = 'memory';
  readonly capabilities: BackendCapabilities = { scanSegments: 1, maxBatchWrite: Infinity, persistent: false, shared: false };
  private readonly lru: LRUCache<string, StoredEntry>;

  constructor(options: MemoryBackendOptions = {}) {
    super(options);
    this.lru = new LRUCache<string, StoredEntry>({
      max: options.maxEntries ?? 10_000,
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (entry, id) => entry.value.byteLength + id.length * 2 + ENTRY_OVERHEAD_BYTES,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.counters.evictions += 1;
      },
    });
  }

  protected async _get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    return this.lru.get(namespace + SEP + key);
  }

  protected async _setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    for (const entry of entries) this.lru.set(entry.namespace + SEP + entry.key, entry);
    return { written: entries.length };
  }

  protected async _deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    let removed = 0;
    for (const key of keys) if (this.lru.delete(namespace + SEP + key)) removed += 1;
    return removed;
  }

  protected async _clear(namespace: string | undefined): Promise<void> {
    if (namespace === undefined) {
      this.lru.clear();
      return;
    }
    const prefix = namespace + SEP;
    for (const id of [...this.lru.keys()]) if (id.startsWith(prefix)) this.lru.delete(id);
  }

  /** The cursor is the number of entries already returned, over the LRU's current order. */
  protected async _scan(options: ScanOptions): Promise<EntryPage> {
    const offset = options.cursor === undefined ? 0 : Number(options.cursor);
    // A foreign cursor (another backend's, from a migration checkpoint) would be NaN here and
    // restart the scan on every page, so a caller following cursors would never finish.
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidArgumentError('Invalid scan cursor for the memory backend.', {
        hint: 'Pass back the cursor a previous scan() of this backend returned, unchanged.',
      });
    }
    const pageSize = options.pageSize ?? 500;
    const entries: StoredEntry[] = [];
    let index = 0;
    let more = false;
    for (const entry of this.lru.values()) {
      if (options.namespace !== undefined && entry.namespace !== options.namespace) continue;
      if (index++ < offset) continue;
      if (entries.length === pageSize) {
        more = true;
        break;
      }
      entries.push(entry);
    }
    return { entries, cursor: more ? String(offset + entries.length) : undefined };
  }

  protected async _close(): Promise<void> {
    this.lru.clear();
  }

  protected override _statsExtra(): Pick<BackendStats, 'entries' | 'bytes'> {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize };
  }
}
