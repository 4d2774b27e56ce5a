import type { CacheBackend } from '../backends/cacheBackend';
import type { EntryPage } from '../types';
import type { SegmentState } from './checkpoint';

export interface SegmentScanOptions<T = void> {
  readonly backend: CacheBackend;
  /** Where each segment stands; segments marked done are skipped. Updated in place. */
  readonly segments: SegmentState[];
  readonly totalSegments: number;
  readonly pageSize: number;
  readonly includeExpired: boolean;
  /** Pages of one segment handled at once (committed in order). @default 1 */
  readonly pipelineDepth?: number;
  /**
   * Handles one page; the page counts as done only once this resolves. `seq` numbers the
   * segment's pages from 0 across resumes (the journal's batch number).
   */
  readonly onPage: (segment: SegmentState, page: EntryPage, seq: number) => Promise<T>;
  /**
   * Called with what `onPage` returned, in the same synchronous step that advances the segment
   * state, so totals applied here and the cursor can never be saved out of step (save here).
   */
  readonly onCommit?: (segment: SegmentState, result: T) => Promise<void>;
  /**
   * Once aborted, no new page is read; the pages already in flight are finished and committed in
   * order, so the segment states end exactly after the last committed page.
   */
  readonly signal?: AbortSignal;
}

/** How a walk ended: `complete` when every segment reached its end, `false` when the signal stopped it first. */
export interface SegmentScanResult {
  readonly complete: boolean;
}

/** Segment states for a fresh walk. */
export function freshSegments(totalSegments: number): SegmentState[] {
  return Array.from({ length: totalSegments }, (_, segment) => ({ segment, cursor: undefined, batches: 0, done: false }));
}

/**
 * Walks a backend page by page, one loop per scan segment in parallel. Within a segment, pages
 * are read in cursor order and up to `pipelineDepth` of them are handled at once (reads, journal
 * and writes overlap), but they are committed strictly in order: a segment's cursor only moves
 * past a page once it and every page before it are done, so a checkpoint never skips a page
 * whose write had not finished. When one page fails, every segment stops reading, waits for the
 * pages it has in flight, and the first error is thrown once all have stopped, so nothing keeps
 * writing after the caller has seen the failure. An aborted `signal` stops the walk the same
 * way, except that the pages in flight are committed: the caller can resume from the segment
 * states without reading any page twice or skipping one.
 */
export async function scanSegments<T = void>(options: SegmentScanOptions<T>): Promise<SegmentScanResult> {
  const { backend, totalSegments, pageSize, includeExpired, signal } = options;
  const depth = Math.max(1, options.pipelineDepth ?? 1);
  let stopped = false;
  const read = (segment: SegmentState, cursor: string | undefined): Promise<EntryPage> =>
    backend.scan({
      cursor,
      pageSize,
      includeExpired,
      ...(totalSegments > 1 ? { segment: segment.segment, totalSegments } : {}),
    });

  const walk = async (segment: SegmentState): Promise<void> => {
    if (segment.done) return;
    let cursor = segment.cursor;
    let more = true;
    let seq = segment.batches;
    const inFlight: Promise<{ page: EntryPage; result: T }>[] = [];
    try {
      while (!stopped) {
        while (more && inFlight.length < depth && !stopped && signal?.aborted !== true) {
          const page = await read(segment, cursor);
          cursor = page.cursor;
          more = cursor !== undefined;
          const handled = options.onPage(segment, page, seq++).then((result) => ({ page, result }));
          // Awaited in order below; this only keeps a later page's failure from being "unhandled" meanwhile.
          handled.catch(() => undefined);
          inFlight.push(handled);
        }
        const oldest = inFlight.shift();
        if (oldest === undefined) return;
        const { page, result } = await oldest;
        segment.cursor = page.cursor;
        segment.batches += 1;
        segment.done = page.cursor === undefined;
        await options.onCommit?.(segment, result);
      }
      // Another segment failed: let this one's pages in flight finish (uncommitted) before returning.
      await Promise.allSettled(inFlight);
    } catch (err) {
      stopped = true;
      await Promise.allSettled(inFlight);
      throw err;
    }
  };

  const results = await Promise.allSettled(options.segments.map((segment) => walk(segment)));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return { complete: options.segments.every((segment) => segment.done) };
}
