import { Packr } from 'msgpackr';

/**
 * msgpackr with structured-clone semantics: objects, arrays, strings, numbers, Buffer and typed
 * arrays, Date, Map, Set, BigInt of any size, Error, and `undefined` inside objects and arrays
 * all survive a round trip with their types. Records (msgpackr's shared-key extension) are on,
 * embedded per message, so no structure state is shared between writers.
 */
const packr = new Packr({ structuredClone: true, moreTypes: true });

export interface Serializer {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

export const msgpackSerializer: Serializer = {
  serialize: (value) => packr.pack(value),
  deserialize: (bytes) => packr.unpack(bytes),
};
