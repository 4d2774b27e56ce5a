import type { BackendDefinition, ZodApi } from './types';

/** The `memory` section: an in-process LRU, bounded by entries and bytes. */
function memoryConfig(z: ZodApi) {
  const positiveInt = z.number().int().positive();
  return z.strictObject({
    /** Most entries held in memory. */
    maxEntries: positiveInt.default(10_000),
    /** Most bytes held in memory. */
    maxBytes: positiveInt.default(64 * 1024 * 1024),
    /**
     * Memory hits hand every caller one deep-frozen decoded object instead of a copy each. Read
     * by createCache (CacheManager's `sharedValues`), not by the backend, which holds bytes only.
     */
    sharedValues: z.boolean().default(false),
  });
}

/** The in-process tier (memoryBackend.ts): fast, private to the process, gone when it exits. */
export const memoryBackendDefinition: BackendDefinition<'memory', ReturnType<typeof memoryConfig>> = {
  type: 'memory',
  configSection: memoryConfig,
  capabilities: { shared: false, persistent: false, hybridTier: true },
  // Bounded by the source's scan, not by the writes.
  estimatedEntriesPerSecond: 50_000,
  spec: {
    examples: ['memory:', 'memory:?maxEntries=1000'],
    parameters: { maxEntries: 'int', maxBytes: 'int' },
    fromLocation: (location) => (location === '' ? {} : { problem: 'memory: takes no location (write memory: or memory:?maxEntries=N)' }),
    identity: () => ({ location: '', parameters: [] }),
  },
  async create({ section, deps }) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { MemoryBackend } = require('../memoryBackend') as typeof import('../memoryBackend');
    const { maxEntries, maxBytes } = section;
    return { backend: new MemoryBackend({ clock: deps.clock, logger: deps.logger, maxEntries, maxBytes }), warnings: [] };
  },
};
