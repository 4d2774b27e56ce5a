import { createCipheriv, createDecipheriv } from 'node:crypto';
import { IntegrityError } from '../../errors';
import type { EntryIdentity } from '../../types';
import { allocateEnvelope, associatedData, type EnvelopeHeader } from '../envelope';
import { deriveEntryKey, SALT_BYTES } from '../entryKeyInfo';
import { fillRandom } from '../randomPool';
import type { DataKeyPrk } from '../keyDerivation';
import type { EnvelopeAlgorithm } from './envelopeAlgorithm';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Envelope bytes beyond the header: salt and tag. */
export const GCM_BODY_OVERHEAD = SALT_BYTES + TAG_BYTES;

/**
 * AES-256-GCM with a per-entry key: HKDF-Expand(PRK, label | alg | salt) gives the 32-byte entry
 * key, and the nonce is the first 12 bytes of the salt. A random 96-bit nonce under one shared
 * key is safe only for 2^32 messages (NIST SP 800-38D 8.3); here each key seals one entry, so
 * nonce uniqueness per key holds by construction, and two entries share a key (and then also a
 * nonce) only if their whole 128-bit salts collide (bound in docs/security.md).
 *
 * Why the nonce is not a second HKDF output: 44 bytes need a second HMAC block (T(2), over 73
 * bytes), more than doubling the per-entry key cost, the largest cost the envelope adds over raw
 * GCM. A derived nonce would add no security: it would be a function of the same public salt,
 * and the key is already unique. Taking it from the salt still varies it across entries, which
 * keeps multi-key attacks from batching entries under one known nonce.
 *
 * Body: salt (16) | ciphertext | tag (16). AAD: header + namespace + key + expiresAt.
 */
export const aes256Gcm: EnvelopeAlgorithm = {
  name: 'aes-256-gcm',

  seal(prk: DataKeyPrk, keyId: string, plaintext: Uint8Array, identity: EntryIdentity): Buffer {
    const { envelope, bodyOffset } = allocateEnvelope('aes-256-gcm', keyId, SALT_BYTES + plaintext.byteLength + TAG_BYTES);
    fillRandom(envelope, bodyOffset, SALT_BYTES);
    const salt = envelope.subarray(bodyOffset, bodyOffset + SALT_BYTES);
    const key = deriveEntryKey(prk, 'aes-256-gcm', salt, KEY_BYTES);
    let cipher;
    try {
      cipher = createCipheriv('aes-256-gcm', key, salt.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    } finally {
      key.fill(0);
    }
    cipher.setAAD(associatedData(envelope.subarray(0, bodyOffset), identity));
    // Node's Cipher cannot write into a given buffer, so the ciphertext is copied once into the
    // pre-sized envelope (no concat). Writing it in 64 KiB pieces measured no faster.
    const ciphertextOffset = bodyOffset + SALT_BYTES;
    const ciphertext = cipher.update(plaintext);
    envelope.set(ciphertext, ciphertextOffset);
    cipher.final();
    envelope.set(cipher.getAuthTag(), ciphertextOffset + ciphertext.byteLength);
    return envelope;
  },

  open(prk: DataKeyPrk, envelope: Uint8Array, header: EnvelopeHeader, identity: EntryIdentity): Uint8Array {
    const bodyOffset = header.headerLength;
    const tagOffset = envelope.byteLength - TAG_BYTES;
    if (tagOffset < bodyOffset + SALT_BYTES) throw new IntegrityError();
    const salt = envelope.subarray(bodyOffset, bodyOffset + SALT_BYTES);
    const key = deriveEntryKey(prk, 'aes-256-gcm', salt, KEY_BYTES);
    let decipher;
    try {
      decipher = createDecipheriv('aes-256-gcm', key, salt.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    } finally {
      key.fill(0);
    }
    decipher.setAuthTag(envelope.subarray(tagOffset));
    decipher.setAAD(associatedData(envelope.subarray(0, bodyOffset), identity));
    const plaintext = decipher.update(envelope.subarray(bodyOffset + SALT_BYTES, tagOffset));
    try {
      decipher.final();
    } catch {
      // Unauthenticated plaintext never leaves this function.
      plaintext.fill(0);
      throw new IntegrityError();
    }
    return plaintext;
  },
};
