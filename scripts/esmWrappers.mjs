/* global process, console */
// Writes the ESM entry points (dist/esm/*.mjs and their .d.mts types) over the CommonJS build.
//
// cachevault ships one implementation, compiled to CommonJS, and thin ESM wrappers that re-export
// it by name (Node's "ESM wrapper" dual-package pattern). `import` and `require` therefore share
// one copy of every module: one instance of each error class (instanceof works whichever way the
// app loaded it), one key cache, one set of once-per-process warnings. The export names come
// from loading each CommonJS entry, so a wrapper can never miss or invent a name.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outDir = join(root, 'dist', 'esm');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

// The wrappers load the AWS SDK entries at build time only to read their names.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'string') continue; // ./package.json
  const cjs = join(root, target.require.default);
  const mjs = join(root, target.import.default);
  const mts = join(root, target.import.types);
  const names = Object.keys(require(cjs)).filter((n) => n !== '__esModule' && n !== 'default');
  const from = `./${relative(dirname(mjs), cjs).split('\\').join('/')}`;
  writeFileSync(
    mjs,
    `// ESM entry for "cachevault${subpath === '.' ? '' : subpath.slice(1)}": the CommonJS build, re-exported by name.\n` +
      `import cjs from '${from}';\n` +
      (names.length > 0 ? `export const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\n` : ''),
  );
  writeFileSync(mts, `export * from '${from}';\n`);
}
console.log(`esm wrappers: ${Object.keys(pkg.exports).length - 1} entries in ${relative(root, outDir)}`);
