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
 * nearly over. The migrator and the re-encryption sweep read page by page and checkpoint after
 * each page, so the refusal ends the job cleanly at a page boundary: every page already read is
 * written and checkpointed (the client's segment scan waits for all segments before it throws),
 * nothing is half done, and the job continues from the checkpoint in the next invocation.
 *
 * Everything else passes straight through: a page being written is always finished.
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
