import { createHash } from 'node:crypto';
import { isVersionId, type KeyManifest, type KeyVersionRecord } from './keyManifest';

/**
 * Key ids as entries carry them (in the envelope header, which every open authenticates, and in
 * the clear `keyId` column beside it).
 *
 * A manifest names its versions `k1`, `k2`, ...: unique within one manifest only. Two
 * deployments whose manifests share a table or a file cache (two environments pointed at one
 * table, a test manifest beside a production one) would each read the other's `k1` entries with
 * their own `k1` and count an integrity failure. So entries are sealed under the version id
 * qualified by the manifest's id, `k1:<manifest id>`, and a reader recognises another manifest's
 * entry from the header alone, before any key is looked up (a counted `foreignManifest` miss).
 *
 * The manifest id is derived, not stored: the first 16 hex digits of SHA-256 over the app, the
 * environment and the lowest version's id, creation time and key-check value. That version is
 * never removed (retiring keeps it, with its key-check value), so the id is stable for the life
 * of the manifest and survives a backup and restore; the manifest format is unchanged, so older
 * clients still read it. The key-check value (an HMAC under the random data key) is what makes
 * two manifests of the same app and environment differ, even created in the same millisecond.
 *
 * A legacy manifest (format 1) has no key-check values until it is sealed; its id is then
 * derived without one, and that id stays accepted as an alias after sealing (`acceptedManifestIds`),
 * so entries written before still read.
 *
 * Entries written before key ids were qualified carry the plain `k1`: the manifest that wrote
 * them still reads them, but nothing in them says which manifest that was, so another manifest
 * reading one looks its own `k1` up and fails authentication, as before (an integrity failure).
 */

/** Hex digits of a manifest id (64 bits: a collision among the deployments sharing one table is out of reach). */
const MANIFEST_ID_HEX = 16;
const MANIFEST_ID = /^[0-9a-f]{16}$/;
const SEPARATOR = ':';

function versionNumber(id: string): number {
  return Number(id.slice(1));
}

function lowestVersion(manifest: KeyManifest): KeyVersionRecord | undefined {
  let lowest: KeyVersionRecord | undefined;
  for (const v of manifest.versions) if (lowest === undefined || versionNumber(v.id) < versionNumber(lowest.id)) lowest = v;
  return lowest;
}

function digest(manifest: KeyManifest, version: KeyVersionRecord, check: string): string {
  return createHash('sha256')
    .update(JSON.stringify(['cachevault manifest id v1', manifest.app, manifest.environment, version.id, version.createdAt, check]))
    .digest('hex')
    .slice(0, MANIFEST_ID_HEX);
}

/** The manifest's id; `undefined` while it has no version (no entry can be sealed under it yet). */
export function manifestId(manifest: KeyManifest): string | undefined {
  const lowest = lowestVersion(manifest);
  return lowest === undefined ? undefined : digest(manifest, lowest, lowest.check ?? '');
}

/**
 * Every id entries of this manifest may carry: its id, and for a manifest whose lowest version
 * gained its key-check value when a legacy manifest was sealed, the id it had before.
 */
export function acceptedManifestIds(manifest: KeyManifest): readonly string[] {
  const lowest = lowestVersion(manifest);
  if (lowest === undefined) return [];
  const current = digest(manifest, lowest, lowest.check ?? '');
  return lowest.check === undefined ? [current] : [current, digest(manifest, lowest, '')];
}

/** `k1` and a manifest id as entries carry them: `k1:<manifest id>`. */
export function qualifyKeyId(versionId: string, manifest: string): string {
  return `${versionId}${SEPARATOR}${manifest}`;
}

export interface ParsedKeyId {
  /** The manifest version id, `k1`, `k2`, ... */
  readonly versionId: string;
  /** The manifest id, absent in entries written before key ids were qualified. */
  readonly manifestId?: string;
}

/**
 * A manifest key id read from an entry: `k1` (written before ids were qualified) or
 * `k1:<manifest id>`. `undefined` for anything else (`none`, a process-local `local-...` id,
 * forged bytes).
 */
export function parseKeyId(keyId: string): ParsedKeyId | undefined {
  const at = keyId.indexOf(SEPARATOR);
  if (at < 0) return isVersionId(keyId) ? { versionId: keyId } : undefined;
  const versionId = keyId.slice(0, at);
  const manifest = keyId.slice(at + 1);
  return isVersionId(versionId) && MANIFEST_ID.test(manifest) ? { versionId, manifestId: manifest } : undefined;
}

/** What a reader holding a manifest with `accepted` ids (acceptedManifestIds) makes of an entry's key id. */
export type KeyIdOwner =
  /** A version of this manifest (qualified with its id, or a plain pre-qualification id). */
  | { readonly kind: 'own'; readonly versionId: string }
  /** Another manifest's version: no key here can open it. */
  | { readonly kind: 'foreign'; readonly versionId: string; readonly manifestId: string }
  /** Not a manifest key id (`none`, a process-local key, anything else). */
  | { readonly kind: 'other' };

export function keyIdOwner(keyId: string, accepted: readonly string[]): KeyIdOwner {
  const parsed = parseKeyId(keyId);
  if (parsed === undefined) return { kind: 'other' };
  if (parsed.manifestId === undefined || accepted.includes(parsed.manifestId)) return { kind: 'own', versionId: parsed.versionId };
  return { kind: 'foreign', versionId: parsed.versionId, manifestId: parsed.manifestId };
}

/**
 * Which entries a rotation's re-encryption sweep rewrites: every encrypted entry of this manifest
 * not under `activeVersionId` (or, with `from`, under one of those versions), plus process-local
 * and unknown ids as before. Entries of another manifest sharing the store are left alone: this
 * deployment cannot open them, and they are not its to move.
 */
export function sealedUnderOlderVersion(keyId: string, accepted: readonly string[], activeVersionId: string | undefined, from?: readonly string[]): boolean {
  if (keyId === 'none') return false;
  const owner = keyIdOwner(keyId, accepted);
  if (owner.kind === 'foreign') return false;
  if (owner.kind === 'other') return from === undefined ? keyId !== activeVersionId : from.includes(keyId);
  return from === undefined ? owner.versionId !== activeVersionId : from.includes(owner.versionId);
}
