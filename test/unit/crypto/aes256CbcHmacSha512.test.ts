import * as nodeCrypto from 'node:crypto';
import { decryptAes256CbcHmacSha512, encryptAes256CbcHmacSha512 } from '../../../client/crypto/algorithms/aes256CbcHmacSha512';
import { IntegrityError } from '../../../client/errors';

// The module object itself (not an import-interop copy), so spies see the implementation's calls.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cryptoModule: typeof nodeCrypto = require('node:crypto');

// RFC 7518 Appendix B.3 (AES_256_CBC_HMAC_SHA_512), byte for byte.
const K = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
const P = Buffer.from(
  'A cipher system must not be required to be secret, and it must be able to fall into the hands of the enemy without inconvenience',
  'latin1',
);
const IV = Buffer.from('1af38c2dc2b96ffdd86694092341bc04', 'hex');
const A = Buffer.from('The second principle of Auguste Kerckhoffs', 'latin1');
const E = Buffer.from(
  '4affaaadb78c31c5da4b1b590d10ffbd3dd8d5d302423526912da037ecbcc7bd' +
    '822c301dd67c373bccb584ad3e9279c2e6d12a1374b77f077553df829410446b' +
    '36ebd97066296ae6427ea75c2e0846a11a09ccf5370dc80bfecbad28c73f09b3' +
    'a3b75e662a2594410ae496b2e2e6609e31e6e02cc837f053d21f37ff4f51950b' +
    'be2638d09dd7a4930930806d0703b1f6',
  'hex',
);
const T = Buffer.from('4dd3b4c088a7f45c216839645b2012bf2e6269a8c56a816dbc1b267761955bc5', 'hex');

describe('AES_256_CBC_HMAC_SHA_512 (RFC 7518 5.2.5)', () => {
  test('the RFC 7518 B.3 inputs are the ones the RFC prints', () => {
    expect(P.toString('hex').slice(0, 32)).toBe('41206369706865722073797374656d20');
    expect(A.toString('hex')).toBe('546865207365636f6e64207072696e6369706c65206f662041756775737465204b6572636b686f666673');
  });

  test('encryption reproduces the Appendix B.3 ciphertext and tag byte for byte', () => {
    const { ciphertext, tag } = encryptAes256CbcHmacSha512(K, IV, P, A);
    expect(ciphertext.toString('hex')).toBe(E.toString('hex'));
    expect(tag.toString('hex')).toBe(T.toString('hex'));
  });

  test('decryption of the Appendix B.3 ciphertext gives back the plaintext', () => {
    expect(decryptAes256CbcHmacSha512(K, IV, E, A, T).equals(P)).toBe(true);
  });

  test('a bad tag is rejected before any AES decryption runs (no padding oracle)', () => {
    const spy = jest.spyOn(cryptoModule, 'createDecipheriv');
    try {
      const badTag = Buffer.from(T);
      badTag[31]! ^= 1;
      expect(() => decryptAes256CbcHmacSha512(K, IV, E, A, badTag)).toThrow(IntegrityError);
      expect(spy).not.toHaveBeenCalled();
      // The spy does see calls on the success path, so the assertion above can fail.
      decryptAes256CbcHmacSha512(K, IV, E, A, T);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  test('the tag is compared with crypto.timingSafeEqual', () => {
    const spy = jest.spyOn(cryptoModule, 'timingSafeEqual');
    try {
      decryptAes256CbcHmacSha512(K, IV, E, A, T);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  test('every kind of failure throws the same error with the same message', () => {
    const flip = (b: Buffer, i: number) => {
      const c = Buffer.from(b);
      c[i]! ^= 0x80;
      return c;
    };
    const failures = [
      () => decryptAes256CbcHmacSha512(K, IV, flip(E, E.length - 1), A, T), // last block: would be a padding error
      () => decryptAes256CbcHmacSha512(K, flip(IV, 0), E, A, T),
      () => decryptAes256CbcHmacSha512(K, IV, E, flip(A, 0), T),
      () => decryptAes256CbcHmacSha512(K, IV, E.subarray(0, 120), A, T), // misaligned
      () => decryptAes256CbcHmacSha512(K, IV, E.subarray(0, 0), A, T), // empty
      () => decryptAes256CbcHmacSha512(K, IV, E, A, T.subarray(0, 16)), // short tag
      () => decryptAes256CbcHmacSha512(flip(K, 40), IV, E, A, T), // wrong ENC key
    ];
    const messages = failures.map((fail) => {
      try {
        fail();
      } catch (err) {
        expect(err).toBeInstanceOf(IntegrityError);
        return (err as Error).message;
      }
      throw new Error('expected a failure');
    });
    expect(new Set(messages).size).toBe(1);
  });

  test('a forged ciphertext with a valid MAC but bad padding still yields the one IntegrityError', () => {
    // Encrypt two zero blocks without padding: the last plaintext byte 0x00 is invalid PKCS#7.
    const cipher = nodeCrypto.createCipheriv('aes-256-cbc', K.subarray(32), IV);
    cipher.setAutoPadding(false);
    const ciphertext = Buffer.concat([cipher.update(Buffer.alloc(32)), cipher.final()]);
    const al = Buffer.alloc(8);
    al.writeBigUInt64BE(BigInt(A.length * 8));
    const tag = nodeCrypto.createHmac('sha512', K.subarray(0, 32)).update(A).update(IV).update(ciphertext).update(al).digest().subarray(0, 32);
    expect(() => decryptAes256CbcHmacSha512(K, IV, ciphertext, A, tag)).toThrow(IntegrityError);
    expect(() => decryptAes256CbcHmacSha512(K, IV, ciphertext, A, tag)).toThrow(new IntegrityError().message);
  });

  test('rejects keys that are not 64 bytes', () => {
    expect(() => encryptAes256CbcHmacSha512(K.subarray(0, 32), IV, P, A)).toThrow(RangeError);
  });
});
