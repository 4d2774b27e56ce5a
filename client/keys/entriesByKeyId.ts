import type { CacheBackend } from '../backends/cacheBackend';
import { readHeader } from '../crypto/envelope';
import { freshSegments, scanSegments } from '../migrate/segmentScan';
import type { StoredEntry } from '../types';

export interface EntriesByKeyIdOptions {
  /** Entries per scan page. @default 500 */
  readonly pageSize?: number;
  /** Parallel scan segments, capped by what the backend supports. @default backend.capabilities.scanSegments */
  readonly concurrency?: number;
}

/** An entry whose clear `keyId` column disagrees with the key id in its envelope header. */
export interface KeyIdMismatch {
  readonly namespace: string;
  readonly key: string;
  /** What the clear column says (not trusted). */
  readonly storedKeyId: string;
  /** What the envelope header says: the id the entry is counted under. */
  readonly headerKeyId: string;
}

export interface EntriesByKeyId {
  /** Live entries scanned. */
  readonly total: number;
  /** Live entries by the key version that sealed them (`none` = unencrypted), as their envelope headers say. */
  readonly byKeyId: Readonly<Record<string, number>>;
  /** Live entries whose clear key id disagreed with their header (relabelled or corrupt rows). */
  readonly mismatched: number;
  /** The first few of them, for the report. */
  readonly mismatches: readonly KeyIdMismatch[];
  /** Live entries with no readable envelope header: no key opens them; counted under no key id. */
  readonly unreadable: number;
}

/**
 * The key id an entry was sealed under, from its envelope header: the header is part of the
 * associated data every open authenticates, so it cannot be changed without the entry failing to
 * open. The clear `keyId` column beside it is only an index and anyone who can write the store
 * can relabel it. `undefined` when the bytes are not a readable envelope.
 */
export function sealedKeyId(entry: Pick<StoredEntry, 'value'>): string | undefined {
  try {
    return readHeader(entry.value).keyId;
  } catch {
    return undefined;
  }
}

const MAX_MISMATCH_SAMPLES = 20;

/**
 * Counts a cache's live entries per key version without opening any, by the key id in each
 * entry's envelope header (encryption status, audit reports, and the check before a version is
 * retired). An entry whose clear key id says otherwise counts for its header's key id and is
 * reported as a mismatch, so relabelling rows cannot hide entries from `keys retire`. Expired
 * entries are not counted; they already read as misses.
 */
export async function entriesByKeyId(backend: CacheBackend, options: EntriesByKeyIdOptions = {}): Promise<EntriesByKeyId> {
  const totalSegments = Math.max(1, Math.min(options.concurrency ?? backend.capabilities.scanSegments, backend.capabilities.scanSegments));
  const byKeyId: Record<string, number> = {};
  const mismatches: KeyIdMismatch[] = [];
  let total = 0;
  let mismatched = 0;
  let unreadable = 0;
  await scanSegments({
    backend,
    segments: freshSegments(totalSegments),
    totalSegments,
    pageSize: options.pageSize ?? 500,
    includeExpired: false,
    onPage: async (_segment, page) => {
      total += page.entries.length;
      for (const entry of page.entries) {
        const keyId = sealedKeyId(entry);
        if (keyId === undefined) {
          unreadable += 1;
          continue;
        }
        byKeyId[keyId] = (byKeyId[keyId] ?? 0) + 1;
        if (keyId !== entry.keyId) {
          mismatched += 1;
          if (mismatches.length < MAX_MISMATCH_SAMPLES) mismatches.push({ namespace: entry.namespace, key: entry.key, storedKeyId: entry.keyId, headerKeyId: keyId });
        }
      }
    },
  });
  return { total, byKeyId, mismatched, mismatches, unreadable };
}
