import type { CacheBackend } from '../client/backends/cacheBackend';
import type {
  BackendCapabilities,
  BackendStats,
  EntryPage,
  HealthReport,
  ScanOptions,
  StoredEntry,
  WriteResult,
} from '../client/types';
import { InvocationDeadlineError } from './errors';

/**
 * A backend that refuses to start another scan page once `shouldStop()` says the invocation is
 * nearly over. The migrator and the re-encryption sweep read page by page and checkpoint pages in
 * order, so the refusal ends the job cleanly: the pages already being handled are finished (the
 * client's segment scan waits for them before it throws), the checkpoint covers every page before
 * them, and the next invocation continues from it. Pages that were in flight are written but not
 * checkpointed; the next invocation reads them again, which is harmless because both jobs are
 * idempotent (a re-encrypted entry no longer matches, a copied one is upserted again).
 *
 * Everything else passes straight through: a page being written is always finished. This adapter
 * stands in for an AbortSignal option the client's jobs do not take yet.
 */
export class StoppableBackend implements CacheBackend {
  constructor(
    private readonly inner: CacheBackend,
    private readonly shouldStop: () => { stop: boolean; remainingMs: number },
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get capabilities(): BackendCapabilities {
    return this.inner.capabilities;
  }

  scan(options?: ScanOptions): Promise<EntryPage> {
    const { stop, remainingMs } = this.shouldStop();
    if (stop) return Promise.reject(new InvocationDeadlineError(remainingMs));
    return this.inner.scan(options);
  }

  async *entries(options?: Omit<ScanOptions, 'cursor'>): AsyncIterableIterator<StoredEntry> {
    let cursor: string | undefined;
    do {
      const page: EntryPage = await this.scan({ ...options, cursor });
      yield* page.entries;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    return this.inner.get(namespace, key);
  }
  set(entry: StoredEntry): Promise<WriteResult> {
    return this.inner.set(entry);
  }
  delete(namespace: string, key: string): Promise<boolean> {
    return this.inner.delete(namespace, key);
  }
  has(namespace: string, key: string): Promise<boolean> {
    return this.inner.has(namespace, key);
  }
  clear(namespace?: string): Promise<void> {
    return this.inner.clear(namespace);
  }
  getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    return this.inner.getMany(namespace, keys);
  }
  setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    return this.inner.setMany(entries);
  }
  deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    return this.inner.deleteMany(namespace, keys);
  }
  stats(): BackendStats {
    return this.inner.stats();
  }
  healthCheck(): Promise<HealthReport> {
    return this.inner.healthCheck();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
