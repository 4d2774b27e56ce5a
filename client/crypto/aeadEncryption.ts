import { inspect } from 'node:util';
import { IntegrityError, InvalidArgumentError } from '../errors';
import type { DataKeySource } from '../keys/keyProvider';
import type { EntryIdentity } from '../types';
import { aes256CbcHmacSha512 } from './algorithms/aes256CbcHmacSha512';
import { aes256Gcm } from './algorithms/aes256Gcm';
import type { EnvelopeAlgorithm } from './algorithms/envelopeAlgorithm';
import type { EncryptionProvider, SealedValue } from './encryptionProvider';
import { openPlain, readHeader } from './envelope';
import { EncryptionClosedError } from './errors';
import { PrkCache } from './keyDerivation';

export type AeadAlgorithmName = 'aes-256-gcm' | 'aes-256-cbc-hmac-sha-512';

export interface AeadEncryptionOptions {
  /** Where data keys come from (KeyManager, StaticKeySource). It should cache unwrapped keys. */
  readonly keys: DataKeySource;
  /**
   * Algorithm for new entries. Entries sealed with either algorithm are always readable.
   * @default 'aes-256-gcm'
   */
  readonly algorithm?: AeadAlgorithmName;
  /**
   * Read entries written before encryption was enabled (`none` envelopes). They carry only a
   * CRC-32, so anyone who can write to the store can forge them: turn this on only for the
   * re-encryption sweep that rewrites them (`cachevault encryption enable` does so).
   * @default false
   */
  readonly allowUnencryptedReads?: boolean;
}

const ALGORITHMS: Record<AeadAlgorithmName, EnvelopeAlgorithm> = {
  'aes-256-gcm': aes256Gcm,
  'aes-256-cbc-hmac-sha-512': aes256CbcHmacSha512,
};

/**
 * Authenticated encryption of cache entries under versioned data keys. `seal` uses the source's
 * active key and writes its id into the envelope; `open` reads the id back and asks the source
 * for that version, so entries under older keys stay readable during a rotation.
 *
 * Per data key, the HKDF PRK is extracted once and cached; per entry, only an HKDF expand (one
 * HMAC) and the AES work remain on the hot path. A PRK lives no longer than its data key: it is
 * zeroed when the key source reports zeroing that key (`onKeyDropped`: age or use limit, retire,
 * close) and on `close()`.
 */
export class AeadEncryption implements EncryptionProvider {
  readonly algorithm: AeadAlgorithmName;
  private readonly keys: DataKeySource;
  private readonly sealer: EnvelopeAlgorithm;
  private readonly allowUnencryptedReads: boolean;
  private readonly prks = new PrkCache();
  private readonly unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(options: AeadEncryptionOptions) {
    this.keys = options.keys;
    this.algorithm = options.algorithm ?? 'aes-256-gcm';
    const sealer = ALGORITHMS[this.algorithm] as EnvelopeAlgorithm | undefined;
    if (sealer === undefined) {
      throw new InvalidArgumentError(`Unknown encryption algorithm ${JSON.stringify(this.algorithm)}.`, {
        hint: `Use one of ${Object.keys(ALGORITHMS).join(', ')}.`,
      });
    }
    this.sealer = sealer;
    this.allowUnencryptedReads = options.allowUnencryptedReads ?? false;
    this.unsubscribe = this.keys.onKeyDropped?.((key) => this.prks.forget(key));
  }

  async seal(plaintext: Uint8Array, identity: EntryIdentity): Promise<SealedValue> {
    if (this.closed) throw new EncryptionClosedError();
    const key = await this.keys.activeKey();
    if (this.closed) throw new EncryptionClosedError();
    const keyId = key.entryKeyId ?? key.id;
    return { bytes: this.sealer.seal(this.prks.prkFor(key), keyId, plaintext, identity), keyId };
  }

  async open(envelope: Uint8Array, identity: EntryIdentity): Promise<Uint8Array> {
    if (this.closed) throw new EncryptionClosedError();
    const header = readHeader(envelope);
    if (header.algorithm === 'none') {
      if (!this.allowUnencryptedReads) {
        throw new IntegrityError('Entry is unencrypted, and this cache reads only encrypted entries (allowUnencryptedReads is false).', {
          hint: 'Re-encrypt old entries (a rotation sweep), or set allowUnencryptedReads while migrating.',
        });
      }
      return openPlain(envelope, header, identity);
    }
    // KeyUnavailableError from the source propagates: the manager counts it as a miss.
    const key = await this.keys.keyById(header.keyId);
    if (this.closed) throw new EncryptionClosedError();
    return ALGORITHMS[header.algorithm].open(this.prks.prkFor(key), envelope, header, identity);
  }

  /** Zeroes every cached PRK; later calls throw EncryptionClosedError. Does not close the key source. */
  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.prks.clear();
  }

  /** A summary: util.inspect would otherwise walk into the cached PRKs and the source's keys. */
  [inspect.custom](): string {
    return `AeadEncryption { algorithm: ${this.algorithm}, cachedKeyVersions: ${this.prks.size}${this.closed ? ', closed' : ''} }`;
  }

  toJSON(): { algorithm: AeadAlgorithmName; closed: boolean } {
    return { algorithm: this.algorithm, closed: this.closed };
  }
}
