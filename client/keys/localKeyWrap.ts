import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyContext, KeyProviderName, WrappedKey } from './keyProvider';
import { hasLocalRootKey } from './providerRegistry';
import { RootSubkeyLabel, legacyRootKeyFingerprint, rootKeyFingerprint, withRootSubkey } from './rootKey';

/**
 * AES-256-GCM key wrapping under a local root key (keyring or env), shared by the local
 * providers. Layout: `format (1) | iv (12) | wrapped key | tag (16)`. The associated data binds
 * the wrap to the app, environment and key version, like KMS's encryption context, so a wrapped
 * key moved onto another version id or environment does not unwrap.
 *
 * Format 2 (written now) encrypts under the root key's `wrap` HKDF subkey, so the root key is
 * never used directly; format 1 (read only) used the raw root key. The format byte is also
 * bound into the associated data, so one format's bytes cannot be read as the other's.
 *
 * Random 96-bit IVs are fine here: a root key wraps one DEK per key version, far below the
 * 2^32 bound of NIST SP 800-38D 8.3.
 */

export const WrapFormat = { legacyRawRoot: 1, rootSubkey: 2 } as const;
type WrapFormat = (typeof WrapFormat)[keyof typeof WrapFormat];
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function keyContextAad(providerRef: string, context: KeyContext, format: WrapFormat = WrapFormat.rootSubkey): Buffer {
  return Buffer.from(
    JSON.stringify(['cachevault-dek-wrap', format, providerRef, context.app, context.environment, context.keyId]),
    'utf8',
  );
}

/** Wraps under the root key's `wrap` subkey (format 2); the subkey is zeroed afterwards. */
export function wrapWithRootKey(root: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  return withRootSubkey(root, RootSubkeyLabel.wrap, (kek) => {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([Buffer.of(WrapFormat.rootSubkey), iv, body, cipher.getAuthTag()]);
  });
}

/** Returns the DEK, or `undefined` when the bytes are malformed or fail authentication. */
export function unwrapWithRootKey(root: Buffer, wrapped: Buffer, aad: Buffer): Buffer | undefined {
  const format = wrapped[0];
  if (wrapped.length <= 1 + IV_BYTES + TAG_BYTES || (format !== WrapFormat.legacyRawRoot && format !== WrapFormat.rootSubkey)) return undefined;
  const open = (kek: Buffer): Buffer | undefined => {
    const iv = wrapped.subarray(1, 1 + IV_BYTES);
    const tag = wrapped.subarray(wrapped.length - TAG_BYTES);
    const body = wrapped.subarray(1 + IV_BYTES, wrapped.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
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
  };
  return format === WrapFormat.legacyRawRoot ? open(root) : withRootSubkey(root, RootSubkeyLabel.wrap, open);
}

export { rootKeyFingerprint } from './rootKey';

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
  const bytes = Buffer.from(wrapped.ciphertext, 'base64');
  const format: WrapFormat = bytes[0] === WrapFormat.legacyRawRoot ? WrapFormat.legacyRawRoot : WrapFormat.rootSubkey;
  if (fingerprint !== undefined) {
    const expected = Buffer.from(format === WrapFormat.legacyRawRoot ? legacyRootKeyFingerprint(root) : rootKeyFingerprint(root), 'utf8');
    const stored = Buffer.from(fingerprint, 'utf8');
    if (stored.length !== expected.length || !timingSafeEqual(stored, expected)) return 'wrong-root-key';
  }
  return unwrapWithRootKey(root, bytes, keyContextAad(ref ?? providerRef, context, format)) ?? 'does-not-authenticate';
}

/** Whether a local wrapping was made in the legacy format (raw root key), for `keys seal-manifest` / `rotate-root`. */
export function isLegacyLocalWrap(wrapped: WrappedKey): boolean {
  return hasLocalRootKey(wrapped.provider) && Buffer.from(wrapped.ciphertext, 'base64')[0] === WrapFormat.legacyRawRoot;
}
