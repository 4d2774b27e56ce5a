import type { EntryIdentity } from '../../types';
import type { AlgorithmName, EnvelopeHeader } from '../envelope';
import type { DataKeyPrk } from '../keyDerivation';

/**
 * One authenticated-encryption scheme for envelope bodies. Both methods take the cached HKDF PRK
 * of the data key (never the data key itself) and derive the per-entry key from it and the
 * entry's salt, so no two entries share an AES key.
 */
export interface EnvelopeAlgorithm {
  readonly name: Exclude<AlgorithmName, 'none'>;
  /** Whole envelope (header included) sealing `plaintext` for `identity` under key version `keyId`. */
  seal(prk: DataKeyPrk, keyId: string, plaintext: Uint8Array, identity: EntryIdentity): Buffer;
  /** Plaintext of `envelope`, or IntegrityError (always the same one) for anything else. */
  open(prk: DataKeyPrk, envelope: Uint8Array, header: EnvelopeHeader, identity: EntryIdentity): Uint8Array;
}
