import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { MAX_SHORT_MESSAGE_BYTES, PrekeyedHmacSha256 } from '../../../client/crypto/hmacSha256';

describe('PrekeyedHmacSha256', () => {
  test('equals node:crypto HMAC-SHA-256 for every message length it accepts', () => {
    const key = randomBytes(32);
    const hmac = new PrekeyedHmacSha256(key);
    for (let length = 0; length <= MAX_SHORT_MESSAGE_BYTES; length++) {
      const message = randomBytes(length);
      expect(hmac.digestShort(message).toString('hex')).toBe(createHmac('sha256', key).update(message).digest('hex'));
    }
  });

  test('equals node:crypto HMAC-SHA-256 for random keys of 0 to 64 bytes and random messages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: MAX_SHORT_MESSAGE_BYTES }), (key, message) => {
        const expected = createHmac('sha256', key).update(message).digest('hex');
        expect(new PrekeyedHmacSha256(key).digestShort(message).toString('hex')).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  test('reproduces RFC 4231 test case 2 (key "Jefe")', () => {
    const hmac = new PrekeyedHmacSha256(Buffer.from('Jefe'));
    expect(hmac.digestShort(Buffer.from('what do ya want for nothing?')).toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  test('refuses what it cannot compute in one block', () => {
    expect(() => new PrekeyedHmacSha256(randomBytes(65))).toThrow(RangeError);
    expect(() => new PrekeyedHmacSha256(randomBytes(32)).digestShort(randomBytes(56))).toThrow(RangeError);
  });

  test('destroy() wipes the key state, so later digests no longer match the key', () => {
    const key = randomBytes(32);
    const hmac = new PrekeyedHmacSha256(key);
    hmac.destroy();
    expect(hmac.digestShort(Buffer.from('x')).equals(createHmac('sha256', key).update('x').digest())).toBe(false);
  });
});
