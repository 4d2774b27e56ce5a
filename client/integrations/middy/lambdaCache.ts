import { createCache, type Cache, type CreateCacheOptions } from '../../createCache';
import { describeError } from '../../describeError';
import { createLogger, toLogger } from '../../logger';
import type { Logger } from '../../types';
import type { LambdaContext, MiddyMiddleware } from './types';

/** What a {@link LambdaCache} can hold: anything with an async `close()` (a `Cache`, a view of one). */
export interface Closable {
  close(): Promise<void>;
}

/**
 * Where shutdown is announced: `process` in production; tests pass an EventEmitter with a `kill`
 * of their own.
 */
export interface ShutdownSource {
  on(event: 'SIGTERM' | 'beforeExit', listener: () => void): unknown;
  off(event: 'SIGTERM' | 'beforeExit', listener: () => void): unknown;
  listenerCount(event: 'SIGTERM'): number;
  kill(pid: number, signal: 'SIGTERM'): unknown;
  readonly pid: number;
}

export interface OpenCacheOptions {
  /**
   * Start opening at once, during Lambda's init phase (which runs with a full CPU before the first
   * invocation), instead of at the first `get()`. A failure is logged and the next `get()` tries
   * again. Leave it off with SnapStart: a cache opened at init carries its data keys into the
   * snapshot. @default false
   */
  readonly eager?: boolean;
  /**
   * Close the cache when the process is told to stop (`SIGTERM`) or runs out of work
   * (`beforeExit`): queued audit records are written and key material is zeroed. After closing on
   * SIGTERM, the signal is raised again when no other listener is left, so the process still
   * stops as it would have. @default true
   */
  readonly closeOnShutdown?: boolean;
  /** @default process */
  readonly shutdownSource?: ShutdownSource;
  /**
   * Where a failed eager open or a failed close at shutdown is reported. @default the `logger` of
   * the createCache options when `openCache` was given one, else warnings as JSON lines on stderr
   */
  readonly logger?: Logger;
}

/**
 * One cache per execution environment: opened by the first `get()` (or at init with `eager`),
 * shared by every later invocation, closed once at shutdown. Create it at module scope, outside
 * the handler, so that it lives as long as the environment does.
 */
export class LambdaCache<C extends Closable = Cache> {
  private readonly open: () => Promise<C>;
  private readonly closeOnShutdown: boolean;
  private readonly shutdown: ShutdownHook;
  private readonly logger: Logger;
  private opening: Promise<C> | undefined;
  private opened: C | undefined;
  private closing: Promise<void> | undefined;
  private readonly closeAtShutdown = (): Promise<void> =>
    this.close().catch((error: unknown) => this.logger.warn({ error: describeError(error) }, 'the cache could not be closed at shutdown'));

  constructor(open: () => Promise<C>, options: OpenCacheOptions = {}) {
    if (typeof open !== 'function') throw new TypeError(`new LambdaCache(open): open must be a function that returns a promise of the cache, got ${typeof open}.`);
    this.open = open;
    this.closeOnShutdown = options.closeOnShutdown ?? true;
    this.shutdown = ShutdownHook.for(options.shutdownSource ?? process);
    this.logger = options.logger ?? createLogger('warn');
    if (options.eager) {
      this.get().catch((error: unknown) => this.logger.warn({ error: describeError(error) }, 'the cache could not be opened at init; the first invocation tries again'));
    }
  }

  /**
   * The cache, opened on the first call. Concurrent first calls share one open; a failed open is
   * not remembered, so the next call tries again.
   */
  get(): Promise<C> {
    if (this.opening) return this.opening;
    const opening: Promise<C> = (async () => this.open())().then(
      (cache) => {
        if (this.opening === opening) {
          this.opened = cache;
          if (this.closeOnShutdown) this.shutdown.add(this.closeAtShutdown);
        }
        return cache;
      },
      (error: unknown) => {
        if (this.opening === opening) this.opening = undefined;
        throw error;
      },
    );
    this.opening = opening;
    return opening;
  }

  /** The cache if it is open, without opening it. */
  get current(): C | undefined {
    return this.opened;
  }

  /**
   * Closes the cache if it was opened. Idempotent: calls while a close runs share it, later calls
   * (with nothing opened since) do nothing. A `get()` after `close()` opens a new cache.
   */
  close(): Promise<void> {
    const opening = this.opening;
    // Nothing opened since the last close: join it, if it still runs.
    if (!opening) return this.closing ?? Promise.resolve();
    this.opening = undefined;
    this.opened = undefined;
    this.shutdown.delete(this.closeAtShutdown);
    const closing = (async () => {
      let cache: C;
      try {
        cache = await opening;
      } catch {
        return; // it never opened: nothing to close
      }
      await cache.close();
    })().finally(() => {
      if (this.closing === closing) this.closing = undefined;
    });
    this.closing = closing;
    return closing;
  }
}

/**
 * `openCache(createCacheOptions)` builds the cache with `createCache` on first use;
 * `openCache(() => build())` with a function of yours (a namespace view, a test cache).
 */
export function openCache(options?: CreateCacheOptions, lifecycle?: OpenCacheOptions): LambdaCache<Cache>;
export function openCache<C extends Closable>(open: () => Promise<C>, lifecycle?: OpenCacheOptions): LambdaCache<C>;
export function openCache(source: CreateCacheOptions | (() => Promise<Closable>) = {}, lifecycle: OpenCacheOptions = {}): LambdaCache<Closable> {
  if (typeof source === 'function') return new LambdaCache(source, lifecycle);
  const logger = lifecycle.logger ?? (source.logger ? toLogger(source.logger, { messageFirst: source.messageFirstLogger }) : undefined);
  return new LambdaCache(() => createCache(source), { ...lifecycle, logger });
}

export interface CacheLifecycleOptions<K extends string> {
  /** The `context` property the cache is put on. @default 'cache' */
  readonly contextKey?: K;
}

/**
 * A middleware that puts the environment's cache on `request.context` (typed: the handler reads
 * `context.cache`), opening it on the first invocation. A failed open fails that invocation, and
 * the next one tries again. Pass a {@link LambdaCache} to share one cache between handlers or with
 * `cacheResponse`, or createCache options to have one made.
 */
export function cacheLifecycle<C extends Closable = Cache, K extends string = 'cache'>(
  cache: LambdaCache<C>,
  options?: CacheLifecycleOptions<K>,
): MiddyMiddleware<unknown, unknown, LambdaContext & { [P in K]: C }>;
export function cacheLifecycle<K extends string = 'cache'>(cache?: CreateCacheOptions, options?: CacheLifecycleOptions<K>): MiddyMiddleware<unknown, unknown, LambdaContext & { [P in K]: Cache }>;
export function cacheLifecycle(
  source: LambdaCache<Closable> | CreateCacheOptions = {},
  options: CacheLifecycleOptions<string> = {},
): MiddyMiddleware<unknown, unknown, LambdaContext & Record<string, unknown>> {
  const handle = source instanceof LambdaCache ? source : openCache(source);
  const contextKey = options.contextKey ?? 'cache';
  return {
    name: 'cachevaultLifecycle',
    before: async (request) => {
      request.context[contextKey] = await handle.get();
      return undefined;
    },
  };
}

/**
 * One SIGTERM and one beforeExit listener per shutdown source, whatever the number of caches:
 * on SIGTERM every registered cache is closed before the signal is raised again, so one cache's
 * finished close cannot end the process while another is still writing.
 */
class ShutdownHook {
  private static readonly hooks = new WeakMap<ShutdownSource, ShutdownHook>();
  private readonly members = new Set<() => Promise<void>>();
  private readonly source: ShutdownSource;

  static for(source: ShutdownSource): ShutdownHook {
    let hook = ShutdownHook.hooks.get(source);
    if (!hook) {
      hook = new ShutdownHook(source);
      ShutdownHook.hooks.set(source, hook);
    }
    return hook;
  }

  private constructor(source: ShutdownSource) {
    this.source = source;
  }

  add(close: () => Promise<void>): void {
    if (this.members.size === 0) {
      this.source.on('SIGTERM', this.onSigterm);
      this.source.on('beforeExit', this.onBeforeExit);
    }
    this.members.add(close);
  }

  delete(close: () => Promise<void>): void {
    if (!this.members.delete(close) || this.members.size > 0) return;
    this.source.off('SIGTERM', this.onSigterm);
    this.source.off('beforeExit', this.onBeforeExit);
  }

  private closeAll(): Promise<unknown> {
    // Each close removes itself (and the listeners with the last one) synchronously.
    return Promise.allSettled([...this.members].map((close) => close()));
  }

  private readonly onSigterm = (): void => {
    void this.closeAll().then(() => {
      // Our listener is gone; with no other left, the signal does what it would have done.
      if (this.source.listenerCount('SIGTERM') === 0) this.source.kill(this.source.pid, 'SIGTERM');
    });
  };

  private readonly onBeforeExit = (): void => {
    void this.closeAll();
  };
}
