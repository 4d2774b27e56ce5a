import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { IntegrityError } from '../errors';
import { ValueTooLargeError } from './errors';
import type { ValueTransform } from './valueTransform';

export interface CompressionOptions {
  /** Values smaller than this are stored as they are. @default 1024 */
  readonly thresholdBytes?: number;
  /**
   * Largest value decompression may produce; a stored value that would inflate past it reads as
   * corrupt. It bounds a decompression bomb planted by someone who can write to an unencrypted
   * store. It is also the largest serialized value `set` accepts (ValueTooLargeError past it),
   * so that nothing is stored that `get` could not read back; every client reading the cache
   * needs a cap at least as large as the writers'. @default 268435456 (256 MiB)
   */
  readonly maxDecompressedBytes?: number;
  /** Brotli quality 0-11; 4 is close to gzip's speed with a better ratio. @default 4 */
  readonly quality?: number;
}

const RAW = 0;
const BROTLI = 1;

/**
 * Brotli compression, applied only when it makes the value smaller. One leading byte says which
 * form follows. Compression runs before encryption (ciphertext does not compress).
 */
export function compressionTransform(options: CompressionOptions = {}): ValueTransform {
  const threshold = options.thresholdBytes ?? 1024;
  const quality = options.quality ?? 4;
  const maxOutputLength = options.maxDecompressedBytes ?? 256 * 1024 * 1024;
  return {
    name: 'brotli',
    encode(bytes) {
      // Checked before compressing: a value past the cap would compress, store, then miss on every read.
      if (bytes.byteLength > maxOutputLength) {
        throw new ValueTooLargeError(bytes.byteLength, maxOutputLength, 'the decompression cap (maxDecompressedBytes)', {
          hint: 'Cache smaller values (split them), or raise maxDecompressedBytes of compressionTransform() on every client that reads this cache.',
        });
      }
      if (bytes.byteLength >= threshold) {
        const packed = brotliCompressSync(bytes, {
          params: { [zlibConstants.BROTLI_PARAM_QUALITY]: quality, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength },
        });
        if (packed.byteLength + 1 < bytes.byteLength) return prefixed(BROTLI, packed);
      }
      return prefixed(RAW, bytes);
    },
    decode(bytes) {
      const body = bytes.subarray(1);
      switch (bytes[0]) {
        case RAW:
          return body;
        case BROTLI:
          try {
            return brotliDecompressSync(body, { maxOutputLength });
          } catch (err) {
            throw new IntegrityError('Stored entry does not decompress.', { cause: err });
          }
        default:
          throw new IntegrityError('Stored entry has an unknown compression marker.');
      }
    },
  };
}

function prefixed(marker: number, body: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(body.byteLength + 1);
  out[0] = marker;
  out.set(body, 1);
  return out;
}
