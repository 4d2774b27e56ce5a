/**
 * The event the `migrate` Lambda takes: a re-encryption sweep of the stack's table or a copy
 * between two DynamoDB tables, with the continuation (checkpoint) that carries a job from one
 * invocation to the next.
 */
import { z } from 'zod';
import { backendRegistry } from '../client/backends/registry';
import { parseBackendSpec } from '../client/migrate/backendSpec';
import { InvalidEventError } from './errors';

const keyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/);

/** Safety net under the job's own wind-down: middy aborts the signal this long before the timeout. */
export const HARD_STOP_MS = 5_000;

const JobOptions = z.strictObject({
  /** Entries per scan page and per write. @default the client's (100) */
  batchSize: z.number().int().positive().max(1000).optional(),
  /** Parallel scan segments. @default the backend's */
  concurrency: z.number().int().positive().max(16).optional(),
  /**
   * Stop reading new pages when less than this is left of the invocation; must cover finishing
   * the pages in flight (up to 4 per scan segment). At least a second above the handler's hard
   * stop, or the two fire together and the pages in flight are aborted. @default 30000
   */
  windDownMs: z.number().int().min(HARD_STOP_MS + 1_000).max(600_000).default(30_000),
  /** `self`: re-invoke this function with the checkpoint; `return`: hand the next event back to the caller. @default 'self' */
  continueWith: z.enum(['self', 'return']).default('self'),
  /** Upper bound on invocations of one job, against a job that never finishes. @default 1000 */
  maxInvocations: z.number().int().positive().max(100_000).default(1000),
});

/** Where a job stands between invocations. Written by the handler; not for hand-editing. */
const Continuation = z.strictObject({
  jobId: z.uuid(),
  /** 1-based number of the invocation this event starts. */
  invocation: z.number().int().min(2),
  /** The client's checkpoint (JSON) as the previous invocation left it: cursors and counts, no entry data. */
  checkpoint: z.string().min(2).max(200_000),
});

const dynamoDbSpec = z.string().refine(
  (spec) => {
    try {
      // Only a shared, persistent store outlives the invocation and is seen by the next one.
      const { capabilities } = backendRegistry.definition(parseBackendSpec(spec).type);
      return capabilities.shared && capabilities.persistent;
    } catch {
      return false;
    }
  },
  { message: 'must be a dynamodb:TABLE spec (a file or memory cache does not outlive one Lambda invocation)' },
);

export const ReencryptJob = z.strictObject({
  kind: z.literal('reencrypt'),
  /** Rewrite entries sealed under these versions. @default every version except the active one */
  fromKeyIds: z.array(keyId).min(1).optional(),
  /** Also encrypt entries stored unencrypted (`none`). @default false */
  includeUnencrypted: z.boolean().default(false),
  /** Why the job runs (`rotation k1 -> k2`); logged and part of the plan, so keep it stable across a job. */
  reason: z.string().max(200).default('reencrypt'),
  /**
   * After a complete sweep without failures, retire the decrypt-only versions it moved entries
   * off (re-checked: a version with entries left is kept). @default true
   */
  retireOldVersions: z.boolean().default(true),
  options: JobOptions.default(JobOptions.parse({})),
  continuation: Continuation.optional(),
});

export const CopyJob = z.strictObject({
  kind: z.literal('copy'),
  /** `dynamodb:TABLE?region=...` (same syntax as `cachevault migrate --from`). */
  source: dynamoDbSpec,
  destination: dynamoDbSpec,
  options: JobOptions.default(JobOptions.parse({})),
  continuation: Continuation.optional(),
});

export const MigrateJob = z.discriminatedUnion('kind', [ReencryptJob, CopyJob]);
export type MigrateJob = z.infer<typeof MigrateJob>;
/** What callers write (defaults may be left out). */
export type MigrateJobInput = z.input<typeof MigrateJob>;

/** Validates an event; the error names every bad field. */
export function parseJob(event: unknown): MigrateJob {
  const parsed = MigrateJob.safeParse(event);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`);
  throw new InvalidEventError(`The migrate event is invalid: ${problems.join('; ')}.`, {
    hint: 'Send { "kind": "reencrypt" } or { "kind": "copy", "source": "dynamodb:A", "destination": "dynamodb:B" }; see docs/operations.md#running-a-migration.',
  });
}
