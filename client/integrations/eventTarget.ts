import type { CacheEventListener, CacheEventName } from '../events/cacheEvents';
import type { BackendStats } from '../types';

/** What a metrics exporter needs of a cache: its events, and (optionally) its stats for starting gauges. */
export interface CacheEventTarget {
  on<K extends CacheEventName>(event: K, listener: CacheEventListener<K>): unknown;
  off<K extends CacheEventName>(event: K, listener: CacheEventListener<K>): unknown;
  stats?(): { readonly backend: BackendStats };
}

/** A running exporter. */
export interface MetricsExporter {
  /** Detaches from the cache; nothing more is recorded. Idempotent. */
  stop(): void;
}

export type EventHandlers = { [K in CacheEventName]?: CacheEventListener<K> };

/** Adds every handler to the cache; `stop()` removes them (and runs `onStop` once). */
export function subscribe(cache: CacheEventTarget, handlers: EventHandlers, onStop?: () => void): MetricsExporter {
  // One listener per name, each typed by its own key; the map type cannot say that per entry.
  const added = Object.entries(handlers) as [CacheEventName, CacheEventListener<CacheEventName>][];
  for (const [name, handler] of added) cache.on(name, handler);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      for (const [name, handler] of added) cache.off(name, handler);
      onStop?.();
    },
  };
}
