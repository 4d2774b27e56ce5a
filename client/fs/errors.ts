import { CacheVaultError, type CacheVaultErrorOptions } from '../errors';

/**
 * A path cachevault was about to open, write or delete is not safe to use: a symlink, something
 * other than the expected file or directory, owned by another user, or writable by others. The
 * message names the path and why; the hint says how to fix it.
 */
export class UnsafePathError extends CacheVaultError {
  override name = 'UnsafePathError';
  override readonly code = 'UNSAFE_PATH';
  readonly path: string;
  constructor(path: string, reason: string, hint: string, options: CacheVaultErrorOptions = {}) {
    super(`Refusing to use ${path}: ${reason}.`, { ...options, hint, context: { ...options.context, path, reason } });
    this.path = path;
  }
}
