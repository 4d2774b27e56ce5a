import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { IntegrityError } from '../../errors';
import type { EntryIdentity } from '../../types';
import { allocateEnvelope, associatedData, type EnvelopeHeader } from '../envelope';
import { deriveEntryKey, deriveEntryKeyInEnvelope, SALT_BYTES, SALT_BYTES_V1 } from '../entryKeyInfo';
import type { DataKeyPrk } from '../keyDerivation';
import type { EnvelopeAlgorithm } from './envelopeAlgorithm';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Envelope bytes beyond the header: salt and tag. */
export const GCM_BODY_OVERHEAD = SALT_BYTES + TAG_BYTES;

/**
 * AES-256-GCM with a per-entry key. Format 2: HKDF-Expand(PRK, label | salt | AAD) gives the
 * 32-byte entry key (AAD = header | identity, see deriveEntryKeyV2), and the nonce is the first
 * 12 bytes of the 24-byte salt. A random 96-bit nonce under one shared key is safe only for
 * 2^32 messages (NIST SP 800-38D 8.3); here each key seals one entry, so nonce uniqueness per
 * key holds by construction. Two entries share a key (and then also a nonce) only if they are
 * the same entry (namespace, key, expiry, key version) and drew the same 192-bit salt.
 *
 * Why the nonce is not a second HKDF output: 44 bytes need a second HMAC block, more than
 * doubling the per-entry key cost, the largest cost the envelope adds over raw GCM. A derived
 * nonce would add no security: it would be a function of the same inputs as the key, which is
 * already unique. Taking it from the salt still varies it across entries, which keeps multi-key
 * attacks from batching entries under one known nonce.
 *
 * The salt comes from the CSPRNG at seal time, never from a pool of earlier output: a process
 * restored from a snapshot would hand the same pooled bytes out again (docs/security.md).
 *
 * Body: salt (24; 16 in format 1) | ciphertext | tag (16).
 */
export const aes256Gcm: EnvelopeAlgorithm = {
  name: 'aes-256-gcm',

  seal(prk: DataKeyPrk, keyId: string, plaintext: Uint8Array, identity: EntryIdentity): Buffer {
    const { envelope, bodyOffset } = allocateEnvelope('aes-256-gcm', keyId, SALT_BYTES + plaintext.byteLength + TAG_BYTES);
    randomFillSync(envelope, bodyOffset, SALT_BYTES);
    const { key, aad } = deriveEntryKeyInEnvelope(prk, envelope, bodyOffset, identity, KEY_BYTES);
    let cipher;
    try {
      cipher = createCipheriv('aes-256-gcm', key, envelope.subarray(bodyOffset, bodyOffset + NONCE_BYTES), { authTagLength: TAG_BYTES });
    } finally {
      key.fill(0);
    }
    cipher.setAAD(aad);
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
    const saltBytes = header.version === 1 ? SALT_BYTES_V1 : SALT_BYTES;
    const tagOffset = envelope.byteLength - TAG_BYTES;
    if (tagOffset < bodyOffset + saltBytes) throw new IntegrityError();
    let key: Buffer;
    let aad: Buffer;
    if (header.version === 1) {
      aad = associatedData(envelope.subarray(0, bodyOffset), identity);
      key = deriveEntryKey(prk, 'aes-256-gcm', envelope.subarray(bodyOffset, bodyOffset + saltBytes), KEY_BYTES);
    } else {
      ({ key, aad } = deriveEntryKeyInEnvelope(prk, envelope, bodyOffset, identity, KEY_BYTES));
    }
    let decipher;
    try {
      decipher = createDecipheriv('aes-256-gcm', key, envelope.subarray(bodyOffset, bodyOffset + NONCE_BYTES), { authTagLength: TAG_BYTES });
    } finally {
      key.fill(0);
    }
    decipher.setAuthTag(envelope.subarray(tagOffset));
    decipher.setAAD(aad);
    const plaintext = decipher.update(envelope.subarray(bodyOffset + saltBytes, tagOffset));
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
