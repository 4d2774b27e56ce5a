import { join } from 'node:path';

/**
 * How the operations Lambdas are bundled, in one place with no CDK import, so the bundle-size
 * benchmark (bench/suites/lambda.ts) builds exactly what NodejsFunction deploys.
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

/** Absolute path of a function's handler source. */
export function functionEntry(name: FunctionName): string {
  return join(__dirname, '../../lambda', FUNCTION_ENTRIES[name]);
}
