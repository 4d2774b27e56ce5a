/**
 * One cache instance in its own process, for the multi-process coherence tests and the
 * `coherence` bench suite: `createCache` with memory, file and DynamoDB tiers, driven by JSON
 * lines on stdin, answering JSON lines on stdout. Usage (from the repository root):
 *   node --import tsx bench/support/coherenceWorker.ts '<WorkerSpec as JSON>'
 * The data key comes from CACHEVAULT_KEY in the environment; every worker of a test shares one
 * key manifest, as the instances of one deployment share theirs.
 */
import { createInterface } from 'node:readline';
import { FileBackend } from '../../client/backends/fileBackend';
import { createCache, type CacheVault } from '../../client/createCache';

export interface WorkerSpec {
  readonly dir: string;
  readonly manifestPath: string;
  readonly tableName: string;
  readonly endpoint: string;
  readonly windowMs?: number;
  readonly retentionMs?: number;
  readonly shards?: number;
  readonly localTtlCapMs?: number;
  readonly coherence?: boolean;
}

/** A command: `id` comes back on the answer. */
export type WorkerCommand =
  | { id: number; op: 'set'; key: string; value: string }
  | { id: number; op: 'get'; key: string }
  | { id: number; op: 'delete'; key: string }
  | { id: number; op: 'clear' }
  | { id: number; op: 'stats' }
  | { id: number; op: 'health' }
  /** Whether the file tier holds the key (read straight from the cache directory). */
  | { id: number; op: 'peekFile'; key: string }
  /** Reads `key` every POLL_MS until it reads `value` (null: a miss); answers when (epoch ms) it first did. */
  | { id: number; op: 'waitFor'; key: string; value: string | null; timeoutMs: number }
  /** `count` sets of keys `<prefix><i>`, one every `intervalMs`; answers how many it made. */
  | { id: number; op: 'writeLoad'; prefix: string; count: number; intervalMs: number }
  | { id: number; op: 'close' };

export interface WorkerAnswer {
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

const NAMESPACE = 'default';
/** How often `waitFor` reads: a measured delay is late by at most this much. */
export const POLL_MS = 40;

async function open(spec: WorkerSpec): Promise<CacheVault> {
  return createCache({
    cwd: spec.dir,
    env: { CACHEVAULT_KEY: process.env.CACHEVAULT_KEY },
    backend: 'hybrid',
    file: { dir: `${spec.dir}/cache` },
    dynamodb: { tableName: spec.tableName, endpoint: spec.endpoint, requestTimeoutMs: 1_000, maxAttempts: 2 },
    hybrid: {
      tiers: ['memory', 'file', 'dynamodb'],
      localTtlCapMs: spec.localTtlCapMs ?? 60_000,
      // A short breaker pause, so a healed partition is noticed within the test.
      breakerResetMs: 500,
      coherence: { enabled: spec.coherence ?? true, windowMs: spec.windowMs ?? 200, retentionMs: spec.retentionMs ?? 300_000, shards: spec.shards ?? 2 },
    },
    keys: { providers: ['env'], manifest: { store: 'file', path: spec.manifestPath } },
    audit: { enabled: false },
    logging: { level: 'silent' },
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as WorkerSpec;
  const vault = await open(spec);
  const peek = new FileBackend({ dir: `${spec.dir}/cache` });
  const reply = (answer: WorkerAnswer) => process.stdout.write(`${JSON.stringify(answer)}\n`);
  reply({ id: 0, ok: true, value: 'ready' });
  const run = async (cmd: WorkerCommand): Promise<unknown> => {
    switch (cmd.op) {
      case 'set':
        await vault.cache.set(cmd.key, cmd.value);
        // When the write was acknowledged here: the start of an invalidation's delay.
        return Date.now();
      case 'get':
        return (await vault.cache.get<string>(cmd.key)) ?? null;
      case 'delete':
        return vault.cache.delete(cmd.key);
      case 'clear':
        return vault.cache.clear();
      case 'stats':
        return vault.backend.stats().extra;
      case 'health':
        return (await vault.backend.healthCheck()).checks;
      case 'peekFile':
        return (await peek.get(NAMESPACE, cmd.key)) !== undefined;
      case 'waitFor': {
        const deadline = Date.now() + cmd.timeoutMs;
        for (;;) {
          const value = (await vault.cache.get<string>(cmd.key)) ?? null;
          const now = Date.now();
          if (value === cmd.value) return now;
          if (now > deadline) throw new Error(`"${cmd.key}" did not read ${String(cmd.value)} within ${cmd.timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
      }
      case 'writeLoad': {
        const started = Date.now();
        for (let i = 0; i < cmd.count; i++) {
          await vault.cache.set(`${cmd.prefix}${i}`, `load-${i}`);
          const next = started + (i + 1) * cmd.intervalMs;
          if (next > Date.now()) await new Promise((r) => setTimeout(r, next - Date.now()));
        }
        return cmd.count;
      }
      case 'close':
        await peek.close();
        await vault.close();
        return null;
    }
  };
  createInterface({ input: process.stdin }).on('line', (line) => {
    const cmd = JSON.parse(line) as WorkerCommand;
    run(cmd).then(
      (value) => {
        reply({ id: cmd.id, ok: true, value: value ?? null });
        if (cmd.op === 'close') process.exit(0);
      },
      (err: unknown) => reply({ id: cmd.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
