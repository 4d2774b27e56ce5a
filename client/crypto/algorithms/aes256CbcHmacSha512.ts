import { createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';
import { IntegrityError } from '../../errors';
import type { EntryIdentity } from '../../types';
import { allocateEnvelope, associatedData, type EnvelopeHeader } from '../envelope';
import { deriveEntryKey, deriveEntryKeyV2, SALT_BYTES, SALT_BYTES_V1 } from '../entryKeyInfo';
import type { DataKeyPrk } from '../keyDerivation';
import type { EnvelopeAlgorithm } from './envelopeAlgorithm';

/** RFC 7518 5.2.5 AES_256_CBC_HMAC_SHA_512: 64-byte key, MAC_KEY then ENC_KEY. */
export const CBC_HMAC_KEY_BYTES = 64;
const MAC_KEY_BYTES = 32;
const IV_BYTES = 16;
const BLOCK_BYTES = 16;
/** T_LEN: the HMAC-SHA-512 output truncated to its first 32 bytes. */
const TAG_BYTES = 32;

/** Bytes of ciphertext for `plaintextLength` bytes: PKCS#7 always adds 1..16 bytes. */
export function cbcCiphertextLength(plaintextLength: number): number {
  return (Math.floor(plaintextLength / BLOCK_BYTES) + 1) * BLOCK_BYTES;
}

function checkKey(key: Uint8Array): void {
  if (key.byteLength !== CBC_HMAC_KEY_BYTES) throw new RangeError(`AES_256_CBC_HMAC_SHA_512 needs a 64-byte key, got ${key.byteLength} bytes.`);
}

/** T = first 32 bytes of HMAC-SHA-512(MAC_KEY, A | IV | E | AL), AL = bit length of A, 64-bit big-endian. */
function computeTag(key: Uint8Array, aad: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Buffer {
  const al = Buffer.alloc(8);
  al.writeBigUInt64BE(BigInt(aad.byteLength) * 8n);
  const mac = createHmac('sha512', key.subarray(0, MAC_KEY_BYTES)).update(aad).update(iv).update(ciphertext).update(al).digest();
  return mac.subarray(0, TAG_BYTES);
}

/**
 * The raw RFC 7518 5.2.2.1 encryption, exported so a test can replay the Appendix B.3 vector.
 * `key` is the 64-byte MAC_KEY | ENC_KEY; `iv` 16 bytes.
 */
export function encryptAes256CbcHmacSha512(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { ciphertext: Buffer; tag: Buffer } {
  checkKey(key);
  const cipher = createCipheriv('aes-256-cbc', key.subarray(MAC_KEY_BYTES), iv);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const ciphertext = tail.byteLength === 0 ? head : Buffer.concat([head, tail]);
  return { ciphertext, tag: computeTag(key, aad, iv, ciphertext) };
}

/**
 * The raw RFC 7518 5.2.2.2 decryption. The tag is checked in constant time before anything is
 * decrypted or unpadded, and every failure (short or misaligned input, bad tag, bad padding)
 * throws the same IntegrityError, so no padding oracle exists.
 */
export function decryptAes256CbcHmacSha512(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array, tag: Uint8Array): Buffer {
  checkKey(key);
  if (iv.byteLength !== IV_BYTES || tag.byteLength !== TAG_BYTES || ciphertext.byteLength === 0 || ciphertext.byteLength % BLOCK_BYTES !== 0) {
    throw new IntegrityError();
  }
  if (!timingSafeEqual(computeTag(key, aad, iv, ciphertext), tag)) throw new IntegrityError();
  const decipher = createDecipheriv('aes-256-cbc', key.subarray(MAC_KEY_BYTES), iv);
  try {
    const head = decipher.update(ciphertext);
    const tail = decipher.final();
    return tail.byteLength === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    // Unreachable with an authentic tag; kept so even a broken invariant yields the one error.
    throw new IntegrityError();
  }
}

/**
 * The envelope form: a per-entry 64-byte key from HKDF-Expand(PRK, label | salt | AAD) (format
 * 2, see deriveEntryKeyV2; format 1: label | alg | salt), a random IV, both straight from the
 * CSPRNG. Body: salt (24; 16 in format 1) | IV (16) | ciphertext (PKCS#7) | tag (32).
 * A = header + identity.
 */
export const aes256CbcHmacSha512: EnvelopeAlgorithm = {
  name: 'aes-256-cbc-hmac-sha-512',

  seal(prk: DataKeyPrk, keyId: string, plaintext: Uint8Array, identity: EntryIdentity): Buffer {
    const ciphertextLength = cbcCiphertextLength(plaintext.byteLength);
    const { envelope, bodyOffset } = allocateEnvelope('aes-256-cbc-hmac-sha-512', keyId, SALT_BYTES + IV_BYTES + ciphertextLength + TAG_BYTES);
    randomFillSync(envelope, bodyOffset, SALT_BYTES + IV_BYTES);
    const salt = envelope.subarray(bodyOffset, bodyOffset + SALT_BYTES);
    const iv = envelope.subarray(bodyOffset + SALT_BYTES, bodyOffset + SALT_BYTES + IV_BYTES);
    const ciphertextOffset = bodyOffset + SALT_BYTES + IV_BYTES;
    const { key, aad } = deriveEntryKeyV2(prk, salt, envelope.subarray(0, bodyOffset), identity, CBC_HMAC_KEY_BYTES);
    try {
      const cipher = createCipheriv('aes-256-cbc', key.subarray(MAC_KEY_BYTES), iv);
      // Written straight into the envelope rather than concatenated.
      const head = cipher.update(plaintext);
      envelope.set(head, ciphertextOffset);
      envelope.set(cipher.final(), ciphertextOffset + head.byteLength);
      const ciphertext = envelope.subarray(ciphertextOffset, ciphertextOffset + ciphertextLength);
      computeTag(key, aad, iv, ciphertext).copy(envelope, ciphertextOffset + ciphertextLength);
    } finally {
      key.fill(0);
    }
    return envelope;
  },

  open(prk: DataKeyPrk, envelope: Uint8Array, header: EnvelopeHeader, identity: EntryIdentity): Uint8Array {
    const bodyOffset = header.headerLength;
    const saltBytes = header.version === 1 ? SALT_BYTES_V1 : SALT_BYTES;
    const ciphertextOffset = bodyOffset + saltBytes + IV_BYTES;
    const tagOffset = envelope.byteLength - TAG_BYTES;
    if (tagOffset <= ciphertextOffset) throw new IntegrityError();
    const salt = envelope.subarray(bodyOffset, bodyOffset + saltBytes);
    const headerBytes = envelope.subarray(0, bodyOffset);
    let key: Buffer;
    let aad: Buffer;
    if (header.version === 1) {
      aad = associatedData(headerBytes, identity);
      key = deriveEntryKey(prk, 'aes-256-cbc-hmac-sha-512', salt, CBC_HMAC_KEY_BYTES);
    } else {
      ({ key, aad } = deriveEntryKeyV2(prk, salt, headerBytes, identity, CBC_HMAC_KEY_BYTES));
    }
    try {
      return decryptAes256CbcHmacSha512(
        key,
        envelope.subarray(bodyOffset + saltBytes, ciphertextOffset),
        envelope.subarray(ciphertextOffset, tagOffset),
        aad,
        envelope.subarray(tagOffset),
      );
    } finally {
      key.fill(0);
    }
  },
};
