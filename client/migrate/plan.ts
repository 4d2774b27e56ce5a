import type { CacheBackend } from '../backends/cacheBackend';
import { backendRegistry } from '../backends/registry';
import { TableSchema } from '../schema/tableSchema';
import type { Clock, StoredEntry } from '../types';
import { prepareEntry, type Transcode } from './entryTranscoder';
import { ProgressTracker } from './progress';
import { freshSegments, scanSegments } from './segmentScan';
import type { EntryFailure, MigrationPlan, ProgressListener } from './types';

/**
 * Rough copy rate for a destination whose backend type declares none (each registered type
 * declares its own, `estimatedEntriesPerSecond` in client/backends/registry); only for the dry
 * run's time estimate.
 */
export const ESTIMATED_ENTRIES_PER_SECOND_OTHER = 1_000;

/** Bytes a DynamoDB item carries besides the value: attribute names, numbers, the kind marker. */
const ITEM_ATTRIBUTE_OVERHEAD = 100;
const WRITE_UNIT_BYTES = 1024;

/**
 * Write capacity units to put one entry: 1 WCU per started KB of each item, where an entry larger
 * than `chunkBytes` becomes a manifest item plus one item per chunk (the DynamoDB backend's layout,
 * client/schema/tableSchema.ts). Keys appear twice (partition key and the clear `k` attribute).
 */
export function dynamoDbWriteUnits(entry: StoredEntry, chunkBytes: number = TableSchema.defaultChunkBytes): number {
  const identityBytes = 2 * (Buffer.byteLength(entry.namespace) + Buffer.byteLength(entry.key)) + ITEM_ATTRIBUTE_OVERHEAD;
  const size = entry.value.byteLength;
  if (size <= chunkBytes) return Math.ceil((size + identityBytes) / WRITE_UNIT_BYTES);
  let units = Math.ceil(identityBytes / WRITE_UNIT_BYTES);
  for (let offset = 0; offset < size; offset += chunkBytes) {
    units += Math.ceil((Math.min(chunkBytes, size - offset) + identityBytes) / WRITE_UNIT_BYTES);
  }
  return units;
}

/**
 * Whether the dry run counts DynamoDB write units: a shared destination is DynamoDB itself or a
 * hybrid writing through to it (the only shared store cachevault starts from a configuration).
 */
export function isDynamoDbDestination(destination: CacheBackend): boolean {
  return destination.capabilities.shared;
}

export interface DryRunContext {
  readonly source: CacheBackend;
  readonly destination: CacheBackend;
  readonly transcode: Transcode | undefined;
  readonly totalSegments: number;
  readonly batchSize: number;
  readonly clock: Clock;
  readonly maxEntryBytes: number;
  readonly maxFailureSamples: number;
  readonly dynamoDbChunkBytes: number;
  readonly estimateEntriesPerSecond: number | undefined;
  /** Pages per segment read at once. */
  readonly pipelineDepth: number;
  readonly planHash: string;
  readonly sourceDescription: string;
  readonly destinationDescription: string;
  readonly onProgress: ProgressListener | undefined;
}

/**
 * The dry run: reads every source entry exactly as the copy would (opening it when transcoding,
 * so entries that would fail are found now) and writes nothing anywhere.
 */
export async function dryRun(ctx: DryRunContext): Promise<MigrationPlan> {
  const dynamo = isDynamoDbDestination(ctx.destination);
  let entries = 0;
  let bytes = 0;
  let skippedExpired = 0;
  let unmigratable = 0;
  let largest = 0;
  let writeUnits = 0;
  const byReason: Record<string, number> = {};
  const failures: EntryFailure[] = [];
  const tracker = new ProgressTracker('plan', ctx.clock, ctx.onProgress, ctx.source.stats().entries);

  await scanSegments({
    backend: ctx.source,
    segments: freshSegments(ctx.totalSegments),
    totalSegments: ctx.totalSegments,
    pageSize: ctx.batchSize,
    includeExpired: true,
    pipelineDepth: ctx.pipelineDepth,
    onPage: async (_segment, page) => {
      const now = ctx.clock();
      for (const entry of page.entries) {
        const prepared = await prepareEntry(entry, { transcode: ctx.transcode, now, maxEntryBytes: ctx.maxEntryBytes });
        if (prepared.kind === 'expired') skippedExpired += 1;
        else if (prepared.kind === 'failed') {
          unmigratable += 1;
          byReason[prepared.failure.reason] = (byReason[prepared.failure.reason] ?? 0) + 1;
          if (failures.length < ctx.maxFailureSamples) failures.push(prepared.failure);
        } else {
          entries += 1;
          bytes += entry.value.byteLength;
          largest = Math.max(largest, prepared.entry.value.byteLength);
          if (dynamo) writeUnits += dynamoDbWriteUnits(prepared.entry, ctx.dynamoDbChunkBytes);
        }
      }
      tracker.report({ entriesDone: entries, bytesDone: bytes, skippedExpired, failed: unmigratable, entriesSeen: entries + skippedExpired + unmigratable });
    },
  });

  const [rate, basis] = estimateRate(ctx);
  return {
    planHash: ctx.planHash,
    source: ctx.sourceDescription,
    destination: ctx.destinationDescription,
    entries,
    bytes,
    skippedExpired,
    unmigratable,
    unmigratableByReason: byReason,
    failures,
    largestEntryBytes: largest,
    estimatedWriteUnits: dynamo ? writeUnits : undefined,
    estimatedSeconds: entries / rate,
    estimateBasis: basis,
  };
}

function estimateRate(ctx: DryRunContext): [number, string] {
  if (ctx.estimateEntriesPerSecond !== undefined) return [ctx.estimateEntriesPerSecond, `${ctx.estimateEntriesPerSecond} entries/s (given)`];
  const name = ctx.destination.name;
  // A shared destination (DynamoDB, or a hybrid over it) goes at the pace of its shared store.
  const rate = ctx.destination.capabilities.shared ? sharedStoreRate() : (backendRegistry.get(name)?.estimatedEntriesPerSecond ?? ESTIMATED_ENTRIES_PER_SECOND_OTHER);
  return [rate, `${rate} entries/s, a rough rate for a ${name} destination; provisioned capacity and network change it`];
}

/** The slowest declared rate among the registered shared backend types. */
function sharedStoreRate(): number {
  const rates = backendRegistry.definitions.filter((d) => d.capabilities.shared).map((d) => d.estimatedEntriesPerSecond ?? ESTIMATED_ENTRIES_PER_SECOND_OTHER);
  return rates.length === 0 ? ESTIMATED_ENTRIES_PER_SECOND_OTHER : Math.min(...rates);
}
