import { LRUCache } from 'lru-cache';

const SEP = '\u0000';
/** Namespace clears are recorded under an id no key can have (keys are joined with SEP). */
const CLEAR = '\u0001';

/**
 * When each key was last written, deleted or cleared through the hybrid, as a sequence number,
 * so a read-through can tell whether a mutation finished while it was waiting for a slower
 * tier. Its answer may then predate the mutation, and promoting it would put an overwritten or
 * deleted value back into the local tiers, fresh for a whole cap.
 *
 * Bounded: when a key's record is evicted, reads that began before that record was made can no
 * longer be checked against it, so they are treated as raced (they skip promotion).
 */
export class MutationLog {
  private seq = 0;
  private forgottenUpTo = 0;
  private clearedAllAt = 0;
  private readonly last: LRUCache<string, number>;

  constructor(maxKeys: number) {
    this.last = new LRUCache<string, number>({
      max: maxKeys,
      dispose: (at, _id, reason) => {
        if (reason === 'evict' && at > this.forgottenUpTo) this.forgottenUpTo = at;
      },
    });
  }

  /** A position to compare against later; take it before asking any tier. */
  now(): number {
    return this.seq;
  }

  keysChanged(namespace: string, keys: readonly string[]): void {
    const at = ++this.seq;
    for (const key of keys) this.last.set(namespace + SEP + key, at);
  }

  namespaceCleared(namespace: string | undefined): void {
    const at = ++this.seq;
    if (namespace === undefined) this.clearedAllAt = at;
    else this.last.set(CLEAR + namespace, at);
  }

  /** Whether `key` may have been mutated after `since` (a read's answer may be older than it). */
  changedSince(since: number, namespace: string, key: string): boolean {
    if (this.seq === since) return false;
    if (this.clearedAllAt > since || this.forgottenUpTo > since) return true;
    return (this.last.get(CLEAR + namespace) ?? 0) > since || (this.last.get(namespace + SEP + key) ?? 0) > since;
  }
}
