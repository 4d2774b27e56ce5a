/**
 * The seams of key management. Data keys (DEKs) encrypt entries; key providers (KMS, the OS
 * keyring, an environment variable) are key-encrypting keys that wrap and unwrap DEKs. Plaintext
 * DEKs live only in memory, in Buffers that are zeroed when dropped; never in strings.
 */

/** A plaintext data key version, held only in memory. `material` is 32 bytes (AES-256). */
export interface DataKey {
  /** Version id: `k1`, `k2`, ... */
  readonly id: string;
  /**
   * The id written into every envelope it seals, when it is not `id`: a manifest's keys carry
   * their manifest's id (`k1:<manifest id>`, see keyIds.ts), so that entries of two manifests
   * sharing a store are told apart. @default id
   */
  readonly entryKeyId?: string;
  readonly material: Buffer;
}

/**
 * What encryption needs from key management: the active key, and any key by id.
 *
 * A returned `material` Buffer belongs to the source: KeyManager zeroes it when the key leaves
 * its cache (age or use limit, retire, close) and hands out a new Buffer next time, so callers
 * use it for the operation at hand and may key derived state by Buffer identity, but must not
 * copy it or keep it.
 */
export interface DataKeySource {
  /** The key new entries are sealed with. */
  activeKey(): Promise<DataKey>;
  /**
   * A key by version id, for opening entries. Throws KeyUnavailableError when this client
   * cannot have it (unknown id, retired, or no provider can unwrap it).
   */
  keyById(id: string): Promise<DataKey>;
  /**
   * Calls `listener` with each key whose material the source zeroes (age or use limit, retire,
   * close), right after zeroing it, so holders of state derived from it (AeadEncryption's HKDF
   * PRKs) can drop that state at the same moment. Returns the unsubscribe function. Optional:
   * without it, derived state is dropped lazily.
   */
  onKeyDropped?(listener: (key: DataKey) => void): () => void;
}

import type { KeyProviderName } from './providerRegistry';

/** A DEK wrapped by one key provider. Safe to store: it is ciphertext. */
export interface WrappedKey {
  /** Which provider wrapped it: `kms`, `keyring` or `env`. */
  readonly provider: KeyProviderName;
  /** Provider-specific reference to the wrapping key (KMS key ARN, keyring service/account). */
  readonly wrappingKeyRef: string;
  /** Base64 of the wrapped bytes. */
  readonly ciphertext: string;
}

/** The provider names, derived from the registry (providerRegistry.ts). */
export type { KeyProviderName } from './providerRegistry';

/** Context bound into every wrap (KMS encryption context; AAD for local wrapping). */
export interface KeyContext {
  readonly app: string;
  readonly environment: string;
  readonly keyId: string;
}

/**
 * A key-encrypting key. `generateDataKey` returns a fresh DEK and its wrapped form (KMS:
 * GenerateDataKey); `wrap` adds another wrapping of an existing DEK (local copy of a KMS DEK).
 */
export interface KeyProvider {
  readonly name: KeyProviderName;
  generateDataKey(context: KeyContext): Promise<{ plaintext: Buffer; wrapped: WrappedKey }>;
  wrap(plaintext: Buffer, context: KeyContext): Promise<WrappedKey>;
  unwrap(wrapped: WrappedKey, context: KeyContext): Promise<Buffer>;
  /** Cheap check that the provider can work here (credentials, D-Bus...); resolves a reason when not. */
  probe(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Zeroes a held root key, releases clients; the provider is not used afterwards. */
  close?(): void;
}

/** A provider whose key-encrypting key is a root key on this machine (keyring, env). */
export interface LocalRootKeyProvider extends KeyProvider {
  /**
   * A 32-byte HKDF subkey of the root key for one use (`RootSubkeyLabel`); the caller zeroes it.
   * With `create` (keyring only), a missing root key is generated; otherwise it is an error.
   */
  deriveRootSubkey(label: string, options?: { create?: boolean }): Promise<Buffer>;
  /** `<provider ref>#<fingerprint>`: names the root key without revealing it. */
  rootKeyRef(options?: { create?: boolean }): Promise<string>;
}

/**
 * A provider whose wrapping key is named in each wrapped key (KMS) and may move (an alias pointed
 * at a new key): `keys rewrap` unwraps under an explicitly named former key and wraps again.
 */
export interface RewrappableKeyProvider extends KeyProvider {
  /** The configured wrapping key, resolved to the reference stored in new wrappings (a key ARN). */
  currentKeyRef(): Promise<string>;
  /** Unwraps a key wrapped under `fromKeyRef`, which the caller names explicitly; refuses any other. */
  unwrapFrom(wrapped: WrappedKey, context: KeyContext, fromKeyRef: string): Promise<Buffer>;
}

export function isRewrappableKeyProvider(provider: KeyProvider): provider is RewrappableKeyProvider {
  return typeof (provider as Partial<RewrappableKeyProvider>).unwrapFrom === 'function';
}

export function isLocalRootKeyProvider(provider: KeyProvider): provider is LocalRootKeyProvider {
  return typeof (provider as Partial<LocalRootKeyProvider>).deriveRootSubkey === 'function';
}
