/* global console */
// Bundles the operations Lambdas' handlers into dist/functions/<name>/index.js, for the package.
//
// In a checkout, `cachevault/cdk`'s CacheFunction bundles lambda/*.ts at synth (NodejsFunction).
// An installed package has no TypeScript sources, so it deploys these bundles instead
// (lambda.Code.fromAsset). Both are made with the settings in lib/constructs/functionBundling.ts,
// read here from the compiled build, so the two cannot drift apart.
import { rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const settings = require(join(root, 'dist/lib/constructs/functionBundling.js'));
const outRoot = join(root, settings.PREBUILT_FUNCTIONS_DIR);
rmSync(outRoot, { recursive: true, force: true });

const sizes = [];
for (const [name, entry] of Object.entries(settings.FUNCTION_ENTRIES)) {
  const outfile = join(outRoot, name, 'index.js');
  // The options NodejsFunction passes esbuild for CacheFunction's `bundling` (cacheFunction.ts).
  await build({
    entryPoints: [join(root, 'lambda', entry)],
    outfile,
    bundle: true,
    minify: true,
    sourcemap: false,
    platform: 'node',
    format: 'cjs',
    target: settings.FUNCTION_ESBUILD_TARGET,
    external: [...settings.FUNCTION_EXTERNAL_MODULES],
    logLevel: 'warning',
  });
  sizes.push(`${name} ${Math.round(statSync(outfile).size / 1024)} KB`);
}
console.log(`function bundles in ${relative(root, outRoot)}: ${sizes.join(', ')}`);
