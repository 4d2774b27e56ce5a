import { createHmac, hkdfSync } from 'node:crypto';
import { WeakRootKeyError } from './errors';

/**
 * The local root key (OS keyring or environment variable) is never used directly: every use gets
 * its own HKDF-SHA-256 subkey (RFC 5869), so a key that wraps data keys is never also a MAC key,
 * and a MAC computed for one purpose can never be replayed as one for another.
 *
 * Only the legacy wrap format (1) and its fingerprint still use the raw root key, to read wraps
 * written before subkeys existed; nothing new is written under it.
 */

/** One label per use of the root key. New uses add a label; a label is never reused. */
export const RootSubkeyLabel = {
  /** AES-256-GCM wrapping of data keys (local wrap format 2). */
  wrap: 'wrap',
  /** The public fingerprint stored beside each wrap and each manifest MAC. */
  fingerprint: 'fingerprint',
  /** HMAC-SHA-256 over the key manifest. */
  manifestMac: 'manifest-mac',
  /** HMAC-SHA-256 over the local revision pin (the highest manifest revision seen). */
  revisionPin: 'revision-pin',
  /** HMAC chain of the audit log. */
  auditMac: 'audit-mac',
} as const;

const INFO_PREFIX = 'cachevault root subkey v1 ';
const SUBKEY_BYTES = 32;
const LABEL = /^[a-z0-9][a-z0-9.-]{0,62}$/;

/**
 * A 32-byte subkey of `root` for one use, named by `label` (see RootSubkeyLabel). The caller
 * owns the returned Buffer and should zero it (`fill(0)`) as soon as it is done with it.
 */
export function deriveRootSubkey(root: Buffer, label: string): Buffer {
  if (!LABEL.test(label)) throw new TypeError(`Invalid root subkey label ${JSON.stringify(label)}.`);
  // No salt: the root key is already uniformly random (RFC 5869 section 3.1), and a fixed
  // derivation is what lets every machine holding the root key derive the same subkey.
  return Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), `${INFO_PREFIX}${label}`, SUBKEY_BYTES));
}

/** Runs `fn` with a subkey that is zeroed afterwards, whatever `fn` does. */
export function withRootSubkey<T>(root: Buffer, label: string, fn: (subkey: Buffer) => T): T {
  const subkey = deriveRootSubkey(root, label);
  try {
    return fn(subkey);
  } finally {
    subkey.fill(0);
  }
}

/**
 * A short public identifier of a root key: 64 bits of its fingerprint subkey. It reveals nothing
 * usable about the key and lets a wrong root key be told from damage.
 */
export function rootKeyFingerprint(root: Buffer): string {
  return withRootSubkey(root, RootSubkeyLabel.fingerprint, (subkey) =>
    createHmac('sha256', subkey).update('cachevault root key fingerprint v2').digest('hex').slice(0, 16),
  );
}

/** The fingerprint of wrap format 1 (HMAC under the raw root key), to read old wraps only. */
export function legacyRootKeyFingerprint(root: Buffer): string {
  return createHmac('sha256', root).update('cachevault root key fingerprint v1').digest('hex').slice(0, 16);
}

const ROOT_KEY_BYTES = 32;

/**
 * Refuses root keys that cannot be random: wrong length, one byte repeated, a short block
 * repeated, an arithmetic run (00 01 02 ...), or too few distinct bytes. A 32-byte key from a
 * CSPRNG has about 30 distinct byte values; fewer than 16 happens with probability below 2^-60,
 * so a real key is never refused. `source` names where the key came from (no key bytes).
 */
export function assertStrongRootKey(key: Uint8Array, source: string): void {
  const refuse = (why: string): never => {
    throw new WeakRootKeyError(source, why);
  };
  if (key.length !== ROOT_KEY_BYTES) refuse(`it is ${key.length} bytes, not ${ROOT_KEY_BYTES}`);
  for (let period = 1; period <= ROOT_KEY_BYTES / 2; period += 1) {
    let repeats = true;
    for (let i = period; i < key.length && repeats; i += 1) repeats = key[i] === key[i - period];
    if (repeats) refuse(period === 1 ? 'every byte is the same' : `it repeats a ${period}-byte block`);
  }
  const step = (key[1]! - key[0]! + 256) % 256;
  let run = true;
  for (let i = 2; i < key.length && run; i += 1) run = (key[i]! - key[i - 1]! + 256) % 256 === step;
  if (run) refuse('its bytes form an arithmetic sequence');
  if (new Set(key).size < 16) refuse(`it has only ${new Set(key).size} distinct byte values`);
}
