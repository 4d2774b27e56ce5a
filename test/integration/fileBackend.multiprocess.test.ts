import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import { sharedValue, workerValue } from '../support/fileWorker';

const ROOT = resolve(__dirname, '../..');
const WORKER = join(ROOT, 'test/support/fileWorker.ts');

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startWorker(dir: string, id: number, count: number): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dir, String(id), String(count)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalReady: () => void = () => {};
  const ready = new Promise<void>((r) => (signalReady = r));
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('ready\n')) signalReady();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => {
    child.on('exit', (code) => {
      signalReady();
      r({ code, stdout, stderr });
    });
  });
  return { child, ready, done };
}

describe('FileBackend shared by several processes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cachevault-file-mp-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('concurrent writers in four processes lose no update and never see a torn value', async () => {
    const workers = 4;
    const count = 150;
    // Creating the schema once first keeps the test about concurrent writes, not concurrent creation.
    await new FileBackend({ dir }).close();
    const started = Array.from({ length: workers }, (_, id) => startWorker(dir, id, count));
    await Promise.all(started.map((w) => w.ready));
    writeFileSync(join(dir, 'go'), '');
    const results = await Promise.all(started.map((w) => w.done));
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    for (const r of results) expect(JSON.parse(r.stdout.split('\n')[1]!)).toMatchObject({ written: count, errors: 0, corrupt: 0 });

    const backend = new FileBackend({ dir });
    try {
      for (let id = 0; id < workers; id++) {
        const keys = Array.from({ length: count }, (_, i) => `w${id}-k${i}`);
        const got = await backend.getMany('mp', keys);
        const wrong = got.map((e, i) => (e && Buffer.from(e.value).equals(workerValue(id, i)) ? null : keys[i])).filter((k) => k !== null);
        expect(wrong).toEqual([]);
      }
      const shared = await backend.get('mp', 'shared');
      const candidates = Array.from({ length: workers }, (_, id) => sharedValue(id, Math.floor((count - 1) / 10) * 10));
      expect(candidates.some((c) => Buffer.from(shared!.value).equals(c))).toBe(true);
      const stats = backend.stats();
      expect(stats.entries).toBe(workers * count + 1);
      expect(stats.extra?.spilledBlobs).toBe(workers * Math.ceil(count / 5));
      expect(stats.corrupt).toBe(0);
      // Every spilled blob is referenced and intact: nothing was orphaned by replaced writes.
      const report = await backend.repair();
      expect(report).toMatchObject({ ok: true, badBlobs: 0 });
    } finally {
      await backend.close();
    }
  });

  test('a writer killed mid-write leaves a cache that opens, passes its integrity check and reads only whole values', async () => {
    const w = startWorker(dir, 3, 0);
    await w.ready;
    writeFileSync(join(dir, 'go'), '');
    // Let it write for a while (small and spilled values), then kill it without warning.
    await new Promise((r) => setTimeout(r, 1_500));
    w.child.kill('SIGKILL');
    expect((await w.done).code).toBeNull();

    const backend = new FileBackend({ dir });
    try {
      const report = await backend.repair();
      expect(report).toMatchObject({ ok: true, badBlobs: 0 });
      let found = 0;
      for await (const e of backend.entries({ namespace: 'mp' })) {
        if (e.key === 'shared') continue;
        const i = Number(/^w3-k(\d+)$/.exec(e.key)![1]);
        expect(Buffer.from(e.value).equals(workerValue(3, i))).toBe(true);
        found += 1;
      }
      expect(found).toBeGreaterThan(0);
      expect(backend.stats().corrupt).toBe(0);
    } finally {
      await backend.close();
    }
  });

  test('a cache created by one process is read by another after it exits', async () => {
    const w = startWorker(dir, 7, 6);
    await w.ready;
    writeFileSync(join(dir, 'go'), '');
    expect((await w.done).code).toBe(0);
    const backend = new FileBackend({ dir });
    try {
      const got = await backend.get('mp', 'w7-k5');
      expect(Buffer.from(got!.value).equals(workerValue(7, 5))).toBe(true);
    } finally {
      await backend.close();
    }
  });
});
