/**
 * Opens the configured cache for a command, through the same `createCache` apps use, so the
 * CLI sees exactly the cache an app with this configuration sees.
 */
import { createCache, type CacheVault, type CreateCacheOptions } from '../createCache';
import type { LoadConfigOptions } from '../config/loadConfig';
import { createLogger, silentLogger } from '../logger';

export type CliVault = CacheVault;

/**
 * Library log lines (JSON) would bury the CLI's one-line messages, so they are shown only
 * with --verbose; warnings that matter reach the user through `vault.warnings`.
 */
export async function openVault(options: LoadConfigOptions, verbose = false, mode: Pick<CreateCacheOptions, 'readOnly' | 'recoverKeys'> = {}): Promise<CliVault> {
  return createCache({
    ...options.options,
    configFile: options.file,
    env: options.env,
    cwd: options.cwd,
    ...mode,
    logger: verbose ? createLogger('debug', { component: 'cli' }) : silentLogger,
    keyProviderDeps: { env: options.env },
    // Commands report key problems themselves (health's keys.active step, set's error).
    verifyKeys: false,
  });
}
