import type { Packr } from 'msgpackr';

/**
 * msgpackr with structured-clone semantics: objects, arrays, strings, numbers, Buffer and typed
 * arrays, Date, Map, Set, BigInt of any size, Error, and `undefined` inside objects and arrays
 * all survive a round trip with their types. Records (msgpackr's shared-key extension) are on,
 * embedded per message, so no structure state is shared between writers.
 *
 * msgpackr (and its optional native extension) loads on the first value serialized, not when
 * the package is imported: it is about half of a cold `require('cachevault')`.
 */
let packr: Packr | undefined;
function codec(): Packr {
  if (packr === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Packr: PackrClass } = require('msgpackr') as typeof import('msgpackr');
    // copyBuffers: a decoded Buffer is its own memory, not a view of the bytes decoded. Verified
    // plaintext is decoded again on every memory hit, and a view would let one caller's write
    // into a cached Buffer change what every later hit returns.
    packr = new PackrClass({ structuredClone: true, moreTypes: true, copyBuffers: true });
  }
  return packr;
}

export interface Serializer {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

export const msgpackSerializer: Serializer = {
  serialize: (value) => codec().pack(value),
  deserialize: (bytes) => codec().unpack(bytes),
};
