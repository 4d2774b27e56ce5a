import { randomBytes } from 'node:crypto';
import { AuditEvent, type AuditSink } from '../audit/auditLog';
import type { Clock, Logger } from '../types';
import { NoKeyProviderError } from './errors';
import { KeyState, type KeyVersionRecord } from './keyManifest';
import type { GeneratedKey } from './keyProviderChain';

export interface ProcessLocalKeysOptions {
  /** A fresh key for `id` from the provider chain, with no extra local wrappings. */
  readonly generate: (id: string) => Promise<GeneratedKey>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit?: AuditSink;
}

/**
 * Process-local fallback keys. When the active key of a shared manifest cannot be unwrapped
 * (KMS down and no local wrapping of it), writing a new version to the manifest would hand every
 * other machine a key it cannot read. Instead this process seals new entries under a key of its
 * own: wrapped by whichever provider works, kept in memory only, never written anywhere shared,
 * with an id (`local-<12 hex>`) no manifest can hold. Entries under it must stay on local tiers.
 * The key manager leaves it as soon as the shared key unwraps again; the key stays here, decrypt-only,
 * for the entries it sealed, until the process ends.
 */
export class ProcessLocalKeys {
  private readonly records = new Map<string, KeyVersionRecord>();
  private current: string | undefined;

  constructor(private readonly options: ProcessLocalKeysOptions) {}

  /** The fallback key new entries are sealed with, while the shared key cannot be had. */
  get activeId(): string | undefined {
    return this.current;
  }

  get(id: string): KeyVersionRecord | undefined {
    return this.records.get(id);
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  /**
   * Creates a fallback key and makes it the active one. `cause` is why the shared key could not
   * be had; when no provider can make a key either, both sets of attempts are reported.
   */
  async create(cause: NoKeyProviderError, sharedKeyId: string | undefined): Promise<{ id: string; plaintext: Buffer }> {
    const id = `local-${randomBytes(6).toString('hex')}`;
    let generated: GeneratedKey;
    try {
      generated = await this.options.generate(id);
    } catch (error) {
      if (error instanceof NoKeyProviderError) throw new NoKeyProviderError('Could not get an active data key', [...cause.attempts, ...error.attempts], id, { cause: error });
      throw error;
    }
    this.records.set(id, { id, createdAt: new Date(this.options.clock()).toISOString(), state: KeyState.active, localOnly: true, wrapped: generated.wrapped });
    this.current = id;
    this.options.logger.warn(
      { keyId: id, sharedKeyId },
      'the shared active key cannot be unwrapped; sealing new entries under a process-local key (they must stay on local tiers)',
    );
    this.options.audit?.append(AuditEvent.keyGenerated, { keyId: id, reason: 'fallback', localOnly: true, shared: false, providers: generated.wrapped.map((w) => w.provider) });
    return { id, plaintext: generated.plaintext };
  }

  /** Back on a manifest key: new entries are no longer sealed under a fallback key. */
  leave(): void {
    this.current = undefined;
  }

  /** Every fallback key of this process, the active one `active`, the others decrypt-only. */
  versions(): KeyVersionRecord[] {
    return [...this.records.values()].map((v) => (v.id === this.current ? v : { ...v, state: KeyState.decryptOnly }));
  }
}
