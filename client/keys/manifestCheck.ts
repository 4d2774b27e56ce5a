import { ManifestError, ManifestIntegrityError, ManifestIntegrityFailure } from './errors';
import type { KeyManifest } from './keyManifest';
import { verifyManifestSeal, type ManifestSealer } from './manifestSeal';
import type { RevisionPin } from './revisionPin';

/** What a client knows when it reads the manifest, against which the stored copy is judged. */
export interface ManifestCheckContext {
  /** The store's description, for messages. */
  readonly where: string;
  readonly app: string;
  readonly environment: string;
  /** The highest revision this client has seen (memory and pin store), and whether it saw it sealed. */
  readonly pin: RevisionPin;
  /** The revision of the copy in memory. */
  readonly memoryRevision: number;
  /** Whether this client has seen key versions in it (a pin above 0, or versions in memory). */
  readonly seenKeys: boolean;
  /** Verifies the MAC; without one, manifests are neither sealed nor checked. */
  readonly sealer?: ManifestSealer;
}

/**
 * The verdict on a manifest just read from its store: `manifest` to use (undefined: there is none
 * yet, a first run) and `unsealed` when it is a legacy manifest without a MAC, usable only by an
 * explicit seal or rotation. Throws, changing nothing, when the store's copy is not one this
 * client may use: missing or blanked where keys existed, another deployment's, a MAC that does
 * not verify, unsealed where a sealed one was seen (downgrade), or below the revision seen
 * (rollback).
 */
export async function checkLoadedManifest(loaded: KeyManifest | undefined, context: ManifestCheckContext): Promise<{ manifest: KeyManifest | undefined; unsealed?: ManifestIntegrityError }> {
  const { where, pin } = context;
  if (!loaded) {
    // A missing or blank manifest where keys existed is lost or replaced keys, not a first run.
    if (context.seenKeys) {
      throw new ManifestIntegrityError(ManifestIntegrityFailure.missing, `The key manifest at ${where} is missing or blank, but this client has seen it at revision ${Math.max(pin.revision, context.memoryRevision)}.`, {
        hint: 'Nothing was changed and no new key was made. Restore the manifest from a key backup (`cachevault keys restore FILE`) or from the store\'s history; if every key is truly lost, remove the revision pin and the cache together and start over.',
        context: { where },
      });
    }
    return { manifest: undefined };
  }
  if (loaded.app !== context.app || loaded.environment !== context.environment) {
    throw new ManifestError(
      `The key manifest at ${where} belongs to app "${loaded.app}", environment "${loaded.environment}", not "${context.app}"/"${context.environment}".`,
      { hint: 'Point keys.manifest at this deployment\'s manifest, or fix keys.app / keys.environment.' },
    );
  }
  let unsealed: ManifestIntegrityError | undefined;
  if (loaded.mac === undefined && loaded.versions.length === 0 && loaded.auditHead === undefined) {
    if (context.seenKeys) {
      throw new ManifestIntegrityError(ManifestIntegrityFailure.missing, `The key manifest at ${where} was blanked (no key versions, no MAC), but this client has seen keys in it.`, {
        hint: 'Nothing was changed and no new key was made. Restore the manifest from a key backup (`cachevault keys restore FILE`).',
        context: { where },
      });
    }
  } else if (context.sealer && loaded.mac !== undefined) {
    await verifyManifestSeal(loaded, context.sealer, where);
  } else if (loaded.mac === undefined && pin.sealed) {
    throw new ManifestIntegrityError(ManifestIntegrityFailure.unsealed, `The key manifest at ${where} carries no MAC, but this client has seen it sealed: it was downgraded.`, {
      hint: 'Nothing was changed. Restore the manifest from a key backup.',
      context: { where },
    });
  } else if (context.sealer) {
    // A legacy manifest: usable only after an explicit seal (`keys seal-manifest`) or rotate.
    unsealed = new ManifestIntegrityError(ManifestIntegrityFailure.unsealed, `The key manifest at ${where} carries no MAC, so nothing proves this deployment wrote it.`, {
      hint: 'If it was written before cachevault 0.2 and you trust it, seal it once with `cachevault keys seal-manifest` (or run `cachevault encryption rotate`); until then no key from it is used. If it was sealed before, it was replaced: restore it from a key backup.',
      context: { where },
    });
  }
  if (loaded.revision < pin.revision) {
    throw new ManifestIntegrityError(ManifestIntegrityFailure.rollback, `The key manifest at ${where} is at revision ${loaded.revision}, but this client has seen revision ${pin.revision}: it was rolled back.`, {
      hint: 'Nothing was changed and no key from it was used. Restore the newest manifest (a key backup, or the store\'s history) and find out who could write it.',
      context: { where, revision: loaded.revision, seen: pin.revision },
    });
  }
  return { manifest: loaded, unsealed };
}
