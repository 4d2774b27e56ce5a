import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import type { Logger } from '../../client/types';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { entry } from '../support/replayWorker';

const ROOT = resolve(__dirname, '../..');
const WORKER = join(ROOT, 'test/support/replayWorker.ts');

/** Runs the worker to its self-inflicted SIGKILL; returns the stats it printed. */
function runWorker(args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolvePromise, reject) => {
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`worker exited with ${code ?? signal}: ${stderr}`));
      else resolvePromise(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
    });
  });
}

function recordingLogger(): { logger: Logger; warnings: { fields: object; msg?: string }[] } {
  const warnings: { fields: object; msg?: string }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn(fields, msg) {
      warnings.push({ fields, msg });
    },
    error() {},
    child() {
      return logger;
    },
  };
  return { logger, warnings };
}

const text = (e: { value: Uint8Array } | undefined): string | undefined => (e === undefined ? undefined : Buffer.from(e.value).toString());

describe('HybridBackend writes missed during an outage, after a restart', () => {
  const table = useDynamoTestTable('cv-replay');
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-replay-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const restarted = (logger?: Logger) =>
    new HybridBackend({
      logger,
      tiers: [
        { name: 'memory', backend: new MemoryBackend({}) },
        { name: 'file', backend: new FileBackend({ dir }) },
        { name: 'dynamodb', backend: new DynamoDBBackend({ tableName: table.tableName, client: table.client }) },
      ],
    });

  test('a process killed mid-outage leaves its sets, deletes and clears for the next one, which replays them, newest write winning', async () => {
    const shared = new DynamoDBBackend({ tableName: table.tableName, client: table.client });
    await shared.set(entry('app', 'a', 'a-old'));
    await shared.set(entry('app', 'c', 'c-old'));
    await shared.set(entry('gone', 'x', 'x-old'));

    const during = await runWorker([dir, table.tableName, 'mixed']);
    expect(during).toMatchObject({ replayDurable: true, pendingReplays: 5, replayDropped: 0 });
    // The journal is owner-only whatever the umask.
    expect(statSync(join(dir, 'v1', 'replay.db')).mode & 0o777).toBe(0o600);

    const hybrid = restarted();
    try {
      expect(hybrid.stats().extra).toMatchObject({ pendingReplays: 5, replayDurable: true });
      expect(await hybrid.flushPending()).toEqual({ replayed: 5, pending: 0 });
      expect(text(await shared.get('app', 'a'))).toBe('sealed:a-newest');
      expect(text(await shared.get('app', 'b'))).toBe('sealed:b-only');
      expect(await shared.get('app', 'c')).toBeUndefined();
      expect(await shared.get('gone', 'x')).toBeUndefined();
      expect(await shared.get('gone', 'z')).toBeUndefined();
      expect(text(await shared.get('gone', 'y'))).toBe('sealed:y-after-clear');
    } finally {
      await hybrid.close();
    }
    // Replayed ops are gone from the journal: a third start has nothing to send.
    const third = restarted();
    try {
      expect(third.stats().extra).toMatchObject({ pendingReplays: 0 });
      expect(await third.flushPending()).toEqual({ replayed: 0, pending: 0 });
    } finally {
      await third.close();
      await shared.close();
    }
  });

  test('writes dropped past maxPendingReplays are reported by the next process, and only the newest are replayed', async () => {
    const during = await runWorker([dir, table.tableName, 'bound', '3']);
    expect(during).toMatchObject({ pendingReplays: 3, replayDropped: 2 });

    const { logger, warnings } = recordingLogger();
    const hybrid = restarted(logger);
    const shared = new DynamoDBBackend({ tableName: table.tableName, client: table.client });
    try {
      expect(hybrid.stats().extra).toMatchObject({ pendingReplays: 3, replayDroppedEarlier: 2 });
      expect(warnings).toEqual([expect.objectContaining({ fields: expect.objectContaining({ dropped: 2 }), msg: expect.stringMatching(/dropped/) })]);
      expect(await hybrid.flushPending()).toEqual({ replayed: 3, pending: 0 });
      const got = await shared.getMany('bound', ['k0', 'k1', 'k2', 'k3', 'k4']);
      expect(got.map(text)).toEqual([undefined, undefined, 'sealed:v2', 'sealed:v3', 'sealed:v4']);
    } finally {
      await hybrid.close();
      await shared.close();
    }
    // Reported once: the next start does not report the same drops again.
    const again = restarted();
    try {
      expect(again.stats().extra).toMatchObject({ replayDroppedEarlier: 0 });
    } finally {
      await again.close();
    }
  });
});
