import type { EntryIdentity } from '../types';

/**
 * A reversible byte transform between the serializer and the encryption provider (compression,
 * app-specific framing). Transforms run in order on write and in reverse on read, above every
 * backend, so storage code never changes when a transform is added.
 */
export interface ValueTransform {
  readonly name: string;
  encode(bytes: Uint8Array, identity: EntryIdentity): Uint8Array | Promise<Uint8Array>;
  decode(bytes: Uint8Array, identity: EntryIdentity): Uint8Array | Promise<Uint8Array>;
}
