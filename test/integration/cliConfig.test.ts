import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliWorkspace, expectCleanError, type CliWorkspace } from './cliRunner';

interface ConfigShow {
  file: string | null;
  values: { path: string; value: unknown; source: string; env: string }[];
  warnings: string[];
}

describe('cachevault config (built CLI)', () => {
  let ws: CliWorkspace;
  beforeAll(() => {
    ws = cliWorkspace();
  });
  afterAll(() => ws.remove());

  it('config show reports each value with where it came from, and redacts nothing it need not', async () => {
    const file = join(ws.dir, 'show.json');
    writeFileSync(file, JSON.stringify({ namespace: 'from-file', memory: { maxEntries: 42 } }));
    const { code, body } = await ws.json<ConfigShow>(['--config', file, 'config', 'show'], { env: { CACHEVAULT_FILE_MAX_BYTES: '123456' } });
    expect(code).toBe(0);
    expect(body.file).toBe(file);
    const byPath = new Map(body.values.map((v) => [v.path, v]));
    expect(byPath.get('namespace')).toMatchObject({ value: 'from-file', source: `file:${file}`, env: 'CACHEVAULT_NAMESPACE' });
    expect(byPath.get('memory.maxEntries')).toMatchObject({ value: 42, source: `file:${file}` });
    expect(byPath.get('file.maxBytes')).toMatchObject({ value: 123456, source: 'env:CACHEVAULT_FILE_MAX_BYTES' });
    expect(byPath.get('defaultTtlMs')).toMatchObject({ value: 3_600_000, source: 'default' });
    expect(byPath.get('keys.providers')).toMatchObject({ value: ['env'], source: 'env:CACHEVAULT_KEYS_PROVIDERS' });
  });

  it('config show in human form prints a table with the sources', async () => {
    const { code, stdout } = await ws.run(['config', 'show']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^KEY\s+VALUE\s+SOURCE/m);
    expect(stdout).toMatch(/^namespace\s+"default"\s+default$/m);
  });

  it('config show never prints the env key itself', async () => {
    const { stdout, stderr } = await ws.run(['config', 'show', '--json']);
    expect(stdout + stderr).not.toContain(ws.env.CACHEVAULT_KEY);
  });

  it('config validate accepts a good file and exits 0', async () => {
    const file = join(ws.dir, 'good.json');
    writeFileSync(file, JSON.stringify({ backend: 'file', file: { dir: './c' } }));
    const { code, body } = await ws.json<{ valid: boolean; file: string }>(['config', 'validate', file]);
    expect(code).toBe(0);
    expect(body).toMatchObject({ valid: true, file });
  });

  it('config validate names the bad field of a malformed config and exits 2', async () => {
    const file = join(ws.dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ file: { maxBytes: 'lots' }, dynamodb: { tablename: 'x' } }));
    const { code, stderr } = await ws.run(['config', 'validate', file]);
    expect(code).toBe(2);
    expectCleanError(stderr);
    expect(stderr).toContain('file.maxBytes');
    expect(stderr).toContain('tablename');
  });

  it('a config file that is not JSON fails with exit 2 and says so', async () => {
    const file = join(ws.dir, 'broken.json');
    writeFileSync(file, '{ "backend": "file", }');
    const { code, stderr } = await ws.run(['--config', file, 'status']);
    expect(code).toBe(2);
    expectCleanError(stderr);
    expect(stderr).toContain('is not valid JSON');
  });

  it('--json errors are a JSON document on stdout with code, message and hint', async () => {
    const { code, body } = await ws.json<{ ok: boolean; error: { code: string; message: string; hint: string } }>(['--config', join(ws.dir, 'missing.json'), 'config', 'show']);
    expect(code).toBe(2);
    expect(body.ok).toBe(false);
    expect(body.error.code).toBe('CONFIG_INVALID');
    expect(body.error.message).toContain('does not exist');
    expect(body.error.hint).toContain('--config');
  });

  it('config set writes a typed, validated value and config show then reports it from the file', async () => {
    const file = join(ws.dir, 'set.json');
    const set = await ws.json<{ file: string; key: string; value: unknown; created: boolean }>(['--config', file, 'config', 'set', 'file.maxBytes', '2048']);
    expect(set.code).toBe(0);
    expect(set.body).toMatchObject({ file, key: 'file.maxBytes', value: 2048, created: true });
    await ws.run(['--config', file, 'config', 'set', 'hybrid.tiers', 'memory,file']);
    await ws.run(['--config', file, 'config', 'set', 'defaultTtlMs', 'null']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ file: { maxBytes: 2048 }, hybrid: { tiers: ['memory', 'file'] }, defaultTtlMs: null });
    const show = await ws.json<ConfigShow>(['--config', file, 'config', 'show']);
    expect(show.body.values.find((v) => v.path === 'file.maxBytes')).toMatchObject({ value: 2048, source: `file:${file}` });
  });

  it('config set refuses an invalid value and leaves the file unchanged', async () => {
    const file = join(ws.dir, 'keep.json');
    writeFileSync(file, JSON.stringify({ namespace: 'keep' }));
    const bad = await ws.run(['--config', file, 'config', 'set', 'file.durability', 'sometimes']);
    expect(bad.code).toBe(2);
    expectCleanError(bad.stderr);
    expect(bad.stderr).toContain('file.durability');
    const unknown = await ws.run(['--config', file, 'config', 'set', 'file.maxbytes', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown config key "file.maxbytes"');
    expect(unknown.stderr).toContain('file.maxBytes');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ namespace: 'keep' });
  });

  it('config test tries each tier and the key provider and says what works', async () => {
    const { code, body } = await ws.json<{ ok: boolean; checks: { component: string; name: string; ok: boolean; detail?: string }[] }>(['config', 'test'], {
      env: { CACHEVAULT_HYBRID_TIERS: 'memory,file' },
    });
    expect(body.checks.map((c) => `${c.component}:${c.name}:${c.ok}`)).toEqual(['backend:memory:true', 'backend:file:true', 'keys:env:true']);
    expect(body.ok).toBe(true);
    expect(code).toBe(0);
  });

  it('config test reports an unreachable DynamoDB endpoint as not working, with exit 3 when other parts work', async () => {
    const { code, body } = await ws.json<{ ok: boolean; checks: { component: string; name: string; ok: boolean; detail?: string }[] }>(['config', 'test'], {
      env: { CACHEVAULT_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9', CACHEVAULT_DYNAMODB_MAX_ATTEMPTS: '1', CACHEVAULT_DYNAMODB_REQUEST_TIMEOUT_MS: '500' },
    });
    const dynamo = body.checks.find((c) => c.name === 'dynamodb');
    expect(dynamo?.ok).toBe(false);
    expect(dynamo?.detail).toMatch(/ECONNREFUSED|reach/i);
    expect(body.checks.find((c) => c.name === 'file')?.ok).toBe(true);
    expect(body.ok).toBe(false);
    expect(code).toBe(3);
  });
});
