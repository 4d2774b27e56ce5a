import { AeadEncryption, type AeadAlgorithmName } from '../../../client/crypto/aeadEncryption';
import { readHeader } from '../../../client/crypto/envelope';
import { NoEncryption } from '../../../client/crypto/noEncryption';
import { IntegrityError } from '../../../client/errors';
import { StaticKeySource } from '../../../client/keys/staticKeySource';
import type { EntryIdentity } from '../../../client/types';

/**
 * Envelopes written by format version 1 (cachevault at commit c9938f5, before envelope v2), under
 * the data key 00 01 02 ... 1f as `k1`. They are constants, not re-sealed by the code under test:
 * a change to the v1 read path that stops these opening breaks entries already in caches.
 */
const V1_KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const V1_PLAINTEXT = 'cachevault v1 fixture: a value sealed before envelope v2';
const V1_FIXTURES: { name: string; algorithm: AeadAlgorithmName; expiresAt: number | null; base64: string }[] = [
  {
    name: 'aes-256-gcm with an expiry',
    algorithm: 'aes-256-gcm',
    expiresAt: 1_900_000_000_000,
    base64: 'x1YBAQJrMTAygJLROAZU9oEJxtojRW789Vwx3o+8hI1thathmQaBk3msIaVsASQbyIB+iE5+Ns0AJZ/p5WHi/e+dCXJ0z8w79gbAJSYRV8d7EUHEWp1aVqGIzYsZWxA=',
  },
  {
    name: 'aes-256-gcm that never expires',
    algorithm: 'aes-256-gcm',
    expiresAt: null,
    base64: 'x1YBAQJrMVb2GoFh8EjukNhHvNYuZKk/dGnRWG7HupdwHjkOhW1o6PwtxDi7q6jgLqpEjKjB6ag2UxMFORwwrIrrvGx1sROYS+YxwnXskzSiCGH19f3xCLzID8GRmXw=',
  },
  {
    name: 'aes-256-cbc-hmac-sha-512 with an expiry',
    algorithm: 'aes-256-cbc-hmac-sha-512',
    expiresAt: 1_900_000_000_000,
    base64:
      'x1YBAgJrMbP+3O0kqb1MqeyJ9nhxjDTL6buTwG3pJAHYUwhqkKEYxZuJaUPk2v3lUB+adqFSQalpX7ggYxZmHasy4sabIOsVG/HPx3Bz/MMzOgoPPHf4zENeGLTmiULgBfmXL4dZox58R16aRiaiJYCppGpQ4bIdGqO+obGpusOLp012LCT6',
  },
];
const V1_PLAIN_ENVELOPE = 'x1YBAARub25lY2FjaGV2YXVsdCB2MSBmaXh0dXJlOiBhIHZhbHVlIHNlYWxlZCBiZWZvcmUgZW52ZWxvcGUgdjJYaN2q';

function encryption(algorithm: AeadAlgorithmName): AeadEncryption {
  return new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: V1_KEY }]), algorithm });
}

describe('format version 1 envelopes written before envelope v2', () => {
  test.each(V1_FIXTURES)('a v1 $name envelope still opens to its plaintext', async ({ algorithm, expiresAt, base64 }) => {
    const bytes = Buffer.from(base64, 'base64');
    expect(readHeader(bytes).version).toBe(1);
    const identity: EntryIdentity = { namespace: 'users', key: 'user:42', expiresAt };
    const plaintext = await encryption(algorithm).open(bytes, identity);
    expect(Buffer.from(plaintext).toString('utf8')).toBe(V1_PLAINTEXT);
  });

  test.each(V1_FIXTURES)('a v1 $name envelope still refuses another key or expiry', async ({ algorithm, expiresAt, base64 }) => {
    const bytes = Buffer.from(base64, 'base64');
    const enc = encryption(algorithm);
    await expect(enc.open(bytes, { namespace: 'users', key: 'user:43', expiresAt })).rejects.toThrow(IntegrityError);
    await expect(enc.open(bytes, { namespace: 'users', key: 'user:42', expiresAt: (expiresAt ?? 0) + 1 })).rejects.toThrow(IntegrityError);
  });

  test('a v1 unencrypted envelope still passes its checksum', () => {
    const bytes = Buffer.from(V1_PLAIN_ENVELOPE, 'base64');
    const payload = new NoEncryption().open(bytes, { namespace: 'users', key: 'user:42', expiresAt: 1_900_000_000_000 });
    expect(Buffer.from(payload).toString('utf8')).toBe(V1_PLAINTEXT);
  });
});
