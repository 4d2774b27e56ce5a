import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { type Cache } from '../../../client/createCache';
import { cacheLifecycle, openCache, type ShutdownSource } from '../../../client/exports/middy';
import { silentLogger } from '../../../client/logger';
import { apiGatewayV2Event, lambdaContext } from '../../support/lambdaEvents';

// A fixed test key for the env key provider (SHA-256 of a phrase, base64); never a real one.
const TEST_KEY = 'JfECIMRagJmvQvfMAJY4oAp4MmPqsNALXSWAK8SkU8U=';

const cacheOptions = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cv-middy-life-'));
  return {
    backend: 'file' as const,
    file: { dir: join(dir, 'cache') },
    keys: { providers: ['env' as const] },
    logging: { level: 'silent' as const },
    cwd: dir,
    env: {},
    keyProviderDeps: { env: { CACHEVAULT_KEY: TEST_KEY } },
  };
};

/** A process stand-in: SIGTERM and beforeExit are emitted by the test; `kill` is recorded. */
class FakeProcess extends EventEmitter implements ShutdownSource {
  readonly pid = 4242;
  readonly kills: string[] = [];
  kill(_pid: number, signal: 'SIGTERM'): boolean {
    this.kills.push(signal);
    return true;
  }
}

/** A cache stand-in that counts closes and can be held open. */
function fakeCache(closeGate?: Promise<void>) {
  return { closed: 0, async close() {
    await closeGate;
    this.closed += 1;
  } };
}

/**
 * What Lambda passes; middy types the handler's context with what the middlewares add
 * (`context.cache`), which the caller does not supply, hence the cast (as for @middy/ssm's).
 */
const invocationContext = lambdaContext() as never;

describe('cacheLifecycle', () => {
  test('opens the cache once across invocations and puts it on context.cache, typed', async () => {
    const source = new FakeProcess();
    const vault = openCache(cacheOptions(), { shutdownSource: source });
    const seen: Cache[] = [];
    const handler = middy(async (_event: unknown, ctx: Context & { cache: Cache }) => {
      seen.push(ctx.cache);
      await ctx.cache.set('visits', seen.length);
      return { statusCode: 200, body: String(await ctx.cache.get<number>('visits')) };
    }).use(cacheLifecycle(vault));
    try {
      expect((await handler(apiGatewayV2Event(), invocationContext)).body).toBe('1');
      expect((await handler(apiGatewayV2Event(), invocationContext)).body).toBe('2');
      expect((await handler(apiGatewayV2Event(), invocationContext)).body).toBe('3');
      expect(new Set(seen).size).toBe(1);
      expect(vault.current).toBe(seen[0]);
      expect(seen[0]!.keyManager).toBeDefined(); // encrypted, under the env test key
    } finally {
      await vault.close();
    }
  });

  test('concurrent first invocations share one open', async () => {
    const open = jest.fn(async () => fakeCache());
    const vault = openCache(open, { shutdownSource: new FakeProcess() });
    const handler = middy(async (_e: unknown, ctx: Context & { store: ReturnType<typeof fakeCache> }) => ctx.store).use(cacheLifecycle(vault, { contextKey: 'store' }));
    const [a, b, c] = await Promise.all([handler({}, invocationContext), handler({}, invocationContext), handler({}, invocationContext)]);
    expect(open).toHaveBeenCalledTimes(1);
    expect(a).toBe(b);
    expect(b).toBe(c);
  });

  test('a failed open fails that invocation, and the next invocation opens again', async () => {
    const open = jest.fn<Promise<ReturnType<typeof fakeCache>>, []>().mockRejectedValueOnce(new Error('KMS unreachable')).mockResolvedValue(fakeCache());
    const vault = openCache(open, { shutdownSource: new FakeProcess() });
    const handler = middy(async () => 'ok').use(cacheLifecycle(vault));
    await expect(handler({}, invocationContext)).rejects.toThrow('KMS unreachable');
    await expect(handler({}, invocationContext)).resolves.toBe('ok');
    expect(open).toHaveBeenCalledTimes(2);
  });

  test('eager: true opens during init; a failure there is logged and the first invocation tries again', async () => {
    const warn = jest.fn();
    const open = jest.fn<Promise<ReturnType<typeof fakeCache>>, []>().mockRejectedValueOnce(new Error('table not ready')).mockResolvedValue(fakeCache());
    const vault = openCache(open, { eager: true, shutdownSource: new FakeProcess(), logger: { ...silentLogger, warn } });
    expect(open).toHaveBeenCalledTimes(1);
    await new Promise((r) => setImmediate(r));
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ error: expect.stringContaining('table not ready') }), expect.stringContaining('at init'));
    await vault.get();
    expect(open).toHaveBeenCalledTimes(2);
  });
});

describe('openCache logging', () => {
  test('without a logger of its own, openCache reports to the logger given to createCache', async () => {
    const warn = jest.fn();
    const appLogger = { debug: jest.fn(), info: jest.fn(), warn, error: jest.fn() };
    // No key anywhere: createCache refuses, during init.
    const vault = openCache({ ...cacheOptions(), keyProviderDeps: { env: {} }, logger: appLogger }, { eager: true, shutdownSource: new FakeProcess() });
    await expect(vault.get()).rejects.toThrow();
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ error: expect.any(String) }), 'the cache could not be opened at init; the first invocation tries again');
  });
});

describe('LambdaCache shutdown', () => {
  test('SIGTERM closes the cache once, then raises the signal again so the process still stops', async () => {
    const source = new FakeProcess();
    const cache = fakeCache();
    const vault = openCache(async () => cache, { shutdownSource: source });
    expect(source.listenerCount('SIGTERM')).toBe(0); // nothing is installed before the cache is open
    await vault.get();
    expect(source.listenerCount('SIGTERM')).toBe(1);
    source.emit('SIGTERM');
    await new Promise((r) => setImmediate(r));
    expect(cache.closed).toBe(1);
    expect(source.kills).toEqual(['SIGTERM']);
    expect(source.listenerCount('SIGTERM')).toBe(0);
    expect(source.listenerCount('beforeExit')).toBe(0);
  });

  test('with another SIGTERM listener (the app’s own), the signal is left to it', async () => {
    const source = new FakeProcess();
    const appListener = jest.fn();
    source.on('SIGTERM', appListener);
    const cache = fakeCache();
    const vault = openCache(async () => cache, { shutdownSource: source });
    await vault.get();
    source.emit('SIGTERM');
    await new Promise((r) => setImmediate(r));
    expect(cache.closed).toBe(1);
    expect(appListener).toHaveBeenCalled();
    expect(source.kills).toEqual([]);
  });

  test('two caches are both closed before the signal is raised again', async () => {
    const source = new FakeProcess();
    let releaseSlow!: () => void;
    const slow = fakeCache(new Promise<void>((r) => {
      releaseSlow = r;
    }));
    const fast = fakeCache();
    await openCache(async () => slow, { shutdownSource: source }).get();
    await openCache(async () => fast, { shutdownSource: source }).get();
    expect(source.listenerCount('SIGTERM')).toBe(1);
    source.emit('SIGTERM');
    await new Promise((r) => setImmediate(r));
    expect(fast.closed).toBe(1);
    expect(source.kills).toEqual([]); // the slow one is still closing
    releaseSlow();
    await new Promise((r) => setImmediate(r));
    expect(slow.closed).toBe(1);
    expect(source.kills).toEqual(['SIGTERM']);
  });

  test('beforeExit closes the cache; close is idempotent and a later get() opens a new cache', async () => {
    const source = new FakeProcess();
    const open = jest.fn(async () => fakeCache());
    const vault = openCache(open, { shutdownSource: source });
    const first = await vault.get();
    source.emit('beforeExit');
    await Promise.all([vault.close(), vault.close()]);
    expect(first.closed).toBe(1);
    expect(vault.current).toBeUndefined();
    source.emit('beforeExit'); // the loop empties again after the close: nothing more happens
    await vault.close();
    expect(first.closed).toBe(1);
    const second = await vault.get();
    expect(second).not.toBe(first);
    expect(open).toHaveBeenCalledTimes(2);
    await vault.close();
  });

  test('a close that fails at shutdown is logged, and the signal is still raised again', async () => {
    const source = new FakeProcess();
    const warn = jest.fn();
    const vault = openCache(async () => ({ close: async () => {
      throw new Error('audit log not writable');
    } }), { shutdownSource: source, logger: { ...silentLogger, warn } });
    await vault.get();
    source.emit('SIGTERM');
    await new Promise((r) => setImmediate(r));
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ error: expect.stringContaining('audit log not writable') }), expect.stringContaining('at shutdown'));
    expect(source.kills).toEqual(['SIGTERM']);
  });

  test('a cache opened while the previous one is still closing is closed by the next close()', async () => {
    let releaseFirst!: () => void;
    const first = fakeCache(new Promise<void>((r) => {
      releaseFirst = r;
    }));
    const second = fakeCache();
    const caches = [first, second];
    const vault = openCache(async () => caches.shift()!, { shutdownSource: new FakeProcess() });
    await vault.get();
    const closingFirst = vault.close();
    expect(await vault.get()).toBe(second);
    const closingSecond = vault.close();
    releaseFirst();
    await Promise.all([closingFirst, closingSecond]);
    expect([first.closed, second.closed]).toEqual([1, 1]);
  });

  test('closeOnShutdown: false installs no listener', async () => {
    const source = new FakeProcess();
    const vault = openCache(async () => fakeCache(), { shutdownSource: source, closeOnShutdown: false });
    await vault.get();
    expect(source.listenerCount('SIGTERM')).toBe(0);
    expect(source.listenerCount('beforeExit')).toBe(0);
  });

  test('a close while the open is still running closes the cache the open produces', async () => {
    let finishOpen!: (c: ReturnType<typeof fakeCache>) => void;
    const vault = openCache(() => new Promise<ReturnType<typeof fakeCache>>((r) => {
      finishOpen = r;
    }), { shutdownSource: new FakeProcess() });
    const opening = vault.get();
    const closing = vault.close();
    const cache = fakeCache();
    finishOpen(cache);
    await opening;
    await closing;
    expect(cache.closed).toBe(1);
    expect(vault.current).toBeUndefined();
  });
});
