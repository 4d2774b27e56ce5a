import type { KeyManifest } from './keyManifest';

/** Where the key manifest lives. Everything in it is wrapped, so any store is safe for it. */
export interface ManifestStore {
  /** Where, for messages and `status()` (a path or secret id; never credentials). */
  readonly description: string;
  /**
   * Whether other machines read the same manifest (Secrets Manager). A shared store never gets a
   * version that only this machine's local root key wraps as its active key.
   */
  readonly shared: boolean;
  /** The current manifest, or `undefined` when none was written yet. */
  load(): Promise<KeyManifest | undefined>;
  save(manifest: KeyManifest): Promise<void>;
  /**
   * Runs a read-modify-write of the manifest exclusively among processes sharing the store, so
   * two processes creating the first key (or rotating) at once cannot overwrite each other's
   * version. Stores without it (Secrets Manager: rotation goes through its rotation function)
   * run `fn` directly.
   */
  exclusive?<T>(fn: () => Promise<T>): Promise<T>;
}
