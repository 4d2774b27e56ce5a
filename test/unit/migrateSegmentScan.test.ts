import type { CacheBackend } from '../../client/backends/cacheBackend';
import { freshSegments, scanSegments } from '../../client/migrate/segmentScan';
import type { EntryPage, ScanOptions, StoredEntry } from '../../client/types';

/** A source with `segments` parallel segments of `pages` pages each; only scan() is used. */
function segmentedSource(segments: number, pages: number): CacheBackend & { reads: ScanOptions[] } {
  const reads: ScanOptions[] = [];
  const scan = async (options: ScanOptions = {}): Promise<EntryPage> => {
    reads.push(options);
    const index = options.cursor === undefined ? 0 : Number(options.cursor);
    const entries: StoredEntry[] = [{ namespace: 'n', key: `s${options.segment ?? 0}p${index}`, value: new Uint8Array(1), expiresAt: null, keyId: 'none', createdAt: 0 }];
    return { entries, cursor: index + 1 < pages ? String(index + 1) : undefined };
  };
  return { reads, scan, capabilities: { scanSegments: segments, maxBatchWrite: 25, persistent: true, shared: true } } as unknown as CacheBackend & { reads: ScanOptions[] };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('scanSegments', () => {
  test('walks every segment in parallel and commits each segment\u2019s pages in cursor order', async () => {
    const source = segmentedSource(3, 5);
    const committed: string[] = [];
    const segments = freshSegments(3);
    await scanSegments({
      backend: source,
      segments,
      totalSegments: 3,
      pageSize: 1,
      includeExpired: true,
      pipelineDepth: 3,
      // Later pages finish first, so ordering is up to scanSegments.
      onPage: async (_s, page, seq) => {
        await tick(10 - seq * 2);
        return page.entries[0]!.key;
      },
      onCommit: async (segment, key) => {
        committed.push(key);
        expect(key).toBe(`s${segment.segment}p${segment.batches - 1}`);
      },
    });
    expect(committed).toHaveLength(15);
    expect(segments.every((s) => s.done && s.batches === 5 && s.cursor === undefined)).toBe(true);
    expect(source.reads.every((r) => r.totalSegments === 3 && r.includeExpired === true)).toBe(true);
  });

  test('when one segment fails, no page is still being handled once the error is thrown', async () => {
    const source = segmentedSource(3, 20);
    let active = 0;
    let startedAfterFailure = 0;
    let failed = false;
    const run = scanSegments({
      backend: source,
      segments: freshSegments(3),
      totalSegments: 3,
      pageSize: 1,
      includeExpired: false,
      pipelineDepth: 4,
      onPage: async (segment, _page, seq) => {
        if (failed) startedAfterFailure += 1;
        active += 1;
        try {
          await tick(5);
          if (segment.segment === 1 && seq === 2) {
            failed = true;
            throw new Error('segment 1 failed');
          }
          await tick(20);
        } finally {
          active -= 1;
        }
      },
    });
    await expect(run).rejects.toThrow('segment 1 failed');
    expect(active).toBe(0);
    // Pages already read ahead may start; reading stops, so only a bounded few do.
    expect(startedAfterFailure).toBeLessThanOrEqual(3 * 4);
  });
});
