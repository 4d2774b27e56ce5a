import type { EntryIdentity } from '../types';
import type { AlgorithmName } from './envelope';

/** A sealed value and the key version that sealed it (stored in clear beside the bytes). */
export interface SealedValue {
  readonly bytes: Uint8Array;
  readonly keyId: string;
}

/**
 * Turns plaintext into an envelope and back, binding it to the entry's identity. Sits between
 * the CacheManager and the backends; backends never see plaintext.
 *
 * `open` throws IntegrityError for anything tampered, EnvelopeFormatError for bytes that are
 * not an envelope it can read, and KeyUnavailableError when the key version is not available.
 * The manager turns each of these into a counted miss.
 */
export interface EncryptionProvider {
  readonly algorithm: AlgorithmName;
  seal(plaintext: Uint8Array, identity: EntryIdentity): SealedValue | Promise<SealedValue>;
  open(envelope: Uint8Array, identity: EntryIdentity): Uint8Array | Promise<Uint8Array>;
  /** Drops cached key material (zeroing it). */
  close?(): void | Promise<void>;
}
