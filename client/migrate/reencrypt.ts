import type { CacheBackend } from '../backends/cacheBackend';
import type { EncryptionProvider } from '../crypto/encryptionProvider';
import { CacheVaultError, InvalidArgumentError } from '../errors';
import { sealedKeyId } from '../keys/entriesByKeyId';
import { silentLogger } from '../logger';
import type { Clock, Logger, StoredEntry } from '../types';
import { CheckpointStore, planHash, type PlanDescription } from './checkpoint';
import { startRun } from './runStart';
import { MigrationError, MigrationWriteError } from './errors';
import { ProgressTracker, type ProgressCounts } from './progress';
import { scanSegments } from './segmentScan';
import { StateLock } from './stateLock';
import type { EntryFailure, ProgressListener } from './types';
import { byNamespace } from './validate';

export interface ReencryptOptions {
  /** The cache to rewrite in place. */
  readonly backend: CacheBackend;
  /** Opens entries as they are stored (must hold the old key versions, or read `none`). */
  readonly open: EncryptionProvider;
  /** Seals the rewritten entries (the active key, or NoEncryption to disable encryption). */
  readonly seal: EncryptionProvider;
  /**
   * Which entries to rewrite: e.g. `(e) => keys.isSealedUnder(e.keyId, 'k1')` after a rotation (entries carry `k1:<manifest id>`, see keys/keyIds.ts), `(e) => e.keyId === 'none'` to enable encryption.
   * `keyId` here is the one in the entry's authenticated envelope header, not the clear column
   * (which anyone who can write the store can relabel); the clear one when the header is unreadable.
   */
  readonly shouldRewrite: (entry: StoredEntry) => boolean;
  /** Directory for the sweep's checkpoint (created owner-only). */
  readonly stateDir: string;
  readonly onProgress?: ProgressListener;
  /**
   * What the sweep does, in words (`rotate k1 -> k2`, `enable encryption`); part of the plan hash,
   * since `shouldRewrite` itself cannot be hashed. @default `reencrypt <open> -> <seal>`
   */
  readonly description?: string;
  /** How the backend is described in the plan hash (no secrets). @default the backend's name */
  readonly backendDescription?: string;
  /**
   * Continue an unfinished sweep of the same plan recorded in `stateDir`. The sweep is idempotent,
   * so `false` simply starts over (the old checkpoint is kept aside). @default true
   */
  readonly resume?: boolean;
  /** @default 100 */
  readonly batchSize?: number;
  /** Batches of one scan segment in flight at once (committed in order). @default 4 */
  readonly pipelineDepth?: number;
  /** @default backend.capabilities.scanSegments */
  readonly concurrency?: number;
  /** @default Date.now */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** @default 100 */
  readonly maxFailureSamples?: number;
  /**
   * Stops the sweep early: no new page is read once it aborts; batches in flight are rewritten
   * and checkpointed, and the sweep resolves with `stopped: true`. Running it again with the
   * same options (resume is the default) continues from exactly there. @default never stops early
   */
  readonly signal?: AbortSignal;
}

/**
 * Totals of a sweep, kept in its checkpoint. After a resume, entries that the interrupted run
 * rewrote in batches it had not yet checkpointed are met again already rewritten and count as
 * `unchanged` (and under their new key id in `keyIdsBefore`); `keyIdsAfter` is exact either way.
 */
export interface ReencryptCounts {
  /** Live entries looked at. */
  scanned: number;
  rewritten: number;
  /** Live entries `shouldRewrite` left alone. */
  unchanged: number;
  skippedExpired: number;
  /** Entries an app changed or deleted between the sweep's read and its write; left as the app wrote them. */
  skippedChanged: number;
  /** Entries that could not be opened (left as they are). */
  failed: number;
  failuresByReason: Record<string, number>;
  /** Live entries per key id (from the envelope header) as the sweep found them. */
  keyIdsBefore: Record<string, number>;
  /** Live entries whose clear key id disagreed with their envelope header; treated by the header. */
  keyIdMismatches: number;
  /** ... and as the sweep left them. */
  keyIdsAfter: Record<string, number>;
  /** Stored bytes of the entries rewritten. */
  bytes: number;
}

export interface ReencryptReport {
  /** `signal` aborted before the sweep reached the end; the checkpoint stays `running` for a resume. */
  readonly stopped: boolean;
  readonly planHash: string;
  readonly counts: ReencryptCounts;
  readonly failures: readonly EntryFailure[];
  readonly resumed: boolean;
  readonly elapsedMs: number;
}

const emptyCounts = (): ReencryptCounts => ({
  scanned: 0,
  rewritten: 0,
  unchanged: 0,
  skippedExpired: 0,
  skippedChanged: 0,
  failed: 0,
  failuresByReason: {},
  keyIdsBefore: {},
  keyIdsAfter: {},
  keyIdMismatches: 0,
  bytes: 0,
});

/** The entry as the sweep judges it: with the key id its authenticated header names. */
function byHeader(entry: StoredEntry): { entry: StoredEntry; mismatch: boolean } {
  const keyId = sealedKeyId(entry);
  if (keyId === undefined || keyId === entry.keyId) return { entry, mismatch: false };
  return { entry: { ...entry, keyId }, mismatch: true };
}

type PageOutcome = Omit<ReencryptCounts, 'failuresByReason'> & { failures: EntryFailure[] };

const bump = (map: Record<string, number>, key: string, by = 1) => {
  map[key] = (map[key] ?? 0) + by;
};

/**
 * Rewrites entries in place under another encryption: the sweep behind key rotation (rewrite
 * entries under an old key version) and enabling or disabling encryption. Resumable through the
 * same atomic checkpoint as the migrator, and idempotent: a rewritten entry no longer matches
 * `shouldRewrite`, so a rerun passes over it.
 *
 * Race with applications writing the same keys: just before each batch is written, the sweep
 * re-reads those keys and skips any whose bytes or `createdAt` changed since the scan (counted as
 * `skippedChanged`), so an app's newer value is not replaced by a re-encrypted older one. A write
 * landing in the short window between that re-read and the batch write is overwritten by the
 * re-encrypted previous value: last writer wins, as for two apps writing one key, and the value
 * stays one the app really wrote. Backends offer no conditional batch write, so the window
 * cannot be closed through the CacheBackend interface.
 */
export async function reencryptInPlace(options: ReencryptOptions): Promise<ReencryptReport> {
  const { backend, open, seal } = options;
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`batchSize must be a positive integer, got ${batchSize}.`);
  const concurrency = options.concurrency ?? backend.capabilities.scanSegments;
  const totalSegments = Math.max(1, Math.min(concurrency, backend.capabilities.scanSegments));
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const maxFailureSamples = options.maxFailureSamples ?? 100;
  const label = options.backendDescription ?? backend.name;
  const plan: PlanDescription = {
    kind: 'reencrypt',
    source: label,
    destination: label,
    options: { description: options.description ?? `reencrypt ${open.algorithm} -> ${seal.algorithm}`, batchSize, totalSegments, openWith: open.algorithm, sealWith: seal.algorithm },
  };
  const hash = planHash(plan);
  const store = new CheckpointStore<ReencryptCounts>(options.stateDir);
  store.ensureDir();
  const lock = await StateLock.acquire(options.stateDir);
  try {
    return await sweep(options, { plan, hash, store, batchSize, totalSegments, clock, logger, maxFailureSamples, label });
  } finally {
    await lock.release();
  }
}

interface SweepSetup {
  readonly plan: PlanDescription;
  readonly hash: string;
  readonly store: CheckpointStore<ReencryptCounts>;
  readonly batchSize: number;
  readonly totalSegments: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly maxFailureSamples: number;
  readonly label: string;
}

async function sweep(options: ReencryptOptions, setup: SweepSetup): Promise<ReencryptReport> {
  const { backend, open, seal, shouldRewrite } = options;
  const { plan, hash, store, batchSize, totalSegments, clock, logger, maxFailureSamples, label } = setup;

  const start = await startRun<ReencryptCounts>({
    store,
    stateDir: options.stateDir,
    kind: 'reencrypt',
    planHash: hash,
    resume: options.resume ?? true,
    // A sweep is idempotent: one left running is kept aside and the sweep starts over.
    whenRunningWithoutResume: 'start-over',
    reportComplete: false,
    fresh: async () => ({ kind: 'reencrypt', planHash: hash, plan, totalSegments, counts: emptyCounts(), now: clock() }),
  });
  const { checkpoint } = start;
  const resumed = start.state === 'resumed';

  const counts = checkpoint.counts;
  const progressCounts = (): ProgressCounts => ({
    entriesDone: counts.rewritten,
    bytesDone: counts.bytes,
    skippedExpired: counts.skippedExpired,
    failed: counts.failed,
    entriesSeen: counts.scanned + counts.skippedExpired,
  });
  const tracker = new ProgressTracker('reencrypt', clock, options.onProgress, backend.stats().entries, progressCounts());

  const { complete } = await scanSegments<PageOutcome>({
    backend,
    signal: options.signal,
    segments: checkpoint.segments,
    totalSegments: checkpoint.totalSegments,
    pageSize: batchSize,
    includeExpired: true,
    pipelineDepth: options.pipelineDepth ?? 4,
    onPage: async (_segment, page) => {
      const out: PageOutcome = { ...emptyCounts(), failures: [] };
      const now = clock();
      const candidates: { original: StoredEntry; rewrite: StoredEntry }[] = [];
      for (const stored of page.entries) {
        if (stored.expiresAt !== null && stored.expiresAt <= now) {
          out.skippedExpired += 1;
          continue;
        }
        const { entry, mismatch } = byHeader(stored);
        if (mismatch) out.keyIdMismatches += 1;
        out.scanned += 1;
        bump(out.keyIdsBefore, entry.keyId);
        if (!shouldRewrite(entry)) {
          out.unchanged += 1;
          bump(out.keyIdsAfter, entry.keyId);
          continue;
        }
        let plaintext: Uint8Array;
        try {
          plaintext = await open.open(entry.value, entry);
        } catch (err) {
          out.failed += 1;
          bump(out.keyIdsAfter, entry.keyId);
          out.failures.push({
            namespace: entry.namespace,
            key: entry.key,
            reason: err instanceof CacheVaultError ? err.code : 'OPEN_FAILED',
            message: err instanceof Error ? err.message : String(err),
          });
          continue;
        }
        let sealed;
        try {
          sealed = await seal.seal(plaintext, entry);
        } catch (err) {
          throw new MigrationError(`Sealing rewritten entries failed: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
            hint: 'Check that the new key is active and its provider reachable, then run the sweep again; it resumes.',
          });
        }
        // createdAt is kept: the entry's age is the app's, and it is what the race check compares.
        candidates.push({ original: entry, rewrite: { ...entry, value: sealed.bytes, keyId: sealed.keyId } });
      }

      for (const [namespace, group] of byNamespace(candidates.map((c) => ({ ...c, namespace: c.original.namespace, key: c.original.key })))) {
        const current = await backend.getMany(namespace, group.map((c) => c.original.key));
        const writes: StoredEntry[] = [];
        group.forEach((c, i) => {
          const now = current[i];
          if (now === undefined || now.createdAt !== c.original.createdAt || !Buffer.from(now.value).equals(c.original.value)) {
            out.skippedChanged += 1;
            if (now !== undefined) bump(out.keyIdsAfter, byHeader(now).entry.keyId);
            return;
          }
          writes.push(c.rewrite);
        });
        if (writes.length === 0) continue;
        const result = await backend.setMany(writes);
        if ((result.degraded?.length ?? 0) > 0 || result.written < writes.length) {
          const reason = result.degraded?.map((d) => `${d.tier}: ${d.reason}`).join('; ') ?? `${result.written} of ${writes.length} entries written`;
          throw new MigrationWriteError(label, reason);
        }
        for (const w of writes) {
          out.rewritten += 1;
          out.bytes += w.value.byteLength;
          bump(out.keyIdsAfter, w.keyId);
        }
      }
      return out;
    },
    onCommit: (_segment, out) => {
      counts.scanned += out.scanned;
      counts.rewritten += out.rewritten;
      counts.unchanged += out.unchanged;
      counts.skippedExpired += out.skippedExpired;
      counts.skippedChanged += out.skippedChanged;
      counts.failed += out.failed;
      counts.bytes += out.bytes;
      // `?? 0`: checkpoints written before this count existed resume too.
      counts.keyIdMismatches = (counts.keyIdMismatches ?? 0) + out.keyIdMismatches;
      for (const [k, n] of Object.entries(out.keyIdsBefore)) bump(counts.keyIdsBefore, k, n);
      for (const [k, n] of Object.entries(out.keyIdsAfter)) bump(counts.keyIdsAfter, k, n);
      for (const f of out.failures) {
        bump(counts.failuresByReason, f.reason);
        if (checkpoint.failures.length < maxFailureSamples) checkpoint.failures.push(f);
      }
      checkpoint.updatedAt = clock();
      const saved = store.save(checkpoint);
      tracker.report(progressCounts());
      return saved;
    },
  });

  if (!complete) {
    // Every committed batch is already in the checkpoint, which stays `running` for a resume.
    logger.info({ stateDir: options.stateDir, rewritten: counts.rewritten }, 're-encryption stopped early; running it again resumes');
    return { stopped: true, planHash: hash, counts, failures: checkpoint.failures, resumed, elapsedMs: tracker.elapsedMs() };
  }
  checkpoint.status = 'complete';
  checkpoint.updatedAt = clock();
  await store.save(checkpoint);
  if (counts.failed > 0) logger.warn({ failed: counts.failed, byReason: counts.failuresByReason }, 're-encryption left entries it could not open');
  return { stopped: false, planHash: hash, counts, failures: checkpoint.failures, resumed, elapsedMs: tracker.elapsedMs() };
}
