import type { EncryptionProvider } from '../crypto/encryptionProvider';
import { CacheVaultError } from '../errors';
import type { StoredEntry } from '../types';
import { MigrationError } from './errors';
import type { EntryFailure } from './types';

/** Re-encryption on the way: open with the source's provider, seal with the destination's. */
export interface Transcode {
  readonly open: EncryptionProvider;
  readonly seal: EncryptionProvider;
}

export type PreparedEntry =
  | { readonly kind: 'write'; readonly entry: StoredEntry }
  | { readonly kind: 'expired' }
  | { readonly kind: 'failed'; readonly failure: EntryFailure };

export interface PrepareOptions {
  readonly transcode: Transcode | undefined;
  readonly now: number;
  /** Entries whose stored value would exceed this are not migrated (reason `too-large`). */
  readonly maxEntryBytes: number;
}

/**
 * Decides what happens to one source entry: skipped (expired), failed (cannot be opened, too
 * large) or written, re-sealed under the destination's encryption with its identity unchanged.
 * A failed open is the entry's problem and is reported; a failed seal is the destination
 * provider's problem (no key) and stops the run.
 */
export async function prepareEntry(entry: StoredEntry, options: PrepareOptions): Promise<PreparedEntry> {
  if (entry.expiresAt !== null && entry.expiresAt <= options.now) return { kind: 'expired' };
  let out = entry;
  if (options.transcode !== undefined) {
    let plaintext: Uint8Array;
    try {
      plaintext = await options.transcode.open.open(entry.value, entry);
    } catch (err) {
      return { kind: 'failed', failure: failureOf(entry, err) };
    }
    let sealed;
    try {
      sealed = await options.transcode.seal.seal(plaintext, entry);
    } catch (err) {
      throw new MigrationError(`Sealing entries for the destination failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
        hint: 'Check that the destination encryption has an active key (key provider reachable, key not retired).',
      });
    }
    out = { namespace: entry.namespace, key: entry.key, expiresAt: entry.expiresAt, value: sealed.bytes, keyId: sealed.keyId, createdAt: entry.createdAt };
  }
  if (out.value.byteLength > options.maxEntryBytes) {
    return {
      kind: 'failed',
      failure: {
        namespace: entry.namespace,
        key: entry.key,
        reason: 'too-large',
        message: `Stored value is ${out.value.byteLength} bytes; the limit for this migration is ${options.maxEntryBytes}.`,
      },
    };
  }
  return { kind: 'write', entry: out };
}

function failureOf(entry: StoredEntry, err: unknown): EntryFailure {
  const reason = err instanceof CacheVaultError ? err.code : 'OPEN_FAILED';
  const message = err instanceof Error ? err.message : String(err);
  return { namespace: entry.namespace, key: entry.key, reason, message };
}
