import { KeyUnavailableError } from '../errors';
import type { EntryIdentity } from '../types';
import type { EncryptionProvider, SealedValue } from './encryptionProvider';
import { NO_KEY_ID, openPlain, readHeader, sealPlain } from './envelope';

/**
 * Stores values unencrypted, in the same envelope framing with a CRC-32, so corruption is still
 * detected and enabling encryption later is a rewrite of known-format entries.
 */
export class NoEncryption implements EncryptionProvider {
  readonly algorithm = 'none' as const;

  seal(plaintext: Uint8Array, identity: EntryIdentity): SealedValue {
    return { bytes: sealPlain(plaintext, identity), keyId: NO_KEY_ID };
  }

  open(envelope: Uint8Array, identity: EntryIdentity): Uint8Array {
    const header = readHeader(envelope);
    if (header.algorithm !== 'none') {
      throw new KeyUnavailableError(
        `Entry is encrypted (${header.algorithm}, key ${header.keyId}) but this cache has encryption disabled.`,
        header.keyId,
        { hint: 'Enable encryption with a key provider that holds this key to read it.' },
      );
    }
    return openPlain(envelope, header, identity);
  }
}
