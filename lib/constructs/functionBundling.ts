import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * How the operations Lambdas are bundled, in one place with no CDK import, so the bundle-size
 * benchmark (bench/suites/lambda.ts) and the package build (scripts/bundleFunctions.mjs) build
 * exactly what NodejsFunction deploys.
 */

/** The newest Node.js runtime aws-cdk-lib offers (`Runtime.NODEJS_24_X`); esbuild targets it. */
export const FUNCTION_RUNTIME_NAME = 'nodejs24.x';
export const FUNCTION_ESBUILD_TARGET = 'node24';

/**
 * Left out of the bundles. `@aws-sdk/*`: the runtime's AWS SDK v3 instead of a bundled copy,
 * which keeps each bundle under 1 MB and its cold import short (the benchmark compares both);
 * the client uses only long-stable SDK APIs. The native modules are never loaded in Lambda (the
 * file tier and the OS keyring stay local).
 */
export const FUNCTION_EXTERNAL_MODULES = ['@aws-sdk/*', 'better-sqlite3', '@napi-rs/keyring'] as const;

/** Handler entry files under lambda/, by function name. */
export const FUNCTION_ENTRIES = { health: 'health.ts', 'rotate-keys': 'rotateKeys.ts', migrate: 'migrate.ts' } as const;
export type FunctionName = keyof typeof FUNCTION_ENTRIES;

/**
 * Where `npm run build` writes each handler's bundle, relative to the package root:
 * `dist/functions/<name>/index.js` (handler `index.handler`), one directory per function so each
 * is its own Lambda asset.
 */
export const PREBUILT_FUNCTIONS_DIR = 'dist/functions';

/**
 * The package root, from this file's place in it: `lib/constructs/` in the repository (run from
 * source), `dist/lib/constructs/` in the built and installed package.
 */
function packageRoot(): string {
  const fromSource = join(__dirname, '..', '..');
  return existsSync(join(fromSource, 'package.json')) ? fromSource : join(__dirname, '..', '..', '..');
}

/** Absolute path of a function's handler source (present in the repository, not in the package). */
export function functionEntry(name: FunctionName): string {
  return join(packageRoot(), 'lambda', FUNCTION_ENTRIES[name]);
}

/** Absolute path of a function's prebuilt bundle directory (the package ships it; the repository has it after `npm run build`). */
export function prebuiltFunctionDir(name: FunctionName): string {
  return join(packageRoot(), PREBUILT_FUNCTIONS_DIR, name);
}

/**
 * What a function is deployed from. From the repository (TypeScript sources present) the
 * handler source, bundled at synth by NodejsFunction with the settings above; from the installed
 * package (no sources) the bundle `npm run build` made with the same settings. Either way the
 * same code, so the repository's stacks and an app importing `cachevault/cdk` deploy one
 * implementation.
 */
export type FunctionSource = { readonly kind: 'source'; readonly entry: string } | { readonly kind: 'prebuilt'; readonly dir: string };

export function functionSource(name: FunctionName): FunctionSource {
  const entry = functionEntry(name);
  if (existsSync(entry)) return { kind: 'source', entry };
  const dir = prebuiltFunctionDir(name);
  if (existsSync(join(dir, 'index.js'))) return { kind: 'prebuilt', dir };
  throw new Error(
    `cachevault: neither the ${name} handler source (${entry}) nor its prebuilt bundle (${join(dir, 'index.js')}) exists. ` +
      'An installed cachevault package ships the bundle; from a checkout, run `npm run build`.',
  );
}
