import type { CacheBackend } from '../backends/cacheBackend';
import { freshSegments, scanSegments } from '../migrate/segmentScan';

export interface EntriesByKeyIdOptions {
  /** Entries per scan page. @default 500 */
  readonly pageSize?: number;
  /** Parallel scan segments, capped by what the backend supports. @default backend.capabilities.scanSegments */
  readonly concurrency?: number;
}

export interface EntriesByKeyId {
  /** Live entries scanned. */
  readonly total: number;
  /** Live entries by the key version that sealed them (`none` = unencrypted). */
  readonly byKeyId: Readonly<Record<string, number>>;
}

/**
 * Counts a cache's live entries per key version without opening any: the key id is stored in
 * clear beside each entry for exactly this (encryption status, audit reports, and the check
 * before a version is retired). Expired entries are not counted; they already read as misses.
 */
export async function entriesByKeyId(backend: CacheBackend, options: EntriesByKeyIdOptions = {}): Promise<EntriesByKeyId> {
  const totalSegments = Math.max(1, Math.min(options.concurrency ?? backend.capabilities.scanSegments, backend.capabilities.scanSegments));
  const byKeyId: Record<string, number> = {};
  let total = 0;
  await scanSegments({
    backend,
    segments: freshSegments(totalSegments),
    totalSegments,
    pageSize: options.pageSize ?? 500,
    includeExpired: false,
    onPage: async (_segment, page) => {
      total += page.entries.length;
      for (const entry of page.entries) byKeyId[entry.keyId] = (byKeyId[entry.keyId] ?? 0) + 1;
    },
  });
  return { total, byKeyId };
}
