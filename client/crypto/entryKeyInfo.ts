import { AlgorithmId, type AlgorithmName } from './envelope';

/** Bytes of the random per-entry salt carried in every encrypted envelope. */
export const SALT_BYTES = 16;

const LABEL = Buffer.from('cachevault/v1/entry-key', 'latin1');

/**
 * The HKDF `info` that derives one entry's key: a label, the algorithm id (so one data key never
 * yields the same entry key for two algorithms) and the entry's random salt.
 */
export function entryKeyInfo(algorithm: Exclude<AlgorithmName, 'none'>, salt: Uint8Array): Buffer {
  const info = Buffer.allocUnsafe(LABEL.byteLength + 1 + SALT_BYTES);
  LABEL.copy(info, 0);
  info[LABEL.byteLength] = AlgorithmId[algorithm];
  info.set(salt.subarray(0, SALT_BYTES), LABEL.byteLength + 1);
  return info;
}
