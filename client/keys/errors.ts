import { CacheVaultError, KeyUnavailableError, type CacheVaultErrorOptions } from '../errors';
import type { KeyProviderName } from './providerRegistry';

/**
 * Errors of key management. None of them ever carries key material: messages name providers,
 * key ids, KMS key references and file paths only.
 */

/**
 * Why a key provider failed. The outage kinds make the chain fall back to the next provider;
 * `invalid-ciphertext`, `wrong-key` and `no-root-key` concern wrapped keys, not the provider's
 * health (it can still wrap new keys), so they don't.
 */
export const KeyProviderFailure = {
  noCredentials: 'no-credentials',
  network: 'network',
  throttled: 'throttled',
  accessDenied: 'access-denied',
  notFound: 'not-found',
  disabled: 'disabled',
  serviceUnavailable: 'service-unavailable',
  /** A local provider cannot work here (no D-Bus/keyring, env variable unset or malformed). */
  unavailable: 'unavailable',
  invalidCiphertext: 'invalid-ciphertext',
  /** The wrapped key was made under another root key (another machine's keyring). */
  wrongKey: 'wrong-key',
  /** The keyring works but holds no root key yet: nothing wrapped earlier can be unwrapped. */
  noRootKey: 'no-root-key',
} as const;
export type KeyProviderFailure = (typeof KeyProviderFailure)[keyof typeof KeyProviderFailure];

const NOT_AN_OUTAGE: ReadonlySet<KeyProviderFailure> = new Set([
  KeyProviderFailure.invalidCiphertext,
  KeyProviderFailure.wrongKey,
  KeyProviderFailure.noRootKey,
]);

/** One provider operation failed; `failure` says why, `hint` what to do. */
export class KeyProviderError extends CacheVaultError {
  override name = 'KeyProviderError';
  override readonly code: string = 'KEY_PROVIDER_FAILED';
  readonly provider: KeyProviderName;
  readonly failure: KeyProviderFailure;

  constructor(
    provider: KeyProviderName,
    failure: KeyProviderFailure,
    message: string,
    options: CacheVaultErrorOptions = {},
  ) {
    super(message, { ...options, context: { ...options.context, provider, failure } });
    this.provider = provider;
    this.failure = failure;
  }

  /** Whether the provider as a whole is unusable right now (so the chain should fall back). */
  get isOutage(): boolean {
    return !NOT_AN_OUTAGE.has(this.failure);
  }
}

/** One entry of a {@link NoKeyProviderError}: a provider that was tried, why it failed, the fix. */
export interface ProviderAttempt {
  readonly provider: KeyProviderName;
  readonly reason: string;
  readonly hint: string;
  /** Why it failed, when the provider said (an outage, or a wrong/missing root key...). */
  readonly failure?: KeyProviderFailure;
}

/** Whether a failure is an outage of the provider (as opposed to a wrong key or bad ciphertext). */
export function isOutageFailure(failure: KeyProviderFailure | undefined): boolean {
  return failure !== undefined && !NOT_AN_OUTAGE.has(failure);
}

/**
 * The generic fix for a provider, used when its own error has no more specific hint (the
 * registry entry's `fix`). The registry is required on first use, not imported: the error
 * classes load with the root entry, and the registry brings the config sections (zod) with it.
 */
export function providerFix(name: KeyProviderName): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { keyProviderDefinition } = require('./providerRegistry') as typeof import('./providerRegistry');
  return keyProviderDefinition(name).fix;
}

/** No configured provider could supply or unwrap a key. Lists every provider tried. */
export class NoKeyProviderError extends KeyUnavailableError {
  override name = 'NoKeyProviderError';
  override readonly code = 'NO_KEY_PROVIDER';
  readonly attempts: readonly ProviderAttempt[];

  constructor(what: string, attempts: readonly ProviderAttempt[], keyId?: string, options: CacheVaultErrorOptions = {}) {
    const lines = attempts.map((a) => `  - ${a.provider}: ${a.reason} (fix: ${a.hint})`);
    const tried = attempts.length === 0 ? ' No key provider is configured (keys.providers is empty).' : `\n${lines.join('\n')}`;
    super(`${what}: no key provider could do it. Tried, in order:${tried}`, keyId, {
      ...options,
      hint:
        options.hint ??
        (attempts.length === 0
          ? `Set keys.providers, e.g. ["kms", "keyring"]; ${providerFix('keyring')}.`
          : 'Fix one of the providers above; the chain uses the first one that works.'),
    });
    this.attempts = attempts;
  }
}

/** The key manifest could not be read, parsed or written. */
export class ManifestError extends CacheVaultError {
  override name = 'ManifestError';
  override readonly code = 'KEY_MANIFEST_FAILED';
}

/** An operation does not fit the key version's state (e.g. retiring the active version). */
export class KeyStateError extends CacheVaultError {
  override name = 'KeyStateError';
  override readonly code = 'KEY_STATE_INVALID';
}

/**
 * A key version cannot be retired yet: live entries are still sealed under it and would become
 * unreadable misses. `entries` is how many the scan found.
 */
export class KeyVersionInUseError extends CacheVaultError {
  override name = 'KeyVersionInUseError';
  override readonly code = 'KEY_VERSION_IN_USE';
  readonly keyId: string;
  readonly entries: number;
  constructor(keyId: string, entries: number, backend: string) {
    super(`Key version ${keyId} still seals ${entries} live ${entries === 1 ? 'entry' : 'entries'} in ${backend}; retiring it now would make ${entries === 1 ? 'it' : 'them'} unreadable.`, {
      hint: `Re-encrypt them first with \`cachevault encryption rotate\` (in code: reencryptInPlace with shouldRewrite: (e) => keys.isSealedUnder(e.keyId, '${keyId}'), as entries carry it as ${keyId}:<manifest id>), then run \`cachevault keys retire ${keyId}\` again.`,
      context: { keyId, entries, backend },
    });
    this.keyId = keyId;
    this.entries = entries;
  }
}

/** A key backup did not open: wrong passphrase or damaged bytes (indistinguishable by design). */
export class BackupPassphraseError extends CacheVaultError {
  override name = 'BackupPassphraseError';
  override readonly code = 'KEY_BACKUP_PASSPHRASE';
  constructor(options: CacheVaultErrorOptions = {}) {
    super('The key backup could not be opened: the passphrase is wrong or the backup is damaged.', {
      hint: 'Check the passphrase (it is case- and whitespace-sensitive) and that the file was copied intact.',
      ...options,
    });
  }
}

/** Bytes that are not a cachevault key backup, or one from a newer version. */
export class BackupFormatError extends CacheVaultError {
  override name = 'BackupFormatError';
  override readonly code = 'KEY_BACKUP_FORMAT';
}

/** A Secrets Manager rotation step failed; `step` names which. */
export class RotationStepError extends CacheVaultError {
  override name = 'RotationStepError';
  override readonly code = 'KEY_ROTATION_STEP_FAILED';
  readonly step: string;
  constructor(step: string, message: string, options: CacheVaultErrorOptions = {}) {
    super(message, { ...options, context: { ...options.context, step } });
    this.step = step;
  }
}

/**
 * A root key that cannot be random (all one byte, a repeated block, too short...). `source` names
 * where it came from (an environment variable, a keyring entry), never its bytes.
 */
export class WeakRootKeyError extends CacheVaultError {
  override name = 'WeakRootKeyError';
  override readonly code = 'ROOT_KEY_WEAK';
  readonly source: string;
  constructor(source: string, why: string) {
    super(`The root key from ${source} is refused: ${why}, so it cannot be a random 256-bit key.`, {
      hint: 'Generate a real key (`openssl rand -base64 32`) and put it there; if keys were already wrapped under this one, run `cachevault keys rotate-root` with both keys configured.',
      context: { source },
    });
    this.source = source;
  }
}

/**
 * The configured root key is not the one the manifest's keys (or its MAC) were made under: a wrong
 * CACHEVAULT_KEY, another machine's keyring, or a keyring entry that was replaced or deleted.
 * Fatal by design: falling back or creating a new key version here would replace the keys every
 * other client uses. A KeyUnavailableError, so a read under it is a counted miss, never a crash.
 */
export class RootKeyMismatchError extends KeyUnavailableError {
  override name = 'RootKeyMismatchError';
  override readonly code = 'ROOT_KEY_MISMATCH';
  constructor(what: string, keyId?: string, options: CacheVaultErrorOptions = {}) {
    super(`${what}: the configured root key is not the one it was made under.`, keyId, {
      hint:
        options.hint ??
        'Configure the root key this manifest was made with (CACHEVAULT_KEY or the keyring entry keys.keyring.service/account), or restore a key backup (`cachevault keys restore FILE`). Nothing was changed: no key version was created.',
      ...options,
    });
  }
}

/** How the key manifest failed its integrity checks. */
export const ManifestIntegrityFailure = {
  /** The MAC does not verify: the manifest was changed by someone without the MAC key. */
  tampered: 'tampered',
  /** A lower revision than this client has already seen: a rollback. */
  rollback: 'rollback',
  /** No manifest (or a blank one) where keys existed. */
  missing: 'missing',
  /** A manifest with no MAC where one is required. */
  unsealed: 'unsealed',
  /** A data key that unwraps to other bytes than its key-check value commits to. */
  keyCheck: 'key-check',
} as const;
export type ManifestIntegrityFailure = (typeof ManifestIntegrityFailure)[keyof typeof ManifestIntegrityFailure];

/**
 * The key manifest is not the one this deployment wrote: refused, and nothing was changed. A
 * KeyUnavailableError, so reads under it are counted misses.
 */
export class ManifestIntegrityError extends KeyUnavailableError {
  override name = 'ManifestIntegrityError';
  override readonly code: string;
  readonly failure: ManifestIntegrityFailure;
  constructor(failure: ManifestIntegrityFailure, message: string, options: CacheVaultErrorOptions & { keyId?: string } = {}) {
    super(message, options.keyId, { ...options, context: { ...options.context, failure } });
    this.failure = failure;
    this.code = `MANIFEST_${failure.toUpperCase().replace('-', '_')}`;
  }
}

/**
 * A KMS-wrapped data key names another KMS key than the configured one. Refused before any call:
 * decrypting under a key the manifest names would let whoever writes the manifest choose the key.
 */
export class KmsKeyMismatchError extends KeyUnavailableError {
  override name = 'KmsKeyMismatchError';
  override readonly code = 'KMS_KEY_MISMATCH';
  constructor(keyId: string, wrappedUnder: string, configured: string) {
    super(`Data key ${keyId} is wrapped under KMS key ${wrappedUnder}, not the configured key ${configured}.`, keyId, {
      hint: 'If the alias was moved to a new key on purpose, run `cachevault keys rewrap --from <old key ARN>` to wrap every version under the configured key; otherwise the manifest was altered: restore it from a key backup.',
      context: { wrappedUnder, configured },
    });
  }
}
