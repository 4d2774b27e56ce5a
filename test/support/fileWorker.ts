/**
 * A writer process for the multi-process FileBackend tests. Usage (from the repository root):
 *   node --import tsx test/support/fileWorker.ts <dir> <workerId> <count>
 * (`count` 0 writes until the process is killed: the crash test SIGKILLs it mid-write.)
 * Opens the cache, prints "ready", waits for `<dir>/go` (so every worker starts writing at once),
 * writes `count` own keys (every fifth one large enough to spill to a blob file) interleaved with
 * writes to one key all workers share, then prints a JSON summary and exits 0.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';

/** The bytes worker `id` writes for its key `i`: recognisable, and spilled for every fifth key. */
export function workerValue(id: number, i: number): Buffer {
  const tag = Buffer.from(`w${id}-k${i};`);
  const length = i % 5 === 0 ? 70 * 1024 : 512;
  return Buffer.concat(Array.from({ length: Math.ceil(length / tag.length) }, () => tag)).subarray(0, length);
}

export function sharedValue(id: number, round: number): Buffer {
  return Buffer.from(`shared by worker ${id}, round ${round}`.padEnd(2048, '.'));
}

async function main(): Promise<void> {
  const [dir, idArg, countArg] = process.argv.slice(2);
  if (!dir || !idArg || !countArg) throw new Error('usage: fileWorker.ts <dir> <workerId> <count>');
  const id = Number(idArg);
  const count = Number(countArg);
  const backend = new FileBackend({ dir, busyTimeoutMs: 30_000 });
  process.stdout.write('ready\n');
  while (!existsSync(join(dir, 'go'))) await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; count === 0 || i < count; i++) {
    await backend.set({ namespace: 'mp', key: `w${id}-k${i}`, value: workerValue(id, i), expiresAt: null, keyId: 'none', createdAt: Date.now() });
    if (i % 10 === 0) {
      await backend.set({ namespace: 'mp', key: 'shared', value: sharedValue(id, i), expiresAt: null, keyId: 'none', createdAt: Date.now() });
      // Reads interleaved with other processes' writes must never see a torn or foreign value.
      const mine = await backend.get('mp', `w${id}-k${i}`);
      if (!mine || !Buffer.from(mine.value).equals(workerValue(id, i))) throw new Error(`worker ${id} read back a wrong value for key ${i}`);
    }
  }
  const stats = backend.stats();
  await backend.close();
  process.stdout.write(`${JSON.stringify({ id, written: count, errors: stats.errors, corrupt: stats.corrupt })}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
