import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Key-check values: a MAC of a fixed label under a data key, stored beside its wrappings in the
 * manifest. Whatever unwraps a data key (KMS, a local root key, a backup) must produce bytes that
 * reproduce it, so a substituted wrapping (a key made by anyone allowed GenerateDataKey under the
 * same context) is refused, and the envelope is key-committing in practice: an entry can only
 * open under the one key its version id commits to.
 */

const KEY_CHECK_LABEL = 'cachevault key check v1';

/** Base64 of HMAC-SHA-256(dataKey, "cachevault key check v1"). Reveals nothing usable about the key. */
export function keyCheckValue(dataKey: Buffer): string {
  return createHmac('sha256', dataKey).update(KEY_CHECK_LABEL).digest('base64');
}

/** Whether `dataKey` is the key `check` commits to (constant-time comparison). */
export function verifyKeyCheck(dataKey: Buffer, check: string): boolean {
  const expected = createHmac('sha256', dataKey).update(KEY_CHECK_LABEL).digest();
  const stored = Buffer.from(check, 'base64');
  return stored.length === expected.length && timingSafeEqual(stored, expected);
}
