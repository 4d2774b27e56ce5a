import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileBackend } from '../../../client/backends/fileBackend';
import type { CacheConfigInput } from '../../../client/config/schema';
import { createCache, type CacheVault, type CreateCacheOptions } from '../../../client/createCache';
import type { Clock } from '../../../client/types';
import { cacheDbPath, CacheDb } from './cacheDb';
import { hashTree, type TreeSnapshot } from './treeHash';

/**
 * A temp tree holding one file-tier cache and its neighbours, laid out as a local deployment
 * lays them out, plus files an attacker would like to reach:
 *
 * ```
 * <root>/cache/                 the cache directory (file.dir): the only place allowed to change
 * <root>/keys.manifest.json     the key manifest (default path: beside the cache directory)
 * <root>/audit.jsonl            the audit log (default path: beside the cache directory)
 * <root>/outside/               victims: a text file, a SQLite-looking file, a nested directory
 * ```
 */
export interface TempCache {
  readonly root: string;
  readonly cacheDir: string;
  readonly manifestPath: string;
  readonly auditPath: string;
  readonly outsideDir: string;
  /** Victim files under outside/, absolute paths. */
  readonly victims: readonly string[];
  /** The root key (base64) the env provider reads, as `CACHEVAULT_KEY`. */
  readonly rootKey: string;
  /** The environment a CLI run against this cache needs (env key provider, paths, file backend). */
  readonly env: Record<string, string>;
  /** Opens the cache (backend `file` unless overridden) with the env key; close it before editing files. */
  open(overrides?: CacheConfigInput, options?: { clock?: Clock; rootKey?: string }): Promise<CacheVault>;
  /** The file tier of an opened vault. */
  fileBackend(vault: CacheVault): FileBackend;
  /** Opens the cache database directly (close every vault first). */
  db(): CacheDb;
  readonly dbPath: string;
  /** Hashes everything in the temp tree except the cache directory: manifest, audit log and outside/. */
  hashOutsideCache(): TreeSnapshot;
  /** Hashes the whole temp tree, cache directory included (read-only commands must leave it all unchanged). */
  hashAll(): TreeSnapshot;
  remove(): void;
}

export interface TempCacheOptions {
  /**
   * Start as a byte-for-byte copy of another temp cache's tree (same root key): cheaper than
   * filling a cache again when each attempt needs a pristine one to damage.
   */
  readonly copyOf?: TempCache;
  /** Config merged over the defaults below (file backend, env key, silent logs, small spill threshold). */
  readonly config?: CacheConfigInput;
}

/** Values at or above this size spill to blob files in every temp cache, so small tests reach blobs. */
export const TEST_SPILL_THRESHOLD = 256;

export function makeTempCache(options: TempCacheOptions = {}): TempCache {
  const root = mkdtempSync(join(tmpdir(), 'cv-sec-'));
  if (options.copyOf) cpSync(options.copyOf.root, root, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  const cacheDir = join(root, 'cache');
  const manifestPath = join(root, 'keys.manifest.json');
  const auditPath = join(root, 'audit.jsonl');
  const outsideDir = join(root, 'outside');
  const victims = [join(outsideDir, 'victim.txt'), join(outsideDir, 'other.db'), join(outsideDir, 'nested', 'deep.bin')];
  if (!options.copyOf) {
    mkdirSync(join(outsideDir, 'nested'), { recursive: true });
    writeFileSync(victims[0]!, 'a file that no cache operation may touch\n');
    writeFileSync(victims[1]!, Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(256)]));
    writeFileSync(victims[2]!, randomBytes(1024));
  }
  const rootKey = options.copyOf?.rootKey ?? randomBytes(32).toString('base64');

  const base = (): CacheConfigInput => ({
    backend: 'file',
    file: { dir: cacheDir, spillThresholdBytes: TEST_SPILL_THRESHOLD },
    keys: { providers: ['env'], manifest: { store: 'file', path: manifestPath } },
    audit: { enabled: true, path: auditPath },
    logging: { level: 'silent' },
  });

  const env: Record<string, string> = {
    CACHEVAULT_KEYS_PROVIDERS: 'env',
    CACHEVAULT_KEY: rootKey,
    CACHEVAULT_BACKEND: 'file',
    CACHEVAULT_FILE_DIR: cacheDir,
    CACHEVAULT_FILE_SPILL_THRESHOLD_BYTES: String(TEST_SPILL_THRESHOLD),
    CACHEVAULT_KEYS_MANIFEST_PATH: manifestPath,
    CACHEVAULT_AUDIT_PATH: auditPath,
  };

  return {
    root,
    cacheDir,
    manifestPath,
    auditPath,
    outsideDir,
    victims,
    rootKey,
    env,
    dbPath: cacheDbPath(cacheDir),
    open(overrides = {}, openOptions = {}) {
      const key = openOptions.rootKey ?? rootKey;
      const createOptions: CreateCacheOptions = {
        ...mergeConfig(mergeConfig(base(), options.config ?? {}), overrides),
        cwd: root,
        env: {},
        clock: openOptions.clock,
        keyProviderDeps: { env: { CACHEVAULT_KEY: key } },
      };
      return createCache(createOptions);
    },
    fileBackend(vault) {
      const backend = vault.backend as FileBackend;
      if (backend.name !== 'file') throw new Error(`expected the file backend, got ${backend.name}`);
      return backend;
    },
    db: () => new CacheDb(cacheDir),
    hashOutsideCache: () => hashTree(root, { exclude: ['cache'] }),
    hashAll: () => hashTree(root),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Deep merge of plain config objects (arrays and scalars of `over` win). */
function mergeConfig(base: CacheConfigInput, over: CacheConfigInput): CacheConfigInput {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    const b = out[k];
    out[k] = isPlain(v) && isPlain(b) ? mergeConfig(b as CacheConfigInput, v as CacheConfigInput) : v;
  }
  return out as CacheConfigInput;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
