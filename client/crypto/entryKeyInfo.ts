import { createHmac } from 'node:crypto';
import { AlgorithmId, type AlgorithmName } from './envelope';
import { hkdfExpand, type DataKeyPrk } from './keyDerivation';

/** Bytes of the random per-entry salt carried in every encrypted envelope. */
export const SALT_BYTES = 16;

type SealingAlgorithm = Exclude<AlgorithmName, 'none'>;

const LABEL = Buffer.from('cachevault/v1/entry-key', 'latin1');
const INFO_BYTES = LABEL.byteLength + 1 + SALT_BYTES;

/**
 * The HKDF `info` that derives one entry's key: a label, the algorithm id (so one data key never
 * yields the same entry key for two algorithms) and the entry's random salt.
 */
export function entryKeyInfo(algorithm: SealingAlgorithm, salt: Uint8Array): Buffer {
  const info = Buffer.allocUnsafe(INFO_BYTES);
  writeInfo(info, algorithm, salt);
  return info;
}

function writeInfo(target: Buffer, algorithm: SealingAlgorithm, salt: Uint8Array): void {
  LABEL.copy(target, 0);
  target[LABEL.byteLength] = AlgorithmId[algorithm];
  target.set(salt.subarray(0, SALT_BYTES), LABEL.byteLength + 1);
}

/**
 * `info | 0x01`, the whole HMAC input of HKDF-Expand's first block (41 bytes, one SHA-256
 * block), prebuilt per algorithm so a call only writes the salt. Reused across calls: JS runs
 * this synchronously to completion, and it holds only public bytes (label, id, salt).
 */
const firstBlockInputs = new Map<SealingAlgorithm, Buffer>(
  (['aes-256-gcm', 'aes-256-cbc-hmac-sha-512'] as const).map((algorithm) => {
    const input = Buffer.alloc(INFO_BYTES + 1);
    writeInfo(input, algorithm, Buffer.alloc(SALT_BYTES));
    input[INFO_BYTES] = 1;
    return [algorithm, input];
  }),
);
const SALT_OFFSET = LABEL.byteLength + 1;

/**
 * The per-entry key: HKDF-Expand(PRK, entryKeyInfo(algorithm, salt), length). For 32 bytes
 * (AES-256-GCM, the hot path of every seal and open) that is T(1) alone: one HMAC-SHA-256
 * (node:crypto) over the prebuilt first-block input. The caller zeroes the result.
 */
export function deriveEntryKey(prk: DataKeyPrk, algorithm: SealingAlgorithm, salt: Uint8Array, length: number): Buffer {
  const input = firstBlockInputs.get(algorithm);
  if (length !== 32 || input === undefined) return hkdfExpand(prk.prk, entryKeyInfo(algorithm, salt), length);
  // A byte loop: cheaper than a native copy or a subarray view for 16 bytes.
  for (let i = 0; i < SALT_BYTES; i++) input[SALT_OFFSET + i] = salt[i]!;
  return createHmac('sha256', prk.prk).update(input).digest();
}
