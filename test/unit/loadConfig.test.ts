import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configLeaves, envVarName, loadConfig } from '../../client/config/loadConfig';
import { ConfigError } from '../../client/errors';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'cv-config-'));

describe('loadConfig', () => {
  test('an empty setup yields the documented defaults', () => {
    const { config, file } = loadConfig({ env: {}, cwd: emptyDir() });
    expect(file).toBeUndefined();
    expect(config.backend).toBe('hybrid');
    expect(config.defaultTtlMs).toBe(3_600_000);
    expect(config.file.durability).toBe('normal');
    expect(config.encryption).toMatchObject({ enabled: true, algorithm: 'aes-256-gcm' });
  });

  test('file < environment < options, with the source of each value recorded', () => {
    const dir = emptyDir();
    writeFileSync(join(dir, 'cachevault.config.json'), JSON.stringify({ backend: 'file', file: { maxEntries: 10, dir: '/tmp/from-file' } }));
    const { config, sources } = loadConfig({
      cwd: dir,
      env: { CACHEVAULT_FILE_MAX_ENTRIES: '20', CACHEVAULT_DYNAMODB_CONSISTENT_READ: 'true' },
      options: { file: { maxEntries: 30 } },
    });
    expect(config.backend).toBe('file');
    expect(config.file.dir).toBe('/tmp/from-file');
    expect(config.file.maxEntries).toBe(30);
    expect(config.dynamodb.consistentRead).toBe(true);
    expect(sources.get('backend')).toBe(`file:${join(dir, 'cachevault.config.json')}`);
    expect(sources.get('file.maxEntries')).toBe('options');
    expect(sources.get('dynamodb.consistentRead')).toBe('env:CACHEVAULT_DYNAMODB_CONSISTENT_READ');
  });

  test('CACHEVAULT_CONFIG names the config file', () => {
    const dir = emptyDir();
    const path = join(dir, 'other.json');
    writeFileSync(path, JSON.stringify({ namespace: 'from-env-file' }));
    expect(loadConfig({ env: { CACHEVAULT_CONFIG: path }, cwd: emptyDir() }).config.namespace).toBe('from-env-file');
  });

  test('invalid config fails fast naming every bad field, its value, source and what is allowed', () => {
    const dir = emptyDir();
    writeFileSync(join(dir, 'cachevault.config.json'), JSON.stringify({ backend: 'redis', file: { maxBytes: -1 } }));
    let error: ConfigError | undefined;
    try {
      loadConfig({ cwd: dir, env: { CACHEVAULT_DEFAULT_TTL_MS: 'soon' } });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = error!.issues.map((i) => i.path).sort();
    expect(paths).toEqual(['backend', 'defaultTtlMs', 'file.maxBytes']);
    const backend = error!.issues.find((i) => i.path === 'backend')!;
    expect(backend.value).toBe('"redis"');
    expect(backend.expected).toMatch(/memory|file|dynamodb|hybrid/);
    expect(error!.issues.find((i) => i.path === 'defaultTtlMs')!.source).toBe('env:CACHEVAULT_DEFAULT_TTL_MS');
    expect(error!.message).toContain('file.maxBytes');
  });

  test('unknown fields are rejected rather than silently ignored', () => {
    expect(() => loadConfig({ env: {}, cwd: emptyDir(), options: { file: { maxBytse: 1 } } as never })).toThrow(/maxBytse/);
  });

  test('an unknown field holding a secret is named in the error but its value, and its siblings, are not printed', () => {
    const secret = 'c2VjcmV0LWtleS1tYXRlcmlhbC0xMjM0NTY3ODkw';
    let error: unknown;
    try {
      loadConfig({ env: {}, cwd: emptyDir(), options: { keys: { envKey: { variable: 'K', material: secret } } } as never });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/material/);
    expect((error as ConfigError).message).not.toContain(secret);
    expect(JSON.stringify((error as ConfigError).issues)).not.toContain(secret);
  });

  test('a config file that is not JSON is a clear error naming the file', () => {
    const dir = emptyDir();
    writeFileSync(join(dir, 'cachevault.config.json'), '{ "backend": "file", }');
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrow(/cachevault\.config\.json is not valid JSON/);
  });

  test('deprecated option names keep working with one warning each', () => {
    const { config, warnings } = loadConfig({ env: {}, cwd: emptyDir(), options: { ttl: 60, backendType: 'memory' } as never });
    expect(config.defaultTtlMs).toBe(60_000);
    expect(config.backend).toBe('memory');
    expect(warnings.filter((w) => w.includes('deprecated'))).toHaveLength(2);
  });

  test('insecure settings warn: no encryption on a shared backend', () => {
    const { warnings } = loadConfig({ env: {}, cwd: emptyDir(), options: { backend: 'dynamodb', encryption: { enabled: false } } });
    expect(warnings.join('\n')).toMatch(/Encryption is disabled on a shared backend/);
  });

  test('every leaf field has a CACHEVAULT_ environment variable', () => {
    const names = configLeaves().map((l) => envVarName(l.path));
    expect(names).toContain('CACHEVAULT_FILE_MAX_BYTES');
    expect(names).toContain('CACHEVAULT_KEYS_KMS_KEY_ID');
    expect(new Set(names).size).toBe(names.length);
  });

  test('the hybrid replay queue settings default as HybridBackend does and come from the environment', () => {
    expect(loadConfig({ env: {}, cwd: emptyDir() }).config.hybrid).toMatchObject({ maxPendingReplays: 10_000, durableReplays: true });
    const { config, sources } = loadConfig({ env: { CACHEVAULT_HYBRID_MAX_PENDING_REPLAYS: '250', CACHEVAULT_HYBRID_DURABLE_REPLAYS: 'false' }, cwd: emptyDir() });
    expect(config.hybrid).toMatchObject({ maxPendingReplays: 250, durableReplays: false });
    expect(sources.get('hybrid.maxPendingReplays')).toBe('env:CACHEVAULT_HYBRID_MAX_PENDING_REPLAYS');
    expect(() => loadConfig({ env: { CACHEVAULT_HYBRID_MAX_PENDING_REPLAYS: '0' }, cwd: emptyDir() })).toThrow(ConfigError);
  });

  test('list values come from comma-separated environment variables', () => {
    const { config } = loadConfig({ env: { CACHEVAULT_KEYS_PROVIDERS: 'kms, keyring' }, cwd: emptyDir() });
    expect(config.keys.providers).toEqual(['kms', 'keyring']);
  });
});

describe('loadConfig and prototype keys', () => {
  it.each([
    ['{"__proto__":{"backend":"memory"}}', '__proto__'],
    ['{"file":{"__proto__":{"dir":"/etc/hijack"}}}', 'file.__proto__'],
    ['{"file":{"constructor":{"prototype":{"x":1}}}}', 'file.constructor'],
  ])('refuses a config file holding %s, naming %s, and pollutes nothing', (text, path) => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-proto-'));
    const file = join(dir, 'cachevault.config.json');
    writeFileSync(file, text);
    let error: unknown;
    try {
      loadConfig({ file, env: {} });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.path)).toEqual([path]);
    expect(({} as Record<string, unknown>).dir).toBeUndefined();
  });
});

describe('loadConfig and the hybrid shared tier', () => {
  it('{} stays on this machine; naming a table or an endpoint adds DynamoDB; explicit tiers win', () => {
    expect(loadConfig({ env: {} }).config.hybrid.tiers).toEqual(['memory', 'file']);
    expect(loadConfig({ env: { CACHEVAULT_DYNAMODB_TABLE_NAME: 'my-cache' } }).config.hybrid.tiers).toEqual(['memory', 'file', 'dynamodb']);
    expect(loadConfig({ env: {}, options: { dynamodb: { endpoint: 'http://127.0.0.1:8000' } } }).config.hybrid.tiers).toEqual(['memory', 'file', 'dynamodb']);
    expect(loadConfig({ env: { CACHEVAULT_DYNAMODB_TABLE_NAME: 'my-cache', CACHEVAULT_HYBRID_TIERS: 'memory' } }).config.hybrid.tiers).toEqual(['memory']);
  });
});
