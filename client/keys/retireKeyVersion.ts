import type { CacheBackend } from '../backends/cacheBackend';
import { KeyVersionInUseError, KeyStateError } from './errors';
import { entriesByKeyId, type KeyIdMismatch } from './entriesByKeyId';
import type { KeyManager } from './keyManager';
import { KeyState } from './keyManifest';

export interface RetireKeyVersionOptions {
  readonly keys: KeyManager;
  /** The cache whose entries may still be sealed under the version. */
  readonly backend: CacheBackend;
  readonly keyId: string;
  /** How the backend is named in the refusal (no secrets). @default backend.name */
  readonly backendDescription?: string;
  /** Entries per scan page. @default 500 */
  readonly pageSize?: number;
  /** Parallel scan segments, capped by what the backend supports. @default backend.capabilities.scanSegments */
  readonly concurrency?: number;
}

export interface RetireKeyVersionResult {
  readonly keyId: string;
  /** Live entries the check looked at (none of them under `keyId`). */
  readonly scanned: number;
  /** Live entries whose clear key id disagreed with their envelope header (counted by the header). */
  readonly keyIdMismatches: number;
  readonly mismatchSamples: readonly KeyIdMismatch[];
}

/**
 * Retires a decrypt-only key version only when no live entry of `backend` is still sealed under
 * it: a scan reads the key id in each entry's envelope header (authenticated on every open, so a
 * relabelled clear `keyId` column cannot hide an entry) without opening anything. Otherwise
 * throws KeyVersionInUseError naming how many remain and the sweep that moves them. Expired
 * entries are not counted: they already read as misses.
 *
 * New entries are only ever sealed under the active version, so none can appear under a
 * decrypt-only one between the scan and the retirement. Through a HybridBackend the scan sees the
 * shared (last) tier, as the re-encryption sweep does: entries kept only in a local tier (sealed
 * under a local-only version) are not counted, and read as misses after the retirement.
 */
export async function retireKeyVersion(options: RetireKeyVersionOptions): Promise<RetireKeyVersionResult> {
  const { keys, backend, keyId } = options;
  // The state is checked before the scan, so a wrong id costs no read of the whole cache.
  const version = keys.status().versions.find((v) => v.id === keyId && !v.ephemeral);
  if (version === undefined) {
    throw new KeyStateError(`Key version ${keyId} is not in the manifest.`, { hint: 'Run `cachevault encryption status` or `cachevault status` to list the versions.', context: { keyId } });
  }
  if (version.state !== KeyState.decryptOnly) {
    throw new KeyStateError(`Key version ${keyId} is ${version.state}; only decrypt-only versions can be retired.`, {
      hint: version.state === KeyState.active ? 'Rotate first (`cachevault encryption rotate`), which re-encrypts entries under the new version, then retire this one.' : 'There is nothing left to do.',
      context: { keyId, state: version.state },
    });
  }

  const { total: scanned, byKeyId, mismatched, mismatches } = await entriesByKeyId(backend, { pageSize: options.pageSize, concurrency: options.concurrency });
  const sealedUnder = entriesUnder(keys, byKeyId, keyId);
  if (sealedUnder > 0) throw new KeyVersionInUseError(keyId, sealedUnder, options.backendDescription ?? backend.name);

  await keys.retire(keyId);
  return { keyId, scanned, keyIdMismatches: mismatched, mismatchSamples: mismatches };
}

/**
 * Entries sealed under manifest version `versionId`, whichever form their key id takes: the
 * qualified `k1:<manifest id>` written now (or its legacy alias) or the plain `k1` written before
 * ids were qualified. Another manifest's `k1` sharing the store is not counted: it is not this
 * version's.
 */
function entriesUnder(keys: KeyManager, byKeyId: Readonly<Record<string, number>>, versionId: string): number {
  let count = 0;
  for (const [keyId, n] of Object.entries(byKeyId)) if (keys.isSealedUnder(keyId, versionId)) count += n;
  return count;
}

export interface RetireDrainedVersionsOptions {
  readonly keys: KeyManager;
  readonly backend: CacheBackend;
  /** Only these versions; every decrypt-only version when omitted. */
  readonly only?: readonly string[];
  /** How the backend is named in refusals (no secrets). @default backend.name */
  readonly backendDescription?: string;
  readonly pageSize?: number;
  readonly concurrency?: number;
}

export interface RetireDrainedVersionsResult {
  /** Versions retired (their material destroyed). */
  readonly retired: readonly string[];
  /** Versions kept because live entries are still sealed under them, one error each. */
  readonly inUse: readonly KeyVersionInUseError[];
  /** Live entries whose clear key id disagreed with their envelope header (counted by the header). */
  readonly keyIdMismatches: number;
  readonly mismatchSamples: readonly KeyIdMismatch[];
}

/**
 * Closes a rotation after its re-encryption sweep: retires every decrypt-only version (or those
 * in `only`) that no live entry is sealed under, with one scan for all of them, and keeps the
 * rest (an app that had not reloaded the manifest may have written under one meanwhile).
 */
export async function retireDrainedVersions(options: RetireDrainedVersionsOptions): Promise<RetireDrainedVersionsResult> {
  const { keys, backend, only } = options;
  const candidates = keys
    .status()
    .versions.filter((v) => v.state === KeyState.decryptOnly && !v.ephemeral && (only === undefined || only.includes(v.id)))
    .map((v) => v.id);
  if (candidates.length === 0) return { retired: [], inUse: [], keyIdMismatches: 0, mismatchSamples: [] };
  const { byKeyId, mismatched, mismatches } = await entriesByKeyId(backend, { pageSize: options.pageSize, concurrency: options.concurrency });
  const retired: string[] = [];
  const inUse: KeyVersionInUseError[] = [];
  for (const id of candidates) {
    const sealedUnder = entriesUnder(keys, byKeyId, id);
    if (sealedUnder > 0) {
      inUse.push(new KeyVersionInUseError(id, sealedUnder, options.backendDescription ?? backend.name));
      continue;
    }
    await keys.retire(id);
    retired.push(id);
  }
  return { retired, inUse, keyIdMismatches: mismatched, mismatchSamples: mismatches };
}
