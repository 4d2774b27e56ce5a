/**
 * cachevault as a Keyv store: `new Keyv({ store: new KeyvCacheVaultStore({ cache }) })`, so
 * keyv, cacheable and cache-manager v7 users get an encrypted, tiered store by changing one line.
 *
 * Keyv hands the store keys already prefixed with its namespace (`ns:key`) and values it has
 * serialized itself (`{ value, expires }` as a string), and keeps its own `expires` beside the
 * value. This store adds what a Keyv store cannot: the value is sealed by the cache's envelope
 * encryption (bound to namespace, key and expiry) and stored in whichever tiers the cache has;
 * the TTL Keyv passes becomes the entry's own expiry, so every tier drops it on time.
 *
 * Each Keyv namespace maps to a cachevault namespace of its own (`keyv.<namespace>`), so
 * `clear()` is the cache's namespace clear (one write on DynamoDB, whatever the entry count)
 * and never touches another namespace's entries. No iterator: scanning would decrypt every
 * entry of the namespace; Keyv treats `iterator` as optional.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { CacheManager } from '../core/cacheManager';

export interface KeyvCacheVaultStoreOptions {
  /** The cache entries go to: a `createCache` result, or any CacheManager. */
  readonly cache: CacheManager;
  /**
   * Prefix of the cachevault namespaces this store writes to; the Keyv namespace follows it.
   * @default 'keyv'
   */
  readonly namespacePrefix?: string;
}

/** The characters a cachevault namespace allows; anything else is hashed into one. */
const SAFE_NAMESPACE = /^[A-Za-z0-9._:-]{1,96}$/;

export class KeyvCacheVaultStore extends EventEmitter {
  /** Keyv reads its store's options; ours say what the store is, never the cache's secrets. */
  readonly opts: { readonly dialect: 'cachevault'; readonly namespacePrefix: string };
  /** Set by Keyv to its own namespace (`keyv` by default). */
  namespace: string | undefined;
  private readonly cache: CacheManager;
  private readonly views = new Map<string, CacheManager>();

  constructor(options: KeyvCacheVaultStoreOptions) {
    super();
    if (options === null || typeof options !== 'object' || typeof options.cache?.namespace !== 'function') {
      throw new TypeError('KeyvCacheVaultStore needs { cache }: a cache from createCache() or a CacheManager.');
    }
    this.cache = options.cache;
    const prefix = options.namespacePrefix ?? 'keyv';
    if (!SAFE_NAMESPACE.test(prefix)) throw new TypeError(`KeyvCacheVaultStore namespacePrefix must be 1-96 letters, digits, ".", "_", ":" or "-", got ${JSON.stringify(prefix)}.`);
    this.opts = { dialect: 'cachevault', namespacePrefix: prefix };
  }

  /** The cachevault namespace for Keyv's current namespace. */
  private view(): CacheManager {
    const ns = this.namespace ?? '';
    let view = this.views.get(ns);
    if (!view) {
      const suffix = ns === '' ? '' : SAFE_NAMESPACE.test(ns) ? `.${ns}` : `.h-${createHash('sha256').update(ns).digest('hex').slice(0, 32)}`;
      view = this.cache.namespace(`${this.opts.namespacePrefix}${suffix}`);
      this.views.set(ns, view);
    }
    return view;
  }

  async get<Value>(key: string): Promise<Value | undefined> {
    return this.view().get<Value>(key);
  }

  async getMany<Value>(keys: string[]): Promise<(Value | undefined)[]> {
    return this.view().getMany<Value>(keys);
  }

  async has(key: string): Promise<boolean> {
    return this.view().has(key);
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.has(key)));
  }

  /** `ttl` in milliseconds, as Keyv passes it; none (or not positive) keeps the entry until cleared. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const result = await this.view().set(key, value, { ttlMs: ttlOf(ttl) });
    return result.written > 0;
  }

  async setMany(values: { key: string; value: unknown; ttl?: number }[]): Promise<void> {
    await this.view().setMany(values.map((v) => ({ key: v.key, value: v.value, ttlMs: ttlOf(v.ttl) })));
  }

  async delete(key: string): Promise<boolean> {
    return this.view().delete(key);
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    return (await this.view().deleteMany(keys)) > 0;
  }

  async clear(): Promise<void> {
    await this.view().clear();
  }

  /** The cache belongs to the app, which closes it; Keyv's disconnect leaves it open. */
  async disconnect(): Promise<void> {}
}

function ttlOf(ttl: number | undefined): number | null {
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? Math.ceil(ttl) : null;
}
