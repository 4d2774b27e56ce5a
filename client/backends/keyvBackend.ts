/**
 * Any Keyv store as a cachevault tier: `@keyv/redis` (ElastiCache, Valkey), `@keyv/postgres`,
 * `@keyv/sqlite`, Keyv's in-memory Map... With cachevault's envelope encryption, expiry checks,
 * stats and (inside a hybrid) breakers on top: the store only ever holds sealed bytes.
 *
 * What a Keyv store lacks, and how this tier makes up for it (docs/backends.md has the table):
 * - **Namespace clear.** Keyv's `clear()` clears a whole store on some adapters (a Map) and one
 *   Keyv namespace on others, never one of ours. So every cachevault namespace has a generation
 *   number, kept in the store beside the entries, and its entries' keys carry it: `clear(ns)`
 *   bumps the generation, which hides every older entry at once; they then leave with their TTL
 *   (entries that never expire stay until the store drops them). Other processes learn of a
 *   clear within `generationCacheMs`.
 * - **Scan.** Only through the store's iterator (Keyv builds one for a Map; most adapters have
 *   one). Keyv iterators cannot resume, so a page re-walks the store up to its cursor: fine for
 *   migrations of modest stores, slow for large ones. Without an iterator, scan() refuses. A
 *   store that deletes expired entries while it is being walked (Keyv does, past the grace
 *   period below) can make one walk miss a neighbour of the deleted entry.
 * - **Batches.** Keyv's getMany/setMany/deleteMany: one round trip where the adapter supports
 *   it, one call per key otherwise.
 */
import type Keyv from 'keyv';
import { InvalidArgumentError } from '../errors';
import type { BackendCapabilities, EntryPage, ScanOptions, StoredEntry, WriteResult } from '../types';
import { positiveOption } from './backendOptions';
import { BaseBackend, type BaseBackendOptions } from './baseBackend';

export interface KeyvBackendOptions extends BaseBackendOptions {
  /** The Keyv instance over the store (`new Keyv({ store })`); this tier owns its keys under `keyPrefix`. */
  readonly keyv: Keyv;
  /** Whether other machines share the store (Redis, Postgres: true; a Map or a local SQLite: false). */
  readonly shared: boolean;
  /** Whether entries survive the process. @default true */
  readonly persistent?: boolean;
  /** Prefix of every key this tier writes, so it can share a store with other users. @default 'cv' */
  readonly keyPrefix?: string;
  /** How long a namespace's generation is trusted before it is read again. @default 1000 */
  readonly generationCacheMs?: number;
}

/** What the store holds per entry: the sealed bytes and the clear fields a tier needs. */
interface StoredRecord {
  readonly v: string;
  readonly e: number | null;
  readonly k: string;
  readonly c: number;
}

const KEY_PREFIX = /^[A-Za-z0-9._-]{1,32}$/;
/** How long past an entry's expiry the store may still hold it. */
const STORE_TTL_GRACE_MS = 60_000;

export class KeyvBackend extends BaseBackend {
  readonly name = 'keyv';
  readonly capabilities: BackendCapabilities;
  private readonly keyv: Keyv;
  private readonly prefix: string;
  private readonly generationCacheMs: number;
  private readonly generations = new Map<string, { generation: number; readAt: number }>();

  constructor(options: KeyvBackendOptions) {
    super(options);
    if (options === null || typeof options !== 'object' || options.keyv === undefined || typeof options.keyv.get !== 'function') {
      throw new InvalidArgumentError('KeyvBackend needs { keyv, shared }: a Keyv instance over the store.');
    }
    if (typeof options.shared !== 'boolean') throw new InvalidArgumentError('KeyvBackend needs { shared: boolean }: whether other machines see the same store.');
    const prefix = options.keyPrefix ?? 'cv';
    if (!KEY_PREFIX.test(prefix)) throw new InvalidArgumentError(`KeyvBackend keyPrefix must be 1-32 letters, digits, ".", "_" or "-", got ${JSON.stringify(prefix)}.`);
    this.keyv = options.keyv;
    this.prefix = prefix;
    this.generationCacheMs = positiveOption('KeyvBackend', 'generationCacheMs', options.generationCacheMs, 1_000, 'duration');
    this.capabilities = { scanSegments: 1, maxBatchWrite: 100, persistent: options.persistent ?? true, shared: options.shared };
  }

  // Namespaces are identifiers (no "/"), so `<prefix>/<ns>/<generation>/` never collides; the key follows as is.
  private entryKey(namespace: string, generation: number, key: string): string {
    return `${this.prefix}/${namespace}/${generation}/${key}`;
  }

  private generationKey(namespace: string): string {
    return `${this.prefix}/${namespace}/generation`;
  }

  private async generation(namespace: string): Promise<number> {
    const now = this.clock();
    const cached = this.generations.get(namespace);
    if (cached && now - cached.readAt < this.generationCacheMs) return cached.generation;
    const stored: unknown = await this.keyv.get(this.generationKey(namespace));
    // A generation someone planted that is not a small whole number reads as 0: a miss at worst.
    const generation = typeof stored === 'number' && Number.isSafeInteger(stored) && stored >= 0 ? stored : 0;
    this.generations.set(namespace, { generation, readAt: now });
    return generation;
  }

  private decode(namespace: string, key: string, stored: unknown): StoredEntry | undefined {
    if (stored === undefined || stored === null) return undefined;
    const r = stored as Partial<StoredRecord>;
    if (typeof r !== 'object' || typeof r.v !== 'string' || typeof r.k !== 'string' || typeof r.c !== 'number' || !(r.e === null || typeof r.e === 'number')) {
      this.counters.corrupt += 1;
      return undefined;
    }
    return { namespace, key, value: Buffer.from(r.v, 'base64'), expiresAt: r.e, keyId: r.k, createdAt: r.c };
  }

  protected async _get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    const generation = await this.generation(namespace);
    return this.decode(namespace, key, await this.keyv.get(this.entryKey(namespace, generation, key)));
  }

  protected override async _getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    const generation = await this.generation(namespace);
    const found: unknown[] = await this.keyv.getMany(keys.map((k) => this.entryKey(namespace, generation, k)));
    return keys.map((key, i) => this.decode(namespace, key, found[i]));
  }

  protected async _setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    const now = this.clock();
    const rows = await Promise.all(
      entries.map(async (e) => {
        const record: StoredRecord = { v: Buffer.from(e.value).toString('base64'), e: e.expiresAt, k: e.keyId, c: e.createdAt };
        // The store's own TTL reclaims the entry, a grace period after the exact expiry this tier
        // checks on read. Keyv deletes what it finds expired while iterating, which on adapters
        // that page by offset skips a neighbour: the grace keeps that out of a scan's way.
        const ttl = e.expiresAt === null ? undefined : Math.max(1, e.expiresAt - now) + STORE_TTL_GRACE_MS;
        return { key: this.entryKey(e.namespace, await this.generation(e.namespace), e.key), value: record, ttl };
      }),
    );
    const results = await this.keyv.setMany(rows);
    const written = results.filter(Boolean).length;
    return written === entries.length ? { written } : { written, degraded: [{ tier: this.name, reason: `the Keyv store took ${written} of ${entries.length} entries` }] };
  }

  protected async _deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    const generation = await this.generation(namespace);
    // One call per key: Keyv's deleteMany answers one boolean for all, and the count matters.
    const removed = await Promise.all(keys.map((k) => this.keyv.delete(this.entryKey(namespace, generation, k))));
    return removed.filter(Boolean).length;
  }

  protected async _clear(namespace: string | undefined): Promise<void> {
    if (namespace === undefined) {
      // Every namespace this tier knows of: the iterator tells which exist.
      const namespaces = new Set<string>();
      for await (const key of this.ownKeys()) namespaces.add(key.split('/')[1]!);
      for (const ns of namespaces) await this._clear(ns);
      return;
    }
    const next = (await this.generation(namespace)) + 1;
    await this.keyv.set(this.generationKey(namespace), next);
    this.generations.set(namespace, { generation: next, readAt: this.clock() });
  }

  /** Keys of this tier in the store, through the store's iterator. */
  private async *ownKeys(): AsyncGenerator<string> {
    const iterator = this.keyv.iterator;
    if (typeof iterator !== 'function') {
      throw new InvalidArgumentError('This Keyv store has no iterator, so the keyv tier cannot scan or clear everything.', {
        hint: 'Use a Keyv adapter with iterator support for migrations and full clears, or clear one namespace at a time.',
      });
    }
    const own = `${this.prefix}/`;
    for await (const [key] of iterator.call(this.keyv, undefined) as AsyncIterable<[string, unknown]>) {
      if (typeof key === 'string' && key.startsWith(own)) yield key;
    }
  }

  /** The cursor is the number of live entries already returned; each page re-walks the store to it. */
  protected async _scan(options: ScanOptions): Promise<EntryPage> {
    const offset = options.cursor === undefined ? 0 : Number(options.cursor);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidArgumentError('Invalid scan cursor for the keyv backend.', { hint: 'Pass back the cursor a previous scan() of this backend returned, unchanged.' });
    }
    const pageSize = options.pageSize ?? 500;
    const entries: StoredEntry[] = [];
    let index = 0;
    let more = false;
    for await (const storeKey of this.ownKeys()) {
      const [, namespace, generationText, ...rest] = storeKey.split('/');
      if (namespace === undefined || generationText === 'generation' || generationText === undefined || rest.length === 0) continue;
      if (options.namespace !== undefined && namespace !== options.namespace) continue;
      // Entries of an older generation were cleared: not part of the namespace any more.
      if (Number(generationText) !== (await this.generation(namespace))) continue;
      const entry = this.decode(namespace, rest.join('/'), await this.keyv.get(storeKey));
      if (!entry) continue;
      if (!options.includeExpired && entry.expiresAt !== null && entry.expiresAt <= this.clock()) continue;
      if (index++ < offset) continue;
      if (entries.length === pageSize) {
        more = true;
        break;
      }
      entries.push(entry);
    }
    return { entries, cursor: more ? String(offset + entries.length) : undefined };
  }

  /** The Keyv instance belongs to the app, which may share it; closing the tier leaves it open. */
  protected async _close(): Promise<void> {
    this.generations.clear();
  }
}
