import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Where the operations functions' code comes from, by layout: the module is copied into scratch
 * package trees shaped like a checkout and like the installed package, and loaded from there.
 */
const source = join(__dirname, '../../../lib/constructs/functionBundling.ts');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

type Module = typeof import('../../../lib/constructs/functionBundling');
function packageTree(files: Record<string, string>, modulePath: string): { root: string; mod: Module } {
  const root = mkdtempSync(join(tmpdir(), 'cv-functions-'));
  dirs.push(root);
  for (const [path, content] of Object.entries({ 'package.json': '{"name":"cachevault"}', ...files })) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  mkdirSync(dirname(join(root, modulePath)), { recursive: true });
  copyFileSync(source, join(root, modulePath));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return { root, mod: require(join(root, modulePath)) as Module };
}

describe('functionSource', () => {
  it('in a checkout (handler sources present) bundles the TypeScript source at synth', () => {
    const { root, mod } = packageTree({ 'lambda/health.ts': 'export const handler = 1;', 'dist/functions/health/index.js': '' }, 'lib/constructs/functionBundling.ts');
    expect(mod.functionSource('health')).toEqual({ kind: 'source', entry: join(root, 'lambda/health.ts') });
  });

  it('in the installed package (no sources) deploys the bundle the build made', () => {
    const { root, mod } = packageTree({ 'dist/functions/migrate/index.js': 'exports.handler = 1;' }, 'dist/lib/constructs/functionBundling.ts');
    expect(mod.functionSource('migrate')).toEqual({ kind: 'prebuilt', dir: join(root, 'dist/functions/migrate') });
  });

  it('with neither, fails naming both paths and the build to run', () => {
    const { root, mod } = packageTree({}, 'dist/lib/constructs/functionBundling.ts');
    expect(() => mod.functionSource('rotate-keys')).toThrow(
      `neither the rotate-keys handler source (${join(root, 'lambda/rotateKeys.ts')}) nor its prebuilt bundle (${join(root, 'dist/functions/rotate-keys/index.js')}) exists`,
    );
    expect(() => mod.functionSource('rotate-keys')).toThrow(/npm run build/);
  });
});
