import { inspect } from 'node:util';
import type { Clock } from '../types';
import type { DataKey } from './keyProvider';

export interface DataKeyCacheLimits {
  /** A plaintext key is dropped (and zeroed) this long after it was unwrapped. @default 300000 */
  readonly maxAgeMs?: number;
  /** ... or after this many uses, whichever comes first. @default 1000000 */
  readonly maxUses?: number;
}

/** Lookups between sweeps for keys past their age that nobody asked for again. */
const SWEEP_EVERY = 1024;

interface Slot {
  /** Handed out as is: one object per cached key, no allocation per use. */
  readonly key: DataKey;
  readonly loadedAt: number;
  uses: number;
}

/**
 * Plaintext data keys in memory, with limits like the AWS Encryption SDK's caching materials
 * manager: past `maxAgeMs` or `maxUses` a key is zeroed and must be unwrapped again, so a
 * disabled KMS key or revoked grant stops every client within `maxAgeMs`, and plaintext does not
 * sit in memory for the life of the process. A key is zeroed at its next use past a limit, or, if
 * never asked for again, within 1024 lookups of any key after its age ran out (or on `clear()`).
 */
export class DataKeyCache {
  private readonly slots = new Map<string, Slot>();
  private readonly maxAgeMs: number;
  private readonly maxUses: number;
  private readonly clock: Clock;
  private lookups = 0;
  private readonly dropListeners = new Set<(key: DataKey) => void>();

  constructor(limits: DataKeyCacheLimits, clock: Clock) {
    this.maxAgeMs = limits.maxAgeMs ?? 300_000;
    this.maxUses = limits.maxUses ?? 1_000_000;
    this.clock = clock;
  }

  /** The key for one more use, or `undefined` when absent or past a limit (then zeroed). */
  use(id: string): DataKey | undefined {
    // Keys nobody asks for again (old versions) are aged out here too, not only on their next use.
    if (++this.lookups >= SWEEP_EVERY) this.dropExpired();
    const slot = this.slots.get(id);
    if (!slot) return undefined;
    if (this.clock() - slot.loadedAt >= this.maxAgeMs || slot.uses >= this.maxUses) {
      this.drop(id);
      return undefined;
    }
    slot.uses += 1;
    return slot.key;
  }

  /**
   * Takes ownership of `material`: it is zeroed when dropped. `id` is the id entries carry (the
   * cache's key); `versionId`, when it differs (`k1` for `k1:<manifest id>`), is the key's `id`
   * and `id` its `entryKeyId`.
   */
  put(id: string, material: Buffer, versionId = id): void {
    this.drop(id);
    const key: DataKey = versionId === id ? { id, material } : { id: versionId, entryKeyId: id, material };
    this.slots.set(id, { key: Object.freeze(key), loadedAt: this.clock(), uses: 0 });
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  drop(id: string): void {
    const slot = this.slots.get(id);
    if (!slot) return;
    slot.key.material.fill(0);
    this.slots.delete(id);
    for (const listener of this.dropListeners) {
      try {
        listener(slot.key);
      } catch {
        // A listener's failure must not stop the others from dropping their derived state.
      }
    }
  }

  /** Calls `listener` with each key right after it is zeroed; returns the unsubscribe function. */
  onDrop(listener: (key: DataKey) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  clear(): void {
    for (const id of [...this.slots.keys()]) this.drop(id);
  }

  private dropExpired(): void {
    this.lookups = 0;
    const now = this.clock();
    for (const [id, slot] of this.slots) if (now - slot.loadedAt >= this.maxAgeMs) this.drop(id);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Shows ids only: util.inspect would otherwise print the keys' bytes. */
  [inspect.custom](): string {
    return `DataKeyCache { keys: [${[...this.slots.keys()].join(', ')}] }`;
  }

  toJSON(): { keys: string[] } {
    return { keys: [...this.slots.keys()] };
  }
}
