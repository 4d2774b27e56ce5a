/**
 * The capacity model checked against a run: 8 processes, each a hybrid cache (memory, file,
 * DynamoDB Local) driven by the same Zipf(1.1) workload the model is given. Prints predicted
 * beside measured shares of gets per tier and table reads and writes per get; the model is
 * trusted while every figure agrees within 5 percentage points.
 */
import { startDynamoDbLocal } from '../../client/local/dynamoDbLocal';
import type { BenchContext, BenchSuite, SuiteResult } from '../harness';
import { validateCapacityModel } from '../support/capacityValidation';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** Agreement the model must reach (percentage points per figure). */
export const CAPACITY_TOLERANCE_PP = 5;

async function run(ctx: BenchContext): Promise<SuiteResult> {
  ctx.progress('capacity: starting DynamoDB Local');
  const engine = await startDynamoDbLocal({ startTimeoutMs: 60_000 });
  try {
    const result = await validateCapacityModel({
      endpoint: engine.endpoint,
      instances: 8,
      keys: 2_000,
      zipf: 1.1,
      getsPerSecond: 30,
      writesPerSecond: 3,
      valueBytes: 1_024,
      memoryEntries: 15,
      fileEntries: 400,
      localTtlMs: 3_000,
      warmupMs: ctx.quick ? 4_000 : 8_000,
      measureMs: ctx.quick ? 6_000 : 30_000,
      progress: ctx.progress,
    });
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    return {
      suite: 'capacity',
      cases: result.figures.map((f) => ({
        name: f.name,
        ops: result.gets,
        seconds: 0,
        opsPerSec: 0,
        extra: { predicted: pct(f.predicted), measured: pct(f.measured), 'diff pp': f.differencePp.toFixed(1) },
      })),
      ratios: [],
      notes: [
        `max difference ${result.maxDifferencePp.toFixed(1)} pp (tolerance ${CAPACITY_TOLERANCE_PP} pp): ${result.maxDifferencePp <= CAPACITY_TOLERANCE_PP ? 'model agrees' : 'MODEL DISAGREES'}`,
        `8 processes, ${result.gets} gets counted, ${result.errors} errors; Zipf(1.1) over 2,000 keys, memory 15 / file 400 entries per process, local TTL cap 3 s.`,
      ],
    };
  } finally {
    await engine.stop();
  }
}

const suite: BenchSuite = { name: 'capacity', description: 'the capacity model against 8 processes on DynamoDB Local', run };
export default suite;
