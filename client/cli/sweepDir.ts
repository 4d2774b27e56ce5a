import { dirname, join, resolve } from 'node:path';
import type { AdvancedCacheConfig } from '../config/schema';

/** Checkpoints of re-encryption sweeps live beside the cache directory (like the key manifest), one per kind of sweep. */
export function sweepStateDir(config: AdvancedCacheConfig, cwd: string, kind: 'rotate' | 'enable' | 'disable'): string {
  return join(dirname(resolve(cwd, config.file.dir)), 'sweeps', `${config.namespace}-${kind}`);
}
