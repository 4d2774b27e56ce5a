/**
 * A test-only backend type, `map`, written the way a new backend is added (docs/backends.md,
 * "Adding a backend"): this one file (the storage class and its registry definition) plus one
 * line in a registry's list. Its entries live in named in-process Maps, so two backends opened
 * on the same store name see each other's writes: a stand-in for a shared store such as Redis,
 * which lets the tests show a registered type becoming a shared hybrid tier.
 */
import type { BackendDefinition, ZodApi } from '../../client/backends/registry';
import { BaseBackend, type BaseBackendOptions } from '../../client/backends/baseBackend';
import { InvalidArgumentError } from '../../client/errors';
import type { BackendCapabilities, BackendStats, EntryPage, ScanOptions, StoredEntry, WriteResult } from '../../client/types';

const stores = new Map<string, Map<string, StoredEntry>>();
const SEP = '\u0000';

export interface MapBackendOptions extends BaseBackendOptions {
  /** Backends opened on the same store name share its entries. */
  readonly store: string;
  /** Writes past this many entries are refused. */
  readonly maxEntries: number;
}

export class MapBackend extends BaseBackend {
  readonly name = 'map';
  readonly capabilities: BackendCapabilities = { scanSegments: 1, maxBatchWrite: 100, persistent: false, shared: true };
  private readonly store: Map<string, StoredEntry>;
  private readonly maxEntries: number;

  constructor(options: MapBackendOptions) {
    super(options);
    let store = stores.get(options.store);
    if (store === undefined) stores.set(options.store, (store = new Map()));
    this.store = store;
    this.maxEntries = options.maxEntries;
  }

  /** Forgets every store (between tests). */
  static reset(): void {
    stores.clear();
  }

  protected async _get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    return this.store.get(namespace + SEP + key);
  }

  protected async _setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    const added = entries.filter((e) => !this.store.has(e.namespace + SEP + e.key)).length;
    if (this.store.size + added > this.maxEntries) throw new InvalidArgumentError(`The map store is full (${this.maxEntries} entries).`);
    for (const entry of entries) this.store.set(entry.namespace + SEP + entry.key, entry);
    return { written: entries.length };
  }

  protected async _deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    return keys.filter((key) => this.store.delete(namespace + SEP + key)).length;
  }

  protected async _clear(namespace: string | undefined): Promise<void> {
    for (const id of [...this.store.keys()]) if (namespace === undefined || id.startsWith(namespace + SEP)) this.store.delete(id);
  }

  /** The cursor is the last id returned; ids are walked in sorted order, so a page resumes after it. */
  protected async _scan(options: ScanOptions): Promise<EntryPage> {
    if (options.cursor !== undefined && !options.cursor.includes(SEP)) throw new InvalidArgumentError('Invalid scan cursor for the map backend.');
    const pageSize = options.pageSize ?? 500;
    const ids = [...this.store.keys()]
      .filter((id) => options.namespace === undefined || id.startsWith(options.namespace + SEP))
      .filter((id) => options.cursor === undefined || id > options.cursor)
      .sort();
    const page = ids.slice(0, pageSize);
    return { entries: page.map((id) => this.store.get(id)!), cursor: ids.length > pageSize ? page[page.length - 1] : undefined };
  }

  protected async _close(): Promise<void> {}

  protected override _statsExtra(): Pick<BackendStats, 'entries'> {
    return { entries: this.store.size };
  }
}

function mapConfig(z: ZodApi) {
  return z.strictObject({
    /** Backends on the same store name share entries. */
    store: z.string().regex(/^[a-z0-9-]{1,40}$/).default('default'),
    maxEntries: z.number().int().positive().default(10_000),
  });
}

export const mapBackendDefinition: BackendDefinition<'map', ReturnType<typeof mapConfig>> = {
  type: 'map',
  configSection: mapConfig,
  capabilities: { shared: true, persistent: false, hybridTier: true },
  spec: {
    examples: ['map:orders', 'map:orders?maxEntries=100'],
    parameters: { maxEntries: 'int' },
    fromLocation: (location) => (location === '' ? { problem: 'map: needs a store name, e.g. map:orders' } : { store: location }),
    identity: (section) => ({ location: section.store, parameters: [] }),
  },
  async create({ section, deps }) {
    return { backend: new MapBackend({ ...section, clock: deps.clock, logger: deps.logger }), warnings: [] };
  },
};
