import { MemoryBackend } from '../../client/backends/memoryBackend';
import type { StoredEntry, WriteResult } from '../../client/types';

/** A MemoryBackend that counts the pages read from it (`scan` calls) and the entries written to it. */
export class CountingBackend extends MemoryBackend {
  scans = 0;
  written = 0;

  override scan(...args: Parameters<MemoryBackend['scan']>): ReturnType<MemoryBackend['scan']> {
    this.scans += 1;
    return super.scan(...args);
  }

  override async setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    this.written += entries.length;
    return super.setMany(entries);
  }
}
