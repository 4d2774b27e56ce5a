import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerProcess, invalidationRound, percentile, randomDataKey } from '../../bench/support/coherenceFleet';
import type { WorkerSpec } from '../../bench/support/coherenceWorker';
import { createCache } from '../../client/createCache';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { FaultProxy } from '../support/faultProxy';

/** The bound docs/coherence.md promises with the default 200 ms window. */
const BOUND_MS = 1_000;

const table = useDynamoTestTable('cv-coherence');
let root: string;
let dataKey: string;
const workers: WorkerProcess[] = [];

function spec(name: string, extra: Partial<WorkerSpec> = {}): WorkerSpec {
  return { dir: join(root, name), manifestPath: join(root, 'manifest.json'), tableName: table.tableName, endpoint: table.endpoint, ...extra };
}

async function start(name: string, extra: Partial<WorkerSpec> = {}): Promise<WorkerProcess> {
  const w = await WorkerProcess.start(name, spec(name, extra), dataKey);
  workers.push(w);
  return w;
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Makes `w` hold a local copy of `key` at `value`, in memory and in its file tier. A copy read
 * before the writer's own record arrived is dropped once more when it does (the record says the
 * key changed after the copy was made), so read again after that.
 */
async function holdCopy(w: WorkerProcess, key: string, value: string): Promise<void> {
  await eventually(async () => {
    await w.send({ op: 'waitFor', key, value, timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 500));
    return (await w.send({ op: 'get', key })) === value && (await w.send<boolean>({ op: 'peekFile', key }));
  }, 10_000);
}

let a: WorkerProcess;
let b: WorkerProcess;
let control: WorkerProcess;
let fleet: WorkerProcess[];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cv-coherence-'));
  dataKey = randomDataKey();
  // One key manifest for the deployment, made before the instances start (as a deploy would).
  const first = await createCache({
    cwd: root,
    env: { CACHEVAULT_KEY: dataKey },
    backend: 'file',
    file: { dir: join(root, 'seed') },
    keys: { providers: ['env'], manifest: { store: 'file', path: join(root, 'manifest.json') } },
    audit: { enabled: false },
    logging: { level: 'silent' },
  });
  await first.close();
  // Every instance the tests need starts at once: process start-up is most of their cost.
  const others = Array.from({ length: 6 }, (_, i) => `fleet${i}`);
  [a, b, control, ...fleet] = await Promise.all([start('a'), start('b'), start('control', { coherence: false }), ...others.map((n) => start(n))]);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(workers.map((w) => w.kill()));
  rmSync(root, { recursive: true, force: true });
});

describe('coherent local tiers across processes over one DynamoDB table', () => {
  test('an overwrite on one instance replaces the copy another holds within the bound, where an instance without coherence keeps serving the old value', async () => {
    await a.send({ op: 'set', key: 'greeting', value: 'hello' });
    await holdCopy(b, 'greeting', 'hello');
    await control.send({ op: 'waitFor', key: 'greeting', value: 'hello', timeoutMs: 5_000 });

    const acknowledged = await a.send<number>({ op: 'set', key: 'greeting', value: 'bonjour' });
    const seen = await b.send<number>({ op: 'waitFor', key: 'greeting', value: 'bonjour', timeoutMs: 5_000 });
    expect(seen - acknowledged).toBeLessThan(BOUND_MS);
    // The memory copy of an instance without coherence lives for the whole local TTL cap (60 s).
    await new Promise((r) => setTimeout(r, BOUND_MS));
    expect(await control.send({ op: 'get', key: 'greeting' })).toBe('hello');
  });

  test('a delete on one instance removes the copies another holds, in memory and in its file tier', async () => {
    await a.send({ op: 'set', key: 'doomed', value: 'here' });
    await holdCopy(b, 'doomed', 'here');

    await a.send({ op: 'delete', key: 'doomed' });
    const started = Date.now();
    await b.send({ op: 'waitFor', key: 'doomed', value: null, timeoutMs: 5_000 });
    expect(Date.now() - started).toBeLessThan(BOUND_MS + 500);
    expect(await b.send({ op: 'peekFile', key: 'doomed' })).toBe(false);
    expect(await b.stats()).toMatchObject({ coherence: 'ok' });
  });

  test('a clear on one instance empties the namespace on another', async () => {
    await a.send({ op: 'set', key: 'one', value: '1' });
    await a.send({ op: 'set', key: 'two', value: '2' });
    await holdCopy(b, 'one', '1');
    await holdCopy(b, 'two', '2');

    await a.send({ op: 'clear' });
    await Promise.all(['one', 'two'].map((key) => b.send({ op: 'waitFor', key, value: null, timeoutMs: BOUND_MS + 500 })));
    await eventually(async () => !(await b.send<boolean>({ op: 'peekFile', key: 'two' })), 2_000);
    expect((await b.stats()).coherenceAppliedClears).toBeGreaterThanOrEqual(1);
  });

  test('a restarted instance does not serve a file copy that was overwritten while it was down', async () => {
    const r1 = await start('restart');
    await a.send({ op: 'set', key: 'config', value: 'old' });
    await holdCopy(r1, 'config', 'old');
    await r1.kill();

    await a.send({ op: 'set', key: 'config', value: 'new' });
    await new Promise((r) => setTimeout(r, 600)); // A's record is published
    const r2 = await start('restart');
    // Its file copy is minutes from its cap; only the log says it is stale.
    expect(await r2.send({ op: 'get', key: 'config' })).toBe('new');
    await r2.close();
  });

  test('eight instances see each other\'s overwrites within 1 s at p99', async () => {
    const eight = [a, b, ...fleet];
    /** Four rounds of four simultaneous overwrites (each half of the fleet writes twice), each seen by the seven others: 112 samples. */
    const measure = async (attempt: number): Promise<number> => {
      const delays: number[] = [];
      for (let round = 0; round < 4; round++) {
        const writers = round % 2 === 0 ? eight.slice(0, 4) : eight.slice(4);
        delays.push(...(await invalidationRound(eight, writers, attempt * 10 + round, { timeoutMs: 5_000, settleMs: 1_300 })));
      }
      expect(delays.length).toBe(4 * 4 * 7);
      const p99 = percentile(delays, 99);
      process.stdout.write(`coherence delay, attempt ${attempt + 1}, over ${delays.length} samples: p50 ${percentile(delays, 50)} ms, p99 ${p99} ms\n`);
      return p99;
    };
    // The machine running the suite is shared (2 cores under other builds): a load spike can stall
    // every process for a second. One miss is measured again; two in a row fail the test.
    let p99 = await measure(0);
    if (p99 >= BOUND_MS) p99 = await measure(1);
    expect(p99).toBeLessThan(BOUND_MS);
  });
});

describe('coherent local tiers when an instance loses DynamoDB', () => {
  test('a partitioned instance serves its copies within the TTL cap and says coherence is degraded; after a partition longer than the retention it drops its local copies', async () => {
    const proxy = new FaultProxy(table.endpoint);
    await proxy.start();
    try {
      // Short cap and retention so the test can outlast them: 1 s cap, 2 s retention.
      const p = await start('partitioned', { endpoint: proxy.endpoint, localTtlCapMs: 1_000, retentionMs: 2_000 });
      await a.send({ op: 'set', key: 'kept', value: 'v1' });
      await a.send({ op: 'set', key: 'untouched', value: 'u1' });
      await holdCopy(p, 'kept', 'v1');
      await holdCopy(p, 'untouched', 'u1');
      expect(await p.stats()).toMatchObject({ coherence: 'ok' });

      await proxy.cut();
      await a.send({ op: 'set', key: 'kept', value: 'v2' });
      await eventually(async () => (await p.stats()).coherence === 'degraded', 3_000);
      const health = await p.send<{ name: string; ok: boolean; detail?: string }[]>({ op: 'health' });
      expect(health.find((c) => c.name === 'coherence')).toMatchObject({ ok: false, detail: expect.stringContaining('coherence degraded') });
      // Unreachable DynamoDB: the local copy is served (within the cap, then stale-if-error).
      expect(await p.send({ op: 'get', key: 'kept' })).toBe('v1');
      expect(await p.send({ op: 'peekFile', key: 'untouched' })).toBe(true);

      await new Promise((r) => setTimeout(r, 2_300)); // longer than the retention
      await proxy.restore();
      await eventually(async () => (await p.stats()).coherenceResets === 1, 5_000);
      // Dropped though nobody changed it: the instance cannot know what it missed.
      expect(await p.send({ op: 'peekFile', key: 'untouched' })).toBe(false);
      await eventually(async () => (await p.stats()).coherence === 'ok', 5_000);
      expect(await p.send({ op: 'waitFor', key: 'kept', value: 'v2', timeoutMs: 3_000 })).toEqual(expect.any(Number));
      expect(await p.send({ op: 'get', key: 'untouched' })).toBe('u1');
      await p.close();
    } finally {
      await proxy.stop();
    }
  });
});
