/**
 * `cachevault/crypto`: encryption providers, the envelope format and the raw cipher functions,
 * plus the value transforms (serializer, compression) that sit beside them in the pipeline.
 * `createCache` wires these from configuration; import them only to assemble a cache by hand.
 */
export type { EncryptionProvider, SealedValue } from '../crypto/encryptionProvider';
export { NoEncryption } from '../crypto/noEncryption';
export { AlgorithmId, type AlgorithmName } from '../crypto/envelope';
export { AeadEncryption, type AeadAlgorithmName, type AeadEncryptionOptions } from '../crypto/aeadEncryption';
export { EncryptionClosedError } from '../crypto/errors';
export { encryptAes256CbcHmacSha512, decryptAes256CbcHmacSha512 } from '../crypto/algorithms/aes256CbcHmacSha512';
export type { ValueTransform } from '../core/valueTransform';
export { compressionTransform, type CompressionOptions } from '../core/compression';
export { msgpackSerializer, type Serializer } from '../core/serializer';
