import { createHash } from 'node:crypto';
import { mkdirSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomicWrite';
import { MigrationStateError } from './errors';
import { freshSegments } from './segmentScan';
import type { MigrationCounts, EntryFailure } from './types';
import { canonicalJson } from '../canonicalJson';

/** Bumped when the checkpoint's shape changes; older files are refused, not misread. */
export const CHECKPOINT_VERSION = 1;

export type CheckpointKind = 'migrate' | 'reencrypt';
export type CheckpointStatus = 'running' | 'complete' | 'rolled-back';

/** Where one scan segment stands. `batches` numbers the durably written batches (journal `seq`). */
export interface SegmentState {
  readonly segment: number;
  cursor: string | undefined;
  batches: number;
  done: boolean;
}

export interface Checkpoint<C extends object = MigrationCounts> {
  readonly version: number;
  readonly kind: CheckpointKind;
  readonly planHash: string;
  /** The plan in words (source, destination, options), for error messages and humans. */
  readonly plan: PlanDescription;
  status: CheckpointStatus;
  readonly totalSegments: number;
  segments: SegmentState[];
  counts: C;
  failures: EntryFailure[];
  readonly startedAt: number;
  updatedAt: number;
  /**
   * The destination held no entry when the run started, so the journal records every key as
   * absent without reading the destination first (migrate only).
   */
  readonly destinationEmptyAtStart?: boolean;
}

/** What a plan hash covers. Only descriptions: never key material or credentials. */
export interface PlanDescription {
  readonly kind: CheckpointKind;
  readonly source: string;
  readonly destination: string;
  readonly options: Record<string, string | number | boolean | null>;
}

/** SHA-256 over a canonical JSON of the plan, so any change of source, target or option shows. */
export function planHash(plan: PlanDescription): string {
  return createHash('sha256').update(canonicalJson(plan)).digest('hex');
}

export function describePlan(plan: PlanDescription): string {
  return `${plan.kind} ${plan.source} -> ${plan.destination}`;
}

/** What a run that starts from nothing records about itself. */
export interface NewCheckpointFields<C extends object> {
  readonly kind: CheckpointKind;
  readonly planHash: string;
  readonly plan: PlanDescription;
  readonly totalSegments: number;
  /** Zeroed counters of the run's kind. */
  readonly counts: C;
  readonly now: number;
  readonly destinationEmptyAtStart?: boolean;
}

/** The checkpoint of a run starting now: every segment at its beginning, no failure yet. */
export function newCheckpoint<C extends object>(fields: NewCheckpointFields<C>): Checkpoint<C> {
  const { now, destinationEmptyAtStart, ...rest } = fields;
  return {
    ...(destinationEmptyAtStart === undefined ? {} : { destinationEmptyAtStart }),
    version: CHECKPOINT_VERSION,
    ...rest,
    status: 'running',
    segments: freshSegments(fields.totalSegments),
    failures: [],
    startedAt: now,
    updatedAt: now,
  };
}

/** Renames a state file to `<path>.<suffix>`, kept for the record; a file that is not there is fine. */
export async function renameAside(path: string, suffix: string): Promise<void> {
  try {
    await fs.rename(path, `${path}.${suffix}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * The checkpoint file of one state directory. Every save writes a unique temp file, fsyncs it and
 * renames it over the old one, so a kill at any point leaves either the old or the new checkpoint,
 * never a torn one. Saves are serialised: concurrent segments share one file.
 */
export class CheckpointStore<C extends object = MigrationCounts> {
  readonly path: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly stateDir: string) {
    this.path = join(stateDir, 'checkpoint.json');
  }

  /** Creates the state directory (owner-only: the journal holds overwritten entries). */
  ensureDir(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
  }

  async load(): Promise<Checkpoint<C> | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new MigrationStateError(this.path, 'it cannot be read', { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new MigrationStateError(this.path, 'it is not valid JSON', { cause: err });
    }
    const cp = parsed as Partial<Checkpoint<C>>;
    if (typeof cp !== 'object' || cp === null || cp.version !== CHECKPOINT_VERSION) {
      throw new MigrationStateError(this.path, `it has format version ${String(cp?.version)}, this version reads ${CHECKPOINT_VERSION}`);
    }
    if (typeof cp.planHash !== 'string' || !Array.isArray(cp.segments) || typeof cp.counts !== 'object' || cp.plan === undefined) {
      throw new MigrationStateError(this.path, 'required fields are missing');
    }
    return cp as Checkpoint<C>;
  }

  /** Atomically replaces the checkpoint with a snapshot of `checkpoint` taken now. */
  save(checkpoint: Checkpoint<C>): Promise<void> {
    const text = `${JSON.stringify(checkpoint)}\n`;
    const next = this.chain.then(() => this.write(text));
    // The chain continues after a failed save; the failure still reaches this caller.
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Renames the checkpoint aside (kept for the record) so a new run can start. */
  async archive(suffix: string): Promise<void> {
    await this.chain;
    await renameAside(this.path, suffix);
  }

  private write(text: string): Promise<void> {
    return writeFileAtomic(this.path, text, { flush: 'data' });
  }
}
