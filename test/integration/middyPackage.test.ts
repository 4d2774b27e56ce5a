/**
 * `cachevault/middy` as an app gets it: the built package (`npm test` builds first), the example
 * of docs/integrations.md run as a script, and a real process stopped with SIGTERM.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const tsx = join(root, 'node_modules/tsx/dist/cli.mjs');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
// A fixed test key for the env key provider (SHA-256 of a phrase, base64); never a real one.
const TEST_KEY = 'JfECIMRagJmvQvfMAJY4oAp4MmPqsNALXSWAK8SkU8U=';

/** SQLite removes the write-ahead log when the last connection closes cleanly, and only then. */
const closedCleanly = (cacheDir: string) => existsSync(join(cacheDir, 'cache/v1/cache.db')) && !existsSync(join(cacheDir, 'cache/v1/cache.db-wal'));

describe('the cachevault/middy example', () => {
  test('runs: a repeated GET is answered from the cache, another language and a POST run the handler, and the cache closes when the script ends', () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'cv-middy-example-'));
    const out = execFileSync(process.execPath, [tsx, join(root, 'examples/middy/invoke.mts')], {
      cwd: root,
      env: { ...process.env, CACHE_DIR: cacheDir, CACHEVAULT_KEY: TEST_KEY },
      encoding: 'utf8',
    });
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^GET \/products\/42: 200 handler ran \{"id":"42","name":"Screw 42"/);
    expect(lines[1]).toBe(lines[0]!.replace('GET /products/42:', 'GET /products/42 again:').replace('handler ran', 'answered from the cache'));
    expect(lines[2]).toMatch(/^GET \/products\/42 in German: 200 handler ran \{"id":"42","name":"Schraube 42"/);
    expect(lines[3]).toMatch(/^POST \/products\/42: 202 handler ran/);
    expect(lines[4]).toMatch(/^handler runs: 3, database loads: 2;/);
    expect(closedCleanly(cacheDir)).toBe(true);
  });

  test('type-checks against the published types, as an ESM Lambda project (nodenext) would', () => {
    let diagnostics = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', join(root, 'examples/middy')], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
    } catch (err) {
      diagnostics = String((err as { stdout?: string }).stdout) || String(err);
    }
    expect(diagnostics).toBe('');
  });
});

describe('the cachevault/middy entry', () => {
  const node = (args: string[], cwd = root) => execFileSync(process.execPath, args, { cwd, encoding: 'utf8' });

  test('loads with require and with import, and loads neither @middy/core nor Powertools', () => {
    const cjs = JSON.parse(node(['-e', [
      "const m = require('cachevault/middy');",
      "const loaded = Object.keys(require.cache).filter((p) => /node_modules\\/(@middy|@aws-lambda-powertools)\\//.test(p));",
      'console.log(JSON.stringify({ names: [typeof m.cacheResponse, typeof m.openCache, typeof m.cacheLifecycle, typeof m.cacheMetrics, typeof m.powertoolsLogger], loaded }));',
    ].join('\n')]));
    expect(cjs).toEqual({ names: ['function', 'function', 'function', 'function', 'function'], loaded: [] });
    const esm = JSON.parse(node(['--input-type=module', '-e', [
      "const m = await import('cachevault/middy');",
      "const cjs = (await import('node:module')).createRequire(import.meta.url)('cachevault/middy');",
      // One implementation behind both: the ESM entry re-exports the CommonJS build.
      'console.log(JSON.stringify({ same: m.LambdaCache === cjs.LambdaCache, names: [typeof m.cacheResponse, typeof m.openCache] }));',
    ].join('\n')]));
    expect(esm).toEqual({ same: true, names: ['function', 'function'] });
  });

  test('the root entry does not load the middy integration', () => {
    const loaded = JSON.parse(node(['-e', "require('cachevault'); console.log(JSON.stringify(Object.keys(require.cache).filter((p) => p.includes('/integrations/') || p.includes('@middy'))))"]));
    expect(loaded).toEqual([]);
  });

  test('SIGTERM closes the cache, then the process stops on the signal as it would have', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-middy-sigterm-'));
    writeFileSync(join(dir, 'main.cjs'), [
      `const { openCache } = require(${JSON.stringify(join(root, 'dist/client/exports/middy.js'))});`,
      `const vault = openCache({ backend: 'file', file: { dir: ${JSON.stringify(join(dir, 'cache'))} }, keys: { providers: ['env'] }, cwd: ${JSON.stringify(dir)} });`,
      "vault.get().then(async (cache) => { await cache.set('greeting', 'hello'); console.log('ready'); });",
      'setInterval(() => {}, 60_000); // an environment waiting for its next invocation',
    ].join('\n'));
    const child = spawn(process.execPath, [join(dir, 'main.cjs')], { cwd: dir, env: { ...process.env, CACHEVAULT_KEY: TEST_KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    await new Promise<void>((ready, failed) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) ready();
      });
      child.on('exit', () => failed(new Error(`exited before it was ready: ${stderr}`)));
    });
    expect(existsSync(join(dir, 'cache/v1/cache.db-wal'))).toBe(true); // open, with writes in its log
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('exit', (code, signal) => done({ code, signal })));
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(closedCleanly(dir)).toBe(true);
    expect(stderr).toBe('');
  });
});
