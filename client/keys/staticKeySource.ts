import { inspect } from 'node:util';
import { InvalidArgumentError, KeyUnavailableError } from '../errors';
import type { DataKey, DataKeySource } from './keyProvider';

const KEY_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const KEY_BYTES = 32;

export interface StaticKeyInput {
  /** Version id written into envelopes, e.g. `k1`. */
  readonly id: string;
  /** 32 bytes; copied, so the caller may zero its own Buffer afterwards. */
  readonly material: Uint8Array;
}

/**
 * A fixed set of data keys held in memory: for tests, benchmarks and keys supplied directly
 * (an environment variable). Keys are copied in and zeroed by `close()`.
 */
export class StaticKeySource implements DataKeySource {
  private readonly keys = new Map<string, DataKey>();
  private readonly activeId: string;
  private closed = false;
  private readonly dropListeners = new Set<(key: DataKey) => void>();

  /**
   * @param keys key versions, oldest first.
   * @param activeId the version that seals new entries. @default the last of `keys`
   */
  constructor(keys: readonly StaticKeyInput[], activeId?: string) {
    if (keys.length === 0) throw new InvalidArgumentError('StaticKeySource needs at least one key.');
    for (const { id, material } of keys) {
      if (!KEY_ID_PATTERN.test(id)) {
        throw new InvalidArgumentError(`Key id ${JSON.stringify(id)} is invalid.`, { hint: 'Use 1-64 characters from A-Z a-z 0-9 . _ : -' });
      }
      if (material.byteLength !== KEY_BYTES) {
        throw new InvalidArgumentError(`Key ${id} is ${material.byteLength} bytes; AES-256 needs ${KEY_BYTES}.`, {
          hint: 'Generate one with crypto.randomBytes(32) (base64 of 32 bytes is 44 characters).',
        });
      }
      if (this.keys.has(id)) throw new InvalidArgumentError(`Key id ${id} is given twice.`);
      this.keys.set(id, { id, material: Buffer.from(material) });
    }
    this.activeId = activeId ?? keys[keys.length - 1]!.id;
    if (!this.keys.has(this.activeId)) {
      throw new InvalidArgumentError(`Active key id ${JSON.stringify(this.activeId)} is not among the keys given.`);
    }
  }

  activeKey(): Promise<DataKey> {
    return this.keyById(this.activeId);
  }

  keyById(id: string): Promise<DataKey> {
    const key = this.closed ? undefined : this.keys.get(id);
    if (key === undefined) {
      return Promise.reject(
        new KeyUnavailableError(this.closed ? 'The key source is closed.' : `Key version ${id} is not held by this static key source.`, id, {
          hint: 'Entries sealed under another key version read as misses; add that key to read them.',
        }),
      );
    }
    return Promise.resolve(key);
  }

  /** Ids only: util.inspect would otherwise print the keys' bytes. */
  [inspect.custom](): string {
    return `StaticKeySource { keys: [${[...this.keys.keys()].join(', ')}], active: ${this.activeId}${this.closed ? ', closed' : ''} }`;
  }

  toJSON(): { keys: string[]; active: string } {
    return { keys: [...this.keys.keys()], active: this.activeId };
  }

  /** Calls `listener` with each key right after `close()` zeroes it; returns the unsubscribe function. */
  onKeyDropped(listener: (key: DataKey) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  /** Zeroes all key material; later lookups fail with KeyUnavailableError. */
  close(): void {
    this.closed = true;
    for (const key of this.keys.values()) {
      key.material.fill(0);
      for (const listener of this.dropListeners) {
        try {
          listener(key);
        } catch {
          // A listener's failure must not stop the others from dropping their derived state.
        }
      }
    }
    this.keys.clear();
  }
}
