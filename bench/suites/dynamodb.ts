/**
 * The shared tier against a DynamoDB Local this suite starts (in memory, loopback, stopped at
 * the end): batched getMany/setMany of 1 KB entries versus one call per entry, and a hybrid
 * `get` of a hot key served from its memory tier and from its file tier versus a DynamoDBBackend
 * `get` of the same key. Every ratio compares cases measured in this run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import { TableManager } from '../../client/dynamodb/tableManager';
import { startDynamoDbLocal } from '../../client/local/dynamoDbLocal';
import type { StoredEntry } from '../../client/types';
import { measure, medianRound, ratio, type BenchContext, type BenchSuite, type CaseResult, type SuiteResult } from '../harness';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const NS = 'bench';
const VALUE_BYTES = 1024;
/** Each batch call is repeated (same entries) so batch cases have min/median/max like the rest. */
const BATCH_REPETITIONS = 5;

function entries(count: number, prefix: string): StoredEntry[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    namespace: NS,
    key: `${prefix}:${i}`,
    value: randomBytes(VALUE_BYTES),
    expiresAt: now + 3_600_000,
    keyId: 'k1',
    createdAt: now,
  }));
}

async function run(ctx: BenchContext): Promise<SuiteResult> {
  const batchSize = ctx.quick ? 200 : 1_000;
  // One-by-one calls of the same number of entries, so both sides move the same data.
  const singleOps = batchSize;
  const batchRounds = ctx.quick ? 1 : 3;
  const hotOps = ctx.quick ? 20_000 : 100_000;
  const fileOps = ctx.quick ? 5_000 : 20_000;
  const dynamoOps = ctx.quick ? 100 : 300;

  ctx.progress('dynamodb: starting DynamoDB Local');
  const engine = await startDynamoDbLocal({ startTimeoutMs: 60_000 });
  const dir = mkdtempSync(join(tmpdir(), 'cv-bench-ddb-'));
  const client = createDynamoDBClient({ region: 'us-east-1', endpoint: engine.endpoint });
  const closers: (() => Promise<void>)[] = [];
  try {
    const tableName = 'cv-bench';
    await new TableManager({ client, tableName, waitTimeoutMs: 60_000 }).create();
    const dynamo = new DynamoDBBackend({ tableName, client });
    closers.push(() => dynamo.close());

    // Every case is measured in each of a few interleaved rounds and keeps its median round, so
    // load drift on a shared VM hits every case alike.
    const [hot] = entries(1, 'hot');
    await dynamo.set(hot!);
    const tierOptions = { localTtlCapMs: 3_600_000 };
    const withMemory = new HybridBackend({
      ...tierOptions,
      tiers: [
        { name: 'memory', backend: new MemoryBackend() },
        { name: 'dynamodb', backend: new DynamoDBBackend({ tableName, client }) },
      ],
    });
    closers.push(() => withMemory.close());
    await withMemory.get(NS, hot!.key); // promoted into memory
    const withFile = new HybridBackend({
      ...tierOptions,
      tiers: [
        { name: 'file', backend: new FileBackend({ dir }) },
        { name: 'dynamodb', backend: new DynamoDBBackend({ tableName, client }) },
      ],
    });
    closers.push(() => withFile.close());
    await withFile.get(NS, hot!.key); // promoted into the file tier

    // Warm the SDK's connections and the JIT before anything is timed.
    const warm = entries(100, 'warm');
    await dynamo.setMany(warm);
    await dynamo.getMany(NS, warm.map((e) => e.key));

    const rounds: Record<string, CaseResult[]> = {};
    const keep = (c: CaseResult) => (rounds[c.name] ??= []).push(c);
    for (let round = 0; round < batchRounds; round++) {
      ctx.progress(`dynamodb: round ${round + 1}/${batchRounds}`);
      const batch = entries(batchSize, `batch${round}`);
      const singles = entries(singleOps, `single${round}`);
      keep(await measure(`setMany ${batchSize} (per entry)`, () => dynamo.setMany(batch), { ops: BATCH_REPETITIONS, warmup: 0, batch: batchSize, latencyCalls: 0 }));
      keep(await measure('set one by one', (i) => dynamo.set(singles[i]!), { ops: singleOps, warmup: 0 }));
      keep(await measure(`getMany ${batchSize} (per entry)`, () => dynamo.getMany(NS, batch.map((e) => e.key)), { ops: BATCH_REPETITIONS, warmup: 0, batch: batchSize, latencyCalls: 0 }));
      keep(await measure('get one by one', (i) => dynamo.get(NS, singles[i]!.key), { ops: singleOps, warmup: 0 }));
      keep(await measure('dynamodb get (hot key)', () => dynamo.get(NS, hot!.key), { ops: dynamoOps, warmup: 20 }));
      keep(await measure('hybrid get (memory tier hit)', () => withMemory.get(NS, hot!.key), { ops: hotOps }));
      keep(await measure('hybrid get (file tier hit)', () => withFile.get(NS, hot!.key), { ops: fileOps }));
    }
    const cases = Object.values(rounds).map(median);

    const fromMemory = withMemory.stats().tiers!.memory!.hits;
    const fromFile = withFile.stats().tiers!.file!.hits;
    return {
      suite: 'dynamodb',
      cases,
      ratios: [
        ratio(cases, `setMany ${batchSize} (per entry)`, 'set one by one', 8),
        ratio(cases, `getMany ${batchSize} (per entry)`, 'get one by one', 8),
        ratio(cases, 'hybrid get (memory tier hit)', 'dynamodb get (hot key)', 500),
        ratio(cases, 'hybrid get (file tier hit)', 'dynamodb get (hot key)', 30),
      ],
      notes: [
        `DynamoDB Local ${engine.endpoint} (Java, in memory); ${VALUE_BYTES}-byte values; batches of ${batchSize}; median of ${batchRounds} interleaved rounds.`,
        `hot-key reads answered by the memory tier: ${fromMemory}, by the file tier: ${fromFile} (the DynamoDB tier was not asked).`,
      ],
    };
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    client.destroy();
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The round with the median rate (rounds are few and odd in number), with every round's samples. */
function median(results: CaseResult[]): CaseResult {
  return { ...medianRound(results), extra: { rounds: results.length } };
}

const suite: BenchSuite = {
  name: 'dynamodb',
  description: 'DynamoDB Local: batch vs one-by-one, hybrid memory/file hits vs a DynamoDB get',
  run,
};
export default suite;
