import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../client/errors';
import { loadConfig } from '../../client/config/loadConfig';
import type { CacheConfigInput } from '../../client/config/schema';
import { makeTempCache, type TempCache } from './support/tempCache';
import { hashTree, treeChanges } from './support/treeHash';

/**
 * Whoever writes the config file (or the CACHEVAULT_* environment) of a process can point the
 * cache wherever that process can write, so the guard here is not "the attacker cannot choose",
 * it is: a nonsensical value is refused at start with a ConfigError naming the field, a path
 * that names something that is not cachevault's is refused rather than overwritten or appended
 * to, and no spelling of a key (`__proto__`, `constructor`) sets a field behind the schema's back
 * or reaches Object.prototype. Paths into /etc are simulated by files of a temp tree: the suite
 * may run as root, and must not touch the machine.
 */

let cache: TempCache;
beforeEach(() => {
  cache = makeTempCache();
});
afterEach(() => cache.remove());

/** Loads a config file with the given text (no environment). */
function loadFile(text: string) {
  const file = join(cache.root, 'cachevault.config.json');
  writeFileSync(file, text);
  return loadConfig({ file, env: {}, cwd: cache.root });
}

function expectRefused(text: string, field: string): void {
  let error: unknown;
  try {
    loadFile(text);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).message).toContain(field);
}

/** Opens the cache with `overrides`; returns the error it was refused with, or undefined after a write and a read. */
async function openAndUse(overrides: CacheConfigInput): Promise<unknown> {
  let vault;
  try {
    vault = await cache.open(overrides);
    await vault.cache.set('probe', 'value');
    await vault.cache.get('probe');
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await vault?.close();
  }
}

describe('hostile configuration', () => {
  it.each([
    ['file.maxBytes', '{"file":{"maxBytes":1e30}}'],
    ['file.maxBytes', '{"file":{"maxBytes":-1}}'],
    ['file.spillThresholdBytes', '{"file":{"spillThresholdBytes":0}}'],
    ['memory.maxBytes', '{"memory":{"maxBytes":1e20}}'],
    ['memory.maxEntries', '{"memory":{"maxEntries":0.5}}'],
    ['defaultTtlMs', '{"defaultTtlMs":-5}'],
    ['defaultTtlMs', '{"defaultTtlMs":0}'],
    ['defaultTtlMs', '{"defaultTtlMs":1e300}'],
    ['defaultTtlMs', '{"defaultTtlMs":"1h"}'],
    ['hybrid.staleIfErrorMs', '{"hybrid":{"staleIfErrorMs":-1}}'],
    ['dynamodb.chunkBytes', '{"dynamodb":{"chunkBytes":1e9}}'],
    ['file.busyTimeoutMs', '{"file":{"busyTimeoutMs":-100}}'],
    ['namespace', '{"namespace":"../../etc"}'],
    ['dynamodb.tableName', '{"dynamodb":{"tableName":"../x"}}'],
    ['keys.envKey.variable', '{"keys":{"envKey":{"variable":"lower-case; rm -rf /"}}}'],
  ])('an absurd or malformed %s is refused at load: %s', (field, text) => {
    expectRefused(text, field);
  });

  it.each([
    ['file.maxBytes', { CACHEVAULT_FILE_MAX_BYTES: '1e30' }],
    ['defaultTtlMs', { CACHEVAULT_DEFAULT_TTL_MS: '-5' }],
    ['file.spillThresholdBytes', { CACHEVAULT_FILE_SPILL_THRESHOLD_BYTES: '99999999999999999999' }],
    ['hybrid.tiers', { CACHEVAULT_HYBRID_TIERS: 'file,__proto__' }],
    ['keys.providers', { CACHEVAULT_KEYS_PROVIDERS: 'env,../x' }],
  ])('an absurd %s from the environment is refused at load', (field, env) => {
    let error: unknown;
    try {
      loadConfig({ env, cwd: cache.root });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(field);
  });

  it('a chunk size the DynamoDB tier cannot use is refused when the cache starts', async () => {
    const error = await openAndUse({ backend: 'dynamodb', dynamodb: { chunkBytes: 1, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 } });
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/chunkBytes/);
  });

  it('a top-level __proto__ key in a config file is refused and reaches no prototype', () => {
    expectRefused('{"__proto__":{"backend":"memory","polluted":1}}', '__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a nested __proto__ key in a config file cannot set a field behind the schema (file.dir)', () => {
    let loaded: ReturnType<typeof loadFile> | undefined;
    let error: unknown;
    try {
      loaded = loadFile('{"file":{"__proto__":{"dir":"/etc/cachevault-hijack"}}}');
    } catch (err) {
      error = err;
    }
    // Refused outright, or at least without effect: never a cache directory nobody wrote down.
    if (loaded) expect(loaded.config.file.dir).not.toBe('/etc/cachevault-hijack');
    else expect(error).toBeInstanceOf(ConfigError);
    expect(({} as Record<string, unknown>).dir).toBeUndefined();
  });

  it('constructor.prototype keys in a config file are refused and reach no prototype', () => {
    expectRefused('{"constructor":{"prototype":{"polluted":1}}}', 'constructor');
    expectRefused('{"file":{"constructor":{"prototype":{"polluted":1}}}}', 'constructor');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a key manifest path naming an existing file that is not a manifest is refused and the file is left as it was', async () => {
    const before = readFileSync(cache.victims[0]!);
    const error = await openAndUse({ keys: { manifest: { store: 'file', path: cache.victims[0]! } } });
    expect(error).toBeInstanceOf(Error);
    expect(readFileSync(cache.victims[0]!)).toEqual(before);
  });

  it('a key manifest path naming an existing JSON file that is not a manifest is refused and the file is left as it was', async () => {
    const foreign = join(cache.outsideDir, 'settings.json');
    writeFileSync(foreign, '{"theme":"dark"}\n');
    const error = await openAndUse({ keys: { manifest: { store: 'file', path: foreign } } });
    expect(error).toBeInstanceOf(Error);
    expect(readFileSync(foreign, 'utf8')).toBe('{"theme":"dark"}\n');
  });

  // Broken when written: the audit log appends its JSON lines to whatever file audit.path names.
  it('an audit log path naming an existing file that is not an audit log is refused and the file is left as it was', async () => {
    // As /etc/passwd would be, when the process runs as root.
    const passwd = join(cache.outsideDir, 'passwd');
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\n');
    const error = await openAndUse({ audit: { enabled: true, path: passwd } });
    expect(readFileSync(passwd, 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n');
    expect(error).toBeInstanceOf(Error);
  });

  it('a cache directory pointed at a directory of foreign files leaves every one of them as it was', async () => {
    // As /etc would be: the cache may add its own v1/ there, nothing else changes.
    const etc = join(cache.outsideDir, 'etc');
    mkdirSync(join(etc, 'ssl'), { recursive: true });
    writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost\n');
    writeFileSync(join(etc, 'ssl', 'openssl.cnf'), '[ req ]\n');
    writeFileSync(join(etc, 'cache.db'), 'not a database\n');
    const before = hashTree(etc);
    const vault = await cache.open({ file: { dir: etc } }).catch((err: unknown) => err);
    if (!(vault instanceof Error)) {
      const opened = vault as Awaited<ReturnType<TempCache['open']>>;
      try {
        await opened.cache.set('k', 'x'.repeat(5000));
        await opened.cache.clear();
        await cache.fileBackend(opened).prune();
        await cache.fileBackend(opened).repair();
      } finally {
        await opened.close();
      }
    }
    const changes = treeChanges(before, hashTree(etc, { exclude: ['v1'] })).filter((c) => c !== 'changed .');
    expect(changes).toEqual([]);
  });

  it('a cache directory that is an existing file is refused and the file is left as it was', async () => {
    const before = readFileSync(cache.victims[1]!);
    const error = await openAndUse({ file: { dir: cache.victims[1]! } });
    expect(error).toBeInstanceOf(Error);
    expect(readFileSync(cache.victims[1]!)).toEqual(before);
  });

  it('cache keys and namespaces that look like paths never become paths', async () => {
    const first = await cache.open();
    await first.cache.set('warm-up', 1); // the first write makes the key, the manifest and the audit log
    await first.close();
    const before = cache.hashOutsideCache();
    const vault = await cache.open();
    try {
      const keys = ['../../outside/victim.txt', '/etc/passwd', '..', '../keys.manifest.json', 'a/../../b', '\0', 'C:\\Windows'];
      for (const key of keys) {
        await vault.cache.set(key, `value of ${key}`.repeat(40));
        await vault.cache.namespace('a:b').set(key, 'small');
      }
      for (const key of keys) expect(await vault.cache.get(key)).toBe(`value of ${key}`.repeat(40));
      for (const key of keys) await vault.cache.delete(key);
      await cache.fileBackend(vault).prune();
    } finally {
      await vault.close();
    }
    expect(treeChanges(before, cache.hashOutsideCache())).toEqual([]);
  });
});
