/**
 * Cache instances in separate processes (bench/support/coherenceWorker.ts) over one table, for
 * the multi-process coherence tests and the `coherence` bench suite: start them, send them
 * commands, and measure how long a write on one takes to show on the others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { WorkerAnswer, WorkerCommand, WorkerSpec } from './coherenceWorker';

const ROOT = resolve(__dirname, '../..');
const WORKER = join(ROOT, 'bench/support/coherenceWorker.ts');

type CommandBody = WorkerCommand extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

export class WorkerProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    ready: () => void,
  ) {
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4_000)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const answer = JSON.parse(line) as WorkerAnswer;
      if (answer.id === 0) return ready();
      const w = this.waiting.get(answer.id);
      this.waiting.delete(answer.id);
      if (answer.ok) w?.resolve(answer.value);
      else w?.reject(new Error(`${this.name}: ${answer.error}`));
    });
    this.exited = new Promise((resolvePromise) =>
      child.on('exit', (code) => {
        for (const w of this.waiting.values()) w.reject(new Error(`${this.name} exited (${code}): ${this.stderr}`));
        this.waiting.clear();
        resolvePromise(code);
      }),
    );
  }

  /** Starts a worker and waits until its cache is open. */
  static async start(name: string, spec: WorkerSpec, key: string): Promise<WorkerProcess> {
    mkdirSync(spec.dir, { recursive: true, mode: 0o700 });
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(spec)], {
      cwd: ROOT,
      env: { ...process.env, CACHEVAULT_KEY: key, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let started!: () => void;
    const ready = new Promise<void>((r) => (started = r));
    const worker = new WorkerProcess(name, child, () => started());
    await Promise.race([
      ready,
      worker.exited.then((code) => {
        throw new Error(`${name} exited (${code}) before its cache opened: ${worker.stderr}`);
      }),
    ]);
    return worker;
  }

  send<T = unknown>(command: CommandBody): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolvePromise, reject) => {
      this.waiting.set(id, { resolve: resolvePromise as (v: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }

  async stats(): Promise<Record<string, number | string | boolean>> {
    return this.send({ op: 'stats' });
  }

  /** Closes the cache (publishing its last window) and waits for the process to exit. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await this.send({ op: 'close' }).catch(() => undefined);
    await this.exited;
  }

  /** Dies at once: no close, no last publish. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A fresh random data key, base64, as CACHEVAULT_KEY wants it. */
export function randomDataKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * One round over a fleet: each of `writers` writes a key of its own, every other instance takes a
 * copy of it; once those copies are settled (`settleMs`: the first copies after an invalidation
 * are re-checked once more, which would shorten the measured delay), the writers overwrite their
 * keys at once, and each other instance reads every key until it sees the new value. Returns, for
 * every (writer, reader) pair, the delay in ms from the write's acknowledgement on the writer to
 * the reader's first read of the new value.
 */
export async function invalidationRound(
  fleet: readonly WorkerProcess[],
  writers: readonly WorkerProcess[],
  round: number,
  options: { timeoutMs: number; settleMs: number },
): Promise<number[]> {
  const key = (w: WorkerProcess) => `round-${round}-${w.name}`;
  const pairs = writers.flatMap((w) => fleet.filter((r) => r !== w).map((r) => ({ writer: w, reader: r })));
  await Promise.all(writers.map((w) => w.send({ op: 'set', key: key(w), value: 'before' })));
  await Promise.all(pairs.map(({ writer, reader }) => reader.send({ op: 'waitFor', key: key(writer), value: 'before', timeoutMs: options.timeoutMs })));
  await new Promise((r) => setTimeout(r, options.settleMs));
  const waits = pairs.map(async ({ writer, reader }) => ({
    writer,
    seen: await reader.send<number>({ op: 'waitFor', key: key(writer), value: 'after', timeoutMs: options.timeoutMs }),
  }));
  const acknowledged = new Map(await Promise.all(writers.map(async (w) => [w, await w.send<number>({ op: 'set', key: key(w), value: 'after' })] as const)));
  return (await Promise.all(waits)).map(({ writer, seen }) => Math.max(0, seen - acknowledged.get(writer)!));
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
