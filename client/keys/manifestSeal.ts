import { createHmac, timingSafeEqual } from 'node:crypto';
import { KeyProviderError, KeyProviderFailure, ManifestIntegrityError, ManifestIntegrityFailure, RootKeyMismatchError } from './errors';
import { MANIFEST_FORMAT_VERSION, type KeyManifest } from './keyManifest';
import type { LocalRootKeyProvider } from './keyProvider';
import { RootSubkeyLabel } from './rootKey';
import { canonicalJson } from '../canonicalJson';

/**
 * The key manifest's MAC. Every manifest this version writes carries one, over a canonical
 * encoding of every other field (states, revision, wrappings, key-check values, audit head), so
 * whoever can write the manifest file or secret but does not hold the MAC key can neither roll it
 * back, re-point a wrapping, reorder wrappings, nor blank it without being refused.
 *
 * Two sealers: a local one (HMAC-SHA-256 under the `manifest-mac` HKDF subkey of the local root
 * key), and a KMS one (GenerateMac/VerifyMac with an HMAC_256 KMS key, for manifests shared
 * through Secrets Manager: only the rotation and admin roles may GenerateMac; clients VerifyMac).
 */
export interface ManifestSealer {
  /** For messages: which key MACs the manifest (no secrets). */
  readonly description: string;
  /**
   * MACs `data`; returns the MAC and the reference of the key that made it. `create` lets a
   * keyring provider make its root key (first use).
   */
  sign(data: Buffer, options?: { create?: boolean }): Promise<{ mac: Buffer; keyRef: string }>;
  /**
   * Whether `mac` is this sealer's MAC of `data`. `keyRef` is the reference the manifest names:
   * a local sealer throws RootKeyMismatchError when it names another root key of the same provider.
   */
  verify(data: Buffer, mac: Buffer, keyRef: string): Promise<boolean>;
}

const MAC_DOMAIN = 'cachevault key manifest mac v1\n';

/** The bytes the MAC covers: a domain label and every field but `mac`, canonically encoded. */
export function manifestMacInput(manifest: KeyManifest): Buffer {
  const { mac: _mac, ...covered } = manifest;
  return Buffer.from(`${MAC_DOMAIN}${canonicalJson(covered)}`, 'utf8');
}

/** The manifest in the current format with a fresh MAC (any old MAC is replaced). */
export async function sealManifest(manifest: KeyManifest, sealer: ManifestSealer): Promise<KeyManifest> {
  const { mac: _old, ...rest } = manifest;
  const unsealed: KeyManifest = { ...rest, formatVersion: MANIFEST_FORMAT_VERSION };
  const { mac, keyRef } = await sealer.sign(manifestMacInput(unsealed), { create: true });
  return { ...unsealed, mac: { alg: 'hmac-sha256', keyRef, value: mac.toString('base64') } };
}

/**
 * Throws unless `manifest` carries a MAC that `sealer` verifies: ManifestIntegrityError
 * (`unsealed` without a MAC, `tampered` when it does not verify), or RootKeyMismatchError when it
 * was MACed under another root key of the configured provider.
 */
export async function verifyManifestSeal(manifest: KeyManifest, sealer: ManifestSealer, where: string): Promise<void> {
  if (!manifest.mac) {
    throw new ManifestIntegrityError(ManifestIntegrityFailure.unsealed, `The key manifest at ${where} carries no MAC, so nothing proves this deployment wrote it.`, {
      hint: 'If it is a manifest written before cachevault 0.2 and you trust it, seal it once with `cachevault keys seal-manifest` (or run `cachevault encryption rotate`); if it was sealed before, it was replaced: restore it from a key backup.',
      context: { where },
    });
  }
  const ok = await sealer.verify(manifestMacInput(manifest), Buffer.from(manifest.mac.value, 'base64'), manifest.mac.keyRef);
  if (!ok) {
    throw new ManifestIntegrityError(ManifestIntegrityFailure.tampered, `The key manifest at ${where} does not verify under ${sealer.description}: it was changed by someone without the manifest MAC key.`, {
      hint: 'Nothing was changed and no key from it was used. Restore the manifest from a key backup (`cachevault keys restore FILE`) and find out who could write it.',
      context: { where },
    });
  }
}

/** HMAC-SHA-256 under the `manifest-mac` subkey of a local root key (keyring or env). */
export class LocalManifestSealer implements ManifestSealer {
  private readonly provider: LocalRootKeyProvider;

  constructor(provider: LocalRootKeyProvider) {
    this.provider = provider;
  }

  get description(): string {
    return `the ${this.provider.name} root key`;
  }

  async sign(data: Buffer, options: { create?: boolean } = {}): Promise<{ mac: Buffer; keyRef: string }> {
    const keyRef = `local:${await this.provider.rootKeyRef(options)}`;
    const subkey = await this.provider.deriveRootSubkey(RootSubkeyLabel.manifestMac, options);
    try {
      return { mac: createHmac('sha256', subkey).update(data).digest(), keyRef };
    } finally {
      subkey.fill(0);
    }
  }

  async verify(data: Buffer, mac: Buffer, keyRef: string): Promise<boolean> {
    let ours: string;
    try {
      ours = `local:${await this.provider.rootKeyRef()}`;
    } catch (error) {
      if (error instanceof KeyProviderError && error.failure === KeyProviderFailure.noRootKey) {
        throw new RootKeyMismatchError(`The key manifest is MACed under a ${this.provider.name} root key this machine does not have`, undefined, { cause: error });
      }
      throw error;
    }
    if (keyRef !== ours) {
      const [theirProvider] = keyRef.split('#');
      const [ourProvider] = ours.split('#');
      if (theirProvider === ourProvider) throw new RootKeyMismatchError(`The key manifest is MACed under another ${this.provider.name} root key`);
      return false;
    }
    const { mac: expected } = await this.sign(data);
    return mac.length === expected.length && timingSafeEqual(mac, expected);
  }
}
