/**
 * The soak: many concurrent callers on an encrypted hybrid cache (memory, file, DynamoDB) for a
 * fixed time, with a Zipf key mix and mixed value sizes, checking that nothing fails, memory and
 * open handles stay flat, and reporting latency per operation and the hit ratio of each tier.
 * `bench/soak.ts` runs it from the command line; test/integration/soak.test.ts runs a short form.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import { TableManager } from '../../client/dynamodb/tableManager';
import { EnvKeyProvider } from '../../client/keys/envKeyProvider';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import { LOCAL_CREDENTIALS } from '../../client/local/dynamoDbLocal';
import { zipfSampler } from './random';

export interface SoakOptions {
  /** DynamoDB endpoint (loopback DynamoDB Local). */
  readonly endpoint: string;
  /** Measured duration after the warm-up, in seconds. */
  readonly seconds: number;
  /** Warm-up before the first memory and handle sample. @default 15% of `seconds`, 1-10 s */
  readonly warmupSeconds?: number;
  /** @default 32 */
  readonly concurrency?: number;
  /** Distinct keys the Zipf mix draws from. @default 2000 */
  readonly keys?: number;
  /** @default 1.1 */
  readonly zipfExponent?: number;
  /** Share of operations that are reads. @default 0.9 */
  readonly readShare?: number;
  /** @default 100 */
  readonly minValueBytes?: number;
  /** @default 204800 */
  readonly maxValueBytes?: number;
  /** RSS at the end may differ from RSS after warm-up by at most this share. @default 0.10 */
  readonly rssTolerance?: number;
  readonly progress?: (message: string) => void;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface SoakCheck {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

export interface SoakReport {
  readonly config: Required<Omit<SoakOptions, 'progress' | 'endpoint'>>;
  readonly operations: number;
  readonly opsPerSec: number;
  readonly errors: { readonly count: number; readonly samples: readonly string[] };
  readonly latency: Record<string, LatencySummary>;
  /** Share of reads each tier answered (of the reads that reached it), from HybridBackend stats. */
  readonly tiers: Record<string, { hits: number; misses: number; hitRatio: number }>;
  readonly cacheHitRatio: number;
  readonly rss: { readonly afterWarmupBytes: number; readonly endBytes: number; readonly change: number; readonly peakBytes: number };
  readonly handles: { readonly afterWarmup: Record<string, number>; readonly end: Record<string, number> };
  readonly checks: readonly SoakCheck[];
  readonly pass: boolean;
}

export { zipfSampler };

/** A stable size per key, log-uniform between the bounds (so small and large values both occur). */
export function valueSizeOf(key: string, min: number, max: number): number {
  const u = createHash('sha256').update(key).digest().readUInt32BE(0) / 0x1_0000_0000;
  return Math.round(Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))));
}

export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** Forces a full collection so RSS samples compare live memory, not garbage not yet collected. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
}

/**
 * The AWS SDK's HTTP handler defers setting up socket timeouts and keep-alive by 3 s after each
 * request (a timer per request), so right after the callers stop a few such timers are still
 * pending. Samples are taken once they have run, so the counts compare what stays open.
 */
const SETTLE_MS = 3_500;

async function settledSample(): Promise<{ rss: number; handles: Record<string, number> }> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  collectGarbage();
  return { rss: process.memoryUsage.rss(), handles: handleCounts() };
}

function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

interface SoakValue {
  readonly key: string;
  readonly version: number;
  readonly body: Buffer;
}

class Recorder {
  private readonly samples = new Map<string, number[]>();
  recording = false;
  record(op: string, ms: number): void {
    if (!this.recording) return;
    let list = this.samples.get(op);
    if (!list) this.samples.set(op, (list = []));
    list.push(ms);
  }
  summary(): Record<string, LatencySummary> {
    const out: Record<string, LatencySummary> = {};
    for (const [op, list] of this.samples) {
      const sorted = Float64Array.from(list).sort();
      out[op] = { count: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] ?? 0 };
    }
    return out;
  }
  get total(): number {
    let n = 0;
    for (const list of this.samples.values()) n += list.length;
    return n;
  }
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const config = {
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds ?? Math.min(10, Math.max(1, options.seconds * 0.15)),
    concurrency: options.concurrency ?? 32,
    keys: options.keys ?? 2_000,
    zipfExponent: options.zipfExponent ?? 1.1,
    readShare: options.readShare ?? 0.9,
    minValueBytes: options.minValueBytes ?? 100,
    maxValueBytes: options.maxValueBytes ?? 204_800,
    rssTolerance: options.rssTolerance ?? 0.1,
  };
  const progress = options.progress ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'cv-soak-'));
  const client = createDynamoDBClient({ region: 'us-east-1', endpoint: options.endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 10_000 });
  const tableName = `cv-soak-${randomBytes(4).toString('hex')}`;
  const tables = new TableManager({ client, tableName, waitTimeoutMs: 60_000 });
  let cache: CacheManager | undefined;
  const variable = 'CACHEVAULT_SOAK_KEY';
  try {
    await tables.create();

    // Encryption as an app without KMS or a keyring has it: a root key in an environment
    // variable (set here, in this process only) wraps the data key, which is unwrapped again
    // through the provider before use, as a cold start would.
    process.env[variable] = randomBytes(32).toString('base64');
    const envKeys = new EnvKeyProvider({ variable });
    const context = { app: 'soak', environment: 'local', keyId: 'k1' };
    const generated = await envKeys.generateDataKey(context);
    generated.plaintext.fill(0);
    const material = await envKeys.unwrap(generated.wrapped, context);
    const keys = new StaticKeySource([{ id: 'k1', material }]);
    material.fill(0);

    const backend = new HybridBackend({
      tiers: [
        { name: 'memory', backend: new MemoryBackend({ maxBytes: 16 * 1024 * 1024 }) },
        { name: 'file', backend: new FileBackend({ dir: join(dir, 'file'), maxBytes: 256 * 1024 * 1024 }) },
        { name: 'dynamodb', backend: new DynamoDBBackend({ tableName, client }) },
      ],
      // Long enough that local copies are what serves hot keys; generous timeouts, because
      // DynamoDB Local on a shared 2-core machine is slow and a timeout here would be the
      // machine, not the cache.
      localTtlCapMs: 60_000,
      tierTimeoutMs: 10_000,
    });
    cache = new CacheManager({ backend, encryption: new AeadEncryption({ keys }), namespace: 'soak', defaultTtlMs: 3_600_000 });

    const nextRank = zipfSampler(config.keys, config.zipfExponent);
    const pool = randomBytes(config.maxValueBytes + 4096);
    const versions = new Map<string, number>();
    const recorder = new Recorder();
    const errors: string[] = [];
    let errorCount = 0;
    const fail = (message: string) => {
      errorCount += 1;
      if (errors.length < 10) errors.push(message);
    };
    const valueFor = (key: string): SoakValue => {
      const version = (versions.get(key) ?? 0) + 1;
      versions.set(key, version);
      const size = valueSizeOf(key, config.minValueBytes, config.maxValueBytes);
      const offset = (version * 4099) % 4096;
      return { key, version, body: pool.subarray(offset, offset + size) };
    };
    const expectedSize = (key: string) => valueSizeOf(key, config.minValueBytes, config.maxValueBytes);

    const timed = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const out = await fn();
      recorder.record(op, performance.now() - started);
      return out;
    };
    const oneOperation = async (c: CacheManager): Promise<void> => {
      const key = `key:${nextRank()}`;
      try {
        if (Math.random() < config.readShare) {
          const value = await timed('get', () => c.get<SoakValue>(key));
          if (value === undefined) {
            // Cache-aside: a miss is filled, as an app's read path would.
            await timed('set (fill after miss)', () => c.set(key, valueFor(key)));
          } else if (value.key !== key || !(value.body instanceof Uint8Array) || value.body.length !== expectedSize(key)) {
            fail(`get ${key} returned a value that is not the one written (key ${String(value.key)}, ${value.body?.length} bytes)`);
          }
        } else {
          await timed('set', () => c.set(key, valueFor(key)));
        }
      } catch (err) {
        fail(`${key}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      }
    };
    let peakRss = 0;
    const runFor = async (seconds: number) => {
      const until = performance.now() + seconds * 1000;
      const c = cache!;
      await Promise.all(
        Array.from({ length: config.concurrency }, async () => {
          while (performance.now() < until) {
            await oneOperation(c);
          }
        }),
      );
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    };
    const sampleRss = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, 250);

    try {
      // Every key written once first, so the warm-up and the measured run see a steady state
      // (the file and shared tiers holding the key set, the memory tier full) rather than a
      // cache still filling, whose memory would grow for reasons that are not leaks.
      progress(`soak: writing ${config.keys} keys`);
      const allKeys = Array.from({ length: config.keys }, (_, rank) => `key:${rank}`);
      const PREFILL_BATCH = 25;
      const batches: string[][] = [];
      for (let i = 0; i < allKeys.length; i += PREFILL_BATCH) batches.push(allKeys.slice(i, i + PREFILL_BATCH));
      await Promise.all(
        Array.from({ length: Math.min(8, config.concurrency) }, async () => {
          for (let batch = batches.shift(); batch; batch = batches.shift()) {
            await cache!.setMany(batch.map((key) => ({ key, value: valueFor(key) })));
          }
        }),
      );
      progress(`soak: warming up for ${config.warmupSeconds.toFixed(1)} s (${config.concurrency} callers, ${config.keys} keys)`);
      await runFor(config.warmupSeconds);
      const { rss: rssAfterWarmup, handles: handlesAfterWarmup } = await settledSample();
      const statsBefore = backend.stats();
      const managerBefore = cache.stats();

      progress(`soak: measuring for ${config.seconds} s`);
      recorder.recording = true;
      const started = performance.now();
      const slices = Math.max(1, Math.round(config.seconds / 5));
      for (let i = 0; i < slices; i++) {
        await runFor(config.seconds / slices);
        progress(`soak: ${Math.round(((i + 1) / slices) * 100)}% (${recorder.total} operations, ${errorCount} errors)`);
      }
      const elapsed = (performance.now() - started) / 1000;
      recorder.recording = false;
      const { rss: rssEnd, handles: firstEnd } = await settledSample();
      // A handle still there after one settle period may be a timer the last requests armed;
      // a leak is still there after another one, so only that counts as growth.
      const grewAt = (sample: Record<string, number>) => Object.entries(sample).some(([kind, n]) => n > (handlesAfterWarmup[kind] ?? 0));
      const handlesEnd = grewAt(firstEnd) ? (await settledSample()).handles : firstEnd;

      const statsAfter = backend.stats();
      const managerAfter = cache.stats();
      const tiers: SoakReport['tiers'] = {};
      for (const [name, after] of Object.entries(statsAfter.tiers ?? {})) {
        const before = statsBefore.tiers?.[name];
        const hits = after.hits - (before?.hits ?? 0);
        const misses = after.misses - (before?.misses ?? 0);
        tiers[name] = { hits, misses, hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses) };
        const tierErrors = after.errors + after.corrupt;
        if (tierErrors > 0) fail(`tier ${name} counted ${tierErrors} errors or corrupt entries`);
      }
      // Whole-run counters (warm-up included): a failure while warming up is a failure too.
      for (const name of ['errors', 'decryptFailures', 'keyUnavailable', 'foreignManifest', 'degradedWrites'] as const) {
        if (managerAfter[name] > 0) fail(`CacheManager counted ${managerAfter[name]} ${name}`);
      }
      const hits = managerAfter.hits - managerBefore.hits;
      const misses = managerAfter.misses - managerBefore.misses;

      const change = (rssEnd - rssAfterWarmup) / rssAfterWarmup;
      const grown = Object.entries(handlesEnd).filter(([kind, n]) => n > (handlesAfterWarmup[kind] ?? 0));
      const checks: SoakCheck[] = [
        { name: 'no errors', pass: errorCount === 0, detail: `${errorCount} errors${errors.length ? `: ${errors.join('; ')}` : ''}` },
        {
          name: `RSS within ${Math.round(config.rssTolerance * 100)}%`,
          pass: Math.abs(change) <= config.rssTolerance,
          detail: `${mb(rssAfterWarmup)} after warm-up, ${mb(rssEnd)} at the end (${(change * 100).toFixed(1)}%)`,
        },
        {
          name: 'no growth in open handles',
          pass: grown.length === 0,
          detail: grown.length === 0 ? `${sum(handlesAfterWarmup)} after warm-up, ${sum(handlesEnd)} at the end` : grown.map(([k, n]) => `${k} ${handlesAfterWarmup[k] ?? 0} -> ${n}`).join(', '),
        },
      ];
      const operations = recorder.total;
      return {
        config,
        operations,
        opsPerSec: operations / elapsed,
        errors: { count: errorCount, samples: errors },
        latency: recorder.summary(),
        tiers,
        cacheHitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
        rss: { afterWarmupBytes: rssAfterWarmup, endBytes: rssEnd, change, peakBytes: peakRss },
        handles: { afterWarmup: handlesAfterWarmup, end: handlesEnd },
        checks,
        pass: checks.every((c) => c.pass),
      };
    } finally {
      clearInterval(sampleRss);
    }
  } finally {
    await cache?.close().catch(() => undefined);
    delete process.env[variable];
    await tables.delete().catch(() => undefined);
    client.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatSoak(report: SoakReport): string {
  const lines = [
    `soak: ${report.config.concurrency} callers, ${report.config.keys} keys Zipf(${report.config.zipfExponent}), ${Math.round(report.config.readShare * 100)}% reads, values ${report.config.minValueBytes} B-${Math.round(report.config.maxValueBytes / 1024)} KB, ${report.config.seconds} s after ${report.config.warmupSeconds.toFixed(1)} s warm-up`,
    `operations: ${report.operations} (${Math.round(report.opsPerSec)}/s), cache hit ratio ${(report.cacheHitRatio * 100).toFixed(1)}%`,
    '',
    'latency (ms)              count      p50      p99      max',
  ];
  for (const [op, l] of Object.entries(report.latency)) {
    lines.push(`  ${op.padEnd(22)} ${String(l.count).padStart(7)} ${l.p50Ms.toFixed(2).padStart(8)} ${l.p99Ms.toFixed(2).padStart(8)} ${l.maxMs.toFixed(2).padStart(8)}`);
  }
  lines.push('', 'tiers (reads reaching each tier)');
  for (const [name, t] of Object.entries(report.tiers)) {
    lines.push(`  ${name.padEnd(10)} hits ${String(t.hits).padStart(8)}  misses ${String(t.misses).padStart(8)}  hit ratio ${(t.hitRatio * 100).toFixed(1)}%`);
  }
  lines.push('', `peak RSS ${mb(report.rss.peakBytes)}`, '', 'checks');
  for (const c of report.checks) lines.push(`  ${c.pass ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  return lines.join('\n');
}
