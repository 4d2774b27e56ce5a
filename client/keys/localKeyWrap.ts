import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { KeyContext, KeyProviderName, WrappedKey } from './keyProvider';

/**
 * AES-256-GCM key wrapping under a local root key (keyring or env), shared by the local
 * providers. Layout: `version (1) | iv (12) | wrapped key | tag (16)`. The associated data binds
 * the wrap to the app, environment and key version, like KMS's encryption context, so a wrapped
 * key moved onto another version id or environment does not unwrap.
 *
 * Random 96-bit IVs are fine here: a root key wraps one DEK per key version, far below the
 * 2^32 bound of NIST SP 800-38D 8.3.
 */

const WRAP_FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function keyContextAad(providerRef: string, context: KeyContext): Buffer {
  return Buffer.from(
    JSON.stringify(['cachevault-dek-wrap', WRAP_FORMAT, providerRef, context.app, context.environment, context.keyId]),
    'utf8',
  );
}

export function wrapWithRootKey(root: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', root, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([Buffer.of(WRAP_FORMAT), iv, body, cipher.getAuthTag()]);
}

/** Returns the DEK, or `undefined` when the bytes are malformed or fail authentication. */
export function unwrapWithRootKey(root: Buffer, wrapped: Buffer, aad: Buffer): Buffer | undefined {
  if (wrapped.length <= 1 + IV_BYTES + TAG_BYTES || wrapped[0] !== WRAP_FORMAT) return undefined;
  const iv = wrapped.subarray(1, 1 + IV_BYTES);
  const tag = wrapped.subarray(wrapped.length - TAG_BYTES);
  const body = wrapped.subarray(1 + IV_BYTES, wrapped.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', root, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const out = decipher.update(body);
  try {
    decipher.final();
    return out;
  } catch {
    out.fill(0);
    return undefined;
  }
}

/**
 * A short public identifier of a root key (HMAC of a fixed label, so it reveals nothing usable),
 * stored with each wrap so an unwrap under another machine's root key fails with a clear reason.
 */
export function rootKeyFingerprint(root: Buffer): string {
  return createHmac('sha256', root).update('cachevault root key fingerprint v1').digest('hex').slice(0, 16);
}

const DATA_KEY_BYTES = 32;

/** A fresh 256-bit data key and its wrapped copy; the plaintext is zeroed when wrapping fails. */
export async function generateWrappedDataKey(wrap: (plaintext: Buffer) => Promise<WrappedKey>): Promise<{ plaintext: Buffer; wrapped: WrappedKey }> {
  const plaintext = randomBytes(DATA_KEY_BYTES);
  try {
    return { plaintext, wrapped: await wrap(plaintext) };
  } catch (error) {
    plaintext.fill(0);
    throw error;
  }
}

/**
 * Wraps a data key under a local provider's root key. The reference records which root key
 * (`<providerRef>#<fingerprint>`) so `unwrapLocalKey` can tell a foreign root key from damage.
 */
export function wrapLocalKey(provider: KeyProviderName, providerRef: string, root: Buffer, plaintext: Buffer, context: KeyContext): WrappedKey {
  const ciphertext = wrapWithRootKey(root, plaintext, keyContextAad(providerRef, context));
  return { provider, wrappingKeyRef: `${providerRef}#${rootKeyFingerprint(root)}`, ciphertext: ciphertext.toString('base64') };
}

/**
 * Opens a key `wrapLocalKey` wrapped. `wrong-root-key`: the fingerprint names another root key;
 * `does-not-authenticate`: the bytes are damaged or bound to another app, environment or key id.
 * A reference without a fingerprint (older manifests) is tried as is.
 */
export function unwrapLocalKey(root: Buffer, providerRef: string, wrapped: WrappedKey, context: KeyContext): Buffer | 'wrong-root-key' | 'does-not-authenticate' {
  const [ref, fingerprint] = wrapped.wrappingKeyRef.split('#');
  if (fingerprint !== undefined && fingerprint !== rootKeyFingerprint(root)) return 'wrong-root-key';
  return unwrapWithRootKey(root, Buffer.from(wrapped.ciphertext, 'base64'), keyContextAad(ref ?? providerRef, context)) ?? 'does-not-authenticate';
}
