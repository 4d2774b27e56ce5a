/**
 * One instance of the capacity-model validation (bench/suites/capacity.ts): a hybrid cache
 * (memory, file, DynamoDB) of its own over the shared table, driven open-loop with Poisson
 * arrivals of Zipf-distributed gets and sets (paced, one at a time). It counts, after a warm-up, how many gets each tier
 * answered and how many table reads and writes it made, and prints them as one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import type { StoredEntry } from '../../client/types';
import { mulberry32, zipfSampler } from './random';

export interface CapacityWorkerInput {
  readonly endpoint: string;
  readonly tableName: string;
  readonly dir: string;
  readonly seed: number;
  readonly keys: number;
  readonly zipf: number;
  readonly getsPerSecond: number;
  readonly writesPerSecond: number;
  readonly valueBytes: number;
  readonly memoryEntries: number;
  readonly fileEntries: number;
  readonly localTtlMs: number;
  readonly entryTtlMs: number;
  readonly warmupMs: number;
  readonly measureMs: number;
}

export interface CapacityWorkerCounts {
  readonly gets: number;
  readonly sets: number;
  readonly memory: number;
  readonly file: number;
  readonly dynamodb: number;
  readonly loader: number;
  readonly tableReads: number;
  readonly tableWrites: number;
  readonly seconds: number;
  readonly errors: number;
}

export const NAMESPACE = 'capacity';
export const keyName = (rank: number) => `k${rank}`;

/** Counts the keys a tier was asked for, by wrapping its get and getMany. */
function counted<B extends { get: (ns: string, key: string) => Promise<StoredEntry | undefined>; getMany: (ns: string, keys: readonly string[]) => Promise<(StoredEntry | undefined)[]> }>(backend: B) {
  const count = { asked: 0, found: 0 };
  const get = backend.get.bind(backend);
  const getMany = backend.getMany.bind(backend);
  backend.get = async (ns, key) => {
    count.asked += 1;
    const e = await get(ns, key);
    if (e !== undefined) count.found += 1;
    return e;
  };
  backend.getMany = async (ns, keys) => {
    count.asked += keys.length;
    const es = await getMany(ns, keys);
    count.found += es.filter((e) => e !== undefined).length;
    return es;
  };
  return { backend, count };
}

async function main(input: CapacityWorkerInput): Promise<CapacityWorkerCounts> {
  const random = mulberry32(input.seed);
  const draw = zipfSampler(input.keys, input.zipf, random);
  // Ranks from 1, as the keys are named.
  const pick = () => draw() + 1;
  const client = createDynamoDBClient({ region: 'us-east-1', endpoint: input.endpoint });
  const file = counted(new FileBackend({ dir: input.dir, maxEntries: input.fileEntries }));
  const table = counted(new DynamoDBBackend({ tableName: input.tableName, client }));
  const cache = new HybridBackend({
    localTtlCapMs: input.localTtlMs,
    // A slow table under load must not open the breaker: skipped tiers would read as local hits.
    tierTimeoutMs: 30_000,
    breakerFailureThreshold: 1_000_000,
    tiers: [
      { name: 'memory', backend: new MemoryBackend({ maxEntries: input.memoryEntries }) },
      { name: 'file', backend: file.backend },
      { name: 'dynamodb', backend: table.backend },
    ],
  });
  const value = randomBytes(input.valueBytes);
  const entry = (key: string): StoredEntry => {
    const now = Date.now();
    return { namespace: NAMESPACE, key, value, expiresAt: now + input.entryTtlMs, keyId: 'k1', createdAt: now };
  };
  const counts = { gets: 0, sets: 0, memory: 0, file: 0, dynamodb: 0, loader: 0, tableReads: 0, tableWrites: 0, errors: 0 };
  const tableSets = () => table.backend.stats().sets;
  const rate = input.getsPerSecond + input.writesPerSecond;
  const start = Date.now();
  let next = start;
  // Operations run one after another, so each get is attributed exactly to the tier that answered.
  while (Date.now() - start < input.warmupMs + input.measureMs) {
    const measuring = Date.now() - start >= input.warmupMs;
    next += (-Math.log(1 - random()) / rate) * 1000;
    const wait = next - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const key = keyName(pick());
    const isGet = random() * rate < input.getsPerSecond;
    const fileBefore = file.count.asked;
    const tableBefore = { ...table.count };
    const setsBefore = tableSets();
    try {
      if (isGet) {
        const found = await cache.get(NAMESPACE, key);
        // The loader: a value missing everywhere is computed and written, as wrap() would.
        if (found === undefined) await cache.set(entry(key));
        if (measuring) {
          counts.gets += 1;
          const tableAsked = table.count.asked - tableBefore.asked;
          counts.tableReads += tableAsked;
          if (found === undefined) counts.loader += 1;
          else if (tableAsked > 0) counts.dynamodb += 1;
          else if (file.count.asked > fileBefore) counts.file += 1;
          else counts.memory += 1;
        }
      } else {
        await cache.set(entry(key));
        if (measuring) counts.sets += 1;
      }
      if (measuring) counts.tableWrites += tableSets() - setsBefore;
    } catch {
      if (measuring) counts.errors += 1;
    }
  }
  const tierFailures = Number(cache.stats().extra?.tierFailures ?? 0);
  await cache.close();
  return { ...counts, errors: counts.errors + tierFailures, seconds: input.measureMs / 1000 };
}

if (require.main === module) {
  const input = JSON.parse(process.argv[2]!) as CapacityWorkerInput;
  main(input).then(
    (counts) => {
      process.stdout.write(`${JSON.stringify(counts)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`capacity worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
