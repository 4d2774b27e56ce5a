import { createHash } from 'node:crypto';
import type { CacheBackend } from '../backends/cacheBackend';
import type { EncryptionProvider } from '../crypto/encryptionProvider';
import type { Clock, StoredEntry } from '../types';
import type { Transcode } from './entryTranscoder';
import { ProgressTracker } from './progress';
import { freshSegments, scanSegments } from './segmentScan';
import type { ProgressListener, ValidationMismatch, ValidationReport } from './types';

export interface ValidateContext {
  readonly source: CacheBackend;
  readonly destination: CacheBackend;
  readonly transcode: Transcode | undefined;
  readonly totalSegments: number;
  readonly destinationSegments: number;
  readonly batchSize: number;
  readonly clock: Clock;
  readonly maxFailureSamples: number;
  /** Pages per segment compared at once. */
  readonly pipelineDepth: number;
  readonly onProgress: ProgressListener | undefined;
}

type Ref = { namespace: string; key: string };

/** Groups entries by namespace, since batched reads take one namespace at a time. */
export function byNamespace<T extends Ref>(entries: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const entry of entries) {
    const group = groups.get(entry.namespace);
    if (group) group.push(entry);
    else groups.set(entry.namespace, [entry]);
  }
  return groups;
}

/** SHA-256 of an entry's decrypted value; `undefined` if it cannot be opened. */
async function valueDigest(entry: StoredEntry, provider: EncryptionProvider | undefined): Promise<string | undefined> {
  try {
    const bytes = provider === undefined ? entry.value : await provider.open(entry.value, entry);
    return createHash('sha256').update(bytes).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * Compares source and destination in two streaming passes: every live source entry is looked up
 * in the destination (missing, or a different decrypted value or expiry), then every destination
 * entry in the source (extra). Values are compared by SHA-256 of the plaintext, each side opened
 * with its own provider, so a re-encrypted copy matches its original. Without a transcode both
 * sides share one encryption and the stored bytes themselves are compared.
 */
export async function validateCopy(ctx: ValidateContext): Promise<ValidationReport> {
  let sourceEntries = 0;
  let destinationEntries = 0;
  let matched = 0;
  let sourceUnreadable = 0;
  let missing = 0;
  let different = 0;
  let extra = 0;
  const samples = { missing: [] as Ref[], different: [] as ValidationMismatch[], extra: [] as Ref[] };
  const sample = <T>(list: T[], item: T) => {
    if (list.length < ctx.maxFailureSamples) list.push(item);
  };
  const tracker = new ProgressTracker('validate', ctx.clock, ctx.onProgress, ctx.source.stats().entries);
  let bytes = 0;
  const report = () =>
    tracker.report({ entriesDone: matched, bytesDone: bytes, skippedExpired: 0, failed: missing + different, entriesSeen: sourceEntries });

  await scanSegments({
    backend: ctx.source,
    segments: freshSegments(ctx.totalSegments),
    totalSegments: ctx.totalSegments,
    pageSize: ctx.batchSize,
    includeExpired: false,
    pipelineDepth: ctx.pipelineDepth,
    onPage: async (_segment, page) => {
      const groups = [...byNamespace(page.entries)];
      const lookups = await Promise.all(groups.map(([namespace, group]) => ctx.destination.getMany(namespace, group.map((e) => e.key))));
      for (const [g, [namespace, group]] of groups.entries()) {
        const copies = lookups[g]!;
        for (let i = 0; i < group.length; i++) {
          const original = group[i]!;
          const copy = copies[i];
          sourceEntries += 1;
          bytes += original.value.byteLength;
          const want = await valueDigest(original, ctx.transcode?.open);
          if (want === undefined) {
            sourceUnreadable += 1;
            continue;
          }
          if (copy === undefined) {
            missing += 1;
            sample(samples.missing, { namespace, key: original.key });
            continue;
          }
          const got = await valueDigest(copy, ctx.transcode?.seal);
          const what = got === undefined ? 'unreadable' : got !== want ? 'value' : copy.expiresAt !== original.expiresAt ? 'expiresAt' : undefined;
          if (what === undefined) matched += 1;
          else {
            different += 1;
            sample(samples.different, { namespace, key: original.key, what });
          }
        }
      }
      report();
    },
  });

  await scanSegments({
    backend: ctx.destination,
    segments: freshSegments(ctx.destinationSegments),
    totalSegments: ctx.destinationSegments,
    pageSize: ctx.batchSize,
    includeExpired: false,
    pipelineDepth: ctx.pipelineDepth,
    onPage: async (_segment, page) => {
      for (const [namespace, group] of byNamespace(page.entries)) {
        const originals = await ctx.source.getMany(namespace, group.map((e) => e.key));
        destinationEntries += group.length;
        originals.forEach((original, i) => {
          if (original === undefined) {
            extra += 1;
            sample(samples.extra, { namespace, key: group[i]!.key });
          }
        });
      }
    },
  });
  report();

  const ok = missing === 0 && different === 0;
  return { ok, exact: ok && extra === 0, sourceEntries, destinationEntries, matched, sourceUnreadable, missing, different, extra, samples };
}
