/**
 * `migrate`: runs a re-encryption sweep or a table-to-table copy given in its event, through the
 * client's reencryptInPlace / CacheMigrator. Resumable across invocations: shortly before the
 * timeout it aborts the job's signal (the client finishes and checkpoints the batches in flight),
 * and either re-invokes itself with the checkpoint or returns the next event (options.continueWith).
 */
import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createBackend } from '../client/backends/backendFactory';
import type { CacheBackend } from '../client/backends/cacheBackend';
import { loadConfig } from '../client/config/loadConfig';
import { createCache } from '../client/createCache';
import type { KeyManager } from '../client/keys/keyManager';
import { sealedUnderOlderVersion } from '../client/keys/keyIds';
import { retireDrainedVersions } from '../client/keys/retireKeyVersion';
import { describeSpec, parseBackendSpec } from '../client/migrate/backendSpec';
import { CacheMigrator } from '../client/migrate/cacheMigrator';
import { CheckpointStore, type Checkpoint } from '../client/migrate/checkpoint';
import { asAnyCheckpoint, checkpointTotals, type AnyCheckpoint, type RunTotals } from '../client/migrate/checkpointTotals';
import { reencryptInPlace } from '../client/migrate/reencrypt';
import type { StoredEntry } from '../client/types';
import { InvalidEventError } from './errors';
import { startMigrateJob } from './jobInvoker';
import { MetricNames } from './metricNames';
import { createObservability, withObservability, type Observability } from './middleware/observability';
import { HARD_STOP_MS, parseJob, type MigrateJob, type MigrateJobInput } from './migrateJob';
import { WindDown } from './windDown';


export interface MigrateResult {
  readonly status: 'complete' | 'continued';
  readonly jobId: string;
  /** Which invocation of the job this was (1-based). */
  readonly invocation: number;
  /** Totals of the whole job so far. */
  readonly totals: JobTotals;
  /** Entries this invocation looked at. */
  readonly processedThisInvocation: number;
  /** With `continueWith: 'return'`, the event that continues the job. */
  readonly next?: MigrateJobInput;
  /** Failed entries (samples) when complete. */
  readonly failures?: readonly { namespace: string; key: string; reason: string }[];
  /** Key versions a complete re-encryption retired (their material destroyed). */
  readonly retiredKeyIds?: readonly string[];
}

export type JobTotals = RunTotals;

export async function runMigrateJob(event: unknown, context: Context, signal: AbortSignal, obs: Observability): Promise<MigrateResult> {
  const job = parseJob(event);
  const jobId = job.continuation?.jobId ?? randomUUID();
  const invocation = job.continuation?.invocation ?? 1;
  const { windDownMs, maxInvocations, continueWith } = job.options;
  if (invocation > maxInvocations) {
    throw new InvalidEventError(`Job ${jobId} reached ${maxInvocations} invocations without finishing; it is not continued again.`, {
      hint: 'Check the re-encryption-stalled alarm and the logs of earlier invocations, then start the job again (it resumes from the checkpoint in this event) with a higher options.maxInvocations.',
      context: { jobId, invocation },
    });
  }
  if (context.getRemainingTimeInMillis() <= windDownMs + HARD_STOP_MS) {
    throw new InvalidEventError(`options.windDownMs (${windDownMs} ms) leaves no time to work in this invocation.`, {
      hint: "Lower options.windDownMs or raise the function's timeout (migrateTimeoutSeconds in lib/parameters.ts).",
    });
  }
  obs.logger.appendKeys({ jobId, invocation, kind: job.kind });

  const stateDir = join(tmpdir(), 'cachevault-jobs', jobId);
  const store = new CheckpointStore<object>(stateDir);
  store.ensureDir();
  try {
    let initial: AnyCheckpoint | undefined;
    if (job.continuation) {
      initial = parseCheckpoint(job.continuation.checkpoint);
      await store.save(initial);
    }
    const deadline = new WindDown(context, windDownMs, signal);
    let outcome: JobOutcome;
    try {
      outcome = job.kind === 'reencrypt' ? await reencrypt(job, stateDir, deadline, obs) : await copy(job, stateDir, deadline, obs);
    } finally {
      deadline.dispose();
    }
    const { failures, stopped, retiredKeyIds } = outcome;

    const final = await store.load();
    const totals = checkpointTotals(final && asAnyCheckpoint(final, store.path));
    const before = checkpointTotals(initial);
    const processedThisInvocation = totals.seen - before.seen;
    obs.metrics.addMetric(MetricNames.migrationItemsProcessed, MetricUnit.Count, processedThisInvocation);
    obs.metrics.addMetric(MetricNames.migrationItemsRewritten, MetricUnit.Count, totals.written - before.written);
    obs.metrics.addMetric(MetricNames.migrationItemsFailed, MetricUnit.Count, totals.failed - before.failed);
    obs.metrics.addMetric(MetricNames.migrationCompleted, MetricUnit.Count, stopped ? 0 : 1);

    if (!stopped) {
      obs.logger.info('job complete', { totals });
      return { status: 'complete', jobId, invocation, totals, processedThisInvocation, failures, retiredKeyIds };
    }
    if (final === undefined) throw new Error(`The job stopped before its first checkpoint was written in ${stateDir}.`);
    const next: MigrateJobInput = { ...job, continuation: { jobId, invocation: invocation + 1, checkpoint: JSON.stringify(final) } };
    if (continueWith === 'self') {
      await startMigrateJob(context.functionName, next);
      obs.logger.info('job continues in a new invocation', { totals, processedThisInvocation });
      return { status: 'continued', jobId, invocation, totals, processedThisInvocation };
    }
    obs.logger.info('job paused; the response carries the event that continues it', { totals, processedThisInvocation });
    return { status: 'continued', jobId, invocation, totals, processedThisInvocation, next };
  } finally {
    // The checkpoint travels in the event; /tmp may be reused by another job's invocation.
    await rm(stateDir, { recursive: true, force: true });
  }
}

function parseCheckpoint(text: string): AnyCheckpoint {
  try {
    return asAnyCheckpoint(JSON.parse(text) as Checkpoint<object>, 'continuation.checkpoint');
  } catch (cause) {
    throw new InvalidEventError(`continuation.checkpoint is not a checkpoint this handler wrote: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      hint: 'Pass the event a previous invocation produced unchanged; to start over, leave out continuation.',
    });
  }
}

interface JobOutcome {
  readonly stopped: boolean;
  readonly failures: MigrateResult['failures'];
  readonly retiredKeyIds?: readonly string[];
}

const failureSamples = (failures: readonly { namespace: string; key: string; reason: string }[]) =>
  failures.map(({ namespace, key, reason }) => ({ namespace, key, reason }));

async function reencrypt(job: Extract<MigrateJob, { kind: 'reencrypt' }>, stateDir: string, deadline: WindDown, obs: Observability): Promise<JobOutcome> {
  // Unencrypted entries are read only when this job was asked to encrypt them (they are refused
  // by default: anyone who can write the table could have forged them).
  const vault = await createCache({ logger: obs.clientLogger, options: job.includeUnencrypted ? { encryption: { allowUnencryptedReads: true } } : undefined });
  try {
    const keys = vault.keys;
    const activeKeyId = keys?.status().activeKeyId;
    if (activeKeyId === undefined) {
      throw new InvalidEventError('There is no active data key to re-encrypt under.', {
        hint: 'Rotate the key-manifest secret first (aws secretsmanager rotate-secret); its rotation creates the key and starts this job.',
      });
    }
    const from = job.fromKeyIds;
    const accepted = keys?.acceptedManifestIds ?? [];
    const shouldRewrite = (entry: StoredEntry): boolean =>
      entry.keyId === 'none' ? job.includeUnencrypted : sealedUnderOlderVersion(entry.keyId, accepted, activeKeyId, from);
    const report = await reencryptInPlace({
      backend: vault.backend,
      open: vault.encryption,
      seal: vault.encryption,
      shouldRewrite,
      stateDir,
      resume: true,
      description: `${job.reason}: ${from ? from.join(',') : 'all but the active key'} -> ${activeKeyId}${job.includeUnencrypted ? ' (+unencrypted)' : ''}`,
      backendDescription: `dynamodb:${vault.config.dynamodb.tableName}`,
      batchSize: job.options.batchSize,
      concurrency: job.options.concurrency,
      logger: obs.clientLogger,
      signal: deadline.signal,
      onProgress: deadline.check,
    });
    obs.logger.info(report.stopped ? 're-encryption stopped for the deadline' : 're-encryption finished', { counts: report.counts, activeKeyId });
    const retiredKeyIds = !report.stopped && report.counts.failed === 0 && job.retireOldVersions && vault.keys ? await retireMovedVersions(vault.keys, vault.backend, from, obs) : [];
    return { stopped: report.stopped, failures: failureSamples(report.failures), retiredKeyIds };
  } finally {
    await vault.close();
  }
}

/**
 * Closes the rotation: after a complete sweep, the versions it moved entries off are retired by
 * the client's retireDrainedVersions; a version still sealing entries (a client that had not yet
 * reloaded the manifest wrote under it) stays, and the next rotation's job retires it.
 */
async function retireMovedVersions(keys: KeyManager, backend: CacheBackend, from: readonly string[] | undefined, obs: Observability): Promise<readonly string[]> {
  const { retired, inUse } = await retireDrainedVersions({ keys, backend, only: from });
  for (const error of inUse) obs.logger.warn('key version still in use after the sweep; left for the next rotation', { keyId: error.keyId, error: error.message });
  if (retired.length > 0) obs.logger.info('retired key versions after the sweep', { retired });
  return retired;
}

async function copy(job: Extract<MigrateJob, { kind: 'copy' }>, stateDir: string, deadline: WindDown, obs: Observability): Promise<JobOutcome> {
  const open = async (spec: string): Promise<CacheBackend> => {
    const parsed = parseBackendSpec(spec);
    // A spec names exactly one backend: never copy into or out of a fallback.
    const { config } = loadConfig({ options: { ...parsed.config, fallback: undefined } });
    return (await createBackend(config, { logger: obs.clientLogger, exactBackend: true })).backend;
  };
  const source = await open(job.source);
  try {
    const destination = await open(job.destination);
    try {
      const migrator = new CacheMigrator({
        source,
        destination,
        stateDir,
        batchSize: job.options.batchSize,
        concurrency: job.options.concurrency,
        logger: obs.clientLogger,
        sourceDescription: describeSpec(job.source),
        destinationDescription: describeSpec(job.destination),
      });
      const report = await migrator.run({ resume: true, signal: deadline.signal, onProgress: deadline.check });
      obs.logger.info(report.stopped ? 'copy stopped for the deadline' : 'copy finished', { counts: report.counts });
      return { stopped: report.stopped, failures: failureSamples(report.failures) };
    } finally {
      await destination.close();
    }
  } finally {
    await source.close();
  }
}

/** The function's logger and metrics (exported for tests). */
export const observability = createObservability('cachevault-migrate');

export const handler = withObservability<unknown, MigrateResult>(
  (event, context, { signal }) => runMigrateJob(event, context, signal, observability),
  observability,
  { timeoutEarlyInMillis: HARD_STOP_MS },
);
