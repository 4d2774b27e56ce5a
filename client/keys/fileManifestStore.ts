import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../fs/atomicWrite';
import { withLockFile } from '../fs/lockFile';
import { ManifestError } from './errors';
import { parseManifest, serializeManifest, type KeyManifest } from './keyManifest';
import type { ManifestStore } from './manifestStore';

const STALE_LOCK_MS = 60_000;

/** File name of the manifest when it is kept beside the cache directory. */
export const MANIFEST_FILE_NAME = 'keys.manifest.json';

/** The manifest path for a cache directory: beside it, not inside it (the cache may be wiped). */
export function defaultManifestPath(cacheDir: string): string {
  return join(dirname(resolve(cacheDir)), MANIFEST_FILE_NAME);
}

/**
 * The key manifest as a JSON file (mode 0600). Written to a unique temp file opened with `wx`,
 * fsynced, then renamed over the old one, so a reader never sees half a manifest and a crash
 * mid-write leaves the previous one intact.
 */
export class FileManifestStore implements ManifestStore {
  readonly shared = false;
  readonly path: string;
  private readonly lockTimeoutMs: number;

  /** @param lockTimeoutMs how long `exclusive` waits for another process. @default 10000 */
  constructor(path: string, lockTimeoutMs = 10_000) {
    this.path = resolve(path);
    this.lockTimeoutMs = lockTimeoutMs;
  }

  /** Holds `<path>.lock` (created with `wx`) while `fn` runs; a lock older than 60 s is stale. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const lock = `${this.path}.lock`;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    return withLockFile(
      lock,
      {
        staleMs: STALE_LOCK_MS,
        timeoutMs: this.lockTimeoutMs,
        onError: (error) => new ManifestError(`Could not lock the key manifest at ${this.path}: ${(error as Error).message}`, { cause: error }),
        onTimeout: () =>
          new ManifestError(`Timed out waiting for another process to finish changing the key manifest (${lock}).`, {
            hint: 'If no cachevault process is running, delete the .lock file.',
          }),
      },
      fn,
    );
  }

  get description(): string {
    return this.path;
  }

  async load(): Promise<KeyManifest | undefined> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ManifestError(`Could not read the key manifest at ${this.path}: ${(error as Error).message}`, {
        cause: error,
        hint: 'Check the file permissions (it should be readable by this user, mode 0600).',
      });
    }
    return parseManifest(text, this.path);
  }

  async save(manifest: KeyManifest): Promise<void> {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      writeFileAtomicSync(this.path, serializeManifest(manifest), { flush: 'full' });
      chmodSync(this.path, 0o600);
    } catch (error) {
      throw new ManifestError(`Could not write the key manifest at ${this.path}: ${(error as Error).message}`, {
        cause: error,
        hint: 'Check that the directory exists, is writable and has free space; the previous manifest is unchanged.',
      });
    }
  }
}
