import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { silentLogger } from '../logger';
import type { Logger } from '../types';
import { KeyProviderError, KeyProviderFailure, providerFix } from './errors';
import type { KeyContext, LocalRootKeyProvider, WrappedKey } from './keyProvider';
import { generateWrappedDataKey, unwrapLocalKey, wrapLocalKey } from './localKeyWrap';
import { assertStrongRootKey, deriveRootSubkey, rootKeyFingerprint } from './rootKey';

/** The slice of `@napi-rs/keyring`'s `AsyncEntry` this provider uses (injectable in tests). */
export interface KeyringEntry {
  getSecret(): Promise<ArrayLike<number> | null>;
  setSecret(secret: Uint8Array): Promise<void>;
  deleteCredential(): Promise<boolean>;
}

/** Which Linux credential store holds the root key. */
export type LinuxKeyringStore = 'secret-service' | 'keyutils' | 'auto';

export interface KeyringKeyProviderOptions {
  /** Keyring service name. @default 'cachevault' */
  readonly service?: string;
  /** Keyring account (user) name. @default 'root-key' */
  readonly account?: string;
  /**
   * Linux only. `secret-service` (GNOME Keyring, KWallet) persists across reboots. The kernel's
   * `keyutils` session keyring does not: a root key kept there is gone after a reboot and every
   * local-only key version with it, which is why `auto` (the library's silent fallback from
   * Secret Service to keyutils) is not the default.
   * @default 'secret-service'
   */
  readonly linuxStore?: LinuxKeyringStore;
  /** Builds keyring entries; defaults to `@napi-rs/keyring`'s `AsyncEntry`. */
  readonly entryFactory?: (service: string, account: string) => KeyringEntry;
  readonly logger?: Logger;
}

const ROOT_KEY_BYTES = 32;

/**
 * A 256-bit root key generated with `crypto.randomBytes` and kept in the OS keyring; data keys
 * are wrapped under it locally (AES-256-GCM, associated data = key context). Stored with
 * `setSecret` (raw bytes), so the root key never becomes a JavaScript string.
 */
export class KeyringKeyProvider implements LocalRootKeyProvider {
  readonly name = 'keyring' as const;
  readonly service: string;
  readonly account: string;
  private readonly entry: () => KeyringEntry;
  private readonly logger: Logger;
  private root: Buffer | undefined;
  private loading: Promise<Buffer> | undefined;

  constructor(options: KeyringKeyProviderOptions = {}) {
    this.service = options.service ?? 'cachevault';
    this.account = options.account ?? 'root-key';
    this.logger = options.logger ?? silentLogger;
    const store = options.linuxStore ?? 'secret-service';
    const factory = options.entryFactory ?? napiEntryFactory(store);
    let entry: KeyringEntry | undefined;
    this.entry = () => (entry ??= factory(this.service, this.account));
  }

  private get ref(): string {
    return `keyring:${this.service}/${this.account}`;
  }

  generateDataKey(context: KeyContext): Promise<{ plaintext: Buffer; wrapped: WrappedKey }> {
    return generateWrappedDataKey((plaintext) => this.wrap(plaintext, context));
  }

  async wrap(plaintext: Buffer, context: KeyContext): Promise<WrappedKey> {
    return wrapLocalKey('keyring', this.ref, await this.rootKey(true), plaintext, context);
  }

  async unwrap(wrapped: WrappedKey, context: KeyContext): Promise<Buffer> {
    const plaintext = unwrapLocalKey(await this.rootKey(false), this.ref, wrapped, context);
    if (plaintext === 'wrong-root-key') {
      throw new KeyProviderError('keyring', KeyProviderFailure.wrongKey, `Key ${context.keyId} was wrapped under a different keyring root key (another machine or a replaced keyring entry).`, {
        hint: 'Import a key backup from the machine that wrote it (`cachevault keys restore FILE`), or rotate to a new key version.',
        context: { keyId: context.keyId },
      });
    }
    if (plaintext === 'does-not-authenticate') {
      throw new KeyProviderError('keyring', KeyProviderFailure.invalidCiphertext, `The keyring-wrapped copy of key ${context.keyId} does not authenticate (damaged manifest, or wrapped for another app, environment or key id).`, {
        hint: 'Restore the key manifest from a backup, or rotate to a new key version.',
        context: { keyId: context.keyId },
      });
    }
    return plaintext;
  }

  async deriveRootSubkey(label: string, options: { create?: boolean } = {}): Promise<Buffer> {
    return deriveRootSubkey(await this.rootKey(options.create ?? false), label);
  }

  async rootKeyRef(options: { create?: boolean } = {}): Promise<string> {
    return `${this.ref}#${rootKeyFingerprint(await this.rootKey(options.create ?? false))}`;
  }

  /**
   * Reads the root key, creating it when absent: proving the keyring accepts writes is the point,
   * and the key is needed on first use anyway.
   */
  async probe(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      await this.rootKey(true);
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: error instanceof KeyProviderError ? error.message : String(error) };
    }
  }

  /** Deletes the root key from the keyring (tests, `keys destroy`). Local-only versions become unreadable. */
  async deleteRootKey(): Promise<boolean> {
    this.close();
    return this.call('delete the root key from', () => this.entry().deleteCredential());
  }

  close(): void {
    this.root?.fill(0);
    this.root = undefined;
  }

  /** Never the root key, whoever inspects or serializes the provider. */
  [inspect.custom](): string {
    return `KeyringKeyProvider { service: ${JSON.stringify(this.service)}, account: ${JSON.stringify(this.account)} }`;
  }

  toJSON(): { name: 'keyring'; service: string; account: string } {
    return { name: 'keyring', service: this.service, account: this.account };
  }

  private rootKey(create: boolean): Promise<Buffer> {
    if (this.root) return Promise.resolve(this.root);
    // Single-flight: concurrent first uses must not each generate (and overwrite) a root key.
    this.loading ??= this.loadRootKey(create).finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async loadRootKey(create: boolean): Promise<Buffer> {
    let stored = await this.readStored();
    if (!stored) {
      if (!create) {
        throw new KeyProviderError('keyring', KeyProviderFailure.noRootKey, `The keyring has no cachevault root key (service "${this.service}", account "${this.account}").`, {
          hint: 'The key was deleted or this is another machine: import a key backup, or rotate to a new key version.',
        });
      }
      const fresh = randomBytes(ROOT_KEY_BYTES);
      try {
        await this.call('store the root key in', () => this.entry().setSecret(fresh));
      } finally {
        fresh.fill(0);
      }
      // Read back what the keyring holds: if another process stored its key at the same time,
      // everyone converges on the surviving one.
      stored = await this.readStored();
      if (!stored) {
        throw new KeyProviderError('keyring', KeyProviderFailure.unavailable, 'The keyring accepted the root key but did not return it.', {
          hint: providerFix('keyring'),
        });
      }
      this.logger.info({ provider: 'keyring', service: this.service, account: this.account }, 'generated a new root key in the OS keyring');
    }
    this.root = stored;
    return stored;
  }

  private async readStored(): Promise<Buffer | undefined> {
    const secret = await this.call('read the root key from', () => this.entry().getSecret());
    if (secret === null) return undefined;
    const key = Buffer.from(Array.from(secret));
    if (Array.isArray(secret)) secret.fill(0);
    if (key.length !== ROOT_KEY_BYTES) {
      key.fill(0);
      throw new KeyProviderError('keyring', KeyProviderFailure.invalidCiphertext, `The keyring entry (service "${this.service}", account "${this.account}") does not hold a 32-byte cachevault root key.`, {
        hint: 'Point keys.keyring.account at another entry, or delete this one if nothing else uses it.',
      });
    }
    try {
      assertStrongRootKey(key, `the keyring entry (service "${this.service}", account "${this.account}")`);
    } catch (error) {
      key.fill(0);
      throw error;
    }
    return key;
  }

  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof KeyProviderError) throw error;
      // @napi-rs/keyring reports a missing D-Bus / locked keyring as GenericFailure, fast.
      const detail = error instanceof Error ? error.message : String(error);
      throw new KeyProviderError('keyring', KeyProviderFailure.unavailable, `Could not ${action} the OS keyring: ${detail}`, {
        hint: providerFix('keyring'),
        cause: error,
      });
    }
  }
}

function napiEntryFactory(store: LinuxKeyringStore): (service: string, account: string) => KeyringEntry {
  return (service, account) => {
    // Loaded lazily: apps that configure only KMS or env never load the native module.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { AsyncEntry } = require('@napi-rs/keyring') as typeof import('@napi-rs/keyring');
    return new AsyncEntry(service, account, store === 'auto' ? undefined : { linux: { store } });
  };
}
