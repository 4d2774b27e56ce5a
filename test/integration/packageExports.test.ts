import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');

/**
 * A scratch project that depends on cachevault by path must be able to import it, with types,
 * from TypeScript (nodenext resolution, through the exports map) and from plain Node.
 * Runs against the built package (`npm test` builds first).
 */
describe('the published package', () => {
  test('a scratch TypeScript project imports CacheManager from "cachevault" and MemoryBackend from "cachevault/backends" with types and runs it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-consumer-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'cachevault'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'commonjs' }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], typeRoots: [join(root, 'node_modules/@types')], skipLibCheck: false, outDir: 'out' }, files: ['main.ts'] }),
    );
    writeFileSync(
      join(dir, 'main.ts'),
      [
        "import { CacheManager, type CacheStats } from 'cachevault';",
        "import { MemoryBackend } from 'cachevault/backends';",
        'async function main(): Promise<void> {',
        '  const cache = new CacheManager({ backend: new MemoryBackend() });',
        "  await cache.set('greeting', { text: 'hello' }, { ttlMs: 60_000 });",
        "  const got = await cache.get<{ text: string }>('greeting');",
        '  const stats: CacheStats = cache.stats();',
        '  console.log(JSON.stringify({ text: got?.text, hits: stats.hits }));',
        '}',
        'main();',
      ].join('\n'),
    );
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, stdio: 'pipe' });
    const out = execFileSync(process.execPath, [join(dir, 'out/main.js')], { cwd: dir }).toString();
    expect(JSON.parse(out)).toEqual({ text: 'hello', hits: 1 });
  });

  test('the AWS-backed classes load from their own entry points, and the root entry does not load the AWS SDK', () => {
    const script = [
      "require('cachevault');",
      "const loadedSdk = () => Object.keys(require.cache).some((p) => p.includes('@aws-sdk'));",
      'const rootLoadsSdk = loadedSdk();',
      "const { DynamoDBBackend, TableManager } = require('cachevault/dynamodb');",
      "const { KmsKeyProvider, SecretsManagerManifestStore } = require('cachevault/aws');",
      'console.log(JSON.stringify({ rootLoadsSdk, classes: [DynamoDBBackend, TableManager, KmsKeyProvider, SecretsManagerManifestStore].map((c) => typeof c), sdkAfter: loadedSdk() }));',
    ].join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'cv-consumer-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'cachevault'), 'dir');
    writeFileSync(join(dir, 'main.js'), script);
    const out = JSON.parse(execFileSync(process.execPath, [join(dir, 'main.js')], { cwd: dir }).toString());
    expect(out).toEqual({ rootLoadsSdk: false, classes: ['function', 'function', 'function', 'function'], sdkAfter: true });
  });

  test('the root entry loads neither OpenTelemetry nor Powertools; cachevault/otel loads @opentelemetry/api only when it needs the global meter', () => {
    const script = [
      "const loaded = (name) => Object.keys(require.cache).some((p) => p.includes(`node_modules/${name}`));",
      "const { CacheManager } = require('cachevault');",
      "const root = { otel: loaded('@opentelemetry/'), powertools: loaded('@aws-lambda-powertools/') };",
      "const { otelMetrics } = require('cachevault/otel');",
      "const { emfMetrics } = require('cachevault/emf');",
      "const subpaths = { otel: loaded('@opentelemetry/'), powertools: loaded('@aws-lambda-powertools/') };",
      "const { MemoryBackend } = require('cachevault/backends');",
      'const cache = new CacheManager({ backend: new MemoryBackend() });',
      'const lines = [];',
      'const emf = emfMetrics(cache, { write: (l) => lines.push(l) });',
      "cache.get('k').then(() => {",
      '  emf.flush();',
      '  const afterEmf = { otel: loaded(\'@opentelemetry/\'), powertools: loaded(\'@aws-lambda-powertools/\') };',
      '  otelMetrics(cache);',
      "  console.log(JSON.stringify({ root, subpaths, afterEmf, misses: JSON.parse(lines[0]).Misses, afterOtel: loaded('@opentelemetry/api/') }));",
      '});',
    ].join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'cv-consumer-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'cachevault'), 'dir');
    writeFileSync(join(dir, 'main.js'), script);
    const out = JSON.parse(execFileSync(process.execPath, [join(dir, 'main.js')], { cwd: dir }).toString());
    const none = { otel: false, powertools: false };
    expect(out).toEqual({ root: none, subpaths: none, afterEmf: none, misses: 1, afterOtel: true });
    const esm = execFileSync(process.execPath, ['--input-type=module', '-e', "import { otelMetrics } from 'cachevault/otel'; import { emfMetrics } from 'cachevault/emf'; console.log(typeof otelMetrics, typeof emfMetrics);"], { cwd: dir });
    expect(esm.toString().trim()).toBe('function function');
  });

  test('a type error against the public API is caught by the consumer compiler', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-consumer-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'cachevault'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules/@types')] }, files: ['bad.ts'] }));
    writeFileSync(join(dir, 'bad.ts'), "import { CacheManager } from 'cachevault';\nimport { MemoryBackend } from 'cachevault/backends';\nnew CacheManager({ backend: new MemoryBackend(), defaultTtlMs: 'an hour' });\n");
    let output = '';
    try {
      execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, stdio: 'pipe' });
    } catch (err) {
      output = String((err as { stdout?: Buffer }).stdout);
    }
    expect(output).toMatch(/bad\.ts.*error TS2322.*not assignable to type 'number'/s);
  });
});
