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
  /** Handles one page; the page counts as done only once this resolves. */
  readonly onPage: (segment: SegmentState, page: EntryPage) => Promise<T>;
  /**
   * Called with what `onPage` returned, in the same synchronous step that advances the segment
   * state, so totals applied here and the cursor can never be saved out of step (save here).
   */
  readonly onCommit?: (segment: SegmentState, result: T) => Promise<void>;
}

/** Segment states for a fresh walk. */
export function freshSegments(totalSegments: number): SegmentState[] {
  return Array.from({ length: totalSegments }, (_, segment) => ({ segment, cursor: undefined, batches: 0, done: false }));
}

/**
 * Walks a backend page by page, one loop per scan segment in parallel. Each loop reads its next
 * page while the current one is handled, so reading and writing overlap. When one segment fails
 * the others stop after their current page and the first error is thrown once all have stopped,
 * so nothing keeps writing after the caller has seen the failure.
 */
export async function scanSegments<T = void>(options: SegmentScanOptions<T>): Promise<void> {
  const { backend, totalSegments, pageSize, includeExpired } = options;
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
    let next: Promise<EntryPage> | undefined = read(segment, segment.cursor);
    while (next !== undefined && !stopped) {
      const page: EntryPage = await next;
      next = page.cursor === undefined ? undefined : read(segment, page.cursor);
      // A prefetch abandoned after a failure must not surface as an unhandled rejection.
      next?.catch(() => undefined);
      const result = await options.onPage(segment, page);
      segment.cursor = page.cursor;
      segment.batches += 1;
      segment.done = page.cursor === undefined;
      await options.onCommit?.(segment, result);
    }
  };

  const results = await Promise.allSettled(
    options.segments.map((segment) =>
      walk(segment).catch((err: unknown) => {
        stopped = true;
        throw err;
      }),
    ),
  );
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}
