import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../../client/backends/backendFactory';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { AdvancedCacheConfig, type CacheConfigInput } from '../../client/config/schema';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** A loopback port nothing listens on: connections are refused at once, nothing leaves the machine. */
const DEAD_ENDPOINT = 'http://127.0.0.1:9';

describe('createBackend', () => {
  let dir: string;
  const closers: (() => Promise<void>)[] = [];
  const config = (input: CacheConfigInput) => AdvancedCacheConfig.parse(input);
  const start = async (input: CacheConfigInput) => {
    const created = await createBackend(config(input));
    closers.push(() => created.backend.close());
    return created;
  };
  const deadDynamo = { endpoint: DEAD_ENDPOINT, tableName: 'cachevault', maxAttempts: 1, requestTimeoutMs: 500 };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-factory-'));
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('builds a memory backend with the configured bounds', async () => {
    const { backend, name } = await start({ backend: 'memory', memory: { maxEntries: 2 } });
    expect(name).toBe('memory');
    expect(backend).toBeInstanceOf(MemoryBackend);
    for (const key of ['a', 'b', 'c']) await backend.set({ namespace: 'n', key, value: Buffer.from(key), expiresAt: null, keyId: 'none', createdAt: 0 });
    expect(backend.stats().entries).toBe(2);
  });

  test('builds a file backend in the configured directory', async () => {
    const { backend, name } = await start({ backend: 'file', file: { dir: join(dir, 'cache') } });
    expect(name).toBe('file');
    expect(backend.capabilities.persistent).toBe(true);
    await backend.set({ namespace: 'n', key: 'k', value: Buffer.from('v'), expiresAt: null, keyId: 'none', createdAt: 0 });
    expect(Buffer.from((await backend.get('n', 'k'))!.value).toString()).toBe('v');
  });

  test('builds a hybrid backend with the configured tiers in order', async () => {
    const { backend, name } = await start({ backend: 'hybrid', hybrid: { tiers: ['memory', 'file'] }, file: { dir: join(dir, 'cache') } });
    expect(name).toBe('hybrid');
    expect(backend).toBeInstanceOf(HybridBackend);
    expect((backend as HybridBackend).tierNames).toEqual(['memory', 'file']);
  });

  test('starts the fallback with a reason when the preferred backend cannot start', async () => {
    const created = await start({ backend: 'dynamodb', fallback: 'memory', dynamodb: deadDynamo });
    expect(created.name).toBe('memory');
    expect(created.fallbackReason).toMatch(/dynamodb backend could not start/);
    expect(created.warnings[0]).toMatch(/Using the memory backend/);
  });

  test('without a fallback, a backend nothing answers for fails with its documented code, ENDPOINT_UNREACHABLE, and a hint to set a fallback', async () => {
    const failure = createBackend(config({ backend: 'dynamodb', dynamodb: deadDynamo }));
    await expect(failure).rejects.toMatchObject({ code: 'ENDPOINT_UNREACHABLE', hint: expect.stringMatching(/fallback/) });
  });

  test('a file tier that cannot be opened falls back as configured', async () => {
    const notADirectory = join(dir, 'plain-file');
    writeFileSync(notADirectory, 'x');
    const created = await start({ backend: 'file', fallback: 'memory', file: { dir: notADirectory } });
    expect(created.name).toBe('memory');
    expect(created.fallbackReason).toMatch(/file backend could not start/);
  });

  test('an unreachable DynamoDB behind local tiers starts the hybrid degraded, with a warning', async () => {
    const created = await start({
      backend: 'hybrid',
      hybrid: { tiers: ['memory', 'dynamodb'], breakerFailureThreshold: 1 },
      dynamodb: deadDynamo,
    });
    expect(created.name).toBe('hybrid');
    expect(created.warnings.join('\n')).toMatch(/unreachable/);
    const write = await created.backend.set({ namespace: 'n', key: 'k', value: Buffer.from('v'), expiresAt: null, keyId: 'none', createdAt: Date.now() });
    expect(write.degraded?.[0]?.tier).toBe('dynamodb');
    expect(await created.backend.get('n', 'k')).toBeDefined();
  });

  describe('the replay queue of a hybrid whose shared tier is down', () => {
    const entry = (key: string) => ({ namespace: 'n', key, value: Buffer.from(key), expiresAt: null, keyId: 'none', createdAt: Date.now() });
    const hybridOverDeadDynamo = (hybrid: CacheConfigInput['hybrid']) =>
      createBackend(config({ backend: 'hybrid', hybrid: { tiers: ['memory', 'file', 'dynamodb'], breakerFailureThreshold: 1, ...hybrid }, file: { dir: join(dir, 'cache') }, dynamodb: deadDynamo }));

    test('hybrid.maxPendingReplays bounds it, and the queue kept in the file tier outlives the process', async () => {
      const first = await hybridOverDeadDynamo({ maxPendingReplays: 2 });
      for (const key of ['a', 'b', 'c']) await first.backend.set(entry(key));
      expect(first.backend.stats().extra).toMatchObject({ pendingReplays: 2, replayDropped: 1, replayDurable: true });
      await first.backend.close();

      const next = await hybridOverDeadDynamo({ maxPendingReplays: 2 });
      closers.push(() => next.backend.close());
      expect(next.backend.stats().extra).toMatchObject({ pendingReplays: 2, replayDroppedEarlier: 1 });
      expect(existsSync(join(dir, 'cache', 'v1', 'replay.db'))).toBe(true);
    });

    test('hybrid.durableReplays: false keeps it in memory only: nothing on disk, nothing after a restart', async () => {
      const first = await hybridOverDeadDynamo({ durableReplays: false });
      for (const key of ['a', 'b']) await first.backend.set(entry(key));
      expect(first.backend.stats().extra).toMatchObject({ pendingReplays: 2, replayDurable: false });
      await first.backend.close();
      expect(existsSync(join(dir, 'cache', 'v1', 'replay.db'))).toBe(false);

      const next = await hybridOverDeadDynamo({ durableReplays: false });
      closers.push(() => next.backend.close());
      expect(next.backend.stats().extra).toMatchObject({ pendingReplays: 0, replayDroppedEarlier: 0 });
    });
  });

  test('a hybrid with a DynamoDB tier is coherent by default, and not when opened read-only or with coherence off', async () => {
    const hybrid = { backend: 'hybrid' as const, hybrid: { tiers: ['memory' as const, 'dynamodb' as const] }, dynamodb: deadDynamo };
    const coherent = await start(hybrid);
    expect(coherent.backend.stats().extra).toHaveProperty('coherence');
    const readOnly = await createBackend(config(hybrid), { readOnly: true });
    closers.push(() => readOnly.backend.close());
    expect(readOnly.backend.stats().extra).not.toHaveProperty('coherence');
    const off = await start({ ...hybrid, hybrid: { ...hybrid.hybrid, coherence: { enabled: false } } });
    expect(off.backend.stats().extra).not.toHaveProperty('coherence');
    const local = await start({ backend: 'hybrid', hybrid: { tiers: ['memory', 'file'] }, file: { dir: join(dir, 'cache') } });
    expect(local.backend.stats().extra).not.toHaveProperty('coherence');
  });

  test('a retention shorter than the local TTL cap allows is refused at start-up', async () => {
    await expect(start({ backend: 'hybrid', hybrid: { tiers: ['memory', 'dynamodb'], coherence: { retentionMs: 30_000 } }, dynamodb: deadDynamo })).rejects.toThrow(/retentionMs/);
  });

  test('closing the wrap lease it built releases the DynamoDB client the factory made for it', async () => {
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const destroy = jest.spyOn(DynamoDBClient.prototype, 'destroy');
    try {
      const created = await createBackend(config({ backend: 'hybrid', hybrid: { tiers: ['memory', 'dynamodb'], lease: true }, dynamodb: deadDynamo }));
      expect(created.lease).toBeDefined();
      await created.backend.close();
      const afterBackend = destroy.mock.calls.length;
      created.lease!.close();
      expect(destroy.mock.calls.length).toBe(afterBackend + 1);
    } finally {
      destroy.mockRestore();
    }
  });

  test('loads neither the AWS SDK nor SQLite for a memory backend', () => {
    const script = [
      "const { createBackend } = require('./client/backends/backendFactory');",
      "const { AdvancedCacheConfig } = require('./client/config/schema');",
      "createBackend(AdvancedCacheConfig.parse({ backend: 'memory' })).then(() => {",
      "  const loaded = Object.keys(require.cache);",
      "  console.log(JSON.stringify({ lru: loaded.some((p) => p.includes('lru-cache')), aws: loaded.some((p) => p.includes('@aws-sdk')), sqlite: loaded.some((p) => p.includes('better-sqlite3')) }));",
      '});',
    ].join('\n');
    const out = execFileSync(join(process.cwd(), 'node_modules/.bin/tsx'), ['-e', script], { cwd: process.cwd(), encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toEqual({ lru: true, aws: false, sqlite: false });
  });

  test('importing the factory and its backend registry loads no backend class, SDK, SQLite or zod', () => {
    const script = [
      "require('./client/backends/backendFactory');",
      'const loaded = Object.keys(require.cache);',
      "const has = (part) => loaded.some((p) => p.includes(part));",
      "console.log(JSON.stringify({ registry: has('backends/registry/index'), zod: has('/zod/'), aws: has('@aws-sdk'), sqlite: has('better-sqlite3'), lru: has('lru-cache'), classes: ['memoryBackend', 'fileBackend', 'dynamodbBackend', 'hybridBackend'].filter(has) }));",
    ].join('\n');
    const out = execFileSync(join(process.cwd(), 'node_modules/.bin/tsx'), ['-e', script], { cwd: process.cwd(), encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toEqual({ registry: true, zod: false, aws: false, sqlite: false, lru: false, classes: [] });
  });
});
