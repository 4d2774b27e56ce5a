import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The package as a user gets it: `npm pack`ed, extracted into a scratch app outside the
 * repository, with its dependencies (and, per case, its optional peers) linked from this
 * checkout's node_modules, so the test runs offline. Needs dist/ (`npm test` builds first).
 */
const root = resolve(__dirname, '../..');
const repoModules = join(root, 'node_modules');
const tsc = join(repoModules, 'typescript/bin/tsc');
const esbuild = join(repoModules, 'esbuild/bin/esbuild');
const DEPENDENCIES = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);

let tarball: string;

beforeAll(() => {
  const packDir = mkdtempSync(join(tmpdir(), 'cv-pack-'));
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', packDir], { cwd: root, stdio: 'pipe' });
  tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz'))!);
}, 120_000);

/** A scratch app with the tarball installed and `extra` optional peers beside the dependencies. */
function scratchApp(extra: readonly string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'cv-app-'));
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '@aws-sdk'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', modules]);
  execFileSync('mv', [join(modules, 'package'), join(modules, 'cachevault')]);
  for (const dep of [...DEPENDENCIES, ...extra]) symlinkSync(join(repoModules, dep), join(modules, dep), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true }));
  return dir;
}

/** One root key per scratch directory: a cache made under one key is refused under another. */
const keys = new Map<string, string>();

/** A headless machine: no keyring, no AWS credentials, cache and temp dirs of its own, a key in the env. */
function appEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  if (!keys.has(dir)) keys.set(dir, randomBytes(32).toString('base64'));
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  return {
    PATH: process.env.PATH,
    HOME: dir,
    TMPDIR: tmp,
    XDG_CACHE_HOME: join(dir, 'xdg-cache'),
    CACHEVAULT_KEY: keys.get(dir),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}

const run = (dir: string, args: string[], env = appEnv(dir)): string =>
  execFileSync(process.execPath, args, { cwd: dir, env, encoding: 'utf8', stdio: 'pipe' });

const HANDLER = [
  "import { createCache } from 'cachevault';",
  'let cache;',
  'export const handler = async (event) => {',
  "  cache ??= await createCache({ backend: 'memory', audit: { enabled: false } });",
  "  await cache.set('greeting', { text: event.text }, { ttlMs: 60_000 });",
  "  return { value: await cache.get('greeting'), providers: cache.config.keys.providers };",
  '};',
].join('\n');

describe('the packed package in a scratch app', () => {
  test('require and import both load it, and share one copy of the error classes', () => {
    const dir = scratchApp();
    writeFileSync(join(dir, 'main.cjs'), [
      "const { createCache, CacheVaultError } = require('cachevault');",
      "const { MemoryBackend } = require('cachevault/backends');",
      '(async () => {',
      "  const cache = await createCache({ backend: 'file' });",
      "  await cache.set('k', 'cjs');",
      '  const esm = await import("cachevault");',
      "  console.log(JSON.stringify({ got: await cache.get('k'), same: esm.CacheVaultError === CacheVaultError, memory: typeof MemoryBackend, dir: cache.config.file.dir }));",
      '  await cache.close();',
      '})();',
    ].join('\n'));
    writeFileSync(join(dir, 'main.mjs'), [
      "import { createCache, ConfigError } from 'cachevault';",
      "import { AeadEncryption } from 'cachevault/crypto';",
      "const cache = await createCache({ backend: 'memory', audit: { enabled: false } });",
      "await cache.set('k', 'esm');",
      'let code;',
      "try { await createCache({ backend: 'redis' }); } catch (e) { code = e instanceof ConfigError && e.code; }",
      "console.log(JSON.stringify({ got: await cache.get('k'), aead: typeof AeadEncryption, code }));",
    ].join('\n'));
    const cjs = JSON.parse(run(dir, ['main.cjs']));
    expect(cjs).toEqual({ got: 'cjs', same: true, memory: 'function', dir: join(dir, 'xdg-cache', 'cachevault', 'cache') });
    expect(JSON.parse(run(dir, ['main.mjs']))).toEqual({ got: 'esm', aead: 'function', code: 'CONFIG_INVALID' });
  });

  test('an esbuild ESM bundle and a CJS bundle of a Lambda handler run with no node_modules beside them', () => {
    const dir = scratchApp();
    writeFileSync(join(dir, 'handler.mjs'), HANDLER);
    // The documented settings (README "Bundling"): native and AWS SDK modules external, and for
    // ESM output a require for the CommonJS code inside the bundle.
    const common = ['handler.mjs', '--bundle', '--platform=node', '--log-level=error', '--external:better-sqlite3', '--external:@napi-rs/keyring', '--external:@aws-sdk/*'];
    const banner = "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";
    execFileSync(esbuild, [...common, '--format=esm', '--outfile=out/handler.mjs', banner], { cwd: dir });
    execFileSync(esbuild, [...common, '--format=cjs', '--outfile=out/handler.cjs'], { cwd: dir });
    const lambdaDir = mkdtempSync(join(tmpdir(), 'cv-lambda-'));
    execFileSync('cp', [join(dir, 'out/handler.mjs'), join(dir, 'out/handler.cjs'), lambdaDir]);
    const env = appEnv(lambdaDir, { AWS_LAMBDA_FUNCTION_NAME: 'scratch' });
    const esm = run(lambdaDir, ['--input-type=module', '-e', "const { handler } = await import('./handler.mjs'); console.log(JSON.stringify(await handler({ text: 'esm' })));"], env);
    const cjs = run(lambdaDir, ['-e', "require('./handler.cjs').handler({ text: 'cjs' }).then((r) => console.log(JSON.stringify(r)));"], env);
    // On Lambda the default chain has no keyring: env only (no KMS key configured).
    expect(JSON.parse(esm)).toEqual({ value: { text: 'esm' }, providers: ['env'] });
    expect(JSON.parse(cjs)).toEqual({ value: { text: 'cjs' }, providers: ['env'] });
  });

  // skipLibCheck only speeds up the cases after the first: an import that does not resolve is
  // still an error in main.ts itself. The first case checks the package's declarations too.
  test.each([
    ['node16, ESM', { module: 'node16', moduleResolution: 'node16', skipLibCheck: false }, 'main.mts'],
    ['node16, CommonJS', { module: 'node16', moduleResolution: 'node16', skipLibCheck: true }, 'main.cts'],
    ['bundler', { module: 'preserve', moduleResolution: 'bundler', skipLibCheck: true }, 'main.ts'],
    // zod's own declarations need esModuleInterop under legacy resolution (tsc --init sets it).
    ['node (legacy, typesVersions)', { module: 'commonjs', moduleResolution: 'node', esModuleInterop: true, skipLibCheck: true }, 'main.ts'],
  ])('TypeScript resolves the root and subpath types under moduleResolution %s', (_name, options, file) => {
    const dir = scratchApp(['@aws-sdk/client-dynamodb', '@aws-sdk/client-kms', '@aws-sdk/client-secrets-manager']);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'es2022', types: ['node'], typeRoots: [join(repoModules, '@types')], ...options },
      files: [file],
    }));
    writeFileSync(join(dir, file), [
      "import { createCache, CacheVaultError, type Cache, type CacheConfigInput } from 'cachevault';",
      "import { MemoryBackend } from 'cachevault/backends';",
      "import { KeyManager } from 'cachevault/keys';",
      "import type { DynamoDBBackend } from 'cachevault/dynamodb';",
      "import { powertoolsLogger } from 'cachevault/powertools';",
      "import { cacheResponse, httpRequestKey, openCache } from 'cachevault/middy';",
      "const config: CacheConfigInput = { backend: 'memory' };",
      "export const responses = cacheResponse({ cache: openCache(config), key: httpRequestKey(), ttlMs: 60_000 });",
      'export async function open(): Promise<Cache> { return createCache({ ...config, logger: powertoolsLogger(console) }); }',
      'export const parts: unknown[] = [MemoryBackend, KeyManager, CacheVaultError];',
      'export type Dynamo = DynamoDBBackend;',
      "// @ts-expect-error a number where the options object belongs",
      "export const bad = (c: Cache) => c.set('k', 1, 1000);",
    ].join('\n'));
    let diagnostics = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, stdio: 'pipe', encoding: 'utf8' });
    } catch (err) {
      diagnostics = String((err as { stdout?: string }).stdout) || String(err);
    }
    expect(diagnostics).toBe('');
  });

  test('without the optional AWS packages, a DynamoDB configuration names the package to install', () => {
    const dir = scratchApp();
    writeFileSync(join(dir, 'main.cjs'), [
      "const { createCache } = require('cachevault');",
      "createCache({ backend: 'dynamodb', dynamodb: { endpoint: 'http://127.0.0.1:9' }, encryption: { enabled: false }, audit: { enabled: false } })",
      '  .then(() => console.log("started"), (e) => console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })));',
    ].join('\n'));
    const out = JSON.parse(run(dir, ['main.cjs']));
    expect(out.code).toBe('DEPENDENCY_MISSING');
    expect(out.message).toContain('@aws-sdk/client-dynamodb');
    expect(out.hint).toContain('npm install @aws-sdk/client-dynamodb');
  });

  test('loading the root entry loads no AWS SDK, zod, msgpackr or native module', () => {
    const dir = scratchApp();
    const out = run(dir, ['-e', "require('cachevault'); console.log(JSON.stringify(Object.keys(require.cache).filter((p) => p.includes('node_modules/') && !p.includes('node_modules/cachevault/'))))"]);
    expect(JSON.parse(out)).toEqual([]);
  });
});
