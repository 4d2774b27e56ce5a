import { inspect } from 'node:util';
import { silentLogger } from '../logger';
import type { Logger } from '../types';
import { KeyProviderError, KeyProviderFailure, providerFix } from './errors';
import type { KeyContext, LocalRootKeyProvider, WrappedKey } from './keyProvider';
import { generateWrappedDataKey, unwrapLocalKey, wrapLocalKey } from './localKeyWrap';
import { assertStrongRootKey, deriveRootSubkey, rootKeyFingerprint } from './rootKey';

export interface EnvKeyProviderOptions {
  /** Environment variable holding a base64 32-byte root key. @default 'CACHEVAULT_KEY' */
  readonly variable?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * A root key from an environment variable, for containers and CI where no keyring exists.
 * Weaker than KMS or a keyring: the key sits in the process environment, visible to anything
 * that can read `/proc/<pid>/environ`, crash dumps and orchestration specs. It warns once.
 */
export class EnvKeyProvider implements LocalRootKeyProvider {
  readonly name = 'env' as const;
  readonly variable: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly logger: Logger;
  private root: Buffer | undefined;
  private warned = false;

  constructor(options: EnvKeyProviderOptions = {}) {
    this.variable = options.variable ?? 'CACHEVAULT_KEY';
    this.env = options.env ?? process.env;
    this.logger = options.logger ?? silentLogger;
  }

  private get ref(): string {
    return `env:${this.variable}`;
  }

  generateDataKey(context: KeyContext): Promise<{ plaintext: Buffer; wrapped: WrappedKey }> {
    return generateWrappedDataKey((plaintext) => this.wrap(plaintext, context));
  }

  async wrap(plaintext: Buffer, context: KeyContext): Promise<WrappedKey> {
    return wrapLocalKey('env', this.ref, this.rootKey(), plaintext, context);
  }

  async unwrap(wrapped: WrappedKey, context: KeyContext): Promise<Buffer> {
    const plaintext = unwrapLocalKey(this.rootKey(), this.ref, wrapped, context);
    if (plaintext === 'wrong-root-key') {
      throw new KeyProviderError('env', KeyProviderFailure.wrongKey, `Key ${context.keyId} was wrapped under a different ${this.variable} value.`, {
        hint: `Set ${this.variable} to the value used when the key was created, or rotate to a new key version.`,
        context: { keyId: context.keyId },
      });
    }
    if (plaintext === 'does-not-authenticate') {
      throw new KeyProviderError('env', KeyProviderFailure.invalidCiphertext, `The env-wrapped copy of key ${context.keyId} does not authenticate.`, {
        hint: 'Restore the key manifest from a backup, or rotate to a new key version.',
        context: { keyId: context.keyId },
      });
    }
    return plaintext;
  }

  async deriveRootSubkey(label: string): Promise<Buffer> {
    return deriveRootSubkey(this.rootKey(), label);
  }

  async rootKeyRef(): Promise<string> {
    return `${this.ref}#${rootKeyFingerprint(this.rootKey())}`;
  }

  async probe(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      this.rootKey();
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? error.message : String(error) };
    }
  }

  close(): void {
    this.root?.fill(0);
    this.root = undefined;
  }

  /** Never the root key, whoever inspects or serializes the provider. */
  [inspect.custom](): string {
    return `EnvKeyProvider { variable: ${this.variable} }`;
  }

  toJSON(): { name: 'env'; variable: string } {
    return { name: 'env', variable: this.variable };
  }

  private rootKey(): Buffer {
    if (this.root) return this.root;
    const raw = this.env[this.variable];
    if (raw === undefined || raw.trim() === '') {
      throw new KeyProviderError('env', KeyProviderFailure.unavailable, `The environment variable ${this.variable} is not set.`, {
        hint: providerFix('env'),
      });
    }
    const text = raw.trim();
    // Never echo the value: it is the key, or close to it.
    const key = BASE64.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) {
      key.fill(0);
      throw new KeyProviderError('env', KeyProviderFailure.unavailable, `The environment variable ${this.variable} is not a base64-encoded 32-byte key.`, {
        hint: providerFix('env'),
      });
    }
    try {
      // A set but degenerate key is not an outage to fall back from: it is refused outright.
      assertStrongRootKey(key, `the environment variable ${this.variable}`);
    } catch (error) {
      key.fill(0);
      throw error;
    }
    if (!this.warned) {
      this.warned = true;
      this.logger.warn(
        { provider: 'env', variable: this.variable },
        `using the root key from ${this.variable}: weaker than KMS or an OS keyring (the key is readable from the process environment); prefer those where available`,
      );
    }
    this.root = key;
    return key;
  }
}
