import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the file tier (and, beside it, the key manifest and audit log) lives when `file.dir` is
 * not configured: the platform's per-user cache directory, never the working directory (which is
 * read-only on Lambda and in many containers, and would be a surprise anywhere else).
 *
 * - Lambda (`AWS_LAMBDA_FUNCTION_NAME` set): the temp dir, the only writable path there.
 * - Linux and other Unixes: `$XDG_CACHE_HOME/cachevault`, else `~/.cache/cachevault`.
 * - macOS: `~/Library/Caches/cachevault`.
 * - Windows: `%LOCALAPPDATA%\cachevault`, else `~\AppData\Local\cachevault`.
 *
 * The cache itself goes in `cache/` under that directory; the manifest and audit log beside it.
 */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.AWS_LAMBDA_FUNCTION_NAME) return join(tmpdir(), 'cachevault');
  if (platform === 'win32') return join(env.LOCALAPPDATA || join(env.USERPROFILE || homedir(), 'AppData', 'Local'), 'cachevault');
  if (platform === 'darwin') return join(env.HOME || homedir(), 'Library', 'Caches', 'cachevault');
  const xdg = env.XDG_CACHE_HOME;
  // XDG says a relative value is invalid and must be ignored.
  if (xdg && xdg.startsWith('/')) return join(xdg, 'cachevault');
  return join(env.HOME || homedir(), '.cache', 'cachevault');
}

/** The default `file.dir`: `cache/` under {@link defaultCacheRoot}. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  return join(defaultCacheRoot(env, platform), 'cache');
}

/** The region the AWS SDK would take from the environment, if any; else the SDK resolves it (profile, IMDS). */
export function regionFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
}
