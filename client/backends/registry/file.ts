import { isAbsolute, resolve } from 'node:path';
import type { BackendDefinition, ZodApi } from './types';

/** The `file` section: the SQLite cache on local disk. */
function fileConfig(z: ZodApi) {
  const positiveInt = z.number().int().positive();
  return z.strictObject({
    /**
     * Directory of the local cache (created when the file tier first writes). Unset, `loadConfig`
     * puts it under the platform cache directory (see `defaultCacheDir`); this default is what a
     * bare `FileConfig.parse({})` gets, relative to the working directory.
     */
    dir: z.string().min(1).default('.cachevault/cache'),
    /** Upper bound on stored bytes; least recently used entries are evicted past it. */
    maxBytes: positiveInt.default(1024 * 1024 * 1024),
    /** Upper bound on entries. */
    maxEntries: positiveInt.default(1_000_000),
    /** `normal`: fast, a power cut may lose the last writes. `full`: fsync on every write. */
    durability: z.enum(['normal', 'full']).default('normal'),
    /** Values at least this large are stored as files beside the database. */
    spillThresholdBytes: positiveInt.default(64 * 1024),
    /** How long a writer waits for another process's lock before failing. */
    busyTimeoutMs: positiveInt.default(5_000),
  });
}

/** The local disk tier (fileBackend.ts, SQLite through better-sqlite3). */
export const fileBackendDefinition: BackendDefinition<'file', ReturnType<typeof fileConfig>> = {
  type: 'file',
  configSection: fileConfig,
  capabilities: { shared: false, persistent: true, hybridTier: true },
  // The SQLite tier takes ~7,000 writes/s here; leave room for the scan.
  estimatedEntriesPerSecond: 5_000,
  spec: {
    examples: ['file:./cache', 'file:/var/cache/app?durability=full'],
    parameters: { durability: 'string', maxBytes: 'int', maxEntries: 'int', spillThresholdBytes: 'int', busyTimeoutMs: 'int' },
    fromLocation(location, cwd) {
      if (location === '') return { problem: 'file: needs a directory, e.g. file:./cache or file:/var/cache/app' };
      return { dir: isAbsolute(location) ? location : resolve(cwd, location) };
    },
    identity: (section, cwd) => ({ location: resolve(cwd, section.dir), parameters: [] }),
  },
  localPath: (section) => section.dir,
  async create({ section, deps }) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { FileBackend } = require('../fileBackend') as typeof import('../fileBackend');
    return { backend: new FileBackend({ ...section, clock: deps.clock, logger: deps.logger }), warnings: [] };
  },
};
