/**
 * The error hierarchy every part of the client uses. Each error says what failed, why, and what
 * to do (`hint`); it carries a stable `code` for scripts and never any secret material.
 */

export interface CacheVaultErrorOptions {
  readonly cause?: unknown;
  /** What the user can do about it; shown by the CLI under the message. */
  readonly hint?: string;
  /** Non-secret context fields (table name, path, key id...). */
  readonly context?: Record<string, string | number | boolean | undefined>;
}

/**
 * The base of every cachevault error. A subclass declares its `name` and `code` as fields and
 * writes a constructor only when it builds the message or keeps context fields: the base takes
 * `(message, { cause, hint, context })`.
 *
 * `name` is a string literal in each class, not `new.target.name`: bundlers rename classes (esbuild
 * turns the second of two top-level `ConfigError` classes in one bundle into `ConfigError2`, and
 * `--minify` into one letter), and `name` is what logs and stack traces show.
 * test/unit/errorClasses.test.ts checks every declared name against its class.
 */
export class CacheVaultError extends Error {
  override name = 'CacheVaultError';
  readonly code: string = 'CACHEVAULT_ERROR';
  readonly hint: string | undefined;
  readonly context: Record<string, string | number | boolean | undefined>;

  constructor(message: string, options: CacheVaultErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options.hint;
    this.context = options.context ?? {};
  }
}

/** Invalid configuration; `issues` names every bad field. */
export class ConfigError extends CacheVaultError {
  override name = 'ConfigError';
  override readonly code = 'CONFIG_INVALID';
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[], options: CacheVaultErrorOptions = {}) {
    super(message, options);
    this.issues = issues;
  }
}

export interface ConfigIssue {
  /** Dotted path of the field, e.g. `file.maxBytes`. */
  readonly path: string;
  /** The offending value, already redacted if the field is secret. */
  readonly value: string;
  /** What is allowed. */
  readonly expected: string;
  /** Where the value came from: default, file, env (with the variable), options. */
  readonly source?: string;
}

/** A caller passed something the API cannot take (bad key, bad TTL...). */
export class InvalidArgumentError extends CacheVaultError {
  override name = 'InvalidArgumentError';
  override readonly code = 'INVALID_ARGUMENT';
}

/** A storage tier failed (I/O, network, service error). */
export class BackendError extends CacheVaultError {
  override name = 'BackendError';
  override readonly code: string = 'BACKEND_ERROR';
  readonly backend: string;
  constructor(backend: string, message: string, options: CacheVaultErrorOptions = {}) {
    super(message, options);
    this.backend = backend;
  }
}

/** A backend was used after `close()`. */
export class BackendClosedError extends BackendError {
  override name = 'BackendClosedError';
  override readonly code = 'BACKEND_CLOSED';
  constructor(backend: string) {
    super(backend, `The ${backend} backend is closed.`, {
      hint: 'Create a new backend (or CacheManager) instead of reusing one after close().',
    });
  }
}

/** On-disk data was written by a newer cachevault, or in a layout this version cannot read. */
export class UnsupportedFormatError extends CacheVaultError {
  override name = 'UnsupportedFormatError';
  override readonly code = 'UNSUPPORTED_FORMAT';
}

/**
 * Stored bytes failed an integrity or authenticity check. Deliberately carries no detail of
 * which check failed: one error for every failure, so it cannot serve as an oracle.
 */
export class IntegrityError extends CacheVaultError {
  override name = 'IntegrityError';
  override readonly code = 'INTEGRITY_FAILED';
  constructor(message = 'Stored entry failed its integrity check.', options: CacheVaultErrorOptions = {}) {
    super(message, options);
  }
}

/** Bytes are not a cachevault envelope this version understands. */
export class EnvelopeFormatError extends CacheVaultError {
  override name = 'EnvelopeFormatError';
  override readonly code = 'ENVELOPE_INVALID';
}

/** The key version an entry needs is not available to this client. */
export class KeyUnavailableError extends CacheVaultError {
  override name = 'KeyUnavailableError';
  override readonly code: string = 'KEY_UNAVAILABLE';
  readonly keyId: string | undefined;
  constructor(message: string, keyId?: string, options: CacheVaultErrorOptions = {}) {
    super(message, { ...options, context: { ...options.context, keyId } });
    this.keyId = keyId;
  }
}

/**
 * The entry was sealed by another deployment whose key manifest shares this store (its key id
 * names another manifest: `k1:<manifest id>`). No key of this client can open it, so it is a
 * miss, counted as `foreignManifest`, never an integrity failure, and it costs no manifest reload.
 */
export class ForeignManifestError extends KeyUnavailableError {
  override name = 'ForeignManifestError';
  override readonly code: string = 'FOREIGN_MANIFEST';
  /** The manifest id the entry names. */
  readonly manifestId: string;
  constructor(keyId: string, manifestId: string, ownManifestId: string | undefined, options: CacheVaultErrorOptions = {}) {
    super(`Entry sealed under key ${keyId}, a key of another key manifest (${manifestId}; this client's is ${ownManifestId ?? 'not created yet'}).`, keyId, {
      hint: 'Another deployment (another environment key or manifest) shares this table or cache directory; its entries read as misses here. Give each deployment its own table, cache directory or namespaces if the misses matter.',
      ...options,
      context: { ...options.context, manifestId, ownManifestId },
    });
    this.manifestId = manifestId;
  }
}

/** Exit codes shared by the CLI and documented in docs/cli.md. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  partial: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
