import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { AeadEncryption, type AeadAlgorithmName } from '../../../client/crypto/aeadEncryption';
import { AlgorithmId, ENVELOPE_MAGIC, ENVELOPE_VERSION, readHeader, sealPlain } from '../../../client/crypto/envelope';
import { EnvelopeFormatError, IntegrityError, KeyUnavailableError } from '../../../client/errors';
import { StaticKeySource } from '../../../client/keys/staticKeySource';
import type { EntryIdentity } from '../../../client/types';

const identity: EntryIdentity = { namespace: 'ns', key: 'key', expiresAt: 1_800_000_000_000 };
const keys = new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]);
const providers: Record<AeadAlgorithmName, AeadEncryption> = {
  'aes-256-gcm': new AeadEncryption({ keys, algorithm: 'aes-256-gcm' }),
  'aes-256-cbc-hmac-sha-512': new AeadEncryption({ keys, algorithm: 'aes-256-cbc-hmac-sha-512' }),
};
const algorithmArb = fc.constantFrom<AeadAlgorithmName>('aes-256-gcm', 'aes-256-cbc-hmac-sha-512');
const RUNS = { numRuns: 400 };

function isOurs(err: unknown): boolean {
  return err instanceof IntegrityError || err instanceof EnvelopeFormatError || err instanceof KeyUnavailableError;
}

/** Resolves what open() did: 'ok' with the bytes, or the error; fails the property on a foreign error. */
/** Reads old unencrypted entries too, as the sweep that enables encryption does. */
const plaintextReader = new AeadEncryption({ keys, algorithm: 'aes-256-gcm', allowUnencryptedReads: true });

async function openSafely(algorithm: AeadAlgorithmName | 'plaintext-reader', bytes: Uint8Array): Promise<{ ok: true; value: Uint8Array } | { ok: false }> {
  try {
    return { ok: true, value: await (algorithm === 'plaintext-reader' ? plaintextReader : providers[algorithm]).open(bytes, identity) };
  } catch (err) {
    if (!isOurs(err)) throw new Error(`open() threw a foreign error: ${String(err)}`, { cause: err });
    return { ok: false };
  }
}

/** Header bytes for key id `k1` and the given algorithm id, so random bodies reach the algorithms. */
function header(algorithmId: number): Buffer {
  return Buffer.concat([ENVELOPE_MAGIC, Buffer.from([ENVELOPE_VERSION, algorithmId, 2]), Buffer.from('k1', 'latin1')]);
}

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
);

function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(input);
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % (bytes.length + 1);
    if (m.kind === 'flip' && at < bytes.length) bytes[at]! ^= m.mask;
    else if (m.kind === 'truncate') bytes = bytes.subarray(0, at);
    else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
    else if (m.kind === 'overwrite') {
      bytes = Buffer.from(bytes);
      bytes.set(m.bytes.subarray(0, Math.max(0, bytes.length - at)), at);
    }
  }
  return bytes;
}

describe('envelope parser and open() under fuzzing', () => {
  test('readHeader on random bytes returns a header or throws EnvelopeFormatError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (random, withMagic) => {
        const bytes = withMagic ? Buffer.concat([ENVELOPE_MAGIC, Buffer.from([ENVELOPE_VERSION]), random]) : Buffer.from(random);
        try {
          const parsed = readHeader(bytes);
          expect(parsed.headerLength).toBeLessThanOrEqual(bytes.length);
        } catch (err) {
          expect(err).toBeInstanceOf(EnvelopeFormatError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('open() of random bytes only ever fails with our typed errors', async () => {
    await fc.assert(
      fc.asyncProperty(algorithmArb, fc.uint8Array({ maxLength: 200 }), async (algorithm, random) => {
        const outcome = await openSafely(algorithm, random);
        expect(outcome.ok).toBe(false);
      }),
      RUNS,
    );
  });

  test('open() of a valid header followed by random bytes fails with IntegrityError for each algorithm', async () => {
    await fc.assert(
      fc.asyncProperty(
        algorithmArb,
        fc.constantFrom(AlgorithmId['aes-256-gcm'], AlgorithmId['aes-256-cbc-hmac-sha-512']),
        fc.uint8Array({ maxLength: 200 }),
        async (reader, algorithmId, body) => {
          await expect(providers[reader].open(Buffer.concat([header(algorithmId), body]), identity)).rejects.toThrow(IntegrityError);
        },
      ),
      RUNS,
    );
  });

  test('mutated valid envelopes fail with our typed errors unless the mutation changed nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        algorithmArb,
        fc.uint8Array({ maxLength: 300 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        async (algorithm, plaintext, mutations) => {
          const sealed = Buffer.from((await providers[algorithm].seal(plaintext, identity)).bytes);
          const mutated = mutate(sealed, mutations);
          const outcome = await openSafely(algorithm, mutated);
          if (mutated.equals(sealed)) {
            expect(outcome.ok && Buffer.from(outcome.value).equals(Buffer.from(plaintext))).toBe(true);
          } else {
            expect(outcome.ok).toBe(false);
          }
        },
      ),
      RUNS,
    );
  });

  test('mutated unencrypted envelopes fail with our typed errors (or pass the CRC with the same bytes)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), async (payload, mutations) => {
        const sealed = sealPlain(payload, identity);
        const mutated = mutate(sealed, mutations);
        const outcome = await openSafely('plaintext-reader', mutated);
        // A CRC-32 detects every error burst up to 32 bits; only identical bytes are sure to pass.
        if (mutated.equals(sealed)) expect(outcome.ok).toBe(true);
      }),
      RUNS,
    );
  });
});
