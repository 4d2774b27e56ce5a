import { KeyUnavailableError } from '../errors';

/** An encryption provider was used after `close()` zeroed its key material. */
export class EncryptionClosedError extends KeyUnavailableError {
  override name = 'EncryptionClosedError';
  override readonly code = 'ENCRYPTION_CLOSED';
  constructor() {
    super('The encryption provider is closed; its key material has been zeroed.', undefined, {
      hint: 'Create a new cache (or AeadEncryption) instead of reusing one after close().',
    });
  }
}
