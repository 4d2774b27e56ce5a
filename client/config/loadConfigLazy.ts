import type { LoadConfigOptions, LoadedConfig } from './loadConfig';

/*
 * The root entry's config functions. The schema is built with zod, which alone costs more to
 * load than the rest of the root entry; these load it on first call, so `import 'cachevault'`
 * stays cheap and only an app that loads a configuration pays for validating it.
 */

/** Loads defaults < file < environment < options, validates, and reports every bad field. */
export function loadConfig(input: LoadConfigOptions = {}): LoadedConfig {
  return impl().loadConfig(input);
}

/** `file.maxBytes` -> `CACHEVAULT_FILE_MAX_BYTES`. */
export function envVarName(path: string): string {
  return impl().envVarName(path);
}

function impl(): typeof import('./loadConfig') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./loadConfig') as typeof import('./loadConfig');
}
