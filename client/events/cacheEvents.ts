/**
 * Typed events a cache emits (`cache.on('hit', (e) => ...)`), and the seam the parts of a cache
 * report through. The manager, the hybrid backend and its tiers, the key manager and its provider
 * chain each hold a {@link CacheEventSink}; when nothing listens they check one boolean per
 * event and build nothing, so events can stay on in production (docs/integrations.md#events).
 *
 * Events are in-process and carry the cache key; exporters (`cachevault/otel`, `cachevault/emf`)
 * never put keys into metrics. No event carries a value, plaintext or key material.
 */
import type { Logger, TierFailure } from '../types';

/** A key provider operation that reaches the provider (KMS: GenerateDataKey, Encrypt, Decrypt). */
export type KeyProviderOperation = 'generate' | 'wrap' | 'unwrap';

/** Every event name with the shape of its payload; `type` repeats the name, so the union discriminates. */
export interface CacheEventMap {
  /**
   * One read answered with a live entry, once per key read, naming the tier that answered (the
   * backend's name without a hybrid). `stale`: a local copy past its cap served because the
   * shared tier could not be asked. A hit whose entry then fails to open is followed by
   * `decryptFailure` or `keyUnavailable`, and the caller gets a miss.
   */
  hit: { readonly type: 'hit'; readonly namespace: string; readonly key: string; readonly tier: string; readonly stale: boolean };
  /** One read that no tier could answer, once per key read. */
  miss: { readonly type: 'miss'; readonly namespace: string; readonly key: string };
  /** One entry written (a write that reached only some tiers is also a `degradedWrite`). */
  set: { readonly type: 'set'; readonly namespace: string; readonly key: string; readonly bytes: number; readonly expiresAt: number | null };
  /** `delete` or `deleteMany`: the keys asked for and how many existed. */
  delete: { readonly type: 'delete'; readonly namespace: string; readonly keys: readonly string[]; readonly removed: number };
  /** `clear()` of a namespace. */
  clear: { readonly type: 'clear'; readonly namespace: string };
  /** A read found an entry past its `expiresAt` (it reads as a miss). */
  expire: { readonly type: 'expire'; readonly namespace: string; readonly key: string; readonly tier: string };
  /** An entry failed authentication, its checksum or decoding: tampered, corrupt or moved. */
  decryptFailure: { readonly type: 'decryptFailure'; readonly namespace: string; readonly key: string; readonly code: string };
  /** An entry sealed under a key version this client cannot have (unknown, retired, no provider). */
  keyUnavailable: { readonly type: 'keyUnavailable'; readonly namespace: string; readonly key: string; readonly keyId: string | undefined };
  /** A tier's circuit breaker opened: the tier is skipped until it is probed again. */
  breakerOpen: { readonly type: 'breakerOpen'; readonly tier: string };
  /** A tier's breaker lets one probe through. */
  breakerHalfOpen: { readonly type: 'breakerHalfOpen'; readonly tier: string };
  /** A tier answered again: its breaker closed. */
  breakerClose: { readonly type: 'breakerClose'; readonly tier: string };
  /** A key provider had an outage and the chain fell back to the next one (once per outage). */
  fallback: { readonly type: 'fallback'; readonly provider: string; readonly failure: string; readonly fallbackTo: string };
  /** A new active data key version replaced another (rotation, or a fallback key). */
  keyRotation: { readonly type: 'keyRotation'; readonly from: string; readonly to: string; readonly reason: 'rotate' | 'fallback' };
  /** A write that reached only some tiers; `degraded` names them and why. */
  degradedWrite: { readonly type: 'degradedWrite'; readonly namespace: string; readonly entries: number; readonly degraded: readonly TierFailure[] };
  /** A write, delete or clear the shared tier missed, queued to be replayed when it answers. */
  replayQueued: { readonly type: 'replayQueued'; readonly kind: 'set' | 'delete' | 'clear'; readonly namespace: string | undefined; readonly pending: number };
  /** Queued writes sent to the shared tier after it answered again. */
  replayed: { readonly type: 'replayed'; readonly count: number; readonly pending: number };
  /** Queued writes dropped because the replay queue was full (`maxPendingReplays`). */
  replayDropped: { readonly type: 'replayDropped'; readonly count: number; readonly total: number };
  /**
   * A failure the cache absorbed or reported: a tier that failed (`tier` set), a read treated as
   * a miss, a write that threw. `code` is the error's stable code (`BACKEND_ERROR`...) or name.
   */
  error: { readonly type: 'error'; readonly operation: string; readonly tier: string | undefined; readonly code: string; readonly message: string };
  /**
   * One storage call and how long it took: per tier for a hybrid (every call while someone
   * listens), else the backend call a manager made. `operation`: get, set, delete, clear,
   * promote, evict, replay, scan.
   */
  operation: { readonly type: 'operation'; readonly tier: string; readonly operation: string; readonly durationMs: number; readonly ok: boolean };
  /** One call to a key provider (KMS, keyring, env); data-key cache hits make none. */
  keyProviderCall: {
    readonly type: 'keyProviderCall';
    readonly provider: string;
    readonly operation: KeyProviderOperation;
    readonly ok: boolean;
    readonly durationMs: number;
    /** The failure class when not ok (`throttled`, `accessDenied`, `network`...). */
    readonly failure: string | undefined;
  };
}

export type CacheEventName = keyof CacheEventMap;
/** Any event; switch on `type`. */
export type CacheEvent = CacheEventMap[CacheEventName];
export type CacheEventListener<K extends CacheEventName> = (event: CacheEventMap[K]) => unknown;

export const CACHE_EVENT_NAMES = [
  'hit', 'miss', 'set', 'delete', 'clear', 'expire', 'decryptFailure', 'keyUnavailable',
  'breakerOpen', 'breakerHalfOpen', 'breakerClose', 'fallback', 'keyRotation', 'degradedWrite',
  'replayQueued', 'replayed', 'replayDropped', 'error', 'operation', 'keyProviderCall',
] as const satisfies readonly CacheEventName[];

/**
 * What a part of the cache reports through. `wants[name]` is true while someone listens to
 * `name`: check it before building an event, which is what keeps silent events free.
 */
export interface CacheEventSink {
  readonly wants: Readonly<Record<CacheEventName, boolean>>;
  /** Whether any of `hit`, `miss`, `expire`, `operation` is listened to: one check for a read's hot path. */
  readonly observesReads: boolean;
  emit<K extends CacheEventName>(name: K, event: CacheEventMap[K]): void;
}

/** A part of a cache (backend, key manager) that can report to a sink. */
export interface CacheEventSource {
  /**
   * Starts reporting to `sink` too (a backend shared by two caches reports to both). `tier`
   * names the part in its events when it is a tier of a hybrid.
   */
  attachEvents(sink: CacheEventSink, tier?: string): void;
}

export function isCacheEventSource(value: unknown): value is CacheEventSource {
  return typeof (value as Partial<CacheEventSource> | null)?.attachEvents === 'function';
}

function noWants(): Record<CacheEventName, boolean> {
  const wants = {} as Record<CacheEventName, boolean>;
  for (const name of CACHE_EVENT_NAMES) wants[name] = false;
  return wants;
}

/** The sink of a part no cache listens to: wants nothing. */
export const NO_EVENTS: CacheEventSink = Object.freeze({
  wants: Object.freeze(noWants()),
  observesReads: false,
  emit() {},
});

const READ_EVENTS = ['hit', 'miss', 'expire', 'operation'] as const satisfies readonly CacheEventName[];

/**
 * `a` and `b` as one sink (a backend given to two caches). `wants` is read live from both, so a
 * listener added to either later is seen.
 */
export function combineSinks(a: CacheEventSink, b: CacheEventSink): CacheEventSink {
  if (a === NO_EVENTS || a === b) return b;
  if (b === NO_EVENTS) return a;
  const wants = {} as Record<CacheEventName, boolean>;
  for (const name of CACHE_EVENT_NAMES) Object.defineProperty(wants, name, { get: () => a.wants[name] || b.wants[name], enumerable: true });
  return {
    wants,
    get observesReads() {
      return a.observesReads || b.observesReads;
    },
    emit(name, event) {
      if (a.wants[name]) a.emit(name, event);
      if (b.wants[name]) b.emit(name, event);
    },
  };
}

type ListenerEntry = { readonly fn: CacheEventListener<never>; readonly once: boolean };

/**
 * A small typed emitter. Listeners run synchronously in the order added, inside the cache
 * operation that emitted: keep them cheap (count, enqueue), never block. A listener that
 * throws (or returns a promise that rejects) is logged (at warn the first time per event name,
 * then at debug) and never affects the cache operation or the other listeners.
 */
export class CacheEventEmitter implements CacheEventSink {
  readonly wants: Record<CacheEventName, boolean> = noWants();
  observesReads = false;
  /** Listener arrays are replaced, never mutated, so removing a listener during an emit is safe. */
  private readonly listeners = new Map<CacheEventName, readonly ListenerEntry[]>();
  private readonly failedOnce = new Set<string>();

  constructor(private readonly logger: Logger) {}

  on<K extends CacheEventName>(name: K, listener: CacheEventListener<K>): this {
    return this.add(name, listener, false);
  }

  /** Like `on`, removed after its first call. */
  once<K extends CacheEventName>(name: K, listener: CacheEventListener<K>): this {
    return this.add(name, listener, true);
  }

  /** Removes one registration of `listener` (the latest), whether added with `on` or `once`. */
  off<K extends CacheEventName>(name: K, listener: CacheEventListener<K>): this {
    const list = this.listeners.get(name);
    if (!list) return this;
    const index = list.map((l) => l.fn).lastIndexOf(listener as CacheEventListener<never>);
    if (index >= 0) this.set(name, [...list.slice(0, index), ...list.slice(index + 1)]);
    return this;
  }

  listenerCount(name: CacheEventName): number {
    return this.listeners.get(name)?.length ?? 0;
  }

  emit<K extends CacheEventName>(name: K, event: CacheEventMap[K]): void {
    const list = this.listeners.get(name);
    if (!list) return;
    for (const entry of list) {
      if (entry.once) this.removeEntry(name, entry);
      try {
        const result = (entry.fn as CacheEventListener<K>)(event);
        if (result instanceof Promise) result.catch((err: unknown) => this.listenerFailed(name, err));
      } catch (err) {
        this.listenerFailed(name, err);
      }
    }
  }

  private removeEntry(name: CacheEventName, entry: ListenerEntry): void {
    const list = this.listeners.get(name);
    if (list?.includes(entry)) this.set(name, list.filter((l) => l !== entry));
  }

  private add<K extends CacheEventName>(name: K, listener: CacheEventListener<K>, once: boolean): this {
    if (!(CACHE_EVENT_NAMES as readonly string[]).includes(name)) {
      throw new TypeError(`Unknown cache event ${JSON.stringify(String(name))}; events are: ${CACHE_EVENT_NAMES.join(', ')}.`);
    }
    if (typeof listener !== 'function') throw new TypeError(`cache.on(${JSON.stringify(name)}, listener): the listener must be a function.`);
    this.set(name, [...(this.listeners.get(name) ?? []), { fn: listener as CacheEventListener<never>, once }]);
    return this;
  }

  private set(name: CacheEventName, list: readonly ListenerEntry[]): void {
    if (list.length === 0) this.listeners.delete(name);
    else this.listeners.set(name, list);
    this.wants[name] = list.length > 0;
    this.observesReads = READ_EVENTS.some((n) => this.wants[n]);
  }

  private listenerFailed(name: CacheEventName, err: unknown): void {
    const fields = { event: name, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    const message = 'a cache event listener threw; the cache operation went on';
    if (this.failedOnce.has(name)) {
      this.logger.debug(fields, message);
      return;
    }
    this.failedOnce.add(name);
    this.logger.warn(fields, message);
  }
}

/** The stable code of an error for events and metrics: its `code` when it has a string one, else its name. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.length > 0 && code.length <= 64) return code;
  return err instanceof Error ? err.name : 'Error';
}
