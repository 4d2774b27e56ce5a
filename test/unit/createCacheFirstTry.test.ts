import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createCache, Cache } from '../../client/createCache';
import { CacheManager } from '../../client/core/cacheManager';
import { loadConfig } from '../../client/config/loadConfig';
import { defaultCacheDir } from '../../client/config/platformDefaults';
import { defaultKeyProviders } from '../../client/keys/createKeyProviders';
import { resetWarnOnce } from '../../client/logger';
import type { Logger } from '../../client/types';

const scratch = () => mkdtempSync(join(tmpdir(), 'cv-first-'));
const envKey = () => randomBytes(32).toString('base64');
/** An environment whose platform cache dir is a fresh temp dir, never the real home. */
const isolated = (): NodeJS.ProcessEnv => ({ XDG_CACHE_HOME: scratch(), HOME: scratch() });

/** A logger that records every call, in cachevault's (fields, message) shape. */
function recordingLogger(): Logger & { lines: { level: string; msg: string | undefined }[] } {
  const lines: { level: string; msg: string | undefined }[] = [];
  const at = (level: string) => (_fields: object, msg?: string) => void lines.push({ level, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

beforeEach(() => resetWarnOnce());

describe('createCache on a machine where nothing is configured', () => {
  test('{} is a local cache: hybrid memory + file under the platform cache dir, no DynamoDB tier, region from AWS_REGION', () => {
    const home = scratch();
    const { config, sources } = loadConfig({ cwd: home, env: { HOME: home, XDG_CACHE_HOME: join(home, 'xdg'), AWS_REGION: 'eu-west-3' } });
    expect(config.backend).toBe('hybrid');
    expect(config.hybrid.tiers).toEqual(['memory', 'file']);
    expect(config.file.dir).toBe(join(home, 'xdg', 'cachevault', 'cache'));
    expect(config.dynamodb.region).toBe('eu-west-3');
    expect(sources.has('file.dir')).toBe(false);
  });

  test('the region falls back to AWS_DEFAULT_REGION, then is left to the AWS SDK (never a made-up us-east-1)', () => {
    expect(loadConfig({ cwd: scratch(), env: { AWS_DEFAULT_REGION: 'ap-south-2' } }).config.dynamodb.region).toBe('ap-south-2');
    expect(loadConfig({ cwd: scratch(), env: isolated() }).config.dynamodb.region).toBeUndefined();
  });

  test('the default cache dir follows the platform, and the temp dir on Lambda', () => {
    expect(defaultCacheDir({ HOME: '/home/u' }, 'linux')).toBe('/home/u/.cache/cachevault/cache');
    expect(defaultCacheDir({ HOME: '/home/u', XDG_CACHE_HOME: 'relative' }, 'linux')).toBe('/home/u/.cache/cachevault/cache');
    expect(defaultCacheDir({ HOME: '/Users/u' }, 'darwin')).toBe('/Users/u/Library/Caches/cachevault/cache');
    expect(defaultCacheDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32')).toContain('cachevault');
    expect(defaultCacheDir({ HOME: '/home/sbx_user', AWS_LAMBDA_FUNCTION_NAME: 'fn' }, 'linux')).toBe(join(tmpdir(), 'cachevault', 'cache'));
  });

  test('the key chain follows what is configured: kms with a key id, the keyring where it can exist, then env', () => {
    const installed = () => true;
    expect(defaultKeyProviders({}, {}, installed)).toEqual(['keyring', 'env']);
    expect(defaultKeyProviders({ kms: { keyId: 'alias/app' } }, {}, installed)).toEqual(['kms', 'keyring', 'env']);
    expect(defaultKeyProviders({ kms: { keyId: 'alias/app' } }, { AWS_LAMBDA_FUNCTION_NAME: 'fn' }, installed)).toEqual(['kms', 'env']);
    expect(defaultKeyProviders({}, {}, () => false)).toEqual(['env']);
    expect(loadConfig({ cwd: scratch(), env: { CACHEVAULT_KEYS_KMS_KEY_ID: 'alias/app', AWS_LAMBDA_FUNCTION_NAME: 'fn' } }).config.keys.providers).toEqual(['kms', 'env']);
  });

  test('with no key provider that works, createCache itself fails with NO_KEY_PROVIDER, each provider listed once with its fix', async () => {
    const home = scratch();
    const failure = createCache({ backend: 'memory', keys: { providers: ['env'] }, audit: { enabled: false }, cwd: home, env: { HOME: home }, keyProviderDeps: { env: {} } });
    await expect(failure).rejects.toMatchObject({ code: 'NO_KEY_PROVIDER' });
    const err = (await failure.catch((e: unknown) => e)) as Error & { hint: string };
    expect(err.message.match(/ - env:/g)).toHaveLength(1);
    expect(err.hint).toContain('CACHEVAULT_KEY');
    expect(err.hint).toContain('cachevault init');
  });
});

describe('createCache(config)', () => {
  test('takes the configuration flat and returns the cache itself, its parts as properties', async () => {
    const dir = scratch();
    const cache = await createCache({
      backend: 'file',
      file: { dir: join(dir, 'cache') },
      keys: { providers: ['env'] },
      cwd: dir,
      env: isolated(),
      keyProviderDeps: { env: { CACHEVAULT_KEY: envKey() } },
    });
    try {
      expect(cache).toBeInstanceOf(CacheManager);
      expect(cache).toBeInstanceOf(Cache);
      await cache.set('greeting', 'hello', { ttlMs: 60_000 });
      expect(await cache.get('greeting')).toBe('hello');
      expect(cache.backend.name).toBe('file');
      expect(cache.keyManager?.status().activeKeyId).toMatch(/^k\d+$/);
      expect(cache.config.backend).toBe('file');
      expect(cache.backendName).toBe('file');
      expect(cache.cache).toBe(cache);
    } finally {
      await cache.close();
    }
  });

  test('the old { options: {...} } shape still works, with a deprecation warning on the cache', async () => {
    const cache = await createCache({ cwd: scratch(), env: isolated(), options: { backend: 'memory', encryption: { enabled: false }, audit: { enabled: false } } });
    expect(cache.config.backend).toBe('memory');
    expect(cache.warnings.some((w) => w.includes('deprecated') && w.includes('createCache'))).toBe(true);
    await cache.close();
  });

  test('a number where the options object belongs is a TypeError that says what to pass', async () => {
    const cache = await createCache({ backend: 'memory', encryption: { enabled: false }, audit: { enabled: false }, cwd: scratch(), env: isolated() });
    await expect(cache.set('k', 'v', 1000 as never)).rejects.toThrow(TypeError);
    await expect(cache.set('k', 'v', 1000 as never)).rejects.toThrow('pass { ttlMs: 1000 }');
    await expect(cache.set('k', 'v', { ttl: 5 } as never)).rejects.toThrow('unknown option "ttl"');
    await expect(cache.wrap('k', 'not a function' as never)).rejects.toThrow(TypeError);
    await expect(createCache(42 as never)).rejects.toThrow(TypeError);
    await cache.close();
  });
});

describe('logs are the app\'s', () => {
  test('with no logger passed, createCache writes nothing to stdout or stderr, and the warnings stay on the cache', async () => {
    const out = jest.spyOn(process.stdout, 'write');
    const err = jest.spyOn(process.stderr, 'write');
    try {
      const cache = await createCache({ backend: 'memory', keys: { providers: ['env'] }, audit: { enabled: false }, cwd: scratch(), env: isolated(), keyProviderDeps: { env: { CACHEVAULT_KEY: envKey() } } });
      await cache.set('k', 1);
      expect(cache.warnings.some((w) => w.includes('env key provider'))).toBe(true);
      await cache.close();
      expect(out).not.toHaveBeenCalled();
      expect(err).not.toHaveBeenCalled();
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });

  test('each warning reaches the app\'s logger once per process, however many caches are built', async () => {
    const logger = recordingLogger();
    for (let i = 0; i < 3; i++) {
      const cache = await createCache({ backend: 'memory', keys: { providers: ['env'] }, audit: { enabled: false }, cwd: scratch(), env: isolated(), logger, keyProviderDeps: { env: { CACHEVAULT_KEY: envKey() } } });
      expect(cache.warnings.filter((w) => w.includes('env key provider'))).toHaveLength(1);
      await cache.close();
    }
    expect(logger.lines.filter((l) => l.level === 'warn' && l.msg?.includes('CACHEVAULT_KEY'))).toHaveLength(1);
  });

  test('a message-first logger (console, winston) gets the message first', async () => {
    const calls: unknown[][] = [];
    const consoleLike = { debug: () => {}, info: () => {}, warn: (...args: unknown[]) => void calls.push(args), error: () => {} };
    const cache = await createCache({ backend: 'memory', keys: { providers: ['env'] }, audit: { enabled: false }, cwd: scratch(), env: isolated(), logger: consoleLike, messageFirstLogger: true, keyProviderDeps: { env: { CACHEVAULT_KEY: envKey() } } });
    await cache.close();
    expect(calls[0]?.[0]).toEqual(expect.stringContaining('CACHEVAULT_KEY'));
    expect(typeof calls[0]?.[1]).toBe('object');
  });

  test('a logger without the four methods is refused with a TypeError', async () => {
    await expect(createCache({ backend: 'memory', encryption: { enabled: false }, cwd: scratch(), env: isolated(), logger: { info() {} } as never })).rejects.toThrow('no debug() method');
  });
});

describe('read-only use creates nothing', () => {
  test('loading the configuration (what status, health and config show start with) creates no directory', () => {
    const home = scratch();
    loadConfig({ cwd: home, env: { HOME: home, XDG_CACHE_HOME: join(home, 'xdg') } });
    expect(readdirSync(home)).toEqual([]);
    expect(existsSync(join(home, 'xdg'))).toBe(false);
  });
});
